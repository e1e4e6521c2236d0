// MessageRouter: frames go to the layer that routed their type; one layer
// owns peer failures; the table is fixed once the transport takes it.
#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "net/message_router.hpp"

using namespace spanvm::net;

namespace {

struct Seen {
    std::vector<std::pair<char, std::uint16_t>> frames;  // (layer, type)
    std::vector<std::string> failures;
};

MessageHandler layer(Seen& s, char name) {
    return [&s, name](NodeId, std::uint16_t type, std::uint64_t, ByteView) { s.frames.emplace_back(name, type); };
}

}  // namespace

SCENARIO("a message router hands each frame to the layer that routed its type") {
    GIVEN("a DSM-like layer on 0x100..0x101 and a cluster-like layer on 0x200..0x207") {
        Seen seen;
        MessageRouter r;
        r.route(0x200, 0x207, layer(seen, 'c'));
        r.route(0x100, 0x100, layer(seen, 'p'));
        r.route(0x101, 0x101, layer(seen, 'k'));
        THEN("types() is their union, nothing more") {
            MessageTypes t = r.types();
            CHECK(t.size() == 10);
            CHECK(t.contains(0x100));
            CHECK(t.contains(0x207));
            CHECK_FALSE(t.contains(0x208));
            CHECK_FALSE(t.contains(0x0ff));
        }
        WHEN("frames arrive through the transport's callback") {
            auto h = r.message_handler();
            for (std::uint16_t type : {0x100, 0x203, 0x101, 0x200, 0x207, 0x300}) h(1, type, 0, {});
            THEN("each reaches its layer, in order; an unrouted type is dropped") {
                std::vector<std::pair<char, std::uint16_t>> want{
                    {'p', 0x100}, {'c', 0x203}, {'k', 0x101}, {'c', 0x200}, {'c', 0x207}};
                CHECK(seen.frames == want);
            }
            THEN("the table is frozen") { CHECK_THROWS_AS(r.route(0x300, 0x300, layer(seen, 'x')), std::logic_error); }
        }
    }
    GIVEN("a router") {
        Seen seen;
        MessageRouter r;
        r.route(0x100, 0x10f, layer(seen, 'a'));
        THEN("overlapping, inverted and transport-reserved ranges are refused") {
            CHECK_THROWS_AS(r.route(0x10f, 0x120, layer(seen, 'b')), std::invalid_argument);
            CHECK_THROWS_AS(r.route(0x0f0, 0x100, layer(seen, 'b')), std::invalid_argument);
            CHECK_THROWS_AS(r.route(0x130, 0x120, layer(seen, 'b')), std::invalid_argument);
            CHECK_THROWS_AS(r.route(0xfe00, TRANSPORT_RESERVED_FIRST, layer(seen, 'b')), std::invalid_argument);
            CHECK_NOTHROW(r.route(0x110, 0x120, layer(seen, 'b')));
        }
        THEN("peer failures have one owner") {
            CHECK_FALSE(r.peer_failures_owned());
            r.own_peer_failures([&](NodeId n, const std::string& why) {
                seen.failures.push_back(std::to_string(n) + ": " + why);
            });
            CHECK(r.peer_failures_owned());
            CHECK_THROWS_AS(r.own_peer_failures([](NodeId, const std::string&) {}), std::logic_error);
            r.peer_failed_handler()(2, "connection reset");
            CHECK(seen.failures == std::vector<std::string>{"2: connection reset"});
        }
        THEN("without an owner a peer failure goes nowhere") { CHECK_NOTHROW(r.peer_failed(1, "gone")); }
    }
}
