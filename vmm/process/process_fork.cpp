// fork(2), vfork(2), clone(2) without CLONE_VM|CLONE_THREAD and posix_spawn's
// clone(CLONE_VM|CLONE_VFORK): a guest process is a spanvm host process
// (guest pid == host pid), so a guest fork is a host fork() of spanvm.
//
// Parent: takes every lock of the process in the documented order (the
// pthread_atfork problem: a lock some other host thread holds at the fork
// would stay held forever in the child), saves the forking thread's
// registers, FS/GS and FPU image, fork()s, and releases the locks.
// Child: only the forking host thread exists. after_fork_child() rebuilds
// the process around it: its row becomes the main thread (tid == the new
// pid), every other row is exited, the futex waiters, pending signals,
// interval timer and vCPU pool of the parent are dropped (their threads did
// not come along; their objects are leaked, never destroyed), the
// timekeeper goes on with a new thread, the platform builds the child's own
// VM (KVM) and the thread continues on a fresh vCPU in the saved state.
//
// vfork and CLONE_VM|CLONE_VFORK (departure from Linux): the child gets a
// copy of guest memory, not the parent's, and the parent waits until the
// child execs or exits, as Linux's does. What the child wrote to the parent's
// stack above the parent's RSP (up to kVforkWindow bytes, within its
// mapping) is copied back to the parent at that point: that is where
// posix_spawn's child reports an exec failure (glibc's args->err) and where a
// vfork() child's writes to its caller's locals land. Other writes of the
// child are not seen by the parent.
#include <fcntl.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "vmm/base/latency_trace.hpp"
#include "vmm/base/log.hpp"
#include "vmm/process/fork_page_tables.hpp"
#include "vmm/process/process.hpp"
#include "vmm/process/threads/guest_thread.hpp"

namespace spanvm::process {

namespace {
constexpr uint64_t kVforkWindow = 64u << 10;
// clone flags a process (not a thread) may carry. CLONE_VM only together
// with CLONE_VFORK (the child is a copy; see above).
constexpr uint64_t kForkFlags = CLONE_VFORK | CLONE_VM | CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_SETTID |
                                CLONE_CHILD_CLEARTID | CLONE_DETACHED | CLONE_SYSVSEM | CSIGNAL;

bool read_full(int fd, uint8_t* buf, size_t len) {
    size_t got = 0;
    while (got < len) {
        ssize_t n = ::read(fd, buf + got, len - got);
        if (n < 0 && errno == EINTR) continue;  // a kick: the parent waits on, as Linux's vfork does
        if (n <= 0) return false;
        got += static_cast<size_t>(n);
    }
    return true;
}
}  // namespace

struct Process::ForkedThread {
    platform::Regs regs{};
    uint64_t fs = 0, gs = 0;
    std::vector<uint8_t> fpu;
    uint64_t flags = 0, ctid = 0;
    int vfork_fd = -1;
    uint64_t window = 0, window_len = 0;
};

int64_t Process::fork_process(GuestThread& t, const ForkRequest& rq) {
    const uint64_t flags = rq.flags;
    if (flags & ~kForkFlags) {
        report_unsupported_feature(fmt::format("clone flags {:#x} for a new process", flags & ~kForkFlags));
        return -ENOSYS;
    }
    if ((flags & CLONE_VM) && !(flags & CLONE_VFORK)) {
        report_unsupported_feature("clone(CLONE_VM) without CLONE_VFORK or CLONE_THREAD (a process sharing memory)");
        return -ENOSYS;
    }
    if ((flags & CSIGNAL) != SIGCHLD && (flags & CSIGNAL) != 0)
        report_unsupported_feature("a child's exit signal other than SIGCHLD (SIGCHLD is sent)");
    const bool vfork = flags & CLONE_VFORK;
    // `--place-exec least-loaded` learns that this image's program spawns
    // (before the fork: a vfork parent returns only after its child's exec).
    if (cfg_.exec_placer && exec_node_ >= 0) cfg_.exec_placer->exec_forked(exec_program_);

    ForkedThread st;
    st.regs = t.regs();
    st.regs.rax = 0;
    st.regs.rip = st.regs.rcx;  // the child returns from the syscall too
    st.regs.rflags = st.regs.r11;
    if (rq.stack) st.regs.rsp = rq.stack;
    auto fs = t.fs_base();
    auto gs = t.gs_base();
    auto fpu = t.vcpu().save_fpu();
    if (!fs || !gs || !fpu) return -EAGAIN;
    st.fs = (flags & CLONE_SETTLS) ? rq.tls : *fs;
    st.gs = *gs;
    st.fpu = std::move(*fpu);
    st.flags = flags;
    st.ctid = rq.ctid;
    if ((flags & CLONE_PARENT_SETTID) && !mem_.valid(rq.ptid, 4)) return -EFAULT;

    std::unique_lock fork_lk(fork_mu_);  // no other fork's vfork pipe leaks into this child
    int vp[2] = {-1, -1};
    if (vfork && ::pipe2(vp, O_CLOEXEC) != 0) return -errno;
    // Lock order (process.hpp), then the leaves: signals, timekeeper, stdio.
    aspace_mu_.lock();
    if (vfork) {
        const uint64_t rsp = t.regs().rsp;
        for (const Vma& v : aspace_->vmas())
            if (v.start <= rsp && rsp < v.end) {
                st.window = rsp;
                st.window_len = std::min(kVforkWindow, v.end - rsp);
            }
        st.vfork_fd = vp[1];
    }
    fds_.fork_mutex().lock();
    futexes_.fork_mutex().lock();
    threads_.fork_mutex().lock();
    vcpu_pool_mu_.lock();
    exit_mu_.lock();
    signals_.fork_mutex().lock();
    if (timekeeper_) timekeeper_->fork_mutex().lock();
    ::flockfile(stdout);
    ::flockfile(stderr);
    if (exiting_.load()) {
        unlock_after_fork();
        if (vfork) ::close(vp[0]), ::close(vp[1]);
        return -EAGAIN;  // the process is ending
    }
    if (cfg_.remote) {
        // A cluster (process_fork_cluster.cpp): the child is a local process
        // at the origin over a copy of guest RAM.
        if (std::string why = gather_for_fork(t.row()); !why.empty()) {
            unlock_after_fork();
            if (vfork) ::close(vp[0]), ::close(vp[1]);
            report_unsupported_feature(why);
            return -ENOSYS;
        }
    }
    keep_code_mapped_across_fork();
    trace::mark("fork.begin");
    const pid_t pid = ::fork();
    if (pid == 0) {
        (void)fork_lk.release();  // after_fork_child unlocks it
        after_fork_child(t, st);
        return 0;
    }
    const int fork_errno = errno;
    trace::mark("fork.parent");
    unlock_after_fork();
    fork_lk.unlock();
    if (vfork) ::close(vp[1]);
    if (pid < 0) {
        if (vfork) ::close(vp[0]);
        return -fork_errno;
    }
    if (flags & CLONE_PARENT_SETTID) (void)mem_.write(rq.ptid, static_cast<uint32_t>(pid));
    if (vfork) {
        // Until the child execs or exits (or dies: EOF): the parent's stack
        // window as the child left it.
        t.row().state = ThreadState::blocked;
        std::vector<uint8_t> back(st.window_len);
        if (!st.window_len) {
            uint8_t b;
            (void)read_full(vp[0], &b, 1);  // EOF only
        } else if (read_full(vp[0], back.data(), back.size())) {
            if (uint8_t* w = mem_.ptr(st.window, back.size())) std::memcpy(w, back.data(), back.size());
        }
        ::close(vp[0]);
        t.row().state = ThreadState::in_syscall;
    }
    return pid;
}

void Process::unlock_after_fork(bool stdio) {
    // In the child, glibc's fork() has already reset every stdio lock (seen
    // on glibc 2.36: lock, count and owner all zero): an funlockfile there
    // would leave the count at -1, and the next thread to write stderr
    // would keep the lock forever.
    if (stdio) {
        ::funlockfile(stderr);
        ::funlockfile(stdout);
    }
    if (timekeeper_) timekeeper_->fork_mutex().unlock();
    signals_.fork_mutex().unlock();
    exit_mu_.unlock();
    vcpu_pool_mu_.unlock();
    threads_.fork_mutex().unlock();
    futexes_.fork_mutex().unlock();
    fds_.fork_mutex().unlock();
    aspace_mu_.unlock();
}

void Process::after_fork_child(GuestThread& t, const ForkedThread& st) {
    // Every lock of the process is held by this thread (fork_process). The
    // state they guard is consistent; drop what belongs to absent threads.
    trace::mark("fork.child");
    root_ = false;
    guest_subreaper_.store(false);  // Linux's is_child_subreaper is not inherited
    parent_exec_node_ = exec_node_;
    exec_node_ = -1;             // counted on no node until it execs
    exec_program_.clear();
    child_wait_ns_.store(0);
    child_waiters_.store(0);
    cfg_.report_sink = nullptr;  // only the run's own process reports
    pid_ = ::getpid();
    threads_.keep_only_in_child(t.row(), pid_);
    live_.store(1);
    for (auto& v : vcpu_pool_) (void)v.release();  // the parent's (KVM: the parent's VM)
    vcpu_pool_.clear();
    next_vcpu_id_ = 0;
    futexes_.forget_waiters();
    signals_.clear_shared_pending();
    (void)itimer_.release();  // its thread (if any) stayed in the parent; Linux clears the child's itimers
    itimer_ = make_itimer();
    posix_timers_.forget_after_fork();  // Linux: a child has no POSIX timers (clear_shared_pending forgot their overruns)
    std::unique_ptr<time::Timekeeper> tk;
    if (timekeeper_) tk = timekeeper_->continue_in_child();
    const bool was_remote = cfg_.remote != nullptr;
    if (was_remote) leave_cluster_in_child();
    fork_mu_.unlock();  // held since fork_process (a std::unique_lock there that never unlocks in the child)
    unlock_after_fork(false);
    if (was_remote) close_cluster_fds_in_child();
    if (timekeeper_) (void)timekeeper_.release();  // its thread stayed in the parent: never destroyed
    timekeeper_ = std::move(tk);
    driven_tk_.store(timekeeper_.get(), std::memory_order_release);  // ticked by the forwarder started below

    auto fail = [](const std::string& what) {
        log::error("forked process {}: {}", ::getpid(), what);
        ::_exit(128 + SIGKILL);
    };
    if (auto r = platform_->after_fork_child(); !r) fail(r.error().message);
    auto v = take_vcpu();
    if (!v) fail("no vCPU");
    if (auto r = t.adopt_vcpu_after_fork(std::move(v), st.regs, st.fs, st.gs, st.fpu); !r) fail(r.error().message);
    ThreadRow& row = t.row();
    if (st.flags & CLONE_CHILD_SETTID) (void)mem_.write(st.ctid, static_cast<uint32_t>(pid_));
    row.clear_child_tid = (st.flags & CLONE_CHILD_CLEARTID) ? st.ctid : 0;
    vfork_fd_ = st.vfork_fd;
    vfork_window_ = st.window;
    vfork_window_len_ = st.window_len;
    if (registry_) slot_ = registry_->claim(pid_, ::getppid(), cfg_.program);
    if (slot_) slot_->threads = 1, slot_->threads_total = 1;
    start_signal_forwarder();
    trace::mark("fork.ready");
}

void Process::vfork_release() {
    if (vfork_fd_ < 0) return;
    if (vfork_window_len_) {
        const uint8_t* p = mem_.ptr(vfork_window_, vfork_window_len_);
        size_t off = 0;
        while (p && off < vfork_window_len_) {
            ssize_t n = ::write(vfork_fd_, p + off, vfork_window_len_ - off);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            off += static_cast<size_t>(n);
        }
    }
    ::close(vfork_fd_);
    vfork_fd_ = -1;
}

}  // namespace spanvm::process
