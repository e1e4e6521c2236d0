// The distributed process mode's pure codec (vmm/cluster/cluster_messages):
// round trips and rejection of truncated or padded payloads.
#include <doctest/doctest.h>
#include <sys/mman.h>

#include "vmm/cluster/cluster_messages.hpp"

using namespace spanvm::cluster;
using spanvm::net::ByteView;
using spanvm::net::Bytes;

SCENARIO("a node's Stats message carries its DSM counters to the origin") {
    GIVEN("counters with every field distinct, some above 32 bits") {
        NodeStatsMsg m{0x1'0000'0001ull, 2'000'000, 3, 0, 0xFFFF'FFFF'FFFF'FFFFull, 6, 7, 8, 9, 10, 11, 12, 13, 14};
        WHEN("it is encoded") {
            Bytes b = encode(m);
            THEN("it is fourteen little-endian u64 and decodes to itself") {
                CHECK(b.size() == 112);
                CHECK(b[96] == 13);
                CHECK(b[104] == 14);
                CHECK(b[40] == 6);
                CHECK(b[64] == 9);
                CHECK(b[72] == 10);
                CHECK(b[88] == 12);
                CHECK(b[0] == 0x01);
                CHECK(b[4] == 0x01);
                auto d = decode_stats(b);
                REQUIRE(d.has_value());
                CHECK(*d == m);
            }
            THEN("every shorter prefix is rejected") {
                for (std::size_t n = 0; n < b.size(); ++n) CHECK_FALSE(decode_stats(ByteView(b.data(), n)).has_value());
            }
            THEN("a trailing byte is rejected") {
                b.push_back(0);
                CHECK_FALSE(decode_stats(b).has_value());
            }
        }
    }
    GIVEN("the app type range the engines register") {
        THEN("Stats is inside it and distinct from the other types") {
            CHECK(kStatsType >= kClusterTypeFirst);
            CHECK(kStatsType <= kClusterTypeLast);
            for (auto t : {kSpawnType, kTrapType, kResumeType, kKickType, kShutdownType, kByeType}) CHECK(t != kStatsType);
        }
    }
}

SCENARIO("the small cluster messages round-trip") {
    GIVEN("a Kick and a Shutdown") {
        WHEN("they are encoded and decoded") {
            auto k = decode_kick(encode(KickMsg{1234}));
            auto s = decode_shutdown(encode(ShutdownMsg{-3}));
            THEN("they keep their values") {
                REQUIRE(k.has_value());
                REQUIRE(s.has_value());
                CHECK(k->tid == 1234);
                CHECK(s->status == -3);
            }
        }
    }
    GIVEN("a Resume with an FPU image") {
        ResumeMsg r;
        r.tid = 7;
        r.exit = true;
        r.state.fs_base = 0x7000;
        r.state.gs_base = 0x8000;
        r.state.fpu.assign(512, 0xAB);
        WHEN("it is encoded and decoded") {
            auto d = decode_resume(encode(r));
            THEN("tid, exit flag, bases and FPU image survive") {
                REQUIRE(d.has_value());
                CHECK(d->tid == 7);
                CHECK(d->exit);
                CHECK(d->state.fs_base == 0x7000);
                CHECK(d->state.gs_base == 0x8000);
                CHECK(d->state.fpu == r.state.fpu);
                CHECK_FALSE(d->layout.has_value());
            }
        }
    }
    GIVEN("a Resume carrying a ridden Layout (docs/dsm-protocol.md \"Fillers\", F6)") {
        ResumeMsg r;
        r.tid = 9;
        r.writes.push_back({0x401000, {1, 2, 3}});
        r.layout = LayoutMsg{42, {{0x400000, 0x402000, 3}, {0x500000, 0x501000, 0}}, {}, {{0x600000, 0x602000, 2, 0x1000}}};
        WHEN("it is encoded and decoded") {
            auto d = decode_resume(encode(r));
            THEN("the Layout comes back whole, after the writes") {
                REQUIRE(d.has_value());
                REQUIRE(d->layout.has_value());
                CHECK(*d->layout == *r.layout);
                REQUIRE(d->writes.size() == 1);
                CHECK(d->writes[0].bytes == r.writes[0].bytes);
            }
        }
        WHEN("the ridden Layout names a file") {
            r.layout->files.push_back({1, "/bin/true", {}});
            THEN("the node refuses it: a declaration never rides") {
                CHECK_FALSE(decode_resume(encode(r)).has_value());
            }
        }
        WHEN("it is cut short") {
            auto bytes = encode(r);
            bytes.pop_back();
            THEN("it does not decode") { CHECK_FALSE(decode_resume(bytes).has_value()); }
        }
    }
}

SCENARIO("heap windows and node-grown breaks travel on the Resume and the Trap (docs/dsm-protocol.md F8)") {
    GIVEN("a Resume with a heap window and a Trap with a node-grown break") {
        ResumeMsg r;
        r.tid = 7;
        r.brk_window = BrkWindow{0x4a1234, 0x8a2000};
        TrapMsg t;
        t.tid = 7;
        t.brk = 0x4c0010;
        t.seeks.emplace_back(3, 4096);
        WHEN("they are encoded and decoded") {
            auto dr = decode_resume(encode(r));
            auto dt = decode_trap(encode(t));
            THEN("both come back whole") {
                REQUIRE(dr.has_value());
                CHECK(dr->brk_window == r.brk_window);
                REQUIRE(dt.has_value());
                CHECK(dt->brk == t.brk);
                CHECK(dt->seeks == t.seeks);
            }
        }
        WHEN("neither carries one") {
            r.brk_window.reset();
            t.brk.reset();
            THEN("none comes back") {
                CHECK_FALSE(decode_resume(encode(r))->brk_window.has_value());
                CHECK_FALSE(decode_trap(encode(t))->brk.has_value());
            }
        }
        WHEN("the window's limit is not page-aligned, or below the break's page") {
            THEN("the node refuses the Resume") {
                r.brk_window = BrkWindow{0x4a1234, 0x8a2001};
                CHECK_FALSE(decode_resume(encode(r)).has_value());
                r.brk_window = BrkWindow{0x4a1234, 0x4a1000};
                CHECK_FALSE(decode_resume(encode(r)).has_value());
            }
        }
    }
}

SCENARIO("mapping windows and node-made mappings travel on the Resume and the Trap (docs/dsm-protocol.md F9)") {
    GIVEN("a Resume with a mapping window and a Trap with two node-made mappings") {
        ResumeMsg r;
        r.tid = 9;
        r.brk_window = BrkWindow{0x4a1234, 0x8a2000};
        r.map_window = MapWindow{0x7f0000000000, 0x7f0001000000};
        TrapMsg t;
        t.tid = 9;
        t.brk = 0x4c0010;
        t.maps.push_back(OwedMap{0x7f0000ffe000, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS});
        t.maps.push_back(OwedMap{0x7f0000ffc000, 5000, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE});
        WHEN("they are encoded and decoded") {
            auto dr = decode_resume(encode(r));
            auto dt = decode_trap(encode(t));
            THEN("both come back whole, after the heap window and the break") {
                REQUIRE(dr.has_value());
                CHECK(dr->brk_window == r.brk_window);
                CHECK(dr->map_window == r.map_window);
                REQUIRE(dt.has_value());
                CHECK(dt->brk == t.brk);
                CHECK(dt->maps == t.maps);
            }
        }
        WHEN("neither carries one") {
            r.map_window.reset();
            t.maps.clear();
            THEN("none comes back") {
                CHECK_FALSE(decode_resume(encode(r))->map_window.has_value());
                CHECK(decode_trap(encode(t))->maps.empty());
            }
        }
        WHEN("the window is empty or not page-aligned") {
            THEN("the node refuses the Resume") {
                r.map_window = MapWindow{0x7f0001000000, 0x7f0001000000};
                CHECK_FALSE(decode_resume(encode(r)).has_value());
                r.map_window = MapWindow{0x7f0000000800, 0x7f0001000000};
                CHECK_FALSE(decode_resume(encode(r)).has_value());
            }
        }
        WHEN("a mapping is one the node may not make (unaligned, executable, shared, fixed)") {
            THEN("the origin refuses the Trap") {
                for (OwedMap bad : {OwedMap{0x7f0000ffe800, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS},
                                    OwedMap{0x7f0000ffe000, 4096, PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS},
                                    OwedMap{0x7f0000ffe000, 4096, PROT_READ, MAP_SHARED | MAP_ANONYMOUS},
                                    OwedMap{0x7f0000ffe000, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED},
                                    OwedMap{0x7f0000ffe000, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS}}) {
                    t.maps = {bad};
                    CHECK_FALSE(decode_trap(encode(t)).has_value());
                }
            }
        }
    }
}
