// The transport with cluster keys on loopback: nodes with the same key
// connect (in the clear or with --encrypt, where every byte on the wire is
// records), nodes with different keys fail each other at both ends, and a
// sealed link carries frames of every size and a last word intact.
#include <doctest/doctest.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <utility>  // before Boost 1.74 asio, whose awaitable.hpp misses it under GCC 12
#include <vector>

#include "net/free_ports.hpp"
#include "net/transport.hpp"
#include "vmm/base/log.hpp"

using namespace spanvm::net;
using namespace std::chrono_literals;

namespace {

constexpr std::uint16_t MSG = 1;

struct Node {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<Bytes> got;
    std::vector<std::string> failures;
    std::unique_ptr<Transport> t;

    void make(const ClusterConfig& cfg, NodeId id) {
        TransportOptions o;
        o.connect_timeout = 3000ms;
        o.retry_interval = 5ms;
        o.handshake_timeout = 2000ms;
        t = std::make_unique<Transport>(
            cfg, id, MessageTypes{MSG},
            [this](NodeId, std::uint16_t, std::uint64_t, ByteView p) {
                std::lock_guard lk(mu);
                got.emplace_back(p.begin(), p.end());
                cv.notify_all();
            },
            [this](NodeId, const std::string& why) {
                std::lock_guard lk(mu);
                failures.push_back(why);
                cv.notify_all();
            },
            o);
    }
    template <typename P>
    bool wait(P pred) {
        std::unique_lock lk(mu);
        return cv.wait_for(lk, 5s, pred);
    }
};

struct Quiet {
    Quiet() { spanvm::log::set_level(spanvm::log::Level::error); }
    ~Quiet() { spanvm::log::set_level(spanvm::log::Level::warn); }
};

}  // namespace

SCENARIO("nodes holding the same key connect, in the clear and encrypted") {
    Quiet q;
    for (bool encrypt : {false, true}) {
        CAPTURE(encrypt);
        ClusterConfig cfg = loopback_cluster(2, "auth");
        cfg.encrypt = encrypt;
        Node a, b;
        a.make(cfg, 0);
        b.make(cfg, 1);
        a.t->start();
        b.t->start();
        REQUIRE(a.t->wait_connected(5s).has_value());
        REQUIRE(b.t->wait_connected(5s).has_value());
        // Sizes around the record and frame limits, both ways, interleaved.
        std::vector<std::size_t> sizes{0, 1, 23, 24, 4096, 65535, MAX_PAYLOAD_SIZE};
        for (std::size_t i = 0; i < sizes.size(); ++i) {
            Bytes p(sizes[i], static_cast<std::uint8_t>(i + 1));
            REQUIRE(a.t->send(1, MSG, p).has_value());
            REQUIRE(b.t->send(0, MSG, p).has_value());
        }
        REQUIRE(b.wait([&] { return b.got.size() == sizes.size(); }));
        REQUIRE(a.wait([&] { return a.got.size() == sizes.size(); }));
        for (std::size_t i = 0; i < sizes.size(); ++i) {
            CHECK(b.got[i] == Bytes(sizes[i], static_cast<std::uint8_t>(i + 1)));
            CHECK(a.got[i] == Bytes(sizes[i], static_cast<std::uint8_t>(i + 1)));
        }
        THEN("a last word arrives whole after them") {
            Bytes last(100, 0x5a);
            CHECK(a.t->last_words(MSG, last, 1000ms) == 1);
            REQUIRE(b.wait([&] { return b.got.size() == sizes.size() + 1; }));
            CHECK(b.got.back() == last);
        }
        a.t->stop();
        b.t->stop();
    }
}

SCENARIO("nodes holding different keys are refused at both ends with one reason") {
    Quiet q;
    for (bool encrypt : {false, true}) {
        CAPTURE(encrypt);
        ClusterConfig cfg = loopback_cluster(2, "auth");
        cfg.encrypt = encrypt;
        ClusterConfig other = cfg;
        other.key = generate_cluster_key();
        Node a, b;
        a.make(cfg, 0);
        b.make(other, 1);
        a.t->start();
        b.t->start();
        REQUIRE(a.wait([&] { return !a.failures.empty(); }));
        REQUIRE(b.wait([&] { return !b.failures.empty(); }));
        const std::string why = "handshake rejected: wrong cluster key (its proof of the key does not verify)";
        CHECK(a.failures[0] == "node 1 (" + cfg.node(1).endpoint() + "): " + why);
        CHECK(b.failures[0] == "node 0 (" + cfg.node(0).endpoint() + "): " + why);
        CHECK(a.got.empty());
        CHECK(b.got.empty());
        a.t->stop();
        b.t->stop();
    }
}

SCENARIO("a transport without a cluster key refuses to exist") {
    ClusterConfig cfg = loopback_cluster(2, "nokey");
    cfg.key.reset();
    CHECK_THROWS_AS(Transport(cfg, 0, MessageTypes{MSG}, nullptr, nullptr), std::invalid_argument);
}
