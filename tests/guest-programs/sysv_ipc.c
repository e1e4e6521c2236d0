/* System V IPC and POSIX message queues between processes, as Linux gives
 * them (PostgreSQL, Apache, older test suites and ipcs use them):
 *   shm   shmget/shmat/shmdt/shmctl: an attach shared with a fork child
 *         both ways, two attaches of one segment aliasing, shm_nattch,
 *         SHM_RDONLY refusing writes (the child dies of SIGSEGV), SHM_RND
 *         and SHM_REMAP over a mapping, EINVAL where Linux gives it;
 *   sem   SETALL/GETALL, a child blocked in semop until the parent posts,
 *         semtimedop's timeout, and a signal ending a blocked semop (EINTR);
 *   msg   typed messages received out of order, a child blocked in msgrcv,
 *         ENOMSG with IPC_NOWAIT;
 *   mq    mq_open/mq_send/mq_receive by priority, mq_getattr, a timed
 *         receive on an empty queue (ETIMEDOUT);
 * and epoll_pwait2's timeout, unshare(0), mlock2 and membarrier's query.
 * Prints "sysv_ipc: ok". */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/membarrier.h>
#include <mqueue.h>
#include <setjmp.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gp_check.h"

#define PAGE 4096

union semun {
    int val;
    struct semid_ds* buf;
    unsigned short* array;
};

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int child_status(pid_t pid) {
    int st;
    CHECK(waitpid(pid, &st, 0) == pid, "waitpid: %s", strerror(errno));
    return st;
}

static void check_shm(void) {
    const size_t size = 3 * PAGE + 100;
    int id = shmget(IPC_PRIVATE, size, IPC_CREAT | 0600);
    CHECK_SYS(id);
    unsigned char* a = shmat(id, NULL, 0);
    CHECK(a != (void*)-1, "shmat: %s", strerror(errno));
    CHECK(((uintptr_t)a & (PAGE - 1)) == 0, "shmat address %p not page-aligned", (void*)a);
    for (size_t i = 0; i < size; ++i) CHECK(a[i] == 0, "fresh segment byte %zu is %d", i, a[i]);
    a[0] = 1;
    a[size - 1] = 2;

    /* A second attach of the same segment is the same memory. */
    unsigned char* b = shmat(id, NULL, 0);
    CHECK(b != (void*)-1 && b != a, "second shmat: %s", strerror(errno));
    CHECK(b[0] == 1 && b[size - 1] == 2, "the second attach does not alias the first");
    b[PAGE] = 3;
    CHECK(a[PAGE] == 3, "a write through one attach is not seen through the other");
    struct shmid_ds ds;
    CHECK_SYS(shmctl(id, IPC_STAT, &ds));
    CHECK(ds.shm_segsz == size && ds.shm_nattch == 2, "IPC_STAT: size %zu nattch %lu", (size_t)ds.shm_segsz,
          (unsigned long)ds.shm_nattch);

    /* A fork child shares the attach both ways. */
    pid_t c = fork();
    CHECK_SYS(c);
    if (c == 0) {
        if (a[0] != 1 || a[PAGE] != 3) _exit(10);
        a[2 * PAGE] = 4;
        _exit(0);
    }
    int st = child_status(c);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child saw the segment wrong: status %#x", st);
    CHECK(a[2 * PAGE] == 4 && b[2 * PAGE] == 4, "the child's write is not in the parent's attaches");

    /* shmdt: the attach goes, the other stays; a non-attach is EINVAL. */
    CHECK_SYS(shmdt(b));
    CHECK_SYS(shmctl(id, IPC_STAT, &ds));
    CHECK(ds.shm_nattch == 1, "nattch after shmdt: %lu", (unsigned long)ds.shm_nattch);
    errno = 0;
    CHECK(shmdt(a + PAGE) == -1 && errno == EINVAL, "shmdt inside an attach: errno %d", errno);
    errno = 0;
    CHECK(shmdt(a + 1) == -1 && errno == EINVAL, "shmdt unaligned: errno %d", errno);

    /* SHM_RDONLY: reads work, a write is SIGSEGV (in a child). */
    unsigned char* r = shmat(id, NULL, SHM_RDONLY);
    CHECK(r != (void*)-1, "shmat(SHM_RDONLY): %s", strerror(errno));
    CHECK(r[PAGE] == 3, "read-only attach reads %d", r[PAGE]);
    c = fork();
    CHECK_SYS(c);
    if (c == 0) {
        signal(SIGSEGV, SIG_DFL);
        *(volatile unsigned char*)r = 9;
        _exit(0);
    }
    st = child_status(c);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "write to SHM_RDONLY: status %#x", st);
    CHECK(a[0] == 1, "the refused write changed the segment");
    CHECK_SYS(shmdt(r));

    /* A given address: unaligned is EINVAL unless SHM_RND; over a mapping
     * EINVAL unless SHM_REMAP, which replaces it. */
    unsigned char* m = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(m != MAP_FAILED, "mmap: %s", strerror(errno));
    m[0] = 77;
    errno = 0;
    CHECK(shmat(id, m + 1, 0) == (void*)-1 && errno == EINVAL, "shmat unaligned: errno %d", errno);
    errno = 0;
    CHECK(shmat(id, m, 0) == (void*)-1 && errno == EINVAL, "shmat over a mapping: errno %d", errno);
    CHECK(m[0] == 77, "a refused shmat changed the mapping");
    unsigned char* f = shmat(id, m + 1, SHM_RND | SHM_REMAP);
    CHECK(f == m, "shmat(SHM_RND|SHM_REMAP) at %p gave %p (%s)", (void*)m, (void*)f, strerror(errno));
    CHECK(f[0] == 1 && f[PAGE] == 3, "the remapped attach is not the segment");
    CHECK_SYS(shmdt(f));
    CHECK_SYS(munmap(m, 4 * PAGE));

    /* IPC_RMID: the segment lives while attached; then it is gone. */
    CHECK_SYS(shmctl(id, IPC_RMID, NULL));
    CHECK(a[size - 1] == 2, "segment lost at IPC_RMID while attached");
    CHECK_SYS(shmdt(a));
    errno = 0;
    CHECK(shmat(id, NULL, 0) == (void*)-1 && (errno == EINVAL || errno == EIDRM), "shmat after removal: errno %d",
          errno);
}

static volatile sig_atomic_t alarmed;
static void on_alarm(int sig) {
    (void)sig;
    alarmed = 1;
}

static void check_sem(void) {
    int id = semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
    CHECK_SYS(id);
    unsigned short vals[2] = {5, 0}, got[2] = {0, 0};
    union semun arg;
    arg.array = vals;
    CHECK_SYS(semctl(id, 0, SETALL, arg));
    arg.array = got;
    CHECK_SYS(semctl(id, 0, GETALL, arg));
    CHECK(got[0] == 5 && got[1] == 0, "GETALL %u %u", got[0], got[1]);
    struct semid_ds ds;
    arg.buf = &ds;
    CHECK_SYS(semctl(id, 0, IPC_STAT, arg));
    CHECK(ds.sem_nsems == 2, "nsems %lu", (unsigned long)ds.sem_nsems);
    CHECK(semctl(id, 0, GETVAL) == 5, "GETVAL");

    /* A child waits on semaphore 1 until the parent posts it. */
    pid_t c = fork();
    CHECK_SYS(c);
    if (c == 0) {
        struct sembuf w = {1, -1, 0};
        _exit(semop(id, &w, 1) == 0 ? 0 : 20);
    }
    /* Until the child waits (under load it may take a while to get there). */
    for (int i = 0; semctl(id, 1, GETNCNT) != 1; ++i) {
        CHECK(i < 20000, "GETNCNT %d: the child never waited", semctl(id, 1, GETNCNT));
        usleep(1000);
    }
    struct sembuf post = {1, 1, 0};
    CHECK_SYS(semop(id, &post, 1));
    int st = child_status(c);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "semop waiter: status %#x", st);

    /* semtimedop: the timeout ends the wait with EAGAIN. */
    struct sembuf w = {1, -1, 0};
    struct timespec to = {0, 30 * 1000 * 1000};
    double t0 = now_ms();
    errno = 0;
    CHECK(semtimedop(id, &w, 1, &to) == -1 && errno == EAGAIN, "semtimedop: errno %d", errno);
    CHECK(now_ms() - t0 >= 25, "semtimedop returned after %.1f ms", now_ms() - t0);

    /* A signal ends a blocked semop: EINTR (no SA_RESTART). The timer
     * repeats: one that fires before the call blocks is not the last. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    CHECK_SYS(sigaction(SIGALRM, &sa, NULL));
    struct itimerval it = {{0, 40 * 1000}, {0, 40 * 1000}};
    CHECK_SYS(setitimer(ITIMER_REAL, &it, NULL));
    errno = 0;
    CHECK(semop(id, &w, 1) == -1 && errno == EINTR, "semop under SIGALRM: errno %d", errno);
    struct itimerval off = {{0, 0}, {0, 0}};
    CHECK_SYS(setitimer(ITIMER_REAL, &off, NULL));
    CHECK(alarmed, "no SIGALRM handled");

    CHECK_SYS(semctl(id, 0, IPC_RMID));
    errno = 0;
    CHECK(semop(id, &post, 1) == -1 && (errno == EINVAL || errno == EIDRM), "semop after removal: errno %d",
          errno);
}

struct msg {
    long type;
    char text[32];
};

static void check_msg(void) {
    int id = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    CHECK_SYS(id);
    struct msg m1 = {1, "first"}, m2 = {2, "second"}, in;
    CHECK_SYS(msgsnd(id, &m1, sizeof m1.text, 0));
    CHECK_SYS(msgsnd(id, &m2, sizeof m2.text, 0));
    struct msqid_ds ds;
    CHECK_SYS(msgctl(id, IPC_STAT, &ds));
    CHECK(ds.msg_qnum == 2, "qnum %lu", (unsigned long)ds.msg_qnum);
    CHECK(msgrcv(id, &in, sizeof in.text, 2, 0) == (ssize_t)sizeof in.text, "msgrcv type 2: %s", strerror(errno));
    CHECK(in.type == 2 && strcmp(in.text, "second") == 0, "got type %ld '%s'", in.type, in.text);
    CHECK(msgrcv(id, &in, sizeof in.text, 0, 0) > 0 && in.type == 1, "msgrcv any");
    errno = 0;
    CHECK(msgrcv(id, &in, sizeof in.text, 0, IPC_NOWAIT) == -1 && errno == ENOMSG, "empty queue: errno %d", errno);

    /* A child blocks in msgrcv until the parent sends. */
    pid_t c = fork();
    CHECK_SYS(c);
    if (c == 0) {
        struct msg r;
        ssize_t n = msgrcv(id, &r, sizeof r.text, 7, 0);
        _exit(n > 0 && strcmp(r.text, "late") == 0 ? 0 : 30);
    }
    usleep(50 * 1000);
    struct msg m7 = {7, "late"};
    CHECK_SYS(msgsnd(id, &m7, sizeof m7.text, 0));
    int st = child_status(c);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "msgrcv waiter: status %#x", st);
    CHECK_SYS(msgctl(id, IPC_RMID, NULL));
}

static void check_mq(void) {
    char name[64];
    snprintf(name, sizeof name, "/spanvm-gp-%d", (int)getpid());
    struct mq_attr attr = {0, 4, 16, 0, {0}};
    mqd_t q = mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0600, &attr);
    CHECK(q != (mqd_t)-1, "mq_open: %s", strerror(errno));
    CHECK_SYS(mq_send(q, "low", 4, 1));
    CHECK_SYS(mq_send(q, "high", 5, 9));
    struct mq_attr now;
    CHECK_SYS(mq_getattr(q, &now));
    CHECK(now.mq_curmsgs == 2 && now.mq_maxmsg == 4 && now.mq_msgsize == 16, "mq_getattr %ld %ld %ld",
          now.mq_curmsgs, now.mq_maxmsg, now.mq_msgsize);
    char buf[16];
    unsigned prio = 0;
    CHECK(mq_receive(q, buf, sizeof buf, &prio) == 5 && prio == 9 && strcmp(buf, "high") == 0, "first by priority");
    CHECK(mq_receive(q, buf, sizeof buf, &prio) == 4 && prio == 1, "second");
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_nsec += 30 * 1000 * 1000;
    if (dl.tv_nsec >= 1000000000) dl.tv_sec++, dl.tv_nsec -= 1000000000;
    errno = 0;
    CHECK(mq_timedreceive(q, buf, sizeof buf, NULL, &dl) == -1 && errno == ETIMEDOUT, "timed receive: errno %d",
          errno);
    CHECK_SYS(mq_close(q));
    CHECK_SYS(mq_unlink(name));
    errno = 0;
    CHECK(mq_open(name, O_RDONLY) == (mqd_t)-1 && errno == ENOENT, "unlinked queue opens: errno %d", errno);
}

static void check_misc(void) {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    CHECK_SYS(ep);
    struct epoll_event ev;
    struct timespec to = {0, 20 * 1000 * 1000};
    double t0 = now_ms();
    long n = syscall(SYS_epoll_pwait2, ep, &ev, 1, &to, NULL, 8);
    CHECK(n == 0, "epoll_pwait2: %ld (%s)", n, strerror(errno));
    CHECK(now_ms() - t0 >= 15, "epoll_pwait2 returned after %.1f ms", now_ms() - t0);
    close(ep);
    CHECK_SYS(unshare(0));
    CHECK_SYS(unshare(CLONE_FILES | CLONE_FS));
    char page[PAGE] __attribute__((aligned(PAGE)));
    page[0] = 1;
    long r = syscall(SYS_mlock2, page, PAGE, 0);
    CHECK(r == 0 || errno == EPERM || errno == ENOMEM, "mlock2: %s", strerror(errno));
    errno = 0;
    CHECK(syscall(SYS_mlock2, page, PAGE, 0x100) == -1 && errno == EINVAL, "mlock2 bad flags: errno %d", errno);
    r = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    CHECK(r >= 0 || errno == ENOSYS, "membarrier query: %s", strerror(errno));
}

int main(void) {
    check_shm();
    check_sem();
    check_msg();
    check_mq();
    check_misc();
    puts("sysv_ipc: ok");
    return 0;
}
