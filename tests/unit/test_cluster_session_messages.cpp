// SessionStart, SessionReady, NodeLoad and ChannelOffer (vmm/cluster/session_messages):
// round trips, and rejection of truncated, padded or malformed payloads.
#include <doctest/doctest.h>

#include "vmm/cluster/cluster_messages.hpp"
#include "vmm/cluster/session_messages.hpp"

using namespace spanvm::cluster;
using spanvm::net::ByteView;
using spanvm::net::Bytes;

namespace {
template <typename Decode>
void check_prefixes_and_padding(Bytes b, Decode decode) {
    for (std::size_t n = 0; n < b.size(); ++n) CHECK_FALSE(decode(ByteView(b.data(), n)).has_value());
    b.push_back(0);
    CHECK_FALSE(decode(b).has_value());
}
}  // namespace

SCENARIO("a deputy's request reaches host k's daemon and its answer comes back") {
    GIVEN("a SessionStart for a deputy listening on port 23456") {
        SessionStartMsg m{(7ull << 8) | 3, 23456};
        Bytes b = encode(m);
        THEN("it is 10 bytes and decodes to itself") {
            CHECK(b.size() == 10);
            auto d = decode_session_start(b);
            REQUIRE(d.has_value());
            CHECK(*d == m);
        }
        THEN("every shorter prefix and a trailing byte are rejected") { check_prefixes_and_padding(b, decode_session_start); }
        THEN("port 0 is rejected") { CHECK_FALSE(decode_session_start(encode(SessionStartMsg{1, 0})).has_value()); }
    }
    GIVEN("a SessionReady with a port, and one with a failure") {
        SessionReadyMsg ok{42, 31000, 3, {}};
        SessionReadyMsg bad{43, 0, 2, "posix_spawn /x: No such file or directory"};
        THEN("both decode to themselves") {
            for (const auto& m : {ok, bad}) {
                auto d = decode_session_ready(encode(m));
                REQUIRE(d.has_value());
                CHECK(*d == m);
            }
        }
        THEN("every shorter prefix and a trailing byte are rejected") {
            check_prefixes_and_padding(encode(ok), decode_session_ready);
            check_prefixes_and_padding(encode(bad), decode_session_ready);
        }
        THEN("a port together with a reason is rejected") {
            CHECK_FALSE(decode_session_ready(encode(SessionReadyMsg{1, 80, 1, "both"})).has_value());
        }
        THEN("a reason longer than the bound is cut on encode, and refused on decode") {
            SessionReadyMsg big{5, 0, 0, std::string(kMaxSessionReason + 100, 'x')};
            auto d = decode_session_ready(encode(big));
            REQUIRE(d.has_value());
            CHECK(d->reason.size() == kMaxSessionReason);
        }
    }
    GIVEN("a NodeLoad") {
        NodeLoadMsg m{5, 8};
        Bytes b = encode(m);
        THEN("it is 8 bytes and decodes to itself") {
            CHECK(b.size() == 8);
            auto d = decode_node_load(b);
            REQUIRE(d.has_value());
            CHECK(*d == m);
        }
        THEN("every shorter prefix and a trailing byte are rejected") { check_prefixes_and_padding(b, decode_node_load); }
    }
    GIVEN("a ChannelOffer for thread 4242 on port 40000") {
        ChannelOfferMsg m{4242, 40000, 0x0123456789abcdefull};
        Bytes b = encode(m);
        THEN("it is 14 bytes and decodes to itself") {
            CHECK(b.size() == 14);
            auto d = decode_channel_offer(b);
            REQUIRE(d.has_value());
            CHECK(*d == m);
        }
        THEN("every shorter prefix and a trailing byte are rejected") { check_prefixes_and_padding(b, decode_channel_offer); }
        THEN("port 0, thread 0 and a negative thread are rejected") {
            CHECK_FALSE(decode_channel_offer(encode(ChannelOfferMsg{4242, 0, 1})).has_value());
            CHECK_FALSE(decode_channel_offer(encode(ChannelOfferMsg{0, 40000, 1})).has_value());
            CHECK_FALSE(decode_channel_offer(encode(ChannelOfferMsg{-5, 40000, 1})).has_value());
        }
    }
    THEN("the types lie in the cluster's range, after the Layout messages") {
        CHECK(kSessionStartType > 0x020A);
        CHECK(kSessionReadyType == kSessionStartType + 1);
        CHECK(kNodeLoadType == kSessionReadyType + 1);
        CHECK(kChannelOfferType == kNodeLoadType + 1);
        CHECK(kChannelOfferType == kClusterTypeLast);
    }
}
