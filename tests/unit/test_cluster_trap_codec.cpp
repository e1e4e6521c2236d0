#include <doctest/doctest.h>

#include <algorithm>
#include <iterator>

#include "vmm/cluster/cluster_messages.hpp"

using namespace spanvm::cluster;
using spanvm::memory::ArgRange;

SCENARIO("a Resume carries the guest writes of a call handled on the node") {
    GIVEN("a Resume with one write of 3 bytes") {
        ResumeMsg m;
        m.tid = 9;
        m.state.regs.rax = 3;
        m.writes.push_back({0x50000, {1, 2, 3}});
        WHEN("it is encoded and decoded") {
            auto d = decode_resume(encode(m));
            THEN("the write comes back") {
                REQUIRE(d);
                REQUIRE(d->writes.size() == 1);
                CHECK(d->writes[0].gva == 0x50000);
                CHECK(d->writes[0].bytes == std::vector<std::uint8_t>{1, 2, 3});
            }
        }
    }
}

SCENARIO("Spawn and Trap survive the wire") {
    GIVEN("a Spawn with a channel port and cookie") {
        SpawnMsg m;
        m.tid = 42;
        m.channel_port = 40001;
        m.cookie = 0x1122334455667788ull;
        m.vvar_gva = 0x7f000000;
        m.state.regs.rip = 0x401000;
        m.state.fs_base = 0x7000;
        WHEN("it is encoded and decoded") {
            auto d = decode_spawn(encode(m));
            THEN("every field comes back") {
                REQUIRE(d);
                CHECK(d->tid == 42);
                CHECK(d->channel_port == 40001);
                CHECK(d->cookie == 0x1122334455667788ull);
                CHECK(d->vvar_gva == 0x7f000000);
                CHECK(d->state.regs.rip == 0x401000);
                CHECK(d->state.fs_base == 0x7000);
                CHECK(d->state.fpu.empty());
            }
        }
    }
    GIVEN("a syscall Trap carrying a path and a buffer, without an FPU image") {
        TrapMsg t;
        t.tid = 7;
        t.host_tid = 1234;
        t.exit.kind = spanvm::platform::VcpuExit::Kind::syscall;
        t.state.regs.rax = 2;
        t.args.ranges.push_back({0x20000, ArgRange::Kind::string, {'/', 'x', 0}});
        t.args.ranges.push_back({0x30000, ArgRange::Kind::buffer, {9, 8, 7}});
        WHEN("it is encoded and decoded") {
            auto d = decode_trap(encode(t));
            THEN("the inputs come back intact") {
                REQUIRE(d);
                CHECK(d->tid == 7);
                CHECK(d->host_tid == 1234);
                CHECK(d->state.regs.rax == 2);
                REQUIRE(d->args.ranges.size() == 2);
                CHECK(std::string(d->args.string(0x20000)) == "/x");
                CHECK(d->args.find(0x30001, 2)[0] == 8);
            }
        }
        WHEN("it also declares an output range of 4096 bytes") {
            t.args.ranges.push_back({0x40000, ArgRange::Kind::output, std::vector<std::uint8_t>(4096),
                                     ArgRange::Store::result_bytes});
            auto b = encode(t);
            THEN("only its length and store rule travel, and it decodes zeroed") {
                CHECK(b.size() < 4096);
                auto d = decode_trap(b);
                REQUIRE(d);
                REQUIRE(d->args.ranges.size() == 3);
                CHECK(d->args.ranges[2].kind == ArgRange::Kind::output);
                CHECK(d->args.ranges[2].store == ArgRange::Store::result_bytes);
                CHECK(d->args.ranges[2].bytes == std::vector<std::uint8_t>(4096));
            }
        }
        WHEN("it carries several outputs and an inout range with their store rules") {
            t.args.ranges.push_back({0x41000, ArgRange::Kind::output, std::vector<std::uint8_t>(4), ArgRange::Store::on_positive});
            t.args.ranges.push_back({0x42000, ArgRange::Kind::output, std::vector<std::uint8_t>(144), ArgRange::Store::on_positive});
            t.args.ranges.push_back({0x43000, ArgRange::Kind::inout, {1, 2, 3, 4, 5, 6, 7, 8}, ArgRange::Store::on_success});
            auto d = decode_trap(encode(t));
            THEN("each comes back with its kind, size, bytes and rule") {
                REQUIRE(d);
                REQUIRE(d->args.ranges.size() == 5);
                for (std::size_t i = 2; i < 5; ++i) {
                    CHECK(d->args.ranges[i].gva == t.args.ranges[i].gva);
                    CHECK(d->args.ranges[i].kind == t.args.ranges[i].kind);
                    CHECK(d->args.ranges[i].store == t.args.ranges[i].store);
                    CHECK(d->args.ranges[i].bytes == t.args.ranges[i].bytes);
                }
            }
        }
        WHEN("a range's kind or store rule is one the codec does not know") {
            t.args.ranges.push_back({0x43000, ArgRange::Kind::inout, {1, 2}, ArgRange::Store::on_success});
            auto b = encode(t);
            // The inout range: gva (u64), kind (u8), its bytes (u32 length, 2 bytes), store (u8).
            const std::uint8_t head[9] = {0x00, 0x30, 0x04, 0, 0, 0, 0, 0, 3};
            const auto it = std::search(b.begin(), b.end(), std::begin(head), std::end(head));
            REQUIRE(it != b.end());
            const auto kind_at = static_cast<std::size_t>(it - b.begin()) + 8;
            THEN("the Trap is refused") {
                auto bad_store = b;
                bad_store[kind_at + 1 + 4 + 2] = 3;
                CHECK_FALSE(decode_trap(bad_store));
                auto bad_kind = b;
                bad_kind[kind_at] = 4;
                CHECK_FALSE(decode_trap(bad_kind));
            }
        }
        WHEN("a string range loses its NUL") {
            t.args.ranges[0].bytes.pop_back();
            THEN("the Trap is refused") { CHECK_FALSE(decode_trap(encode(t))); }
        }
        WHEN("it carries more than kMaxArgRanges ranges") {
            t.args.ranges.resize(spanvm::memory::kMaxArgRanges, t.args.ranges[1]);
            CHECK(decode_trap(encode(t)));
            t.args.ranges.resize(spanvm::memory::kMaxArgRanges + 1, t.args.ranges[1]);
            THEN("the Trap is refused") { CHECK_FALSE(decode_trap(encode(t))); }
        }
        WHEN("the encoding is cut short anywhere") {
            auto b = encode(t);
            THEN("every prefix is refused, never read past") {
                for (std::size_t n = 0; n < b.size(); ++n) CHECK_FALSE(decode_trap(spanvm::net::ByteView(b.data(), n)));
            }
        }
    }
}

SCENARIO("an Abort carries the origin's failure line to the nodes") {
    GIVEN("an Abort naming node 2") {
        AbortMsg m{"the origin ended the program: node 2 (10.232.0.3:7500) failed: no traffic for 3.0 s"};
        WHEN("it is encoded and decoded") {
            auto d = decode_abort(encode(m));
            THEN("the reason comes back") {
                REQUIRE(d);
                CHECK(d->reason == m.reason);
            }
        }
        WHEN("the reason is longer than kMaxAbortReason") {
            m.reason.assign(kMaxAbortReason + 100, 'x');
            THEN("it is cut to the limit on the way out and accepted") {
                auto d = decode_abort(encode(m));
                REQUIRE(d);
                CHECK(d->reason.size() == kMaxAbortReason);
            }
        }
    }
}
