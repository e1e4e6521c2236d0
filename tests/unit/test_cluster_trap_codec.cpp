#include <doctest/doctest.h>

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
            t.args.ranges.push_back({0x40000, ArgRange::Kind::output, std::vector<std::uint8_t>(4096)});
            auto b = encode(t);
            THEN("only its length travels, and it decodes zeroed") {
                CHECK(b.size() < 4096);
                auto d = decode_trap(b);
                REQUIRE(d);
                REQUIRE(d->args.output() != nullptr);
                CHECK(d->args.output()->bytes.size() == 4096);
            }
        }
        WHEN("a string range loses its NUL") {
            t.args.ranges[0].bytes.pop_back();
            THEN("the Trap is refused") { CHECK_FALSE(decode_trap(encode(t))); }
        }
        WHEN("it carries more than 8 ranges") {
            t.args.ranges.resize(9, t.args.ranges[1]);
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
