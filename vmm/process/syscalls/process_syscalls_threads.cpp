// Emulated process syscalls, threads: clone, fork, vfork (new processes go
// to Process::fork_process), exit, exec, the tid and robust-list words, and
// futexes. execveat is reported unsupported.
#include <linux/futex.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <ctime>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "vmm/process/process.hpp"
#include "vmm/process/syscalls/host_syscalls_detail.hpp"
#include "vmm/process/syscalls/process_syscalls_detail.hpp"
#include "vmm/process/syscalls/syscall_names.hpp"
#include "vmm/process/threads/guest_thread.hpp"

namespace spanvm::process::detail {

namespace {

constexpr uint64_t kCloneThreadFlags = CLONE_VM | CLONE_THREAD | CLONE_SIGHAND;

int64_t sys_clone(GuestThread& t, const SyscallRequest& r) {
    const uint64_t flags = r.args[0], stack = r.args[1], ptid = r.args[2], ctid = r.args[3], tls = r.args[4];
    Process& p = t.process();
    if (!(flags & CLONE_THREAD))  // a new process (fork, posix_spawn): process_fork.cpp
        return p.fork_process(t, {flags, stack, ptid, ctid, tls});
    if ((flags & kCloneThreadFlags) != kCloneThreadFlags) {
        p.report_unsupported_feature("clone(CLONE_THREAD) without CLONE_VM|CLONE_SIGHAND");
        return -EINVAL;
    }
    ThreadStart start;
    start.regs = t.regs();
    start.regs.rax = 0;
    start.regs.rip = start.regs.rcx;  // the child returns from the syscall too
    start.regs.rflags = start.regs.r11;
    if (stack) start.regs.rsp = stack;
    auto fs = t.fs_base();
    auto gs = t.gs_base();
    if (!fs || !gs) return -EAGAIN;
    start.fs_base = (flags & CLONE_SETTLS) ? tls : *fs;
    start.gs_base = *gs;
    start.sigmask = t.row().sigmask.load();
    start.seccomp_filter = t.row().seccomp_filter.load();
    start.seccomp_mode = t.row().seccomp_mode.load();
    const uint64_t clear_tid = (flags & CLONE_CHILD_CLEARTID) ? ctid : 0;
    if ((flags & CLONE_PARENT_SETTID) && !p.mem().valid(ptid, 4)) return -EFAULT;
    if ((flags & CLONE_CHILD_SETTID) && !p.mem().valid(ctid, 4)) return -EFAULT;
    // The tid words are written before the child can run: spawn_thread
    // writes them between allocating the tid and starting the host thread.
    SpawnTidWrites w{(flags & CLONE_PARENT_SETTID) ? ptid : 0, (flags & CLONE_CHILD_SETTID) ? ctid : 0};
    return p.spawn_thread(start, clear_tid, w);
}

int64_t sys_exit(GuestThread& t, const SyscallRequest& r) {
    t.request_exit(static_cast<int>(r.args[0] & 0xFF));
    return 0;
}

[[noreturn]] int64_t sys_exit_group(GuestThread& t, const SyscallRequest& r) {
    // This thread's robust futexes here; the other live threads' at the
    // process's end (end_process), which counts this row out.
    t.process().release_robust_futexes(t.row());
    t.row().state = ThreadState::exited;
    t.process().exit_process(static_cast<int>(r.args[0] & 0xFF));
}

// glibc falls back to clone(2) on ENOSYS (clone3) and runs without rseq on
// ENOSYS (rseq): answered here, not reported unsupported.
int64_t sys_enosys_quiet(GuestThread&, const SyscallRequest&) { return -ENOSYS; }

int64_t sys_fork(GuestThread& t, const SyscallRequest&) {
    return t.process().fork_process(t, {SIGCHLD, 0, 0, 0, 0});
}

int64_t sys_vfork(GuestThread& t, const SyscallRequest&) {
    return t.process().fork_process(t, {CLONE_VM | CLONE_VFORK | SIGCHLD, 0, 0, 0, 0});
}

int64_t sys_set_tid_address(GuestThread& t, const SyscallRequest& r) {
    t.row().clear_child_tid = r.args[0];
    return t.row().tid;
}

int64_t sys_set_robust_list(GuestThread& t, const SyscallRequest& r) {
    if (r.args[1] != 24) return -EINVAL;
    t.row().robust_list = r.args[0];
    t.row().robust_list_len = r.args[1];
    return 0;
}

int64_t sys_get_robust_list(GuestThread& t, const SyscallRequest& r) {
    Process& p = t.process();
    if (r.args[0] != 0 && static_cast<int>(r.args[0]) != t.row().tid) return -ESRCH;
    if (!p.mem().write(r.args[1], t.row().robust_list) || !p.mem().write(r.args[2], t.row().robust_list_len))
        return -EFAULT;
    return 0;
}

// ---- futex -------------------------------------------------------------------

std::optional<FutexTable::Clock::time_point> futex_deadline(Process& p, uint64_t ts_addr, bool absolute, bool realtime,
                                                           int64_t& error) {
    error = 0;
    if (!ts_addr) return std::nullopt;
    auto ts = p.mem().read<struct timespec>(ts_addr);
    if (!ts) {
        error = -EFAULT;
        return std::nullopt;
    }
    if (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000L) {
        error = -EINVAL;
        return std::nullopt;
    }
    using namespace std::chrono;
    auto d = seconds(ts->tv_sec) + nanoseconds(ts->tv_nsec);
    auto now = FutexTable::Clock::now();
    if (!absolute) return now + duration_cast<FutexTable::Clock::duration>(d);
    struct timespec cur {};
    ::clock_gettime(realtime ? CLOCK_REALTIME : CLOCK_MONOTONIC, &cur);
    auto rel = d - (seconds(cur.tv_sec) + nanoseconds(cur.tv_nsec));
    return now + duration_cast<FutexTable::Clock::duration>(rel);
}

int64_t futex_wake_op(Process& p, const SyscallRequest& r) {
    const uint64_t uaddr = r.args[0], uaddr2 = r.args[4];
    const int nr_wake = static_cast<int>(r.args[2]), nr_wake2 = static_cast<int>(r.args[3]);
    const uint32_t encoded = static_cast<uint32_t>(r.args[5]);
    uint8_t* w2 = p.mem().wptr(uaddr2, 4);
    if (!w2 || (uaddr2 & 3)) return -EFAULT;
    int op = (encoded >> 28) & 7, cmp = (encoded >> 24) & 15;
    uint32_t oparg = (encoded >> 12) & 0xFFF, cmparg = encoded & 0xFFF;
    if (encoded & (8u << 28)) oparg = 1u << (oparg & 31);
    std::atomic_ref<uint32_t> word(*reinterpret_cast<uint32_t*>(w2));
    uint32_t old = word.load(), next;
    do {
        switch (op) {
            case FUTEX_OP_SET: next = oparg; break;
            case FUTEX_OP_ADD: next = old + oparg; break;
            case FUTEX_OP_OR: next = old | oparg; break;
            case FUTEX_OP_ANDN: next = old & ~oparg; break;
            case FUTEX_OP_XOR: next = old ^ oparg; break;
            default: return -ENOSYS;
        }
    } while (!word.compare_exchange_weak(old, next));
    const int32_t o = static_cast<int32_t>(old), c = static_cast<int32_t>(cmparg);
    bool hit = false;
    switch (cmp) {
        case FUTEX_OP_CMP_EQ: hit = o == c; break;
        case FUTEX_OP_CMP_NE: hit = o != c; break;
        case FUTEX_OP_CMP_LT: hit = o < c; break;
        case FUTEX_OP_CMP_LE: hit = o <= c; break;
        case FUTEX_OP_CMP_GT: hit = o > c; break;
        case FUTEX_OP_CMP_GE: hit = o >= c; break;
        default: return -ENOSYS;
    }
    int64_t n = p.futexes().wake(uaddr, nr_wake, FUTEX_BITSET_MATCH_ANY);
    if (hit) n += p.futexes().wake(uaddr2, nr_wake2, FUTEX_BITSET_MATCH_ANY);
    return n;
}

// A futex in a MAP_SHARED mapping (semaphores and locks that processes
// share, e.g. in /dev/shm): the host's futex on the same host memory, so a
// wake in one process reaches a waiter in another. Pointers are translated;
// the call blocks like any host call (a kick ends it with EINTR).
int64_t host_futex(GuestThread& t, const SyscallRequest& r, int cmd) {
    Process& p = t.process();
    auto host = [&p](uint64_t a, uint64_t len) { return a ? p.mem().ptr(a, len) : nullptr; };
    void* uaddr = host(r.args[0], 4);
    if (!uaddr) return -EFAULT;
    uint64_t arg3 = r.args[3];  // timeout pointer, or val2
    void* uaddr2 = nullptr;
    switch (cmd) {
        case FUTEX_WAIT:
        case FUTEX_WAIT_BITSET:
            if (r.args[3]) {
                void* ts = host(r.args[3], sizeof(struct timespec));
                if (!ts) return -EFAULT;
                arg3 = reinterpret_cast<uint64_t>(ts);
            }
            break;
        case FUTEX_REQUEUE:
        case FUTEX_CMP_REQUEUE:
        case FUTEX_WAKE_OP:
            if (!(uaddr2 = host(r.args[4], 4))) return -EFAULT;
            break;
        case FUTEX_WAKE:
        case FUTEX_WAKE_BITSET:
            break;
        default:
            p.report_unsupported_feature(fmt::format("futex operation {} on a shared mapping", cmd));
            return -ENOSYS;
    }
    const bool waits = cmd == FUTEX_WAIT || cmd == FUTEX_WAIT_BITSET;
    if (waits) t.row().state = ThreadState::blocked;
    // raw(): a wait is the thread's armed, kick-cancellable call.
    const int64_t res = raw(SYS_futex, P(uaddr), static_cast<long>(r.args[1]), static_cast<long>(r.args[2]),
                            static_cast<long>(arg3), P(uaddr2), static_cast<long>(r.args[5]));
    if (waits) t.row().state = ThreadState::in_syscall;
    return res;
}

int64_t sys_futex(GuestThread& t, const SyscallRequest& r) {
    Process& p = t.process();
    const uint64_t uaddr = r.args[0];
    const int op = static_cast<int>(r.args[1]);
    const int cmd = op & FUTEX_CMD_MASK;
    const uint32_t val = static_cast<uint32_t>(r.args[2]);
    if (uaddr & 3) return -EINVAL;
    if (p.in_shared_mapping(uaddr)) return host_futex(t, r, cmd);
    auto reader = [&p](uint64_t a) -> std::optional<uint32_t> {
        uint8_t* w = p.mem().ptr(a, 4);
        if (!w) return std::nullopt;
        return std::atomic_ref<uint32_t>(*reinterpret_cast<uint32_t*>(w)).load();
    };
    switch (cmd) {
        case FUTEX_WAIT:
        case FUTEX_WAIT_BITSET: {
            int64_t e;
            const bool bitset = cmd == FUTEX_WAIT_BITSET;
            auto deadline = futex_deadline(p, r.args[3], bitset, op & FUTEX_CLOCK_REALTIME, e);
            if (e) return e;
            t.row().state = ThreadState::blocked;
            ThreadRow& row = t.row();
            // A signal to deliver, or an execve in another thread (which
            // ends this one: Process::end_other_threads), ends the wait.
            const std::function<bool()> signalled = [&p, &row] {
                return p.signals().deliverable(row) != 0 || row.end_requested.load();
            };
            int64_t res = p.futexes().wait(uaddr, val, bitset ? static_cast<uint32_t>(r.args[5]) : FUTEX_BITSET_MATCH_ANY,
                                           deadline, reader, row.tid, &signalled);
            t.row().state = ThreadState::in_syscall;
            return res;
        }
        case FUTEX_WAKE:
            return p.futexes().wake(uaddr, static_cast<int>(val), FUTEX_BITSET_MATCH_ANY);
        case FUTEX_WAKE_BITSET:
            return p.futexes().wake(uaddr, static_cast<int>(val), static_cast<uint32_t>(r.args[5]));
        case FUTEX_REQUEUE:
            return p.futexes().requeue(uaddr, r.args[4], static_cast<int>(val), static_cast<int>(r.args[3]), std::nullopt,
                                       reader);
        case FUTEX_CMP_REQUEUE:
            return p.futexes().requeue(uaddr, r.args[4], static_cast<int>(val), static_cast<int>(r.args[3]),
                                       static_cast<uint32_t>(r.args[5]), reader);
        case FUTEX_WAKE_OP:
            return futex_wake_op(p, r);
        default:
            p.report_unsupported_feature(fmt::format("futex operation {}", cmd));
            return -ENOSYS;
    }
}

// NULL-terminated array of guest string pointers (argv/envp of execve).
Result<std::vector<std::string>> read_string_array(Process& p, uint64_t addr) {
    std::vector<std::string> out;
    if (!addr) return out;
    constexpr size_t kMaxStrings = 1u << 17, kMaxString = 128u << 10;
    for (size_t i = 0; i < kMaxStrings; ++i) {
        auto ptr = p.mem().read<uint64_t>(addr + i * 8);
        if (!ptr) return make_error(EFAULT, "bad argv/envp array");
        if (*ptr == 0) return out;
        auto str = p.mem().cstring(*ptr, kMaxString);
        if (!str) return str.error();
        out.emplace_back(*str);
    }
    return make_error(E2BIG, "argv/envp too long");
}

// execve of `program` (a host path) with the guest's argv and envp arrays.
int64_t exec_program(GuestThread& t, const std::string& program, uint64_t argv_gva, uint64_t envp_gva) {
    Process& p = t.process();
    auto argv = read_string_array(p, argv_gva);
    if (!argv) return err(argv.error());
    auto envp = read_string_array(p, envp_gva);
    if (!envp) return err(envp.error());
    ProcessConfig image;
    image.program = program;
    image.argv = std::move(*argv);
    image.envp = std::move(*envp);
    return p.exec(t, std::move(image));
}

// The path as the other path calls read it (guest_path: /proc/self/fd/N,
// fexecve's fallback, names the guest's fd N), and /proc/self/exe this
// program (follow_own_exe), not spanvm's binary.
int64_t sys_execve(GuestThread& t, const SyscallRequest& r) {
    Process& p = t.process();
    GuestPath path;
    if (const int64_t e = guest_path(p.host_ctx(), r.args[0], path); e < 0) return e;
    follow_own_exe(p.host_ctx(), path);
    return exec_program(t, path.s, r.args[1], r.args[2]);
}

// execveat(dirfd, path, argv, envp, flags): the program the path names
// relative to the guest's dirfd, or with AT_EMPTY_PATH and an empty path
// the file of dirfd itself (fexecve), made a path of the host's: spanvm's
// exec opens the program by path, as an execve of /proc/self/fd/N does.
// AT_SYMLINK_NOFOLLOW refuses a final symlink (ELOOP), as Linux.
int64_t sys_execveat(GuestThread& t, const SyscallRequest& r) {
    Process& p = t.process();
    const int dirfd = static_cast<int>(r.args[0]);
    const uint64_t flags = r.args[4];
    if (flags & ~static_cast<uint64_t>(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)) return -EINVAL;
    GuestPath path;
    auto name = p.mem().cstring(r.args[1], PATH_MAX);
    if (!name) return err(name.error());
    FdRef dir;
    if (name->empty()) {
        if (!(flags & AT_EMPTY_PATH)) return -ENOENT;
        if (!(dir = p.fds().acquire(dirfd))) return -EBADF;
        path.s = fmt::format("/proc/self/fd/{}", dir->fd());
    } else {
        if (const int64_t e = guest_path(p.host_ctx(), r.args[1], path); e < 0) return e;
        if (!path.absolute() && dirfd != AT_FDCWD) {
            if (!(dir = p.fds().acquire(dirfd))) return -EBADF;
            path.s = fmt::format("/proc/self/fd/{}/{}", dir->fd(), path.s);
        }
        if (flags & AT_SYMLINK_NOFOLLOW) {
            struct stat st {};
            if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) return -ELOOP;
        } else {
            follow_own_exe(p.host_ctx(), path);
        }
    }
    return exec_program(t, path.s, r.args[2], r.args[3]);
}

}  // namespace

// unshare(2) of what a process with one thread shares with nobody: its fd
// table, filesystem context (cwd, root, umask) and SysV semaphore undo list
// are its own already, so the call does nothing, as on Linux. With other
// threads, or for namespaces, not supported (departures.md).
int64_t sys_unshare(GuestThread& t, const SyscallRequest& r) {
    const uint64_t flags = r.args[0];
    constexpr uint64_t kNothingShared = CLONE_FILES | CLONE_FS | CLONE_SYSVSEM;
    if (flags & ~kNothingShared) {
        t.process().report_unsupported_feature("unshare of namespaces or of memory");
        return -ENOSYS;
    }
    if (flags && t.process().threads().live_threads() > 1) {
        t.process().report_unsupported_feature("unshare of a thread's fd table or cwd");
        return -ENOSYS;
    }
    return 0;
}

void register_process_threads(ProcessHandlerTable& t) {
    t.add(SYS_unshare, sys_unshare);
    t.add(SYS_clone, sys_clone);
    t.add(SYS_clone3, sys_enosys_quiet);
    t.add(SYS_rseq, sys_enosys_quiet);
    t.add(SYS_execve, sys_execve);
    t.add(SYS_fork, sys_fork);
    t.add(SYS_vfork, sys_vfork);
    t.add(SYS_execveat, sys_execveat);
    t.add(SYS_exit, sys_exit);
    t.add(SYS_exit_group, sys_exit_group);
    t.add(SYS_set_tid_address, sys_set_tid_address);
    t.add(SYS_set_robust_list, sys_set_robust_list);
    t.add(SYS_get_robust_list, sys_get_robust_list);
    t.add(SYS_futex, sys_futex);
}

}  // namespace spanvm::process::detail
