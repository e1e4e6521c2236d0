// Transport liveness (TransportOptions::heartbeat_interval / peer_timeout) on
// loopback: heartbeats keep an idle link up and never reach on_message; a
// peer that goes silent without closing (a cut link, played here by a raw
// socket that stops talking) is failed with "no traffic for ...". Every wait
// is bounded and generous: only an upper bound on detection is asserted.
#include <doctest/doctest.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>  // before Boost 1.74 asio, whose awaitable.hpp misses it under GCC 12
#include <vector>

#include <boost/asio.hpp>

#include "net/frame_decoder.hpp"
#include "net/free_ports.hpp"
#include "net/handshake.hpp"
#include "net_raw_handshake.hpp"
#include "net/transport.hpp"
#include "vmm/base/log.hpp"

using namespace spanvm::net;
using namespace std::chrono_literals;

namespace {

constexpr std::uint16_t MSG_DATA = 1;

// One transport plus what its callbacks saw.
struct LiveNode {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::uint16_t> types;  // every on_message type
    std::vector<std::pair<NodeId, std::string>> failures;
    std::unique_ptr<Transport> transport;

    template <typename Pred>
    bool wait_until(Pred pred, std::chrono::milliseconds timeout) {
        std::unique_lock lock(mu);
        return cv.wait_for(lock, timeout, [&] { return pred(); });
    }
    void make(const ClusterConfig& cfg, NodeId id, const TransportOptions& opt) {
        transport = std::make_unique<Transport>(
            cfg, id, MessageTypes{MSG_DATA},
            [this](NodeId, std::uint16_t type, std::uint64_t, ByteView) {
                std::lock_guard lock(mu);
                types.push_back(type);
                cv.notify_all();
            },
            [this](NodeId node, const std::string& reason) {
                std::lock_guard lock(mu);
                failures.emplace_back(node, reason);
                cv.notify_all();
            },
            opt);
    }
};

TransportOptions options(std::chrono::milliseconds heartbeat, std::chrono::milliseconds timeout) {
    TransportOptions o;
    o.connect_timeout = 3000ms;
    o.retry_interval = 5ms;
    o.handshake_timeout = 2000ms;
    o.heartbeat_interval = heartbeat;
    o.peer_timeout = timeout;
    return o;
}

// Starts the given nodes of a `n`-node loopback cluster (each with its own
// options), retrying with new ports if a free port was taken in between.
ClusterConfig start(std::vector<LiveNode>& nodes, std::size_t n, const std::vector<NodeId>& ids,
                    const std::vector<TransportOptions>& opts) {
    for (int attempt = 0;; ++attempt) {
        ClusterConfig cfg = loopback_cluster(n, "live");
        try {
            for (std::size_t i = 0; i < ids.size(); ++i) nodes[ids[i]].make(cfg, ids[i], opts[i]);
            for (NodeId id : ids) nodes[id].transport->start();
            return cfg;
        } catch (const std::runtime_error&) {
            for (NodeId id : ids) nodes[id].transport.reset();
            if (attempt == 3) throw;
        }
    }
}

struct QuietLogs {
    QuietLogs() { spanvm::log::set_level(spanvm::log::Level::error); }
    ~QuietLogs() { spanvm::log::set_level(spanvm::log::Level::warn); }
};

}  // namespace

SCENARIO("heartbeats keep an idle link alive and stay inside the transport") {
    // Timeouts here are 2 s, far above the 50 ms heartbeat: with 1 s, a
    // unit run starved of CPU for a second on a loaded 2-core machine (the
    // whole binary took 130 s instead of 21) failed a live link.
    GIVEN("node 0 with heartbeats (50 ms, timeout 2 s) and node 1 without heartbeats") {
        std::vector<LiveNode> nodes(2);
        // Node 1 sends no heartbeats but must accept node 0's; node 0 hears
        // node 1 only through the data node 1 sends it below.
        start(nodes, 2, {0, 1}, {options(50ms, 2000ms), options(0ms, 0ms)});
        REQUIRE(nodes[0].transport->wait_connected(3000ms).has_value());
        REQUIRE(nodes[1].transport->wait_connected(3000ms).has_value());
        WHEN("node 1 sends a message every 100 ms for 3 s (1.5 timeouts)") {
            for (int i = 0; i < 30; ++i) {
                REQUIRE(nodes[1].transport->send(0, MSG_DATA, Bytes{1}).has_value());
                std::this_thread::sleep_for(100ms);
            }
            THEN("neither side failed the other, and only the data reached on_message") {
                REQUIRE(nodes[0].wait_until([&] { return nodes[0].types.size() == 30; }, 3000ms));
                std::lock_guard l0(nodes[0].mu);
                std::lock_guard l1(nodes[1].mu);
                CHECK(nodes[0].failures.empty());
                CHECK(nodes[1].failures.empty());
                CHECK(nodes[1].types.empty());  // ~60 heartbeats arrived, none delivered
                for (auto t : nodes[0].types) CHECK(t == MSG_DATA);
            }
        }
        for (auto& n : nodes) n.transport->stop();
    }
    GIVEN("two nodes that both send heartbeats (50 ms, timeout 2 s)") {
        std::vector<LiveNode> nodes(2);
        start(nodes, 2, {0, 1}, {options(50ms, 2000ms), options(50ms, 2000ms)});
        REQUIRE(nodes[0].transport->wait_connected(3000ms).has_value());
        WHEN("nothing but heartbeats flows for 5 s (2.5 timeouts)") {
            bool failed = nodes[0].wait_until([&] { return !nodes[0].failures.empty(); }, 5000ms);
            THEN("the link stays up") {
                CHECK_FALSE(failed);
                CHECK(nodes[0].transport->peer_connected(1));
                CHECK(nodes[1].transport->peer_connected(0));
            }
        }
        for (auto& n : nodes) n.transport->stop();
    }
}

SCENARIO("a peer that goes silent without closing is failed by name") {
    QuietLogs quiet;
    GIVEN("node 1 with heartbeats (50 ms, timeout 300 ms), node 0 a raw socket") {
        std::vector<LiveNode> nodes(2);
        TransportOptions opt = options(50ms, 300ms);
        opt.connect_timeout = 5000ms;
        ClusterConfig cfg = start(nodes, 2, {1}, {opt});
        boost::asio::io_context io;
        boost::asio::ip::tcp::socket raw(io);
        raw.connect({boost::asio::ip::make_address("127.0.0.1"), cfg.node(1).port});
        WHEN("node 0 completes the handshake and then never sends another byte") {
            spanvm::net::testing::dial_handshake(raw, cfg, 0, 1);
            auto t0 = std::chrono::steady_clock::now();
            // (Liveness applies to connected peers only: the reason below
            // proves the handshake completed.)
            THEN("node 1 fails node 0 for its silence, naming it, while node 0 keeps receiving heartbeats") {
                REQUIRE(nodes[1].wait_until([&] { return !nodes[1].failures.empty(); }, 5000ms));
                auto waited = std::chrono::steady_clock::now() - t0;
                CHECK(waited >= 250ms);  // not before the timeout (minus one tick of slack)
                std::lock_guard lock(nodes[1].mu);
                CHECK(nodes[1].failures[0].first == 0);
                const std::string& why = nodes[1].failures[0].second;
                CHECK(why.rfind("node 0 (" + cfg.node(0).endpoint() + "): no traffic for ", 0) == 0);
                CHECK(nodes[1].transport->peer_failure(0) == why);
                CHECK(nodes[1].types.empty());
                // What node 1 sent after its challenge until it closed the
                // socket: heartbeats only.
                FrameDecoder dec(MAX_PAYLOAD_SIZE);
                std::vector<std::uint16_t> sent;
                Bytes buf(4096);
                boost::system::error_code ec;
                while (!ec) {
                    std::size_t n = raw.read_some(boost::asio::buffer(buf), ec);
                    dec.feed(ByteView(buf.data(), n));
                    for (auto f = dec.next(); f && *f; f = dec.next()) sent.push_back((*f)->header.type);
                }
                REQUIRE(sent.size() >= 2);
                for (std::size_t i = 0; i < sent.size(); ++i) CHECK(sent[i] == HEARTBEAT_TYPE);
            }
        }
        nodes[1].transport->stop();
    }
}
