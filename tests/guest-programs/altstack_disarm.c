/* sigaltstack's SS_AUTODISARM and rt_sigreturn's restore of the alternate
 * stack (Linux's restore_altstack), as coroutine libraries use them:
 *   disarm   a handler on an SS_AUTODISARM stack finds the alternate stack
 *            disabled while it runs, is on that stack, and the setting
 *            (flag included) is back after it returns
 *   plain    without the flag the handler sees SS_ONSTACK
 *   restore  a handler not on the alternate stack that disables it finds it
 *            enabled again after its return: rt_sigreturn restores the
 *            frame's uc_stack
 * Prints "altstack_disarm: ok". */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <unistd.h>

#include "gp_check.h"

#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1U << 31)  /* <linux/signal.h>; glibc's headers lack it */
#endif

static char alt[64 * 1024];
static stack_t seen;
static int on_alt;

static void on_usr1(int sig, siginfo_t* si, void* uc) {
    (void)sig, (void)si, (void)uc;
    char here;
    on_alt = (uintptr_t)&here >= (uintptr_t)alt && (uintptr_t)&here < (uintptr_t)alt + sizeof alt;
    CHECK_SYS(sigaltstack(NULL, &seen));
}

static void on_usr2(int sig, siginfo_t* si, void* uc) {
    (void)sig, (void)si, (void)uc;
    stack_t off = {.ss_flags = SS_DISABLE};
    CHECK_SYS(sigaltstack(&off, NULL));
    CHECK_SYS(sigaltstack(NULL, &seen));
}

static void set_alt(int flags) {
    stack_t ss = {.ss_sp = alt, .ss_size = sizeof alt, .ss_flags = flags};
    CHECK_SYS(sigaltstack(&ss, NULL));
}

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_usr1;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    CHECK_SYS(sigaction(SIGUSR1, &sa, NULL));
    gp_on_signal(SIGUSR2, on_usr2, 0);  /* no SA_ONSTACK: runs on the thread's stack */

    set_alt(SS_AUTODISARM);
    stack_t now;
    CHECK_SYS(sigaltstack(NULL, &now));
    CHECK((unsigned)now.ss_flags == SS_AUTODISARM && now.ss_sp == alt, "disarm: set flags %#x", now.ss_flags);
    CHECK_SYS(raise(SIGUSR1));
    CHECK(on_alt, "disarm: the handler did not run on the alternate stack");
    CHECK(seen.ss_flags == SS_DISABLE, "disarm: in the handler flags %#x, want SS_DISABLE", seen.ss_flags);
    CHECK_SYS(sigaltstack(NULL, &now));
    CHECK((unsigned)now.ss_flags == SS_AUTODISARM && now.ss_sp == alt && now.ss_size == sizeof alt,
          "disarm: after the handler flags %#x sp %p", now.ss_flags, now.ss_sp);

    set_alt(0);
    CHECK_SYS(raise(SIGUSR1));
    CHECK(on_alt && seen.ss_flags == SS_ONSTACK, "plain: on_alt %d flags %#x", on_alt, seen.ss_flags);

    CHECK_SYS(raise(SIGUSR2));
    CHECK(seen.ss_flags == SS_DISABLE, "restore: the handler's disable did not take (%#x)", seen.ss_flags);
    CHECK_SYS(sigaltstack(NULL, &now));
    CHECK(now.ss_flags == 0 && now.ss_sp == alt, "restore: after sigreturn flags %#x sp %p", now.ss_flags, now.ss_sp);
    printf("altstack_disarm: ok\n");
    return 0;
}
