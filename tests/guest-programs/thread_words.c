/* The words the kernel keeps per thread: set_robust_list / get_robust_list,
 * arch_prctl(ARCH_SET_FS), and set_tid_address, whose word the kernel clears
 * (and wakes) when the thread exits. On a placed image's node these calls
 * are answered there and the words reach the origin with the next trap
 * (docs/architecture/distributed.md, "Calls that stay on the node"): the
 * main thread's own clear_child_tid must still be cleared at its SYS_exit,
 * or the waiting thread never wakes (it fails after 20 s instead). */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "gp_check.h"

static _Atomic int tid_word;

static void* waiter(void* arg) {
    (void)arg;
    const time_t deadline = time(NULL) + 20;
    for (;;) {
        const int v = atomic_load(&tid_word);
        if (v == 0) break;
        CHECK(time(NULL) < deadline, "the main thread's clear_child_tid word still holds %d", v);
        struct timespec ts = {1, 0};
        syscall(SYS_futex, &tid_word, FUTEX_WAIT, v, &ts, NULL, 0);
    }
    printf("clear_child_tid cleared\n");
    gp_ok("thread_words");
    syscall(SYS_exit_group, 0);
    return NULL;
}

int main(void) {
    /* set_robust_list / get_robust_list round trip, and its EINVAL. */
    void* head0 = NULL;
    size_t len0 = 0;
    CHECK(syscall(SYS_get_robust_list, 0, &head0, &len0) == 0, "get_robust_list: %s", strerror(errno));
    static long my_head[3];
    CHECK(syscall(SYS_set_robust_list, my_head, sizeof my_head) == 0, "set_robust_list: %s", strerror(errno));
    void* head = NULL;
    size_t len = 0;
    CHECK(syscall(SYS_get_robust_list, 0, &head, &len) == 0, "get_robust_list: %s", strerror(errno));
    CHECK(head == (void*)my_head && len == sizeof my_head, "get_robust_list gave %p/%zu", head, len);
    errno = 0;
    CHECK(syscall(SYS_set_robust_list, my_head, sizeof my_head - 1) == -1 && errno == EINVAL,
          "set_robust_list with a bad length: errno %d", errno);
    CHECK(syscall(SYS_set_robust_list, head0, len0) == 0, "restoring the robust list: %s", strerror(errno));
    printf("robust list ok\n");

    /* ARCH_SET_FS to the current base: TLS (errno) still works. */
    unsigned long fs = 0;
    CHECK(syscall(SYS_arch_prctl, ARCH_GET_FS, &fs) == 0 && fs != 0, "ARCH_GET_FS");
    CHECK(syscall(SYS_arch_prctl, ARCH_SET_FS, fs) == 0, "ARCH_SET_FS: %s", strerror(errno));
    errno = 0;
    CHECK(close(-1) == -1 && errno == EBADF, "errno through the FS base after ARCH_SET_FS: %d", errno);
    printf("fs base ok\n");

    /* set_tid_address returns the tid; the word is cleared at exit. */
    const long tid = syscall(SYS_gettid);
    atomic_store(&tid_word, (int)tid);
    CHECK(syscall(SYS_set_tid_address, &tid_word) == tid, "set_tid_address did not return the tid");
    fflush(stdout);
    pthread_t w;
    CHECK(pthread_create(&w, NULL, waiter, NULL) == 0, "pthread_create");
    syscall(SYS_exit, 0); /* this thread only: the waiter ends the process */
    return 1;
}
