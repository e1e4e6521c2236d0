// The Layout and LayoutAck messages (vmm/cluster/layout_messages): round
// trips, and rejection of truncated, padded or malformed payloads.
#include <doctest/doctest.h>

#include "vmm/cluster/cluster_messages.hpp"
#include "vmm/cluster/layout_messages.hpp"
#include "vmm/cluster/sharing_messages.hpp"

using namespace spanvm::cluster;
using spanvm::memory::LayoutRun;
using spanvm::net::ByteView;
using spanvm::net::Bytes;

SCENARIO("a Layout message carries the changed runs of one mm call to every node") {
    GIVEN("a munmap of one range and an mmap of another") {
        LayoutMsg m{0x1'0000'0007ull, {{0x200000, 0x204000, 0},
                                        {0x7f0000000000ull, 0x7f0000001000ull, PROT_READ | PROT_WRITE},
                                        {0x7f0000001000ull, 0x7f0000003000ull, PROT_READ}}};
        WHEN("it is encoded") {
            Bytes b = encode(m);
            THEN("it is 12 bytes plus 17 per run and decodes to itself") {
                CHECK(b.size() == 12 + 3 * 17);
                auto d = decode_layout(b);
                REQUIRE(d.has_value());
                CHECK(*d == m);
            }
            THEN("every shorter prefix and a trailing byte are rejected") {
                for (std::size_t n = 0; n < b.size(); ++n) CHECK_FALSE(decode_layout(ByteView(b.data(), n)).has_value());
                b.push_back(0);
                CHECK_FALSE(decode_layout(b).has_value());
            }
            THEN("an empty run or an access that is not normalized is rejected") {
                Bytes empty = encode(LayoutMsg{1, {{0x3000, 0x3000, PROT_READ}}});
                CHECK_FALSE(decode_layout(empty).has_value());
                for (std::uint8_t a : {std::uint8_t{PROT_WRITE}, std::uint8_t{PROT_EXEC}, std::uint8_t{8}}) {
                    Bytes bad = b;
                    bad[12 + 16] = a;
                    CHECK_FALSE(decode_layout(bad).has_value());
                }
                Bytes rx = b;
                rx[12 + 16] = PROT_READ | PROT_EXEC;
                CHECK(decode_layout(rx).has_value());
            }
        }
    }
    GIVEN("an acknowledgement") {
        LayoutAckMsg a{42};
        Bytes b = encode(a);
        THEN("it round-trips and rejects padding") {
            auto d = decode_layout_ack(b);
            REQUIRE(d.has_value());
            CHECK(*d == a);
            b.push_back(0);
            CHECK_FALSE(decode_layout_ack(b).has_value());
        }
    }
    GIVEN("the cluster's type range") {
        THEN("both types are inside it and distinct from the others") {
            for (auto t : {kLayoutType, kLayoutAckType}) {
                CHECK(t >= kClusterTypeFirst);
                CHECK(t <= kClusterTypeLast);
                for (auto o : {kSpawnType, kTrapType, kResumeType, kKickType, kShutdownType, kByeType, kStatsType,
                               kAbortType, kSharingType})
                    CHECK(t != o);
            }
            CHECK(kLayoutType != kLayoutAckType);
        }
    }
}
