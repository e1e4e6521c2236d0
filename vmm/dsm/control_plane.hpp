#pragma once
// ControlPlane: what the nodes of a standalone DSM (`spanvm dsm-node` and
// its workloads) say to each other besides the coherence protocol: a
// cluster barrier, result reports gathered at node 0, and the two-phase
// goodbye that lets nodes exit without their peers taking the closed
// connection for a failure (wire format: control_messages.hpp, one
// kDsmControlType frame each). The DsmEngine owns one and routes
// kDsmControlType to it; the multi-host process mode does not use it.
//
// Peer failures: unless another layer owns them (net/message_router.hpp),
// the engine hands them here. Before the goodbye a lost peer is fatal
// (`fail`, i.e. the DSM's fail_all: "node K (ADDR:PORT) failed: ..."); once
// every peer said ByeDone (closing), once that peer said ByeClosing, or once
// the engine stopped, a peer leaving is its exit.
//
// Last words: a node failing fatally first sends every connected peer its
// failure line (Failed, through the transport's last_words, so it arrives
// before the connection ends). A peer that gets it before the goodbye fails
// with that line plus "(reported by node P (ADDR:PORT))", so every survivor
// names the node the first one lost, never the survivor that closed on it
// (a node is killed; node 2 notices first and exits; node 0 may see node
// 2's connection end before node 1's).
//
// Threads: on_message and on_peer_failed run on the transport's I/O thread;
// barrier, report, gather and goodbye on the workload's threads (they block,
// so never on the I/O thread). mu_ is a leaf: never held while sending.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "net/cluster_config.hpp"
#include "net/wire_frame.hpp"
#include "vmm/base/result.hpp"
#include "vmm/dsm/control_messages.hpp"
#include "vmm/dsm/dsm_stats.hpp"
#include "vmm/dsm/protocol_types.hpp"

namespace spanvm::dsm {

class ControlPlane {
public:
    struct Report {
        NodeId from = 0;
        net::Bytes data;
    };
    // Sends one kDsmControlType frame to a peer (never to self).
    using Send = std::function<Result<void>(NodeId to, net::ByteView payload)>;
    // Ends the process with one line; does not return.
    using Fail = std::function<void(const std::string& reason)>;
    // Sends one kDsmControlType frame to every connected peer as last words
    // (net::Transport::last_words); any thread.
    using LastWords = std::function<void(net::ByteView payload)>;

    ControlPlane(net::ClusterConfig cluster, NodeId self, DsmStats& stats, Send send, Fail fail,
                 LastWords last_words);

    // A kDsmControlType frame from `from` (I/O thread). A malformed one is a
    // protocol violation by that peer: fatal.
    void on_message(NodeId from, net::ByteView payload);
    // A peer failed (I/O thread); see "Peer failures" above.
    void on_peer_failed(NodeId node, const std::string& reason);
    // The engine stopped: from now on a peer leaving is not a failure.
    void engine_stopped();
    // Whether a failed send to `node` is an exit, not a failure: every peer
    // said ByeDone (closing), `node` said ByeClosing, or the engine stopped
    // (this node's transport stops after it, while its I/O thread may still
    // answer a peer's late protocol message).
    bool peer_left(NodeId node);
    // This node is failing with `line` (the engine's fatal hook, any
    // thread): tells every connected peer (see "Last words" above).
    void last_words(const std::string& line);

    // Every node calls it; returns once all nodes have. ETIMEDOUT on timeout.
    Result<void> barrier(std::chrono::milliseconds timeout);
    // Sends `data` under `tag` to node 0 (node 0 included).
    Result<void> report(std::uint32_t tag, net::ByteView data);
    // Node 0 only: waits for `count` reports under `tag` (sorted by node).
    Result<std::vector<Report>> gather(std::uint32_t tag, std::size_t count, std::chrono::milliseconds timeout);
    // Two-phase goodbye (control_messages.hpp): ByeDone to every peer, wait
    // for theirs (ETIMEDOUT), then ByeClosing and a bounded wait for theirs.
    Result<void> goodbye(std::chrono::milliseconds timeout);

private:
    void handle(NodeId from, ControlMessage msg);
    void send(NodeId to, const ControlMessage& m);
    bool all_peers(const std::vector<bool>& v) const;
    // peer_left's answer; mu_ held.
    bool left_locked(NodeId node) const;

    const net::ClusterConfig cluster_;
    const NodeId self_;
    DsmStats& stats_;
    const Send send_;
    const Fail fail_;
    const LastWords last_words_;

    std::mutex mu_;
    std::condition_variable cv_;
    std::uint64_t barrier_gen_ = 0;                  // last generation this node entered
    std::uint64_t released_gen_ = 0;                 // highest generation released
    std::map<std::uint64_t, std::size_t> arrivals_;  // node 0: gen -> count
    std::map<std::uint32_t, std::vector<Report>> reports_;
    std::vector<bool> bye_done_, bye_closing_;
    bool closing_ = false;  // every peer said ByeDone: peer loss is no longer fatal
    bool stopped_ = false;  // the engine stopped
};

}  // namespace spanvm::dsm
