// execve placed on another node (`--place-exec`): the process becomes the
// *deputy* of its new image (docs/ARCHITECTURE.md, "An exec placed on
// another node"; the interface is exec_placement.hpp).
//
// The new image's memory is its own: nothing of the old image survives an
// exec, so the deputy attaches a fresh cluster of two to its guest RAM
// after the discard, before the loader writes the image (the loader's
// writes are the origin's first touches, which the DSM records, so node 1
// fetches the image's pages on demand and every page the image maps later
// is homed at node 1 by dynamic homes). From then on this is an ordinary
// distributed process with one remote thread: the exec'ing thread moves to
// node 1 on its way out of execve (ThreadRow::move_to, GuestThread::
// maybe_migrate), its host thread here becomes its executor, and every
// system call it makes runs here, with this process's pid, fds, cwd,
// credentials, signal tables and parent. exit_group ends this process with
// the image's status, so the parent's wait4 sees it as from a local child;
// a signal sent to this pid is a host signal here, forwarded to the guest
// and delivered on node 1 through a Kick.
//
// Only a process that is not in a cluster already is placed: the run's own
// process is the origin of the run's cluster and stays; a deputy that
// execs again keeps its node (the thread is there already). A fork in the
// placed image continues at the origin as a local process
// (process_fork_cluster.cpp), and its own exec is placed afresh.
#include <chrono>

#include "vmm/base/latency_trace.hpp"
#include "vmm/base/log.hpp"
#include "vmm/memory/layout.hpp"
#include "vmm/process/process.hpp"
#include "vmm/process/threads/guest_thread.hpp"

namespace spanvm::process {

void Process::exec_image_gone() {
    if (!cfg_.exec_placer || exec_node_ < 0) return;
    const auto node = static_cast<unsigned>(exec_node_);
    exec_node_ = -1;
    // A thread still blocked in a child wait (the process ends under it):
    // the image stops waiting with it.
    if (child_waiters_.exchange(0) > 0) cfg_.exec_placer->exec_waiting(node, false);
    const auto life = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() -
                                                                           exec_started_).count();
    const std::uint64_t waited = child_wait_ns_.exchange(0);
    const std::uint64_t busy_ns = life > 0 && static_cast<std::uint64_t>(life) > waited ? life - waited : 0;
    cfg_.exec_placer->exec_gone(node, exec_program_, busy_ns / 1000000);
    trace::mark("exec.gone", node);
}

std::chrono::steady_clock::time_point Process::child_wait_begin() {
    const int node = exec_node_;
    if (cfg_.exec_placer && node >= 0 && child_waiters_.fetch_add(1) == 0)
        cfg_.exec_placer->exec_waiting(static_cast<unsigned>(node), true);
    return std::chrono::steady_clock::now();
}

void Process::child_wait_end(std::chrono::steady_clock::time_point began) {
    const int node = exec_node_;
    if (!cfg_.exec_placer || node < 0) return;
    child_wait_ns_.fetch_add(static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - began).count()));
    if (child_waiters_.fetch_sub(1) == 1) cfg_.exec_placer->exec_waiting(static_cast<unsigned>(node), false);
}

void Process::place_exec_image(GuestThread& t, bool vforked) {
    if (!cfg_.exec_placer || root_ || cfg_.remote) return;
    exec_image_gone();
    exec_program_ = cfg_.program;
    exec_started_ = std::chrono::steady_clock::now();
    child_wait_ns_.store(0);
    // A vfork parent is blocked until this exec and, a spawn, most likely
    // waits for its end: its own count should not push this image away.
    exec_node_ = static_cast<int>(cfg_.exec_placer->place_exec(exec_program_, vforked ? parent_exec_node_ : -1));
    trace::mark("exec.place", static_cast<std::uint64_t>(exec_node_));
    if (exec_node_ == 0) return;
    // The DSM must see every page of the new image first touched here: a
    // page already present when its userfaultfd registration starts (a
    // patched syscall site restored after the discard, or any read that
    // mapped the shared zero page) would be written without a fault, and
    // node 1 would be granted zeros for it. So every site is forgotten and
    // all of guest RAM above the system area dropped before the attach.
    const uint64_t user = memory::layout::kUserBase;
    platform_->guest_code_changed(user, platform_->memory().size());
    if (auto d = platform_->memory().discard(user, platform_->memory().size() - user); !d)
        log::warn("execve: {}", d.error().message);
    RemoteThreads* r = cfg_.exec_placer->start_deputy(static_cast<unsigned>(exec_node_), platform_->memory(),
                                                      *protection_, t.row().tid);
    if (!r) {  // start_deputy said why; the image runs here, uncounted
        cfg_.exec_placer->exec_gone(static_cast<unsigned>(exec_node_), {}, 0);
        exec_node_ = -1;
        return;
    }
    cfg_.remote = r;
    if (slot_) slot_->node.store(exec_node_);
    // Node 1 of the deputy's cluster is host exec_node_; the move happens
    // when execve returns (the new image's registers are loaded by then).
    t.row().move_to.store(1);
}

}  // namespace spanvm::process
