#include "vmm/cluster/cluster_failure.hpp"

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "vmm/base/log.hpp"
#include "vmm/cluster/cluster_messages.hpp"
#include "vmm/cluster/control_channel.hpp"

namespace spanvm::cluster {

void ClusterFailure::fail(const std::string& reason) const {
    exit_fatally([&] {
        log::error("fatal: DSM: {} ({} fault(s) pending); exiting with status {}", reason,
                   pending_faults_ ? pending_faults_() : 0, kExitCode);
        tell_nodes(reason);
    });
}

void ClusterFailure::tell_nodes(const std::string& reason) const {
    if (!abort_channel_) return;
    // Best effort, bounded: the failing thread may be the transport's own, so
    // the sends run on a helper thread and the origin exits after 200 ms
    // whether or not they went out. A node receiving Abort prints the reason
    // (which names the failed node) as its one line and exits.
    auto done = std::make_shared<std::atomic<bool>>(false);
    std::thread([ch = abort_channel_, n = config_.size(), reason, done] {
        const net::Bytes msg = encode(AbortMsg{"the origin ended the program: " + reason});
        for (std::size_t k = 1; k < n; ++k) (void)ch->send(static_cast<unsigned>(k), kAbortType, msg);
        done->store(true);
    }).detach();
    for (int i = 0; i < 40 && !done->load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // let the segments leave before the sockets close
}

}  // namespace spanvm::cluster
