/* /proc/self/status describes this process as Linux does: Threads counts
 * its threads, SigBlk/SigIgn/SigCgt its mask and dispositions, Seccomp its
 * mode; /proc/thread-self/status the calling thread's own mask. So does
 * /proc/self/stat: num_threads (field 20) and blocked, sigignore, sigcatch
 * (32-34, decimal, signals 1-31). Under spanvm the host process also runs
 * spanvm's helper threads with spanvm's masks and handlers: the guest must
 * not see them. Prints "proc_status: ok". */
#define _GNU_SOURCE
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gp_check.h"

/* The value of `key` in `path` (the text after the tab), or "". */
static const char* field(const char* path, const char* key) {
    static char out[128];
    char line[256];
    out[0] = 0;
    FILE* f = fopen(path, "re");
    CHECK(f != NULL, "open %s: %s", path, strerror(errno));
    const size_t n = strlen(key);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, n) == 0 && line[n] == ':') {
            const char* v = line + n + 1;
            while (*v == '\t' || *v == ' ') ++v;
            snprintf(out, sizeof out, "%s", v);
            out[strcspn(out, "\n")] = 0;
            break;
        }
    }
    fclose(f);
    return out;
}

static unsigned long long hex(const char* s) { return strtoull(s, NULL, 16); }

/* Field `n` (proc(5)'s numbering, from 1) of the one-line `path`, counted
 * after the comm's last ')', as a number. */
static unsigned long long stat_field(const char* path, int n) {
    char line[1024];
    FILE* f = fopen(path, "re");
    CHECK(f != NULL, "open %s: %s", path, strerror(errno));
    CHECK(fgets(line, sizeof line, f) != NULL, "read %s", path);
    fclose(f);
    char* p = strrchr(line, ')');
    CHECK(p != NULL, "no comm in %s", path);
    p += 2;
    for (int i = 3; i < n; ++i) {
        p = strchr(p, ' ');
        CHECK(p != NULL, "%s has no field %d", path, n);
        ++p;
    }
    return strtoull(p, NULL, 10);
}
static unsigned long long bit(int sig) { return 1ull << (sig - 1); }

static pthread_barrier_t bar;
static volatile unsigned long long thread_blk;
static void* worker(void* arg) {
    (void)arg;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
    thread_blk = hex(field("/proc/thread-self/status", "SigBlk"));
    pthread_barrier_wait(&bar);  /* counted */
    pthread_barrier_wait(&bar);  /* may end */
    return NULL;
}

static void on_usr1(int sig) { (void)sig; }

int main(void) {
    CHECK(atoi(field("/proc/self/status", "Threads")) == 1, "Threads with one thread: %s",
          field("/proc/self/status", "Threads"));
    signal(SIGHUP, SIG_IGN);
    signal(SIGUSR1, on_usr1);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGTERM);
    CHECK_SYS(sigprocmask(SIG_BLOCK, &s, NULL));
    const unsigned long long blk = hex(field("/proc/self/status", "SigBlk"));
    const unsigned long long ign = hex(field("/proc/self/status", "SigIgn"));
    const unsigned long long cgt = hex(field("/proc/self/status", "SigCgt"));
    CHECK(blk == bit(SIGTERM), "SigBlk %llx", blk);
    CHECK((ign & bit(SIGHUP)) && !(ign & bit(SIGUSR1)), "SigIgn %llx", ign);
    CHECK((cgt & bit(SIGUSR1)) && !(cgt & bit(SIGHUP)), "SigCgt %llx", cgt);
    char pidpath[64];
    snprintf(pidpath, sizeof pidpath, "/proc/%d/status", (int)getpid());
    CHECK(hex(field(pidpath, "SigBlk")) == bit(SIGTERM), "SigBlk by pid: %s", field(pidpath, "SigBlk"));
    CHECK(stat_field("/proc/self/stat", 20) == 1, "stat num_threads with one thread: %llu",
          stat_field("/proc/self/stat", 20));
    CHECK(stat_field("/proc/self/stat", 32) == bit(SIGTERM), "stat blocked %llu", stat_field("/proc/self/stat", 32));
    CHECK(stat_field("/proc/self/stat", 33) & bit(SIGHUP), "stat sigignore %llu", stat_field("/proc/self/stat", 33));
    CHECK(stat_field("/proc/self/stat", 34) == (cgt & 0x7fffffffull), "stat sigcatch %llu, SigCgt %llx",
          stat_field("/proc/self/stat", 34), cgt);
    snprintf(pidpath, sizeof pidpath, "/proc/%d/stat", (int)getpid());
    CHECK(stat_field(pidpath, 20) == 1, "stat num_threads by pid: %llu", stat_field(pidpath, 20));

    pthread_t t[3];
    CHECK_PT(pthread_barrier_init(&bar, NULL, 4));
    for (int i = 0; i < 3; ++i) CHECK_PT(pthread_create(&t[i], NULL, worker, NULL));
    pthread_barrier_wait(&bar);
    CHECK(atoi(field("/proc/self/status", "Threads")) == 4, "Threads with four: %s",
          field("/proc/self/status", "Threads"));
    CHECK(thread_blk == (bit(SIGTERM) | bit(SIGUSR2)), "a thread's own SigBlk %llx", thread_blk);
    CHECK(stat_field("/proc/self/stat", 20) == 4, "stat num_threads with four: %llu", stat_field("/proc/self/stat", 20));
    pthread_barrier_wait(&bar);
    for (int i = 0; i < 3; ++i) CHECK_PT(pthread_join(t[i], NULL));

    CHECK(atoi(field("/proc/self/status", "Seccomp")) == 0, "Seccomp before: %s", field("/proc/self/status", "Seccomp"));
    fflush(NULL);
    pid_t pid = fork();
    CHECK_SYS(pid);
    if (pid == 0) {
        struct sock_filter allow[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
        struct sock_fprog prog = {1, allow};
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog))
            _exit(2);
        _exit(atoi(field("/proc/self/status", "Seccomp")) == 2 ? 0 : 1);
    }
    int st;
    CHECK_SYS(waitpid(pid, &st, 0));
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "Seccomp under a filter (status %#x)", st);
    printf("proc_status: ok\n");
    return 0;
}
