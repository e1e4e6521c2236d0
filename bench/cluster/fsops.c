/* The process-sharing paper's Table 1 and Figure 9, from one worker thread:
 * under `spanvm run --local-hosts 2` (round-robin placement) the main thread
 * stays on the origin and the worker runs on node 1, so every call below is
 * forwarded to its executor at the origin. Natively and on one host the same
 * binary measures the baselines.
 *   fsops DIR ITERS : prints one JSON object,
 *     {"op": {"open": NS, "close": NS, "mkdir": NS, "rmdir": NS,
 *             "symlink": NS, "flock": NS},
 *      "read": {"4096": NS, "8192": NS, ..., "65536": NS}}
 *   (whole nanoseconds per call; "read" is one read() of a 4..64 KiB file,
 *   Figure 9: the buffer is fresh guest memory each time). Every key is a
 *   fixed identifier and every value a number, so printf is enough here.
 * Each figure is the median over ITERS calls: a file system call's own cost
 * swings by milliseconds now and then (journal, writeback), and a mean lets
 * one such swing decide a comparison. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char* dir;
static int iters;

static int cmp_double(const void* a, const void* b) {
    double x = *(const double*)a, y = *(const double*)b;
    return (x > y) - (x < y);
}

static double median(double* v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static void die(const char* what) {
    perror(what);
    exit(1);
}

static void* worker(void* arg) {
    (void)arg;
    char path[512], path2[512];
    snprintf(path, sizeof path, "%s/f", dir);
    snprintf(path2, sizeof path2, "%s/d", dir);
    int fd = open(path, O_CREAT | O_RDWR, 0644);
    if (fd < 0) die("create");
    close(fd);
    double* t_open = calloc((size_t)iters, sizeof(double));
    double* t_close = calloc((size_t)iters, sizeof(double));
    double* t_mkdir = calloc((size_t)iters, sizeof(double));
    double* t_rmdir = calloc((size_t)iters, sizeof(double));
    double* t_symlink = calloc((size_t)iters, sizeof(double));
    double* t_flock = calloc((size_t)iters, sizeof(double));
    double* t_read = calloc((size_t)iters, sizeof(double));
    if (!t_open || !t_close || !t_mkdir || !t_rmdir || !t_symlink || !t_flock || !t_read) die("calloc");
    for (int i = 0; i < iters; ++i) {
        double a = now_ns();
        fd = open(path, O_RDWR);
        double b = now_ns();
        if (fd < 0) die("open");
        if (flock(fd, LOCK_EX) != 0) die("flock");
        double c = now_ns();
        flock(fd, LOCK_UN);
        double d = now_ns();
        close(fd);
        double e = now_ns();
        if (mkdir(path2, 0755) != 0) die("mkdir");
        double f = now_ns();
        if (rmdir(path2) != 0) die("rmdir");
        double g = now_ns();
        char l[520];
        snprintf(l, sizeof l, "%s/l", dir);
        if (symlink(path, l) != 0) die("symlink");
        double h = now_ns();
        unlink(l);
        t_open[i] = b - a;
        t_flock[i] = c - b;
        t_close[i] = e - d;
        t_mkdir[i] = f - e;
        t_rmdir[i] = g - f;
        t_symlink[i] = h - g;
    }
    printf("{\"op\": {\"open\": %.0f, \"close\": %.0f, \"mkdir\": %.0f, \"rmdir\": %.0f, \"symlink\": %.0f, "
           "\"flock\": %.0f},\n \"read\": {",
           median(t_open, iters), median(t_close, iters), median(t_mkdir, iters), median(t_rmdir, iters),
           median(t_symlink, iters), median(t_flock, iters));
    for (int kib = 4; kib <= 64; kib *= 2) {
        char p[512];
        snprintf(p, sizeof p, "%s/r%d", dir, kib);
        fd = open(p, O_CREAT | O_RDWR | O_TRUNC, 0644);
        if (fd < 0) die("create read file");
        char* src = calloc(1, (size_t)kib * 1024);
        if (write(fd, src, (size_t)kib * 1024) != kib * 1024) die("write");
        free(src);
        for (int i = 0; i < iters; ++i) {
            /* A fresh buffer each time: its pages start on this node. */
            char* buf = mmap(NULL, (size_t)kib * 1024, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (buf == MAP_FAILED) die("mmap");
            for (int k = 0; k < kib * 1024; k += 4096) buf[k] = 1;
            double a = now_ns();
            if (pread(fd, buf, (size_t)kib * 1024, 0) != kib * 1024) die("pread");
            t_read[i] = now_ns() - a;
            munmap(buf, (size_t)kib * 1024);
        }
        close(fd);
        unlink(p);
        printf("%s\"%d\": %.0f", kib == 4 ? "" : ", ", kib * 1024, median(t_read, iters));
    }
    printf("}}\n");
    unlink(path);
    return NULL;
}

int main(int argc, char** argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: fsops DIR ITERS\n");
        return 2;
    }
    dir = argv[1];
    iters = atoi(argv[2]);
    if (iters < 1) {
        fprintf(stderr, "fsops: ITERS must be a positive number\n");
        return 2;
    }
    pthread_t t;
    if (pthread_create(&t, NULL, worker, NULL) != 0) die("pthread_create");
    pthread_join(t, NULL);
    return 0;
}
