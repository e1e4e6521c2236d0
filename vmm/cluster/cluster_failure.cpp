#include "vmm/cluster/cluster_failure.hpp"

#include <chrono>

#include "vmm/base/log.hpp"
#include "vmm/cluster/cluster_messages.hpp"
#include "vmm/cluster/control_channel.hpp"

namespace spanvm::cluster {

void ClusterFailure::fail(const std::string& reason) const {
    exit_fatally([&] {
        if (quiet_ && quiet_()) return;
        log::error("fatal: DSM: {} ({} fault(s) pending); exiting with status {}", reason,
                   pending_faults_ ? pending_faults_() : 0, kExitCode);
        tell_nodes(reason);
    });
}

void ClusterFailure::tell_nodes(const std::string& reason) const {
    if (!abort_channel_) return;
    // Last words (net::Transport::last_words): from any thread, the I/O
    // thread included, one Abort to every connected node, written after any
    // half-written frame and acknowledged by the node's TCP before we exit
    // (at most 250 ms), so the exit's reset cannot discard it. A node
    // receiving Abort prints the reason (which names the failed node) as its
    // one line and exits.
    const net::Bytes msg = encode(AbortMsg{"the origin ended the program: " + reason});
    (void)abort_channel_->last_words(kAbortType, msg, std::chrono::milliseconds(250));
}

}  // namespace spanvm::cluster
