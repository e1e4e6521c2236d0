// A dying peer's last frame reaches its peers before its end does
// (Transport::last_words, and a failed write not failing a connected link
// before its read side delivered what the peer sent). Node 0 is played by a
// raw socket; node 1 is a real transport on loopback.
#include <doctest/doctest.h>

#include <linux/sockios.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <atomic>
#include <condition_variable>
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

constexpr std::uint16_t MSG_GATE = 1;  // node 1's handler blocks on it until the test opens the gate
constexpr std::uint16_t MSG_DATA = 2;
constexpr std::uint16_t MSG_LAST = 3;  // last words

// Node 1: a transport whose callbacks append to one event log, in order.
struct Node1 {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::string> events;  // "msg T" or "failed"
    bool gate_reached = false, gate_open = false;
    std::string reason;  // of the failure
    std::unique_ptr<Transport> transport;

    void start(const ClusterConfig& cfg) {
        TransportOptions o;
        o.connect_timeout = 3000ms;
        o.retry_interval = 5ms;
        transport = std::make_unique<Transport>(
            cfg, 1, MessageTypes{MSG_GATE, MSG_DATA, MSG_LAST},
            [this](NodeId, std::uint16_t type, std::uint64_t, ByteView) {
                std::unique_lock lk(mu);
                events.push_back("msg " + std::to_string(type));
                if (type == MSG_GATE) {
                    gate_reached = true;
                    cv.notify_all();
                    cv.wait(lk, [&] { return gate_open; });  // holds up the I/O thread
                }
                cv.notify_all();
            },
            [this](NodeId, const std::string& why) {
                std::lock_guard lk(mu);
                reason = why;
                events.push_back("failed");
                cv.notify_all();
            },
            o);
        transport->start();
    }
    template <typename Pred>
    bool wait_until(Pred pred) {
        std::unique_lock lk(mu);
        return cv.wait_for(lk, 3000ms, pred);
    }
};

// Node 0 by hand: dials node 1 and handshakes.
struct RawNode0 {
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket socket{io};
    FrameDecoder decoder;

    void connect(const ClusterConfig& cfg) {
        socket.connect({boost::asio::ip::make_address("127.0.0.1"), cfg.node(1).port});
        socket.set_option(boost::asio::ip::tcp::no_delay(true));
        spanvm::net::testing::dial_handshake(socket, cfg, 0, 1);
    }
    void write(const Bytes& b) { boost::asio::write(socket, boost::asio::buffer(b)); }
    Frame next_frame() {
        for (;;) {
            auto f = decoder.next();
            REQUIRE(f.has_value());
            if (*f) return std::move(**f);
            pollfd pfd{socket.native_handle(), POLLIN, 0};
            REQUIRE_MESSAGE(::poll(&pfd, 1, 5000) == 1, "no complete frame within 5 s");
            Bytes buf(64 * 1024);
            std::size_t n = socket.read_some(boost::asio::buffer(buf));
            decoder.feed(ByteView(buf.data(), n));
        }
    }
};

struct QuietLogs {
    QuietLogs() { spanvm::log::set_level(spanvm::log::Level::error); }
    ~QuietLogs() { spanvm::log::set_level(spanvm::log::Level::warn); }
};

}  // namespace

SCENARIO("a peer's last frame is delivered before its end, even when a write notices the end first") {
    QuietLogs quiet;
    ClusterConfig cfg = loopback_cluster(2, "lastwords");
    Node1 n1;
    n1.start(cfg);
    RawNode0 raw;
    raw.connect(cfg);
    REQUIRE(n1.transport->wait_connected(3000ms).has_value());

    // Node 1's I/O thread is held in the handler of MSG_GATE while node 0
    // writes its last frame and resets the connection (it leaves a frame
    // from node 1 unread, so closing sends a reset). Then a send from node 1
    // meets the reset first: its write fails before the read side saw the
    // last frame.
    REQUIRE(n1.transport->send(0, MSG_DATA, Bytes{1}).has_value());
    raw.write(*make_frame(MSG_GATE, 0, 0, {}));
    REQUIRE(n1.wait_until([&] { return n1.gate_reached; }));
    raw.write(*make_frame(MSG_LAST, 0, 0, Bytes{7}));
    // As Transport::last_words does: wait until node 1's TCP has it (a reset
    // discards what is not sent yet).
    for (int unacked = 1, i = 0; unacked != 0 && i < 3000; ++i) {
        REQUIRE(::ioctl(raw.socket.native_handle(), SIOCOUTQ, &unacked) == 0);
        if (unacked != 0) std::this_thread::sleep_for(1ms);
    }
    ::linger lg{1, 0};
    ::setsockopt(raw.socket.native_handle(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    raw.socket.close();
    (void)n1.transport->send(0, MSG_DATA, Bytes{2});
    {
        std::lock_guard lk(n1.mu);
        n1.gate_open = true;
    }
    n1.cv.notify_all();

    THEN("node 1 delivers the last frame, then reports node 0") {
        REQUIRE(n1.wait_until([&] { return !n1.events.empty() && n1.events.back() == "failed"; }));
        std::lock_guard lk(n1.mu);
        std::string log;
        for (auto& e : n1.events) log += e + "; ";
        INFO(log, n1.reason);
        CHECK(n1.events == std::vector<std::string>{"msg 1", "msg 3", "failed"});
    }
    n1.transport->stop();
}

SCENARIO("last words finish the frame a full socket cut in half, then nothing more is written") {
    QuietLogs quiet;
    ClusterConfig cfg = loopback_cluster(2, "lastwords");
    Node1 n1;
    n1.start(cfg);
    RawNode0 raw;
    raw.connect(cfg);
    REQUIRE(n1.transport->wait_connected(3000ms).has_value());

    // Node 0 reads nothing yet: node 1's frames fill both socket buffers and
    // its writer stops mid-frame.
    const Bytes big(60 * 1024, 0xAB);
    constexpr int kFrames = 400;  // ~24 MB, far more than loopback buffers hold
    for (int i = 0; i < kFrames; ++i) REQUIRE(n1.transport->send(0, MSG_DATA, big).has_value());

    WHEN("node 1 says its last words while node 0 starts reading") {
        std::size_t told = 0;
        std::atomic<bool> entered{false};
        std::jthread t([&] {
            entered = true;
            told = n1.transport->last_words(MSG_LAST, Bytes{'b', 'y', 'e'}, 3000ms);
        });
        // Reading starts once the thread runs, and slowly (1 ms a frame, 400
        // ms for the whole queue): the queue must still hold frames when
        // last_words takes the writer, even on a loaded machine where the
        // thread waits for a CPU (at full speed node 0 drained all 400 frames
        // first in 2 of ~10 loaded runs, and nothing was left to drop).
        while (!entered) std::this_thread::yield();
        int data = 0;
        Frame f;
        for (;;) {
            f = raw.next_frame();
            if (f.header.type != MSG_DATA) break;
            CHECK(f.payload.size() == big.size());
            ++data;
            std::this_thread::sleep_for(1ms);
        }
        t.join();
        THEN("node 0 decodes whole frames up to the last words, which come whole") {
            CHECK(told == 1);
            CHECK(f.header.type == MSG_LAST);
            CHECK(f.payload == Bytes{'b', 'y', 'e'});
            CHECK(data < kFrames);  // the queue behind the cut frame was dropped
            AND_THEN("later sends write nothing") {
                (void)n1.transport->send(0, MSG_DATA, Bytes{9});
                n1.transport->stop();
                auto more = raw.decoder.next();
                REQUIRE(more.has_value());
                CHECK_FALSE(more->has_value());
                Bytes buf(64);
                pollfd pfd{raw.socket.native_handle(), POLLIN, 0};
                REQUIRE(::poll(&pfd, 1, 5000) == 1);  // the end of the connection
                boost::system::error_code ec;
                std::size_t n = raw.socket.read_some(boost::asio::buffer(buf), ec);
                CHECK(n == 0);
                CHECK(ec);
            }
        }
    }
    n1.transport->stop();
}
