// ControlPlane's failure rules: a peer's last words (Failed) make this node
// fail naming the node the peer named; after the engine stopped they are
// that peer's exit; this node's own last words carry its line; a send that
// fails once the engine stopped (its transport is not running) is no one's
// failure.
#include <doctest/doctest.h>

#include <cerrno>
#include <optional>
#include <string>
#include <vector>

#include "net/free_ports.hpp"
#include "vmm/dsm/control_plane.hpp"

using namespace spanvm::dsm;
using spanvm::net::Bytes;

namespace {

struct Failed {
    std::string line;
};

struct Harness {
    spanvm::net::ClusterConfig cfg = spanvm::net::loopback_cluster(3, "cp");
    DsmStats stats{0, "node 0", 1};
    std::vector<Bytes> last;  // payloads handed to LastWords
    bool transport_stopped = false;
    ControlPlane cp{cfg,
                    0,
                    stats,
                    [this](NodeId, spanvm::net::ByteView) -> spanvm::Result<void> {
                        if (transport_stopped) return spanvm::Error{ESHUTDOWN, "node 0: transport not running"};
                        return {};
                    },
                    [](const std::string& line) { throw Failed{line}; },  // does not return
                    [this](spanvm::net::ByteView p) { last.emplace_back(p.begin(), p.end()); }};

    // The line this node fails with, if it fails.
    std::optional<std::string> deliver(NodeId from, const ControlMessage& m) {
        try {
            cp.on_message(from, encode_control(m));
        } catch (const Failed& f) {
            return f.line;
        }
        return std::nullopt;
    }
};

Bytes text(const std::string& s) { return Bytes(s.begin(), s.end()); }

}  // namespace

SCENARIO("a peer's last words name the node it lost") {
    Harness h;
    const std::string node1 = h.cfg.describe(1), node2 = h.cfg.describe(2);
    GIVEN("node 2 failing because it lost node 1") {
        ControlMessage m{ControlKind::Failed, 0, 0, text(node1 + " failed: connection reset")};
        THEN("node 0 fails with the same line, saying who reported it") {
            CHECK(h.deliver(2, m) == node1 + " failed: connection reset (reported by " + node2 + ")");
        }
    }
    GIVEN("a line with control characters, and an empty one") {
        THEN("the line is printed with them replaced, and the empty one blames the sender") {
            CHECK(h.deliver(2, {ControlKind::Failed, 0, 0, text("bad\n\x1b[1mline")}) ==
                  "bad??[1mline (reported by " + node2 + ")");
            CHECK(h.deliver(2, {ControlKind::Failed, 0, 0, {}}) == node2 + " failed: failing, without saying why");
        }
    }
    GIVEN("the engine has stopped") {
        h.cp.engine_stopped();
        THEN("last words are the peer leaving, and so is its connection ending") {
            CHECK_FALSE(h.deliver(2, {ControlKind::Failed, 0, 0, text(node1 + " failed: connection reset")}));
            h.cp.on_peer_failed(2, "connection closed by peer");  // no throw
        }
    }
    GIVEN("this node failing with a line") {
        h.cp.last_words(node1 + " failed: no traffic for 3.0 s");
        THEN("its last words are one Failed message carrying the line") {
            REQUIRE(h.last.size() == 1);
            auto d = decode_control(h.last[0]);
            REQUIRE(d.has_value());
            CHECK(d->kind == ControlKind::Failed);
            CHECK(d->data == text(node1 + " failed: no traffic for 3.0 s"));
        }
    }
}

SCENARIO("a send that fails is fatal until the peer or this engine has left") {
    Harness h;
    h.transport_stopped = true;
    GIVEN("no goodbye and a running engine") {
        THEN("no peer has left, and a failed send (the barrier's) fails naming node 0's peer") {
            CHECK_FALSE(h.cp.peer_left(1));
            CHECK_FALSE(h.cp.peer_left(2));
            // Node 0 sends the release to every node when the last arrives.
            CHECK(h.deliver(0, {ControlKind::BarrierArrive, 1, 0, {}}) == std::nullopt);
            CHECK(h.deliver(1, {ControlKind::BarrierArrive, 1, 0, {}}) == std::nullopt);
            CHECK(h.deliver(2, {ControlKind::BarrierArrive, 1, 0, {}}) ==
                  h.cfg.describe(1) + " failed: node 0: transport not running");
        }
    }
    GIVEN("node 2 said ByeClosing") {
        CHECK(h.deliver(2, {ControlKind::ByeClosing, 0, 0, {}}) == std::nullopt);
        THEN("node 2 has left, node 1 has not") {
            CHECK(h.cp.peer_left(2));
            CHECK_FALSE(h.cp.peer_left(1));
        }
    }
    GIVEN("the engine stopped (the DSM engine's sends ask the same question)") {
        h.cp.engine_stopped();
        THEN("every peer counts as left, and the failed sends of a barrier release are quiet") {
            CHECK(h.cp.peer_left(1));
            CHECK(h.cp.peer_left(2));
            CHECK(h.deliver(0, {ControlKind::BarrierArrive, 1, 0, {}}) == std::nullopt);
            CHECK(h.deliver(1, {ControlKind::BarrierArrive, 1, 0, {}}) == std::nullopt);
            CHECK(h.deliver(2, {ControlKind::BarrierArrive, 1, 0, {}}) == std::nullopt);
        }
    }
}
