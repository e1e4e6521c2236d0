// GuestThread::migrate: a guest thread changes nodes (`--place auto`).
//
// The thread's host thread at the origin stays the same: on node 0 it runs
// the guest code itself, elsewhere it is the thread's executor. A move
// swaps the vCPU under it (a local platform vCPU <-> the RemoteVcpu of the
// target node) at a point where the whole thread state is here: after an
// exit was handled and before the thread runs again (for a remote thread,
// while its node waits for the Resume). What moves and how:
//   registers, FS/GS base  read from the old vCPU, set_initial_state() on
//                          the new one (for a remote one: the Spawn);
//   FPU/AVX image          save_fpu() (a remote thread's node sends it on
//                          request), restore_fpu() on the new vCPU (for a
//                          remote one before the Spawn, which carries it);
//   signals, mask, futex   live in the origin's tables (SignalTable,
//   waits, altstack, tids  ThreadRow, FutexTable) and stay: nothing moves.
// The old vCPU lets go: the origin stores the last call's output (a read's
// data) into guest memory itself, then a remote thread's node gets the
// Resume it was owed with `exit` set and ends its host thread there; a local vCPU is detached from this host thread and pooled.
#include <chrono>
#include <csignal>

#include "vmm/base/log.hpp"
#include "vmm/process/process.hpp"
#include "vmm/process/threads/guest_thread.hpp"

namespace spanvm::process {

void GuestThread::maybe_migrate() {
    if (row_.move_to.load(std::memory_order_relaxed) == ThreadRow::kNoMove) return;
    const int want = row_.move_to.exchange(ThreadRow::kNoMove, std::memory_order_relaxed);
    if (want == ThreadRow::kNoMove || !proc_.config().remote || exit_requested_) return;
    const unsigned from = row_.node_id.load();
    const auto to = static_cast<unsigned>(want);
    if (to == from) return;
    migrate(from, to);
}

void GuestThread::migrate(unsigned from, unsigned to) {
    const auto t0 = std::chrono::steady_clock::now();
    RemoteThreads& remote = *proc_.config().remote;
    auto skip = [&](const std::string& why) {
        log::warn("thread {} stays on node {} (move to node {} failed: {})", row_.tid, from, to, why);
    };
    // 1. The whole state, here.
    const platform::Regs regs = vcpu_->regs();
    auto fs = vcpu_->fs_base();
    auto gs = vcpu_->gs_base();
    auto fpu = vcpu_->save_fpu();
    if (!fs || !gs || !fpu) return skip(!fs ? fs.error().message : !gs ? gs.error().message : fpu.error().message);
    // 2. A vCPU on the target. A RemoteVcpu takes the thread's vCPU id (it
    // stands for no KVM vCPU, so it uses up none of the platform's).
    std::unique_ptr<platform::Vcpu> nv;
    RemoteLink* nl = nullptr;
    if (to == 0) {
        nv = proc_.take_local_vcpu();
    } else {
        auto rv = remote.create_vcpu(to, row_.vcpu_id.load());
        nv = std::move(rv.vcpu);
        nl = nv ? rv.link : nullptr;
    }
    if (!nv) return skip("no vCPU there");
    // 3. The old vCPU lets go.
    if (link_) {
        const auto [rf, wf] = link_->remote_faults();
        row_.banked_read_faults.fetch_add(rf);
        row_.banked_write_faults.fetch_add(wf);
        row_.banked_local_syscalls.fetch_add(link_->remote_local_syscalls());
        // The last call's output is stored here before the node lets its
        // thread go (RemoteLink::leave_node); the node ends its thread.
        if (!link_->leave_node(proc_.platform().memory(), proc_.protection())) {
            log::error("guest thread {}: migration from node {}: the last call's output lies outside guest RAM",
                       row_.tid, from);
            proc_.exit_process(128 + SIGSEGV);
        }
        vcpu_.reset();            // unregisters its channel route
    } else {
        vcpu_->detach_thread();
        proc_.pool_vcpu(std::move(vcpu_));
    }
    row_.remote_read_faults.store(0);
    row_.remote_write_faults.store(0);
    row_.remote_local_syscalls.store(0);
    row_.remote_host_tid.store(0);
    vcpu_ = std::move(nv);
    link_ = nl;
    row_.vcpu_id.store(static_cast<unsigned>(vcpu_->id()));
    row_.node_id.store(to);
    // 4. The new vCPU takes the state. From here a failure cannot go back:
    // the old vCPU is gone.
    auto fail = [&](const std::string& what) {
        log::error("guest thread {}: migration to node {}: {}", row_.tid, to, what);
        proc_.exit_process(128 + SIGSEGV);
    };
    if (link_) {
        link_->set_guest_tid(row_.tid);  // routes the node's channel to this vCPU
        if (auto r = vcpu_->restore_fpu(*fpu); !r) fail(r.error().message);
        if (auto r = vcpu_->set_initial_state(regs, *fs, *gs); !r) fail(r.error().message);  // the Spawn
    } else {
        if (auto r = attach_vcpu(); !r) fail(r.error().message);
        if (auto r = vcpu_->set_initial_state(regs, *fs, *gs); !r) fail(r.error().message);
        if (auto r = vcpu_->restore_fpu(*fpu); !r) fail(r.error().message);
    }
    row_.migrations.fetch_add(1);
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0);
    remote.thread_moved(row_.tid, from, to, static_cast<std::uint64_t>(ns.count()));
    // A signal that arrived during the move kicked the old place: deliver it
    // now (here) or make the new node trap at once.
    if (proc_.signals().deliverable(row_)) {
        if (link_)
            remote.kick(to, row_.tid);
        else
            deliver_signals(-1);
    }
}

}  // namespace spanvm::process
