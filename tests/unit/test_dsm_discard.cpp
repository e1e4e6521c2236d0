// DsmEngine::discard_range (docs/dsm-protocol.md "Discards"): two nodes in
// one process on loopback. Needs root or vm.unprivileged_userfaultfd=1.
#include <doctest/doctest.h>

#include <sys/mman.h>

#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <vector>

#include "net/free_ports.hpp"
#include "vmm/dsm/dsm_engine.hpp"

using namespace spanvm::dsm;
using namespace std::chrono_literals;

SCENARIO("a discard drops the pages only their home holds and leaves the others to be zeroed") {
    GIVEN("two engines, dynamic homes, every page homed on node 0, zero-fill-ahead over 64-page blocks") {
        auto cfg = spanvm::net::loopback_cluster(2, "engine-discard");
        std::vector<std::unique_ptr<DsmEngine>> engines;
        for (NodeId n = 0; n < 2; ++n) {
            DsmEngineOptions o;
            o.cluster = cfg;
            o.self = n;
            o.pages = 256;
            o.home = "node:0";
            o.dynamic_homes = true;
            o.claims = false;  // node 1's read below is an ordinary request
            o.zero_fill_block = 64;
            o.overall_timeout = 60s;
            auto e = DsmEngine::create(o);
            REQUIRE_MESSAGE(e.has_value(), (e ? std::string() : e.error().message));
            engines.push_back(std::move(*e));
        }
        std::vector<std::future<spanvm::Result<void>>> f;
        for (auto& e : engines) f.push_back(std::async(std::launch::async, [&e] { return e->start(); }));
        for (auto& x : f) REQUIRE(x.get().has_value());
        auto word = [&](NodeId n, std::uint64_t page) {
            return std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(engines[n]->base() + page * 4096));
        };
        auto resident = [&](std::uint64_t page) {
            unsigned char v = 0;
            REQUIRE(::mincore(engines[0]->base() + page * 4096, 4096, &v) == 0);
            return (v & 1) != 0;
        };
        using C = DsmStats::Counter;
        WHEN("node 0 writes pages 0-63 (one first touch, the block filled ahead), node 1 reads page 5, and "
             "node 0 discards pages 0-63") {
            for (std::uint64_t p = 0; p < 64; ++p) word(0, p).store(1000 + p);
            CHECK(word(1, 5).load() == 1005);
            std::uint64_t reclaimed = 0;
            auto zero = engines[0]->discard_range(0, 64, reclaimed);
            REQUIRE(zero.has_value());
            THEN("the 63 pages only node 0 held are pristine again, not resident, and page 5 is left to zero") {
                CHECK(reclaimed == 63);
                CHECK(engines[0]->stats().get(C::pages_reclaimed) == 63);
                REQUIRE(zero->size() == 64);
                for (std::uint64_t p = 0; p < 64; ++p) CHECK((*zero)[p] == (p != 5));
                CHECK_FALSE(resident(7));
                CHECK(engines[0]->untouched(7));
                CHECK_FALSE(engines[0]->untouched(5));
            }
            AND_THEN("a reclaimed page reads as zero on both nodes and takes writes again") {
                CHECK(word(1, 9).load() == 0);
                word(0, 10).store(77);
                CHECK(word(1, 10).load() == 77);
                CHECK(word(0, 5).load() == 1005);  // not discarded: its zeroing is the caller's
            }
        }
        WHEN("pages 192-223 are homed at node 1 (rehome), node 1 writes them, node 0 reads page 200, and node 0 "
             "discards them") {
            auto moved = engines[0]->rehome(192, 32, 1);
            REQUIRE(moved.has_value());
            REQUIRE(*moved == 32);
            for (std::uint64_t p = 192; p < 224; ++p) word(1, p).store(2000 + p);
            CHECK(word(0, 200).load() == 2200);
            std::uint64_t reclaimed = 0;
            auto zero = engines[0]->discard_range(192, 32, reclaimed);
            REQUIRE(zero.has_value());
            THEN("their home, asked, drops the 31 only it held: node 0 need not fetch them to zero them") {
                CHECK(reclaimed == 0);
                CHECK(engines[1]->stats().get(C::pages_reclaimed) == 31);
                REQUIRE(zero->size() == 32);
                for (std::uint64_t p = 0; p < 32; ++p) CHECK((*zero)[p] == (p != 8));
                CHECK(engines[1]->untouched(193));
                CHECK_FALSE(engines[1]->untouched(200));
            }
            AND_THEN("a page its home reclaimed reads as zero on both nodes and takes writes again") {
                CHECK(word(1, 195).load() == 0);
                CHECK(word(0, 196).load() == 0);
                word(1, 197).store(88);
                CHECK(word(0, 197).load() == 88);
            }
        }
        WHEN("reclaim is asked for pages no node ever had") {
            std::uint64_t reclaimed = 0;
            auto zero = engines[0]->discard_range(128, 64, reclaimed);
            REQUIRE(zero.has_value());
            THEN("nothing is dropped and every page reads as zero already") {
                CHECK(reclaimed == 0);
                for (bool z : *zero) CHECK(z);
            }
        }
        std::vector<std::future<spanvm::Result<void>>> s;
        for (auto& e : engines) s.push_back(std::async(std::launch::async, [&e] { return e->shutdown(10s); }));
        for (auto& x : s) CHECK(x.get().has_value());
    }
}
