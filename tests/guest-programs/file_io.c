/* File-system and fd syscalls: mkdtemp, open/write/read/pread/pwrite/lseek,
 * fstat/stat, rename, unlink, mkdir/rmdir, readdir, dup/dup2, O_APPEND, stdio,
 * and a pipe between two threads. Works inside a fresh directory under
 * $TMPDIR (or /tmp) and removes it again. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gp_check.h"

enum { FILE_BYTES = 300000, PIPE_BYTES = 4 << 20 };

static unsigned char byte_at(size_t i) { return (unsigned char)(i * 2654435761u >> 13); }

static char dir[1024]; /* short enough that every derived path fits PATH_MAX */

static const char* path(const char* name) {
    static char buf[2][PATH_MAX];
    static int which;
    which ^= 1;
    snprintf(buf[which], PATH_MAX, "%s/%s", dir, name);
    return buf[which];
}

static void write_all(int fd, const void* p, size_t n) {
    const unsigned char* c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        CHECK(w > 0, "write: %s", strerror(errno));
        c += w;
        n -= (size_t)w;
    }
}

static void test_rw(void) {
    static unsigned char data[FILE_BYTES], back[FILE_BYTES];
    for (size_t i = 0; i < FILE_BYTES; ++i) data[i] = byte_at(i);
    int fd = open(path("a.bin"), O_CREAT | O_EXCL | O_RDWR, 0600);
    CHECK_SYS(fd);
    write_all(fd, data, FILE_BYTES);
    struct stat st;
    CHECK_SYS(fstat(fd, &st));
    CHECK(st.st_size == FILE_BYTES && S_ISREG(st.st_mode), "fstat size %lld", (long long)st.st_size);
    CHECK((st.st_mode & 0177) == 0, "mode %o has bits beyond 0600", st.st_mode & 0777);
    CHECK(lseek(fd, 0, SEEK_CUR) == FILE_BYTES, "offset after write");
    CHECK(lseek(fd, 0, SEEK_SET) == 0, "lseek SEEK_SET");
    size_t got = 0;
    while (got < FILE_BYTES) {
        ssize_t r = read(fd, back + got, FILE_BYTES - got);
        CHECK(r > 0, "read returned %zd: %s", r, strerror(errno));
        got += (size_t)r;
    }
    CHECK(memcmp(data, back, FILE_BYTES) == 0, "read-back differs");
    unsigned char one;
    CHECK(read(fd, &one, 1) == 0, "read at EOF must return 0");
    CHECK(lseek(fd, -1000, SEEK_END) == FILE_BYTES - 1000, "lseek SEEK_END");
    CHECK(lseek(fd, 10, SEEK_CUR) == FILE_BYTES - 990, "lseek SEEK_CUR");
    unsigned char small[64];
    CHECK(pread(fd, small, sizeof small, 12345) == (ssize_t)sizeof small, "pread");
    for (size_t i = 0; i < sizeof small; ++i) CHECK(small[i] == byte_at(12345 + i), "pread byte %zu", i);
    CHECK(lseek(fd, 0, SEEK_CUR) == FILE_BYTES - 990, "pread moved the offset");
    memset(small, 0x5A, sizeof small);
    CHECK(pwrite(fd, small, sizeof small, 100) == (ssize_t)sizeof small, "pwrite");
    CHECK(pread(fd, back, 200, 50) == 200, "pread after pwrite");
    for (size_t i = 0; i < 200; ++i) {
        size_t off = 50 + i;
        unsigned char want = (off >= 100 && off < 164) ? 0x5A : byte_at(off);
        CHECK(back[i] == want, "after pwrite byte %zu", off);
    }
    /* Sparse extension: reading the hole gives zeros. */
    CHECK(pwrite(fd, "E", 1, FILE_BYTES + 8191) == 1, "pwrite past EOF");
    CHECK(pread(fd, back, 4096, FILE_BYTES + 100) == 4096, "pread hole");
    for (size_t i = 0; i < 4096; ++i) CHECK(back[i] == 0, "hole byte %zu not zero", i);
    CHECK_SYS(ftruncate(fd, 1000));
    CHECK_SYS(fstat(fd, &st));
    CHECK(st.st_size == 1000, "ftruncate size %lld", (long long)st.st_size);

    /* dup shares the file offset; dup2 onto a chosen number. */
    CHECK(lseek(fd, 0, SEEK_SET) == 0, "rewind");
    int d = dup(fd);
    CHECK_SYS(d);
    CHECK(dup2(fd, 100) == 100, "dup2 -> 100: %s", strerror(errno));
    CHECK(read(100, small, 10) == 10, "read via dup2 fd");
    CHECK(lseek(d, 0, SEEK_CUR) == 10, "dup does not share offset");
    CHECK(fcntl(100, F_GETFD) == 0, "dup2 target must not be close-on-exec");
    CHECK_SYS(close(100));
    CHECK(fcntl(100, F_GETFD) == -1 && errno == EBADF, "fd 100 still open after close");
    CHECK_SYS(close(d));
    CHECK_SYS(close(fd));
    CHECK(close(fd) == -1 && errno == EBADF, "double close must be EBADF");

    /* O_APPEND always writes at the end. */
    fd = open(path("a.bin"), O_WRONLY | O_APPEND);
    CHECK_SYS(fd);
    CHECK(lseek(fd, 0, SEEK_SET) == 0, "lseek on append fd");
    write_all(fd, "tail", 4);
    CHECK_SYS(fstat(fd, &st));
    CHECK(st.st_size == 1004, "append size %lld", (long long)st.st_size);
    CHECK_SYS(close(fd));

    /* rename: old name gone, new name has the content. */
    CHECK_SYS(rename(path("a.bin"), path("b.bin")));
    CHECK(stat(path("a.bin"), &st) == -1 && errno == ENOENT, "old name still exists");
    CHECK_SYS(stat(path("b.bin"), &st));
    CHECK(st.st_size == 1004, "renamed size");
    CHECK(open(path("missing"), O_RDONLY) == -1 && errno == ENOENT, "open missing must be ENOENT");
    CHECK_SYS(unlink(path("b.bin")));
    CHECK(unlink(path("b.bin")) == -1 && errno == ENOENT, "second unlink must be ENOENT");
}

static int cmp_str(const void* a, const void* b) { return strcmp(*(char* const*)a, *(char* const*)b); }

static void test_dirs(void) {
    CHECK_SYS(mkdir(path("sub"), 0700));
    CHECK(mkdir(path("sub"), 0700) == -1 && errno == EEXIST, "mkdir twice must be EEXIST");
    const char* names[] = {"zeta", "alpha", "mid.txt", "Upper"};
    enum { N = sizeof names / sizeof names[0] };
    for (int i = 0; i < N; ++i) {
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/sub/%s", dir, names[i]);
        FILE* f = fopen(p, "w");
        CHECK(f, "fopen %s: %s", p, strerror(errno));
        CHECK(fprintf(f, "file %d %s\n", i, names[i]) > 0, "fprintf");
        CHECK(fclose(f) == 0, "fclose");
        f = fopen(p, "r");
        CHECK(f, "fopen r");
        char line[128], want[128];
        CHECK(fgets(line, sizeof line, f), "fgets");
        snprintf(want, sizeof want, "file %d %s\n", i, names[i]);
        CHECK(strcmp(line, want) == 0, "stdio content '%s'", line);
        fclose(f);
    }
    CHECK(rmdir(path("sub")) == -1 && (errno == ENOTEMPTY || errno == EEXIST), "rmdir non-empty must fail");
    DIR* dp = opendir(path("sub"));
    CHECK(dp, "opendir: %s", strerror(errno));
    char* seen[16];
    int n = 0, dots = 0;
    struct dirent* e;
    while ((e = readdir(dp))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) { ++dots; continue; }
        CHECK(n < 16, "too many entries");
        seen[n++] = strdup(e->d_name);
    }
    closedir(dp);
    CHECK(dots == 2, "saw %d dot entries", dots);
    CHECK(n == N, "readdir saw %d entries, want %d", n, N);
    qsort(seen, (size_t)n, sizeof seen[0], cmp_str);
    const char* sorted[] = {"Upper", "alpha", "mid.txt", "zeta"};
    for (int i = 0; i < N; ++i) {
        CHECK(strcmp(seen[i], sorted[i]) == 0, "entry %d is %s", i, seen[i]);
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/sub/%s", dir, seen[i]);
        CHECK_SYS(unlink(p));
        free(seen[i]);
    }
    CHECK_SYS(rmdir(path("sub")));
    struct stat st;
    CHECK(stat(path("sub"), &st) == -1 && errno == ENOENT, "rmdir left the directory");
}

static int pipe_fds[2];

static void* pipe_writer(void* p) {
    (void)p;
    static unsigned char buf[65536];
    size_t sent = 0;
    uint64_t rng = 77;
    while (sent < PIPE_BYTES) {
        /* Odd-sized writes so the reader sees arbitrary split points. */
        size_t n = 1 + gp_rand(&rng) % sizeof buf;
        if (n > PIPE_BYTES - sent) n = PIPE_BYTES - sent;
        for (size_t i = 0; i < n; ++i) buf[i] = byte_at(sent + i);
        write_all(pipe_fds[1], buf, n);
        sent += n;
    }
    CHECK_SYS(close(pipe_fds[1]));
    return NULL;
}

static void test_pipe(void) {
    CHECK_SYS(pipe(pipe_fds));
    pthread_t t;
    CHECK_PT(pthread_create(&t, NULL, pipe_writer, NULL));
    static unsigned char buf[40000];
    size_t got = 0;
    for (;;) {
        ssize_t r = read(pipe_fds[0], buf, sizeof buf);
        CHECK(r >= 0, "pipe read: %s", strerror(errno));
        if (r == 0) break;
        for (ssize_t i = 0; i < r; ++i)
            CHECK(buf[i] == byte_at(got + (size_t)i), "pipe byte %zu wrong", got + (size_t)i);
        got += (size_t)r;
    }
    CHECK(got == PIPE_BYTES, "pipe delivered %zu bytes", got);
    CHECK_PT(pthread_join(t, NULL));
    CHECK_SYS(close(pipe_fds[0]));
}

int main(void) {
    const char* tmp = getenv("TMPDIR");
    if (!tmp || !*tmp) tmp = "/tmp";
    CHECK(strlen(tmp) < sizeof dir - 32, "TMPDIR too long");
    snprintf(dir, sizeof dir, "%s/gp_file_io.XXXXXX", tmp);
    CHECK(mkdtemp(dir), "mkdtemp %s: %s", dir, strerror(errno));
    test_rw();
    test_dirs();
    test_pipe();
    CHECK_SYS(rmdir(dir));
    gp_ok("file_io");
    return 0;
}
