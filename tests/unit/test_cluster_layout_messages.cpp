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
            THEN("it is 12 bytes plus 17 per run, two empty counts, and decodes to itself") {
                CHECK(b.size() == 12 + 3 * 17 + 8);
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
    GIVEN("a Layout that names a file and fills two ranges, one from it, one back to zero") {
        LayoutMsg m{9, {}, {{3, "/usr/lib/x86_64-linux-gnu/libc.so.6", {0x803, 1234567, 2125328, 1700000000123456789, -5}}},
                    {{0x400000, 0x600000, 3, 0x28000}, {0x700000, 0x701000, spanvm::memory::kZeroFile, 0}}};
        Bytes b = encode(m);
        THEN("it round-trips, and every prefix and padding are rejected") {
            auto d = decode_layout(b);
            REQUIRE(d.has_value());
            CHECK(*d == m);
            for (std::size_t n = 0; n < b.size(); ++n) CHECK_FALSE(decode_layout(ByteView(b.data(), n)).has_value());
            b.push_back(0);
            CHECK_FALSE(decode_layout(b).has_value());
        }
        THEN("a relative path, file id 0, an unaligned fill or a zero fill with an offset is rejected") {
            for (auto bad : {LayoutMsg{1, {}, {{3, "lib.so", {}}}, {}}, LayoutMsg{1, {}, {{0, "/lib.so", {}}}, {}},
                             LayoutMsg{1, {}, {}, {{0x400000, 0x400800, 3, 0}}},
                             LayoutMsg{1, {}, {}, {{0x400000, 0x401000, 3, 0x10}}},
                             LayoutMsg{1, {}, {}, {{0x400000, 0x401000, spanvm::memory::kZeroFile, 0x1000}}},
                             LayoutMsg{1, {}, {}, {{0x401000, 0x400000, 3, 0}}}})
                CHECK_FALSE(decode_layout(encode(bad)).has_value());
        }
    }
    GIVEN("an acknowledgement refusing a file") {
        LayoutAckMsg a{43, {3, 5}};
        Bytes b = encode(a);
        THEN("it round-trips") {
            auto d = decode_layout_ack(b);
            REQUIRE(d.has_value());
            CHECK(*d == a);
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
