#include "vmm/process/threads/guest_thread.hpp"

#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <csignal>
#include <utility>

#include "vmm/base/log.hpp"
#include "vmm/memory/arg_memory.hpp"
#include "vmm/process/process.hpp"
#include "vmm/process/syscalls/passthrough_syscalls.hpp"
#include "vmm/process/syscalls/syscall_gate.hpp"

namespace spanvm::process {

GuestThread::GuestThread(Process& p, ThreadRow& row, std::unique_ptr<platform::Vcpu> vcpu, RemoteLink* link)
    : proc_(p), row_(row), vcpu_(std::move(vcpu)), link_(link) {}

void GuestThread::run(const ThreadStart& start) {
    row_.host_tid = static_cast<int>(::syscall(SYS_gettid));
    if (row_.tid == proc_.pid()) proc_.first_thread_started(row_.host_tid);
    if (auto r = attach_vcpu(); !r) fatal_exit(r.error().message.c_str());
    if (auto r = vcpu_->set_initial_state(start.regs, start.fs_base, start.gs_base); !r)
        fatal_exit(r.error().message.c_str());
    row_.state = ThreadState::running;

    for (;;) {
        if (row_.end_requested.load()) {
            // Another thread execs (Process::end_other_threads): this one
            // ends here, never back in the old image.
            row_.state = ThreadState::exited;
            proc_.thread_exited(row_, std::move(vcpu_), std::exchange(link_, nullptr), 0);
            return;
        }
        if (passthrough_on_ && row_.seccomp_mode.load(std::memory_order_relaxed) != 0) {
            // A filter came (this thread's call, or another's TSYNC).
            passthrough_on_ = false;
            vcpu_->set_passthrough_syscalls(passthrough_mask(false), &row_.syscalls);
        }
        const platform::VcpuExit e = vcpu_->run();
        if (link_) {
            // What the node answered itself since the last trap
            // (set_tid_address, set_robust_list), before this trap is handled.
            auto w = link_->take_thread_words();
            // The break the node moved in its heap window, first of all
            // (docs/dsm-protocol.md F8).
            if (w.brk) proc_.node_grew_brk(*this, *w.brk);
            // Then the mappings it made in its mapping window (F9).
            if (!w.maps.empty()) proc_.node_made_maps(*this, w.maps);
            if (w.clear_child_tid) row_.clear_child_tid = *w.clear_child_tid;
            if (w.robust_list) {
                row_.robust_list = w.robust_list->first;
                row_.robust_list_len = w.robust_list->second;
            }
            // Offsets the node's own reads moved (each fd is one it keeps,
            // open here), then the closes it answered itself, in the order
            // they were made (each fd was open then: 0 here too).
            for (const auto& [fd, off] : w.seeks)
                if (const FdRef f = proc_.fds().acquire(fd))
                    (void)::lseek(f->fd(), static_cast<off_t>(off), SEEK_SET);
            for (const std::int32_t fd : w.closed_fds) (void)proc_.fds().close(fd);
        }
        switch (e.kind) {
            case platform::VcpuExit::Kind::syscall: {
                row_.exits_io.fetch_add(1, std::memory_order_relaxed);
                if (link_) {
                    row_.forwarded.fetch_add(1, std::memory_order_relaxed);
                    row_.remote_host_tid.store(link_->remote_host_tid(), std::memory_order_relaxed);
                    row_.remote_local_syscalls.store(link_->remote_local_syscalls(), std::memory_order_relaxed);
                    const auto [rf, wf] = link_->remote_faults();
                    row_.remote_read_faults.store(rf, std::memory_order_relaxed);
                    row_.remote_write_faults.store(wf, std::memory_order_relaxed);
                }
                row_.state.store(ThreadState::in_syscall, std::memory_order_relaxed);
                const int64_t nr = static_cast<int64_t>(vcpu_->regs().rax);
                if (!link_ && !e.patched_site) proc_.offer_syscall_site(vcpu_->regs());
                regs_replaced_ = false;
                {
                    // Not across signal delivery: frames go to real memory.
                    memory::ArgMemoryScope args(link_ ? link_->arg_memory() : nullptr);
                    SyscallGate::dispatch(*this);
                    if (link_) {
                        if (nr == SYS_open || nr == SYS_openat) report_opened_file();
                        proc_.offer_heap_window(*this);
                        proc_.offer_map_window(*this);
                        link_->syscall_returned();
                    }
                }
                if (exit_requested_) {
                    row_.state = ThreadState::exited;
                    proc_.thread_exited(row_, std::move(vcpu_), std::exchange(link_, nullptr), exit_code_);
                    return;
                }
                if (proc_.signals().deliverable(row_)) deliver_signals(regs_replaced_ ? -1 : nr);
                maybe_migrate();
                row_.state.store(ThreadState::running, std::memory_order_relaxed);
                continue;
            }
            case platform::VcpuExit::Kind::interrupted:
                // A kick: deliver what is pending, except inside spanvm's
                // entry stubs (the syscall path delivers on its way out).
                if (e.in_guest) {
                    deliver_signals(-1);
                    maybe_migrate();  // not from inside the entry stubs
                }
                continue;
            case platform::VcpuExit::Kind::exception:
                row_.exits_exception.fetch_add(1, std::memory_order_relaxed);
                handle_exception(e);
                maybe_migrate();
                continue;
            case platform::VcpuExit::Kind::error:
                row_.exits_other.fetch_add(1, std::memory_order_relaxed);
                fatal_exit(e.what.c_str());
        }
    }
}

Result<void> GuestThread::adopt_vcpu_after_fork(std::unique_ptr<platform::Vcpu> v, const platform::Regs& regs,
                                                uint64_t fs, uint64_t gs, std::span<const uint8_t> fpu) {
    (void)vcpu_.release();  // the parent's (a remote thread's RemoteVcpu: its cluster stayed there)
    vcpu_ = std::move(v);
    link_ = nullptr;  // the child runs here, at the origin
    row_.node_id.store(0);
    row_.remote_host_tid.store(0);
    row_.host_tid = static_cast<int>(::syscall(SYS_gettid));
    row_.vcpu_id = static_cast<unsigned>(vcpu_->id());
    if (auto r = attach_vcpu(); !r) return r;
    if (auto r = vcpu_->set_initial_state(regs, fs, gs); !r) return r;
    // The gate still writes RAX through regs(): make that view (KVM's sync
    // regs page) hold the state too, not whatever a fresh vCPU had there.
    vcpu_->regs() = regs;
    vcpu_->mark_regs_dirty();
    if (!fpu.empty())
        if (auto r = vcpu_->restore_fpu(fpu); !r) return r;
    return {};
}

void GuestThread::report_opened_file() {
    const auto fd = static_cast<std::int64_t>(vcpu_->regs().rax);
    if (fd < 0 || fd > INT32_MAX) return;
    const process::FdRef f = proc_.fds().acquire(static_cast<int>(fd));
    struct stat s;
    if (f && ::fstat(f->fd(), &s) == 0) link_->opened_file(s.st_dev, s.st_ino);
}

Result<void> GuestThread::attach_vcpu() {
    if (auto r = vcpu_->attach_thread(); !r) return r;
    // A thread under seccomp runs every call through the gate, where its
    // filters are.
    passthrough_on_ = link_ == nullptr && row_.seccomp_mode.load() == 0;
    vcpu_->set_passthrough_syscalls(passthrough_mask(passthrough_on_), &row_.syscalls);
    return {};
}

void GuestThread::handle_exception(const platform::VcpuExit& e) {
    const int sig = e.signo;
    const uint64_t rip = vcpu_->regs().rip;
    SigInfoFields info;
    // The platform saw a host protection fault; whether the guest had a
    // mapping there (ACCERR) or none (MAPERR) is the address space's call.
    info.code = sig == SIGSEGV ? proc_.segv_code(e.fault_addr, e.si_code) : e.si_code;
    info.addr = e.fault_addr;
    info.fault = true;
    if (enter_forced_handler(sig, info)) return;
    log::error("guest thread {} killed by {}: {} at RIP {:#x}", row_.tid,
               sigabbrev_np(sig) ? fmt::format("SIG{}", sigabbrev_np(sig)) : "signal", e.what, rip);
    proc_.exit_process_signal(sig);
}

bool GuestThread::enter_forced_handler(int sig, const SigInfoFields& info) {
    auto act = proc_.signals().take_forced(sig, row_.sigmask.load());
    if (!act) return false;
    if (build_handler_frame(sig, info, *act)) return true;
    log::error("guest thread {} killed by SIGSEGV: cannot write the SIG{} frame below RSP {:#x}", row_.tid,
               sigabbrev_np(sig) ? sigabbrev_np(sig) : "?", vcpu_->regs().rsp);
    proc_.exit_process_signal(SIGSEGV);
}

void GuestThread::force_signal(int sig, const SigInfoFields& info) {
    if (enter_forced_handler(sig, info)) {
        set_regs_replaced();
        return;
    }
    if (proc_.is_root())
        log::error("guest thread {} killed by SIG{}", row_.tid, sigabbrev_np(sig) ? sigabbrev_np(sig) : "?");
    proc_.exit_process_signal(sig);
}

void GuestThread::fatal_exit(const char* what) {
    log::error("guest thread {} (vCPU {}) on the {} platform: {}; terminating", row_.tid, row_.vcpu_id.load(),
               proc_.platform().name(), what);
    proc_.exit_process_signal(SIGSEGV);
}

}  // namespace spanvm::process
