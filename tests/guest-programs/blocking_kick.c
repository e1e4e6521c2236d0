/* One signal, one blocking call: the signal must end the wait, whenever it
 * comes.
 *
 * A worker thread enters a blocking system call, round after round; the
 * main thread sends it one SIGUSR1 per round (tgkill), after a random delay
 * of 0-80 us from the moment the worker says it is about to call. The
 * handler (no SA_RESTART) also makes the call's condition true, so the
 * round ends on Linux whether the signal lands before the call (the call
 * then returns at once) or during it (EINTR, and the worker calls again):
 *   read     a read of an empty pipe; the handler writes one byte
 *   wait4    wait4 for a child that sleeps; the handler kills the child
 *   futex    FUTEX_WAIT on a MAP_SHARED word; the handler sets it and wakes
 *   private futex  the same on a private word (spanvm's own futex table)
 *   accept   accept on a listening unix socket; the handler connects
 * A round that does not end within 4 s means the signal was taken but its
 * kick of the blocked call was lost: the worker sleeps in the host call
 * with a deliverable signal (spanvm before the kick-cancellable host
 * calls, vmm/platform/host_kick.hpp). BLOCKING_KICK_ROUNDS sets the rounds
 * per call (default 150). Prints "blocking_kick: ok". */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gp_check.h"

enum kind { K_READ, K_WAIT4, K_FUTEX, K_PFUTEX, K_ACCEPT, K_COUNT };
static const char* const kind_name[K_COUNT] = {"read", "wait4", "futex", "private futex", "accept"};

static atomic_int ready = -1;  /* the round the worker is about to block in */
static atomic_int done = -1;   /* the round the worker finished */
static atomic_int handled;     /* handler runs */
static atomic_int worker_tid;
static enum kind cur;
static int pipe_fd[2];
static pid_t child;
static _Atomic uint32_t* futex_word;
static _Atomic uint32_t private_word;
static _Atomic uint32_t* cur_word(void) { return cur == K_PFUTEX ? &private_word : futex_word; }
static struct sockaddr_un addr;
static socklen_t addr_len;

static void on_usr1(int sig) {
    (void)sig;
    int saved = errno;
    switch (cur) {
        case K_READ: { char c = 'x'; (void)!write(pipe_fd[1], &c, 1); break; }
        case K_WAIT4: kill(child, SIGKILL); break;
        case K_FUTEX:
            atomic_store(futex_word, 1);
            syscall(SYS_futex, futex_word, FUTEX_WAKE, 1, NULL, NULL, 0);
            break;
        case K_PFUTEX:
            atomic_store(&private_word, 1);
            syscall(SYS_futex, &private_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
            break;
        case K_ACCEPT: {
            int s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
            if (s >= 0) {
                (void)connect(s, (struct sockaddr*)&addr, addr_len);
                close(s);
            }
            break;
        }
        default: break;
    }
    atomic_fetch_add(&handled, 1);
    errno = saved;
}

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* One round in the worker: block until the handler has made the
 * condition true; EINTR only means "call again". */
static void one_round(int listen_fd) {
    for (;;) {
        long r = 0;
        switch (cur) {
            case K_READ: { char c; r = read(pipe_fd[0], &c, 1); break; }
            case K_WAIT4: r = waitpid(child, NULL, 0); break;
            case K_FUTEX:
            case K_PFUTEX: {
                _Atomic uint32_t* w = cur_word();
                if (atomic_load(w)) return;
                r = syscall(SYS_futex, w, cur == K_PFUTEX ? FUTEX_WAIT_PRIVATE : FUTEX_WAIT, 0, NULL, NULL, 0);
                if (r == -1 && errno == EAGAIN) r = 0;
                if (r == 0 && !atomic_load(w)) continue;  /* spurious wake */
                break;
            }
            case K_ACCEPT: {
                r = accept(listen_fd, NULL, NULL);
                if (r >= 0) close((int)r), r = 0;
                break;
            }
            default: break;
        }
        if (r >= 0) return;
        if (errno != EINTR) GP_FAIL("%s: %s", kind_name[cur], strerror(errno));
    }
}

static void* worker(void* arg) {
    int rounds = *(int*)arg;
    atomic_store(&worker_tid, (int)gettid());
    int listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK_SYS(listen_fd);
    CHECK_SYS(bind(listen_fd, (struct sockaddr*)&addr, addr_len));
    CHECK_SYS(listen(listen_fd, 64));
    for (int k = 0; k < K_COUNT; ++k) {
        for (int i = 0; i < rounds; ++i) {
            const int round = k * rounds + i;
            if (k == K_WAIT4) {
                child = fork();
                CHECK_SYS(child);
                if (child == 0) {
                    for (;;) pause();
                }
            }
            if (k == K_FUTEX) atomic_store(futex_word, 0);
            if (k == K_PFUTEX) atomic_store(&private_word, 0);
            cur = (enum kind)k;
            atomic_store(&ready, round);
            one_round(listen_fd);
            atomic_store(&done, round);
        }
    }
    close(listen_fd);
    return NULL;
}

int main(void) {
    const char* env = getenv("BLOCKING_KICK_ROUNDS");
    int rounds = env ? atoi(env) : 150;
    CHECK(rounds > 0, "BLOCKING_KICK_ROUNDS=%s", env);
    CHECK_SYS(pipe(pipe_fd));
    futex_word = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(futex_word != MAP_FAILED, "mmap: %s", strerror(errno));
    addr.sun_family = AF_UNIX;
    /* An abstract name, unique per process: nothing to clean up. */
    int n = snprintf(addr.sun_path + 1, sizeof addr.sun_path - 1, "spanvm-blocking-kick-%d", (int)getpid());
    addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    CHECK_SYS(sigaction(SIGUSR1, &sa, NULL));
    /* SIGUSR1 goes to the worker only (tgkill); keep it out of main. */
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    pthread_t t;
    CHECK_PT(pthread_create(&t, NULL, worker, &rounds));
    CHECK_PT(pthread_sigmask(SIG_BLOCK, &block, NULL));
    uint64_t seed = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
    const int total = rounds * K_COUNT;
    for (int round = 0; round < total; ++round) {
        while (atomic_load(&ready) != round) sched_yield();
        const double delay = (double)(gp_rand(&seed) % 81);
        const double t0 = now_us();
        while (now_us() - t0 < delay) {
        }
        const int before = atomic_load(&handled);
        CHECK_SYS(syscall(SYS_tgkill, getpid(), atomic_load(&worker_tid), SIGUSR1));
        const double sent = now_us();
        while (atomic_load(&done) != round) {
            if (now_us() - sent > 4e6) {
                const int k = round / rounds;
                GP_FAIL("%s round %d: the worker still blocks 4 s after its SIGUSR1 (handler runs %d -> %d): "
                        "the signal's kick of the blocked call was lost",
                        kind_name[k], round % rounds, before, atomic_load(&handled));
            }
            sched_yield();
        }
    }
    CHECK_PT(pthread_join(t, NULL));
    CHECK(atomic_load(&handled) == total, "handler ran %d times for %d signals", atomic_load(&handled), total);
    printf("blocking_kick: ok\n");
    return 0;
}
