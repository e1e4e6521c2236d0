#pragma once
// Which system calls a node answers itself instead of forwarding them to the
// thread's executor at the origin (pure: no I/O; node_local_calls.cpp does
// the calls). docs/architecture/distributed.md, "Calls that stay on the
// node", says why each answer equals the one the executor would give.
//
//  * always: gettid, sched_yield (as before this unit existed);
//  * NodeAnswers::thread and ::all: calls whose answer is a fixed function
//    of the thread's own registers at the origin too: rseq (ENOSYS, the
//    origin's answer), set_tid_address and set_robust_list (the words travel
//    to the origin's thread table with the next Trap), arch_prctl(ARCH_SET_FS)
//    (the FS base travels with every Trap anyway), and the reading forms of
//    prlimit64/getrlimit for the current process (RLIMIT_STACK, _AS and
//    _DATA are constants of the run at the origin; other limits, except
//    RLIMIT_NOFILE which is the origin's fd table, are the deputy's host
//    limits, which a node that proved the same kernel reads live);
//  * NodeAnswers::all only: the read-only path lookups cc1 and ld.so make
//    most (stat, lstat, newfstatat, statx, access, faccessat, faccessat2,
//    readlink, readlinkat), only when the node has proven that it sees the
//    origin's file system (shared_fs.hpp) and only for a path whose walk
//    cannot depend on which process walks it (path_answerable below); and
//    an open or openat (no O_CREAT, no O_TMPFILE) whose walk fails with an
//    error the origin's walk gives too (cc1's include search and the
//    locale probes: ENOENT), a walk that succeeds still being forwarded (the
//    origin's fd table gets the fd); sysinfo, the host's (the same kernel
//    is proven);
//  * NodeAnswers::all, for a placed image's only thread: fstat, close,
//    read, pread64 and lseek of the files the node keeps for it
//    (node_local_calls.hpp, "Node files"; fd_effect and may_use_offset
//    below say which forwarded calls make it forget them);
//  * NodeAnswers::thread and ::all: getrandom of at most kMaxLocalRandom
//    bytes with known flags: the node's kernel's random bytes are as random
//    as the deputy's (the origin passes the host's through).
//
// The mode is the origin's SPANVM_NODE_ANSWERS (all, thread or off; default
// all), sent in every Spawn.
#include <cstdint>
#include <optional>
#include <string_view>

namespace spanvm::cluster {

enum class NodeAnswers : std::uint8_t { off = 0, thread = 1, all = 2 };

// "all", "thread" or "off"; nullopt for anything else.
std::optional<NodeAnswers> parse_node_answers(std::string_view s);

enum class LocalCall : std::uint8_t {
    none,  // forward
    gettid,
    sched_yield,
    rseq,
    set_tid_address,
    set_robust_list,
    arch_set_fs,
    stat,      // stat, lstat, newfstatat: struct stat (144 bytes) at `out`
    statx,     // struct statx (256 bytes) at `out`
    access,    // access, faccessat, faccessat2
    readlink,  // readlink, readlinkat: at most `out_len` bytes at `out`
    rlimit,    // prlimit64(0, res, NULL, old), getrlimit(res, old): struct rlimit at `out`, `mode` = res
    open,      // open, openat without O_CREAT/O_TMPFILE: only a walk that fails is answered (`follow`)
    sysinfo,   // struct sysinfo (112 bytes) at `out`
    getrandom, // at most kMaxLocalRandom bytes at `out` (`out_len`), `mode` = flags
    fstat,     // fstat(fd, out): struct stat (144 bytes) at `out`, for a node file (`fd`)
    close,     // close(fd) of a node file
    read,      // read(fd, out, out_len) of a node file at the offset the node tracks
    pread,     // pread64(fd, out, out_len, offset) of a node file
    lseek,     // lseek(fd, offset, mode) of a node file: SEEK_SET, SEEK_CUR or SEEK_END
};

// The largest read or pread64 a node answers from a node file (a larger
// one goes to the origin whole: a short read would differ from Linux's).
inline constexpr std::uint64_t kMaxLocalRead = 128 * 1024;

// The largest getrandom a node answers (glibc's malloc asks 8 bytes, ld.so
// none): larger ones go to the origin, so a node never copies much.
inline constexpr std::uint64_t kMaxLocalRandom = 256;

// A call the node may answer, with its arguments decoded. For the path
// calls the node still has to read the path, check it (path_answerable) and
// fall back to forwarding on anything unusual.
struct LocalCallPlan {
    LocalCall kind = LocalCall::none;
    std::uint64_t path = 0;  // guest address of the path (path calls)
    bool dirfd_cwd = true;   // the dirfd is AT_FDCWD (else only an absolute path may be answered)
    bool follow = true;      // the last component is followed (not AT_SYMLINK_NOFOLLOW / lstat / readlink)
    std::uint64_t out = 0;   // guest address of the result buffer
    std::uint64_t out_len = 0;
    std::uint32_t mode = 0;      // access: R_OK|W_OK|X_OK or F_OK
    bool eaccess = false;        // faccessat2 AT_EACCESS
    std::uint32_t at_flags = 0;  // statx: AT_STATX_SYNC_TYPE bits and AT_NO_AUTOMOUNT passed on
    std::uint32_t mask = 0;      // statx: the mask
    std::int32_t fd = -1;        // the dirfd (path calls) or fd (fstat, close)
    bool empty_path = false;     // AT_EMPTY_PATH: an empty path means `fd` itself
    std::uint32_t open_flags = 0;  // open
    std::uint64_t offset = 0;      // pread64
};

// Classifies call `nr` with arguments `a` (rdi, rsi, rdx, r10, r8, r9).
// Arguments Linux would reject with an error (unknown flags, a negative
// buffer size, an invalid access mode) give `none`: the origin answers
// those, so their errors need no copy here.
LocalCallPlan plan_local_call(std::int64_t nr, const std::uint64_t a[6], NodeAnswers mode);

// A call after which the thread's path lookups are no longer answered on
// its node: it changes (or may change) the credentials or the file system
// view the proof compared (setuid & co., capset, prctl, execve, chroot,
// unshare, setns, mount, pivot_root).
bool ends_path_answers(std::int64_t nr);

// What a call the node forwards does to the files the node keeps for its
// thread (node_local_calls.hpp, "Node files"), decided before it goes:
//   drop   fd `first` is closed or replaced at the origin (close, the new
//          fd of dup2 and dup3): the node forgets it;
//   range  fds [first, last] are (close_range, even with CLOSE_RANGE_CLOEXEC);
//   end    the node stops keeping files for the thread for good: another
//          thread or process may now change the fd table, or a close may
//          release something others see (clone with CLONE_VM or
//          CLONE_FILES, clone3, vfork, io_uring, execve, POSIX and OFD
//          record locks, flock, leases and dnotify: a record lock goes with
//          the process's first close of any fd of the file, so no close may
//          be held back once one may exist).
struct FdEffect {
    enum class Kind : std::uint8_t { none, drop, range, end } kind = Kind::none;
    std::uint32_t first = 0;
    std::uint32_t last = 0;
};
FdEffect fd_effect(std::int64_t nr, const std::uint64_t a[6]);

// May forwarded call `nr` read or move the file offset of the description
// guest fd `fd` refers to, or share it? Any argument equal to `fd` counts,
// conservatively, except in calls that name an fd without touching its
// offset (mmap, ioctl, the stat family, fstatfs, fadvise64, fsync,
// fdatasync, and fcntl but F_DUPFD and F_DUPFD_CLOEXEC); fork, clone,
// vfork and clone3 share every description with a child, sendmsg and
// sendmmsg may pass one (SCM_RIGHTS), so they count for every fd. The node
// then stops tracking that offset (node_local_calls.hpp, "Node files").
bool may_use_offset(std::int64_t nr, const std::uint64_t a[6], std::int32_t fd);

// May a lookup of `path` be answered by a node that sees the same file
// system? `cwd` is the absolute path of the process's working directory, or
// empty when the node does not know it (a relative path is then refused).
// Refused: empty paths, paths of PATH_MAX bytes or more, and any path whose
// lexical walk (".." taken textually, as it is when no symlink is crossed:
// the node's walk refuses symlinks) visits /proc, /dev or /sys: their
// entries depend on the process that looks (/proc/self, /dev/fd, ...).
bool path_answerable(std::string_view path, std::string_view cwd);

}  // namespace spanvm::cluster
