#include "vmm/cluster/control_channel.hpp"

#include <system_error>
#include <thread>

#include "vmm/cluster/cluster_messages.hpp"

namespace spanvm::cluster {

ControlChannel::ControlChannel(net::ClusterConfig config, ClusterFailure& failure, Handler handler)
    : config_(std::move(config)), failure_(failure), handler_(std::move(handler)) {
    router_.route(kClusterTypeFirst, kClusterTypeLast,
                  [this](net::NodeId from, std::uint16_t type, std::uint64_t, net::ByteView payload) {
                      on_message(from, type, payload);
                  });
    router_.own_peer_failures(
        [this](net::NodeId node, const std::string& reason) { on_peer_failed(node, reason); });
}

void ControlChannel::bind(net::Transport& transport, dsm::DsmStats& stats) {
    transport_ = &transport;
    stats_ = &stats;
}

Result<void> ControlChannel::send(unsigned node, std::uint16_t type, net::ByteView payload) {
    if (!transport_) return make_error(ENOTCONN, "cluster channel: no transport yet");
    stats_->add(dsm::DsmStats::Counter::bytes_sent, payload.size());
    return transport_->send(static_cast<net::NodeId>(node), type, payload);
}

std::size_t ControlChannel::last_words(std::uint16_t type, net::ByteView payload, std::chrono::milliseconds timeout) {
    if (!transport_) return 0;
    return transport_->last_words(type, payload, timeout);
}

void ControlChannel::on_message(net::NodeId from, std::uint16_t type, net::ByteView payload) {
    if (stats_) stats_->add(dsm::DsmStats::Counter::bytes_received, payload.size());
    handler_(from, type, payload);
}

void ControlChannel::on_peer_failed(net::NodeId node, const std::string& reason) {
    if (closing_) return;
    const std::string line = config_.describe_failure(node, reason);
    if (self_ != 0 && node != 0 && defer_.count() > 0) {
        // The I/O thread must not block: the wait runs on a thread of its own
        // (none to be had: fail now).
        try {
            std::thread([this, line, wait = defer_] {
                std::this_thread::sleep_for(wait);
                if (!closing_) failure_.fail(line);
            }).detach();
            return;
        } catch (const std::system_error&) {
        }
    }
    failure_.fail(line);
}

}  // namespace spanvm::cluster
