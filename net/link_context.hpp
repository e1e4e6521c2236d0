#pragma once
// Internal to the transport (net/transport*.cpp and the parts it wires:
// peer_link, frame_writer, dialer, request_table, liveness). Not public API.
//
// LinkContext is what every part of one Transport shares: the configuration,
// the io_context run by the I/O thread, the stopping flag, and the mutex and
// condition variable that guard the peers' connection states. It is owned by
// Transport::Impl and outlives every part.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>

#include "net/cluster_config.hpp"
#include "net/handshake.hpp"
#include "net/transport.hpp"

namespace spanvm::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

struct LinkContext {
    LinkContext(ClusterConfig cfg, NodeId self_id, TransportOptions opts)
        : config(std::move(cfg)), self(self_id), options(std::move(opts)) {}

    const ClusterConfig config;  // config.key is set (the Transport checks)
    const NodeId self;
    const TransportOptions options;
    asio::io_context io;
    std::atomic<bool> stopping{false};  // stop() called; set under state_mu too
    // Guards every PeerLink's state and failure text (written on the I/O
    // thread, read by wait_connected / peer_connected / send from any thread).
    mutable std::mutex state_mu;
    std::condition_variable state_cv;  // notified on every state change and on stop

    // What this node's handshakes agree on (net/handshake.hpp).
    HandshakeSetup handshake_setup() const {
        return HandshakeSetup{config.name, options.protocol_version, config.encrypt, config.key.value_or(ClusterKey{})};
    }
};

// Text of a socket error for failure lines ("connection reset", ...).
std::string describe_ec(const boost::system::error_code& ec);
// Shuts a socket down and closes it, ignoring errors (it may already be dead).
void close_socket(tcp::socket& s);
// "127.0.0.1:7402" or "[::1]:7402".
std::string tcp_endpoint_text(const tcp::endpoint& ep);

}  // namespace spanvm::net
