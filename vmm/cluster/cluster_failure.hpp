#pragma once
// ClusterFailure: how a multi-host program ends when something other than
// the DSM's own machinery fails: a node lost or silent (ControlChannel), a
// thread's syscall channel broken, a malformed cluster message, a thread
// that cannot be started on its node, the origin's Abort. (The DSM's own
// faults, i.e. a protocol violation, a failed uffd ioctl or an unanswered
// fault, leave through dsm::UffdRegion::fail_all.)
//
// fail(reason) prints the one line
//   spanvm: fatal: DSM: REASON (N fault(s) pending); exiting with status 70
// in the same words as the DSM's line (users and tests read one format;
// N is the region's pending faults), then the origin tells every node
// (tell_nodes: Abort carrying REASON as last words, acknowledged by each
// node's TCP or given up after 250 ms), then
// the process _Exits with kExitCode. Both failure paths go through
// exit_fatally (vmm/base/fatal_exit.hpp): whichever comes first prints the
// only line, and the origin's DSM path tells the nodes too (its fatal hook
// is tell_nodes).
//
// Set-up (set_pending_faults, tell_nodes_through) happens before the DSM
// engine starts, i.e. before any other thread can fail; fail() and
// tell_nodes() may then run on any thread, the transport's I/O thread
// included.
#include <cstddef>
#include <functional>
#include <string>

#include "vmm/base/fatal_exit.hpp"

namespace spanvm::cluster {

class ControlChannel;

class ClusterFailure {
public:
    static constexpr int kExitCode = kFatalExitStatus;  // 70, as the DSM's

    ClusterFailure() = default;

    // The DSM region's count of pending faults, for the line (0 until set).
    void set_pending_faults(std::function<std::size_t()> count) { pending_faults_ = std::move(count); }
    // The origin only: on failure, send Abort to every node through `ch`.
    void tell_nodes_through(ControlChannel& ch) { abort_channel_ = &ch; }
    // A deputy's cluster (--place-exec): when `quiet()` says so (it may wait
    // a little, e.g. for the run's process to end), fail() exits with no
    // line and tells no node: the run's own failure is the one line, and
    // ends every deputy anyway.
    void quiet_when(std::function<bool()> quiet) { quiet_ = std::move(quiet); }

    // See above. Does not return.
    [[noreturn]] void fail(const std::string& reason) const;
    // The origin's last words (also its DSM fatal hook): Abort to every
    // node on a helper thread, waiting at most ~220 ms for it to go out (the
    // failing thread may be the transport's own). A no-op on a node.
    void tell_nodes(const std::string& reason) const;

private:
    std::function<std::size_t()> pending_faults_;
    std::function<bool()> quiet_;
    ControlChannel* abort_channel_ = nullptr;
};

}  // namespace spanvm::cluster
