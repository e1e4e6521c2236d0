#pragma once
// TCP transport between the nodes of a static cluster (Boost.Asio).
//
// Topology: one TCP connection per node pair; the lower id dials the higher id
// (redialling after half the time spent so far, 1 ms to retry_interval, until
// connect_timeout, so nodes may start in any order). The first frames are the
// authenticated handshake (net/handshake.hpp: hello, challenge, proof):
// {cluster name, from, to, protocol version, encrypt} checked on both sides,
// and each side proves it holds ClusterConfig::key (required: the constructor
// throws without it). With ClusterConfig::encrypt every later byte is AES-GCM
// records (net/record_cipher.hpp).
//
// Threads: all socket work and every callback (on_message, on_peer_failed,
// reply handlers) runs on one I/O thread owned by the Transport.
// send/respond/request may be called from any thread, including callbacks.
// Callbacks must not block waiting for network progress (e.g. future.get()
// of a request) since that would stall the I/O thread that delivers it.
//
// Ordering: frames sent from one thread to one peer arrive in send order
// (posts from one thread run in order on the single-threaded io_context, and
// each peer has one FIFO write queue). Frames queued before the peer is
// connected are delivered after the handshake.
//
// Failure: a frame that fails to decode, has an unregistered type, or breaks
// the request/response rules, and a closed/reset connection, all close that
// peer permanently (no reconnect: a DSM cannot recover a lost node anyway),
// fail its pending requests, make later sends to it return an error, and
// call on_peer_failed(node, "node 2 (127.0.0.1:7402): connection reset").
// Other peers are unaffected. A failed write on a connected link is
// reported by the read side (at the latest 500 ms later): every frame the
// peer wrote before the end is delivered first, whichever side of our
// socket notices the end first. Stopping the local transport reports nothing
// locally (its peers see the connection close). The failure is logged at
// info level when an on_peer_failed handler is set, at warn level otherwise.
//
// Liveness (TransportOptions::heartbeat_interval > 0): a cut link (cable
// pulled, packets dropped) shows no error to TCP, which just retransmits. So
// every heartbeat_interval the I/O thread queues a HEARTBEAT_TYPE frame to
// each connected peer, and fails a connected peer from which no byte has
// arrived for peer_timeout with "no traffic for 3.0 s" (same path as a
// reset). Bytes waiting unread in the socket count as traffic, so a stalled
// local I/O thread does not blame the peer. Heartbeats never reach
// on_message; a transport with heartbeats off still accepts them.
//
// Inside (net/transport.cpp wires the parts; each is internal to net/):
// dialer (listening, dialling, inbound handshakes), peer_link (one
// connection: reads, outbound handshake, state, failure), frame_writer (a
// peer's queue; batched and direct writes), request_table (request/response
// matching, deadlines), liveness (heartbeats, silence timeout); link_context
// holds what they share. Lock order: a peer's FrameWriter mutex before
// LinkContext::state_mu (no path holds both today); both are leaves
// otherwise, and no user callback runs while either is held.
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "net/cluster_config.hpp"
#include "net/message_types.hpp"
#include "net/wire_frame.hpp"
#include "vmm/base/result.hpp"

namespace spanvm::net {

struct TransportOptions {
    std::uint32_t protocol_version = 1;  // user protocol version; all nodes must agree
    std::chrono::milliseconds connect_timeout{10000};  // give up on a peer not connected by then
    std::chrono::milliseconds retry_interval{20};      // longest redial wait while the peer is not listening
    std::chrono::milliseconds handshake_timeout{5000}; // per connection
    std::uint32_t max_payload = MAX_PAYLOAD_SIZE;      // both directions
    std::string listen_address;  // default: this node's address from the config
    // >= 0: a socket already bound to this node's address and port
    // (net::hold_free_tcp_port, inherited): the transport listens on it
    // instead of binding one, and owns it from start(). The port was held
    // from its pick, so no other process can have bound it meanwhile.
    int listen_fd = -1;
    // Nice value for the I/O thread (0: inherit). Best effort: lowering it
    // needs root or CAP_SYS_NICE; the error is ignored.
    int io_thread_nice = 0;
    // Liveness (see "Liveness" above); 0 = off. The check runs every
    // heartbeat_interval / 2, so a silent peer is failed between peer_timeout
    // and peer_timeout + heartbeat_interval / 2 after its last byte arrived,
    // i.e. no sooner than peer_timeout - heartbeat_interval after a cut.
    std::chrono::milliseconds heartbeat_interval{0};
    std::chrono::milliseconds peer_timeout{0};
    // Per-peer timeouts by node id; a missing or zero entry means peer_timeout.
    std::vector<std::chrono::milliseconds> peer_timeouts;
};

struct Reply {
    std::uint16_t type = 0;
    Bytes payload;
};

// request_id is non-zero exactly when the sender used request(): answer it
// with respond(from, type, request_id, payload), from any thread, any time.
using MessageHandler =
    std::function<void(NodeId from, std::uint16_t type, std::uint64_t request_id, ByteView payload)>;
using PeerFailedHandler = std::function<void(NodeId node, const std::string& reason)>;
// Called exactly once, on the I/O thread, with the reply or an error
// (ETIMEDOUT at the deadline, the peer's failure reason, or "transport stopped").
using ReplyHandler = std::function<void(Result<Reply>)>;

class Transport {
public:
    // No I/O happens until start(). Throws std::invalid_argument if `self`
    // is not in the config or the config has no key.
    Transport(ClusterConfig config, NodeId self, MessageTypes types, MessageHandler on_message,
              PeerFailedHandler on_peer_failed, TransportOptions options = {});
    ~Transport();  // stop()
    Transport(const Transport&) = delete;
    Transport& operator=(const Transport&) = delete;

    // Binds the listening socket and starts the I/O thread and dialing.
    // Throws std::runtime_error (one line) if the port cannot be bound.
    void start();

    // Blocks until every peer has completed its handshake. Error if a peer
    // failed or the timeout passed (naming the nodes still missing).
    Result<void> wait_connected(std::chrono::milliseconds timeout);

    // Queue a one-way message. Errors (synchronous): transport not running,
    // unknown node, unregistered type, payload too large, peer already failed.
    // A message to `self` is delivered to on_message via the I/O thread.
    Result<void> send(NodeId to, std::uint16_t type, ByteView payload);

    // While a Cork lives, send() from this thread only queues its frames and
    // asks the I/O thread to write them, so a burst leaves in one gathered
    // write (and tends to arrive in one read). Sends from the I/O thread are
    // always batched this way until the current handler returns.
    class Cork {
    public:
        explicit Cork(Transport& t);
        ~Cork();
        Cork(const Cork&) = delete;
        Cork& operator=(const Cork&) = delete;

    private:
        [[maybe_unused]] Transport& t_;
    };

    // Answer a request received by on_message (request_id != 0).
    Result<void> respond(NodeId to, std::uint16_t type, std::uint64_t request_id, ByteView payload);

    // Send a request; `done` runs once on the I/O thread with the response
    // frame's {type, payload} or an error (validation errors included). Only
    // when the transport is not running does `done` run at once on the
    // caller's thread. A request racing with stop() may be dropped unrun;
    // the future overload then still completes with "transport stopped".
    // PROBE_TYPE requests are answered by the remote transport itself.
    void request(NodeId to, std::uint16_t type, ByteView payload, std::chrono::milliseconds timeout,
                 ReplyHandler done);
    // Same, as a future (do not wait on it from a callback).
    std::future<Result<Reply>> request(NodeId to, std::uint16_t type, ByteView payload,
                                       std::chrono::milliseconds timeout);

    // Closes all connections, fails pending requests, joins the I/O thread.
    // Idempotent. From a callback it shuts down without joining (the
    // destructor must then run on another thread).
    void stop();

    // Last words of a process about to exit on a fatal failure: from any
    // thread (the I/O thread and callbacks included, even while the I/O
    // thread is blocked), writes one frame to every connected peer, after
    // the rest of any frame a write had cut in half, waiting for room up to
    // `timeout`; then writes nothing more to them, and waits (within the same
    // `timeout`) until their TCP acknowledged it, so that our exit, even
    // with a reset, cannot discard it. Returns how many peers got it whole.
    // Peers read it before they see the connection end (a failed write does
    // not fail a connected link before its read side got there; see
    // "Failure" above).
    std::size_t last_words(std::uint16_t type, ByteView payload, std::chrono::milliseconds timeout);

    NodeId self() const;
    const ClusterConfig& config() const;
    bool running() const;
    bool peer_connected(NodeId node) const;
    // Failure reason of a failed peer, empty if it has not failed.
    std::string peer_failure(NodeId node) const;
    // Actual listening port (after start()).
    std::uint16_t listen_port() const;

    class Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace spanvm::net
