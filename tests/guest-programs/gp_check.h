/* Shared helpers for the spanvm guest programs. Every self-checking program
 * exits 0 on success and prints one "FAIL ..." line to stderr, then exits 1,
 * on the first mismatch. Header-only so each program stays one translation
 * unit (each is linked twice: -static and dynamic). */
#pragma once

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GP_FAIL(...)                                                        \
    do {                                                                    \
        fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                \
        fprintf(stderr, __VA_ARGS__);                                       \
        fputc('\n', stderr);                                                \
        exit(1);                                                            \
    } while (0)

/* CHECK(cond, fmt, ...): fmt is mandatory so the failure says what broke. */
#define CHECK(cond, ...)                                                    \
    do {                                                                    \
        if (!(cond)) {                                                      \
            fprintf(stderr, "FAIL %s:%d: (%s) ", __FILE__, __LINE__, #cond);\
            fprintf(stderr, __VA_ARGS__);                                   \
            fputc('\n', stderr);                                            \
            exit(1);                                                        \
        }                                                                   \
    } while (0)

/* For calls returning -1 and setting errno. */
#define CHECK_SYS(expr)                                                     \
    do {                                                                    \
        if ((expr) == -1)                                                   \
            GP_FAIL("%s: %s", #expr, strerror(errno));                      \
    } while (0)

/* For pthread_* calls returning an error number. */
#define CHECK_PT(expr)                                                      \
    do {                                                                    \
        int gp_rc_ = (expr);                                                \
        if (gp_rc_ != 0)                                                    \
            GP_FAIL("%s: %s", #expr, strerror(gp_rc_));                     \
    } while (0)

/* Deterministic per-thread pseudo-random numbers (xorshift64*). */
static inline uint64_t gp_rand(uint64_t* state) {
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static inline void gp_ok(const char* name) {
    printf("%s: ok\n", name);
    fflush(stdout);
}

/* gp_scaled(n): n divided by $GP_SCALE_DIV (default 1, at least 1 result).
 * Multi-host runs shrink the contended loops with it: every contended lock
 * hand-off there is a page moving between hosts (about a millisecond), so
 * the same checks run on fewer iterations. */
static inline unsigned gp_scaled(unsigned n) {
    const char* d = getenv("GP_SCALE_DIV");
    unsigned div = d ? (unsigned)strtoul(d, NULL, 10) : 1;
    if (div < 1) div = 1;
    return n / div ? n / div : 1;
}

/* gp_on_signal(sig, fn, block_all): an SA_SIGINFO | SA_RESTART handler for
 * `sig`; with block_all every signal is blocked while it runs (one signal
 * per return, so handlers run in delivery order). */
static inline void gp_on_signal(int sig, void (*fn)(int, siginfo_t*, void*), int block_all) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = fn;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    if (block_all)
        sigfillset(&sa.sa_mask);
    else
        sigemptyset(&sa.sa_mask);
    CHECK_SYS(sigaction(sig, &sa, NULL));
}
