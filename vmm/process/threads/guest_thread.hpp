#pragma once
// A guest thread: one vCPU driven by one host thread. The loop runs the
// vCPU (vmm/platform/vcpu.hpp, any platform) and turns its exits into
// syscalls (via SyscallGate), guest signals (CPU exceptions, kicks) or a
// fatal end. Everything a syscall handler needs about "the calling thread"
// is here. A thread that runs on another node is served here by its
// executor: the same loop on a vCPU that stands for the remote thread, plus
// a RemoteLink (vmm/process/remote_threads.hpp); a local thread has no link.
#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "vmm/platform/platform.hpp"
#include "vmm/platform/vcpu.hpp"
#include "vmm/process/remote_threads.hpp"
#include "vmm/process/signals/signal_table.hpp"
#include "vmm/process/syscalls/syscall_gate.hpp"
#include "vmm/process/threads/thread_table.hpp"

namespace spanvm::process {

class Process;
struct ThreadStart;

class GuestThread {
public:
    // `link`: set for the executor of a thread on another node; it belongs
    // to `vcpu`'s object and lives as long as it (RemoteThreadVcpu).
    GuestThread(Process& p, ThreadRow& row, std::unique_ptr<platform::Vcpu> vcpu, RemoteLink* link = nullptr);

    // Host-thread body. Returns when the guest thread exits (SYS_exit);
    // process-wide exits never return.
    void run(const ThreadStart& start);

    Process& process() { return proc_; }
    ThreadRow& row() { return row_; }
    platform::Vcpu& vcpu() { return *vcpu_; }
    // Null for a thread that runs here.
    RemoteLink* remote_link() { return link_; }
    platform::Regs& regs() { return vcpu_->regs(); }
    void mark_regs_dirty() { vcpu_->mark_regs_dirty(); }

    // FS/GS base (on KVM through KVM_GET/SET_SREGS, which are not synced on
    // every exit; on native kept by the vCPU and loaded at entry).
    Result<uint64_t> fs_base() const { return vcpu_->fs_base(); }
    Result<void> set_fs_base(uint64_t v) { return vcpu_->set_fs_base(v); }
    Result<uint64_t> gs_base() const { return vcpu_->gs_base(); }
    Result<void> set_gs_base(uint64_t v) { return vcpu_->set_gs_base(v); }

    // For a syscall that rewrote the whole register file (rt_sigreturn,
    // execve): the gate then leaves RAX alone and signal delivery does not
    // treat the call as restartable. Reset at each syscall.
    void set_regs_replaced() { regs_replaced_ = true; }
    bool regs_replaced() const { return regs_replaced_; }

    // --- signals (signal_delivery.cpp) ---
    // rt_sigreturn: restores registers, mask, FPU and the alternate stack
    // from the frame at RSP.
    int64_t sigreturn();
    // pause / rt_sigsuspend: blocks the host thread until a signal is
    // deliverable to this thread; returns -EINTR. With `suspend_mask`, that
    // mask is in force while waiting and the old one returns after the
    // handler frame is built (the frame saves the old one).
    int64_t wait_for_signal(std::optional<uint64_t> suspend_mask);
    // rt_sigtimedwait: takes a signal of `set` (pending for this thread or
    // the process), waiting at most `timeout` (none: forever) with the set
    // unblocked, as Linux's real_blocked: senders pick this thread for them.
    // Returns the signal and writes its siginfo at `info_gva` (if not 0);
    // -EAGAIN when the time is up, -EINTR when a signal outside the set
    // ended the wait (its handler runs on the way out).
    int64_t take_signal(uint64_t set, std::optional<std::chrono::nanoseconds> timeout, uint64_t info_gva);
    // The poll family: ppoll, pselect6 and epoll_pwait with a guest signal
    // mask (make waits for SIGCHLD this way) run the host call with that
    // mask in force, as sigsuspend does, and end with EINTR when a signal it
    // lets through comes; the old mask returns after the handler frame is
    // built. poll, select, epoll_wait and the others without a mask run the
    // same way under the thread's own mask, so that no kick is lost between
    // the test of what is deliverable and the wait. Returns false (nothing
    // done) for any other call.
    bool wait_with_sigmask(const SyscallRequest& r, int64_t& ret);
    // read(2) of a signalfd (signal_fd.hpp): takes signals of its mask
    // pending for this thread or the process; true when `r` was one (its
    // result in `ret`), false for any other call.
    bool read_signalfd(const SyscallRequest& r, int64_t& ret);
    // The default action of a stop signal: the host process stops with it.
    void stop_process(int sig);
    // A signal forced on this thread at a syscall (Linux's force_sig_info,
    // as a seccomp SECCOMP_RET_TRAP raises SIGSYS): a handler frame when a
    // handler is installed and `sig` not blocked (the registers then are
    // the frame's: set_regs_replaced); otherwise the process dies of `sig`.
    void force_signal(int sig, const SigInfoFields& info);
    // The host signal that kicks a vCPU thread out of the guest or a
    // blocking host syscall (installed by the platform, without SA_RESTART).
    static int kick_signal() { return platform::Platform::kick_signal(); }

    // In the child of a fork (Process::after_fork_child): this host thread
    // continues on `v`, a vCPU of the child's own VM, in the state `regs`,
    // `fs`, `gs`, `fpu` the forking thread had. The parent's vCPU object is
    // leaked, never destroyed (on KVM its kvm_run page is shared with the
    // parent; on native its teardown would undo this thread's setup).
    Result<void> adopt_vcpu_after_fork(std::unique_ptr<platform::Vcpu> v, const platform::Regs& regs, uint64_t fs,
                                       uint64_t gs, std::span<const uint8_t> fpu);

    // Set by SYS_exit: the loop ends after the current exit.
    void request_exit(int code) {
        exit_requested_ = true;
        exit_code_ = code;
    }

private:
    // `--place auto` (thread_migration.cpp): after an exit was handled, a
    // move the placement asked for (ThreadRow::move_to) is made here.
    void maybe_migrate();
    void migrate(unsigned from, unsigned to);
    // attach_thread() of the vCPU, then its pass-through syscalls
    // (passthrough_syscalls.hpp): the set at the origin, none elsewhere;
    // each such call counts in row_.syscalls.
    Result<void> attach_vcpu();
    // A remote thread's open/openat returned an fd: its file's (dev, ino)
    // go back with the Resume (RemoteLink::opened_file).
    void report_opened_file();
    // A CPU exception in guest code: into the guest's handler when one is
    // installed and the signal is not blocked; otherwise the process ends
    // with 128+signal, as Linux's force_sig does.
    void handle_exception(const platform::VcpuExit& e);
    [[noreturn]] void fatal_exit(const char* what);
    // A forced signal (a CPU exception, a seccomp trap): true when its
    // handler's frame is built; false when the process must die of it (no
    // handler, or blocked). A frame that cannot be written ends the process
    // with SIGSEGV, as Linux's force_sigsegv.
    bool enter_forced_handler(int sig, const SigInfoFields& info);
    // Builds handler frames for every deliverable signal (default actions
    // end the process). `syscall_nr` >= 0: called at a syscall return, whose
    // -EINTR result may be turned into a restart (SA_RESTART rules).
    void deliver_signals(int64_t syscall_nr);
    // Restores the FPU from a frame's fpstate (guest address).
    bool restore_fpu(uint64_t fpstate);
    bool build_handler_frame(int sig, const SigInfoFields& info, const KernelSigaction& act);

    Process& proc_;
    ThreadRow& row_;
    std::unique_ptr<platform::Vcpu> vcpu_;
    RemoteLink* link_;  // part of *vcpu_; null for a local thread
    bool exit_requested_ = false;
    bool passthrough_on_ = false;  // the vCPU answers pass-through calls (none once seccomp is on)
    bool regs_replaced_ = false;
    std::optional<uint64_t> suspend_saved_mask_;
    int exit_code_ = 0;
};

}  // namespace spanvm::process
