#pragma once
// Internal to the transport (see net/link_context.hpp). Liveness
// (TransportOptions::heartbeat_interval > 0): every heartbeat_interval / 2 the
// I/O thread fails each connected peer silent for longer than its silence
// limit ("no traffic for 3.0 s", unless bytes wait unread in its socket: then
// this thread fell behind, not the peer) and queues a HEARTBEAT_TYPE frame to
// every connected peer whose last one is heartbeat_interval old.
// Silence is counted in time this thread was running: a check that comes
// late (the process or its host stalled: SIGSTOP, a starved CPU) moves every
// peer's last_rx forward by the lateness, so the first check after a stall
// queues heartbeats instead of failing peers for time it could not observe.
#include <chrono>
#include <memory>
#include <vector>

#include <boost/asio/steady_timer.hpp>

namespace spanvm::net {

struct LinkContext;
class PeerLink;

// One peer's liveness clock; I/O thread only.
struct PeerClock {
    std::chrono::steady_clock::time_point last_rx;         // last byte read (or connection time)
    std::chrono::steady_clock::time_point last_heartbeat;  // last heartbeat queued
    std::chrono::milliseconds silence_limit{0};            // fail after this much silence (set once)
};

class Liveness {
public:
    Liveness(LinkContext& ctx, const std::vector<std::unique_ptr<PeerLink>>& peers);

    // Caller thread, from Transport::start: starts the checks if heartbeats are on.
    void start();
    // I/O thread, at shutdown.
    void stop();

private:
    void arm();
    void check();

    LinkContext& ctx_;
    const std::vector<std::unique_ptr<PeerLink>>& peers_;
    boost::asio::steady_timer timer_;
    std::chrono::steady_clock::time_point last_check_{};  // I/O thread only
};

}  // namespace spanvm::net
