#pragma once
// ControlChannel: the owner of the cluster's messages (cluster_messages.hpp:
// Spawn, Kick, Shutdown, Bye, Stats, Abort) on the connections between the
// nodes, and of what a lost connection means to the cluster.
//
// The connections carry two layers. The ControlChannel's net::MessageRouter
// hands each frame to its owner by type: kClusterTypeFirst..Last to this
// channel's handler, the DSM's types to the DSM engine, which gets the same
// router (DsmEngineOptions::router), adds its routes and builds the
// transport from it. Nothing of the cluster passes through the engine.
//
// Peer failures are this channel's too: a node lost (reset, closed, silent
// for the heartbeat timeout, never connected) ends the program through
// ClusterFailure with "node K (ADDR:PORT) failed: ...", unless the program
// is already ending (expect_peers_closing), when a node leaving is its exit.
//
// Byte counters: cluster messages count in the DSM's bytes_sent and
// bytes_received (dsm::DsmStats), as one node's traffic.
//
// Threads: the handler and peer failures run on the transport's I/O thread
// (which must not block on network progress). send() may be called from any
// thread once bind() has run; bind() runs once, after the engine is created
// and before it starts (so before any message arrives).
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "net/cluster_config.hpp"
#include "net/message_router.hpp"
#include <chrono>

#include "net/transport.hpp"
#include "vmm/base/result.hpp"
#include "vmm/cluster/cluster_failure.hpp"
#include "vmm/dsm/dsm_stats.hpp"

namespace spanvm::cluster {

class ControlChannel {
public:
    using Handler = std::function<void(unsigned from, std::uint16_t type, net::ByteView payload)>;

    // Routes the cluster's types to `handler` and takes peer failures.
    ControlChannel(net::ClusterConfig config, ClusterFailure& failure, Handler handler);
    ControlChannel(const ControlChannel&) = delete;
    ControlChannel& operator=(const ControlChannel&) = delete;

    // For the DSM engine (DsmEngineOptions::router); must outlive it.
    net::MessageRouter& router() { return router_; }
    // The transport built from router() and the counters to charge.
    void bind(net::Transport& transport, dsm::DsmStats& stats);

    // One cluster message to `node`. Error: not bound yet, or the
    // transport's (net/transport.hpp: peer failed, not running...).
    Result<void> send(unsigned node, std::uint16_t type, net::ByteView payload);
    // One last frame to every connected node before a fatal exit, from any
    // thread (net::Transport::last_words). Returns how many nodes got it.
    std::size_t last_words(std::uint16_t type, net::ByteView payload, std::chrono::milliseconds timeout);
    // From now on a node closing its connection is not a failure (the
    // program is ending: Shutdown sent or received).
    void expect_peers_closing() { closing_ = true; }
    // A node other than the origin (`self` != 0), before its transport
    // starts: a lost peer that is not the origin ends this node only `wait`
    // later (on a thread of its own), so that the origin, which loses that
    // peer too, ends the program first and its Abort names the failed node
    // here. Without it, this node's own failure (its connection to the
    // origin closing) could reach the origin before the lost peer's did,
    // and the origin's one line would name this node (seen with 3 hosts:
    // node 1 killed, "node 2 failed" at the origin).
    void defer_peer_failures(net::NodeId self, std::chrono::milliseconds wait) {
        self_ = self;
        defer_ = wait;
    }

private:
    void on_message(net::NodeId from, std::uint16_t type, net::ByteView payload);
    void on_peer_failed(net::NodeId node, const std::string& reason);

    const net::ClusterConfig config_;
    ClusterFailure& failure_;
    const Handler handler_;
    net::MessageRouter router_;
    net::Transport* transport_ = nullptr;  // set by bind() before the transport starts
    dsm::DsmStats* stats_ = nullptr;
    std::atomic<bool> closing_{false};
    net::NodeId self_ = 0;              // defer_peer_failures
    std::chrono::milliseconds defer_{0};
};

}  // namespace spanvm::cluster
