#include <doctest/doctest.h>

#include <set>

#include "vmm/dsm_node/workload_model.hpp"

using namespace spanvm::dsm_node;

SCENARIO("counter placement: two counters per page, distinct cache lines") {
    for (std::uint64_t pages : {1u, 3u, 4u, 16u}) {
        std::set<std::uint64_t> seen;
        std::set<std::uint64_t> pages_used;
        std::uint64_t n = std::min<std::uint64_t>(max_counters(pages), 64);
        for (std::uint64_t i = 0; i < n; ++i) {
            std::uint64_t off = counter_offset(i, pages);
            CHECK(off % 64 == 0);
            CHECK(off < pages * 4096);
            CHECK(seen.insert(off / 64).second);  // own cache line
            pages_used.insert(off / 4096);
        }
        CHECK(pages_used.size() == std::min<std::uint64_t>(pages, (n + 1) / 2));
    }
    // 8 counters on 16 pages: pairs share a page, pairs are on different pages.
    CHECK(counter_offset(0, 16) / 4096 == counter_offset(1, 16) / 4096);
    CHECK(counter_offset(1, 16) / 4096 != counter_offset(2, 16) / 4096);
    CHECK(max_counters(1) == 64);
}

SCENARIO("stress model: owners write only their own slots, replay is deterministic") {
    StressParams p;
    p.seed = 42;
    p.nodes = 3;
    p.threads = 2;
    p.pages = 2;
    p.iterations = 500;
    GIVEN("every owner's operation sequence") {
        std::vector<std::uint64_t> mem(p.slots(), 0);
        std::vector<StressOwner> owners;
        for (std::uint64_t w = 0; w < p.owners(); ++w) owners.emplace_back(p, w);
        std::size_t writes = 0, reads = 0;
        // Interleave owners round-robin: disjoint slots make the result
        // independent of the interleaving.
        for (std::uint64_t i = 0; i < p.iterations; ++i)
            for (auto& o : owners) {
                StressOp op = o.next();
                REQUIRE(op.slot < p.slots());
                if (op.write) {
                    ++writes;
                    CHECK(op.slot % p.owners() == o.owner());
                    CHECK(stress_value_owner(op.value) == o.owner() + 1);
                    CHECK(stress_value_step(op.value) == i + 1);
                    mem[op.slot] = op.value;
                } else {
                    ++reads;
                    CHECK(stress_check_foreign(p, op.slot, mem[op.slot]).empty());
                }
            }
        THEN("the replayed final values equal the interleaved run, page by page") {
            auto want = stress_final_values(p);
            CHECK(want == mem);
            for (std::uint64_t page = 0; page < p.pages; ++page)
                CHECK(page_checksum(want.data() + page * kWordsPerPage) ==
                      page_checksum(mem.data() + page * kWordsPerPage));
            CHECK(writes > reads);  // 3 of 4 operations write
            CHECK(reads > 0);
        }
        THEN("a changed seed changes the final memory") {
            StressParams q = p;
            q.seed = 43;
            CHECK(stress_final_values(q) != mem);
        }
    }
    GIVEN("values that the owner of a slot cannot have written") {
        THEN("the foreign-read check names them") {
            CHECK(stress_check_foreign(p, 0, 0).empty());
            CHECK(stress_check_foreign(p, 0, stress_value(0, 10)).empty());
            CHECK_FALSE(stress_check_foreign(p, 0, stress_value(1, 10)).empty());        // wrong owner
            CHECK_FALSE(stress_check_foreign(p, 0, stress_value(0, p.iterations)).empty());  // step too high
            CHECK_FALSE(stress_check_foreign(p, 7, 12345).empty());                      // garbage
        }
    }
    THEN("a single flipped bit changes the page checksum") {
        std::vector<std::uint64_t> a(kWordsPerPage, 0), b(kWordsPerPage, 0);
        b[100] = 1ull << 40;
        CHECK(page_checksum(a.data()) != page_checksum(b.data()));
    }
}

SCENARIO("sample summaries use nearest-rank percentiles") {
    std::vector<std::uint64_t> ns;
    for (std::uint64_t i = 100; i >= 1; --i) ns.push_back(i * 1000);  // 1..100 us, reversed
    SampleSummary s = summarize_samples(ns);
    CHECK(s.count == 100);
    CHECK(s.min_us == doctest::Approx(1));
    CHECK(s.p50_us == doctest::Approx(50));
    CHECK(s.p90_us == doctest::Approx(90));
    CHECK(s.p99_us == doctest::Approx(99));
    CHECK(s.max_us == doctest::Approx(100));
    CHECK(s.mean_us == doctest::Approx(50.5));
    CHECK(summarize_samples({}).count == 0);
    CHECK(summarize_samples({5000}).p99_us == doctest::Approx(5));
}

SCENARIO("store-buffering tally flags only r0=0,r1=0") {
    SbTally t;
    t.add(1, 1);
    t.add(0, 1);
    t.add(1, 0);
    CHECK(t.forbidden() == 0);
    t.add(0, 0);
    CHECK(t.forbidden() == 1);
    CHECK(t.to_string() == "r0=0,r1=0:1 r0=0,r1=1:1 r0=1,r1=0:1 r0=1,r1=1:1");
}
