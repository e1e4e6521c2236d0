#include <doctest/doctest.h>

#include <cctype>
#include <string>
#include <thread>
#include <vector>

#include "vmm/dsm/dsm_stats.hpp"
#include "vmm/dsm/dsm_stats_report.hpp"

using spanvm::dsm::DsmStats;
using spanvm::dsm::stats_json_text;
using spanvm::dsm::stats_table;
using C = DsmStats::Counter;

namespace {

// Minimal structural JSON check (no JSON library in the dependency list):
// braces/brackets balance and nest correctly outside strings, strings close,
// escapes are well-formed, and no raw control characters appear in strings.
bool json_well_formed(const std::string& s) {
    std::vector<char> stack;
    bool in_str = false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (in_str) {
            if (static_cast<unsigned char>(c) < 0x20) return false;
            if (c == '\\') {
                if (i + 1 >= s.size()) return false;
                char e = s[++i];
                if (e == 'u') {
                    if (i + 4 >= s.size()) return false;
                    for (int k = 1; k <= 4; ++k)
                        if (!std::isxdigit(static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]))) return false;
                    i += 4;
                } else if (std::string("\"\\/bfnrt").find(e) == std::string::npos) {
                    return false;
                }
            } else if (c == '"') {
                in_str = false;
            }
            continue;
        }
        if (c == '"') in_str = true;
        else if (c == '{' || c == '[') stack.push_back(c);
        else if (c == '}') { if (stack.empty() || stack.back() != '{') return false; stack.pop_back(); }
        else if (c == ']') { if (stack.empty() || stack.back() != '[') return false; stack.pop_back(); }
    }
    return !in_str && stack.empty() && !s.empty() && s.front() == '{';
}

}  // namespace

SCENARIO("counters count, also from many threads") {
    GIVEN("fresh stats for a 100-page region") {
        DsmStats st(1, "n1", 100);
        THEN("everything is zero") {
            for (std::size_t i = 0; i < DsmStats::kCounterCount; ++i) CHECK(st.get(static_cast<C>(i)) == 0);
            CHECK(st.latency_all().count == 0);
            CHECK(st.top_pages(5).empty());
        }
        WHEN("4 threads each record 1000 read faults, 500 write faults and page traffic") {
            std::vector<std::thread> ts;
            for (int t = 0; t < 4; ++t)
                ts.emplace_back([&st, t] {
                    for (int i = 0; i < 1000; ++i) st.record_fault(static_cast<std::uint64_t>(t), false);
                    for (int i = 0; i < 500; ++i) st.record_fault(10, true);
                    st.record_remote_fetch(3, 4096);
                    st.record_page_sent(4, 4096);
                    st.record_invalidation_sent(5);
                    st.record_invalidation_received(5);
                    st.record_upgrade(6);
                    st.record_downgrade(6);
                    st.record_zero_page_grant(7);
                });
            for (auto& t : ts) t.join();
            THEN("the totals are exact") {
                CHECK(st.get(C::read_faults) == 4000);
                CHECK(st.get(C::write_faults) == 2000);
                CHECK(st.get(C::remote_fetches) == 4);
                CHECK(st.get(C::bytes_received) == 4 * 4096);
                CHECK(st.get(C::bytes_sent) == 4 * 4096);
                CHECK(st.get(C::invalidations_sent) == 4);
                CHECK(st.get(C::invalidations_received) == 4);
                CHECK(st.get(C::upgrades) == 4);
                CHECK(st.get(C::downgrades) == 4);
                CHECK(st.get(C::zero_page_grants) == 4);
                CHECK(st.page(10).write_faults == 2000);
                CHECK(st.page(0).read_faults == 1000);
                CHECK(st.page(5).invalidations == 8);
                CHECK(st.page(4).bytes_sent == 4 * 4096);
            }
        }
        WHEN("a page beyond the region is recorded") {
            st.record_fault(1000, true);
            THEN("it counts globally but not per page") {
                CHECK(st.get(C::write_faults) == 1);
                CHECK(st.top_pages(10).empty());
                CHECK(st.page(1000).write_faults == 0);
            }
        }
    }
}

SCENARIO("the hot list is ordered by faults plus invalidations") {
    GIVEN("stats spanning several hot-list chunks") {
        DsmStats st(2, "n2", 20000);
        st.record_fault(9000, false);                      // score 1
        for (int i = 0; i < 5; ++i) st.record_fault(17, true);  // score 5
        for (int i = 0; i < 3; ++i) st.record_invalidation_received(12345);  // score 3
        st.record_fault(12345, false);                     // score 4
        st.record_fault(2, false);
        st.record_invalidation_sent(2);                    // score 2
        st.record_fault(3, true);
        st.record_fault(3, false);                         // score 2, tie with page 2
        st.record_page_sent(4, 4096);                      // score 0: bytes only
        st.record_writer(17, 3);
        WHEN("the top pages are requested") {
            auto top = st.top_pages(10);
            THEN("they are sorted by score, ties by page, zero-score pages omitted") {
                REQUIRE(top.size() == 5);
                CHECK(top[0].page == 17);
                CHECK(top[0].write_faults == 5);
                CHECK(top[0].last_writer == 3);
                CHECK(top[1].page == 12345);
                CHECK(top[1].score() == 4);
                CHECK(top[2].page == 2);
                CHECK(top[3].page == 3);
                CHECK(top[4].page == 9000);
                CHECK(top[4].last_writer == DsmStats::kNoNode);
            }
        }
        WHEN("only the top 2 are requested") {
            auto top = st.top_pages(2);
            THEN("exactly the two hottest come back") {
                REQUIRE(top.size() == 2);
                CHECK(top[0].page == 17);
                CHECK(top[1].page == 12345);
            }
        }
    }
}

SCENARIO("fault latency histogram percentiles") {
    GIVEN("the bucket layout") {
        THEN("every value lies inside its bucket and buckets are narrow") {
            for (std::uint64_t v : {0ULL, 1ULL, 15ULL, 16ULL, 17ULL, 31ULL, 32ULL, 1000ULL, 55'000ULL,
                                    123'456'789ULL, ~0ULL}) {
                auto b = DsmStats::bucket_of(v);
                REQUIRE(b < DsmStats::kBuckets);
                CHECK(DsmStats::bucket_low(b) <= v);
                CHECK(v <= DsmStats::bucket_high(b));
                CHECK(DsmStats::bucket_high(b) - DsmStats::bucket_low(b) <= DsmStats::bucket_low(b) / 16);
            }
        }
    }
    GIVEN("100 read-fault samples of 1..100 us and one write fault") {
        DsmStats st(0, "n0", 1);
        for (std::uint64_t i = 1; i <= 100; ++i) st.record_fault_latency(DsmStats::Latency::read_fault, i * 1000);
        st.record_fault_latency(DsmStats::Latency::write_fault, 48'000);
        WHEN("summarised") {
            auto r = st.latency(DsmStats::Latency::read_fault);
            auto w = st.latency(DsmStats::Latency::write_fault);
            auto all = st.latency_all();
            THEN("p50/p99 are within a bucket's width and min/max/mean are exact") {
                CHECK(r.count == 100);
                CHECK(r.min_ns == 1000);
                CHECK(r.max_ns == 100'000);
                CHECK(r.mean_ns == 50'500);
                CHECK(r.p50_ns >= 50'000 * 15 / 16);
                CHECK(r.p50_ns <= 50'000 * 17 / 16);
                CHECK(r.p99_ns >= 99'000 * 15 / 16);
                CHECK(r.p99_ns <= 100'000);
                CHECK(w.count == 1);
                CHECK(w.p50_ns == 48'000);  // clamped to the exact min/max
                CHECK(w.p99_ns == 48'000);
                CHECK(all.count == 101);
                CHECK(all.max_ns == 100'000);
            }
        }
    }
}

SCENARIO("JSON and table output") {
    GIVEN("stats with a label that needs escaping and some activity") {
        DsmStats st(7, "host \"a\"\\b\n\x01", 64);
        st.record_fault(1, false);
        st.record_fault(1, true);
        st.record_writer(1, 7);
        st.record_fault(2, false);
        st.record_fault_latency(DsmStats::Latency::read_fault, 55'000);
        WHEN("dumped as JSON") {
            auto j = stats_json_text(st.snapshot(32));
            THEN("it is well formed with escaped strings and the expected fields") {
                CHECK(json_well_formed(j));
                CHECK(j.find(R"("label":"host \"a\"\\b\n\u0001")") != std::string::npos);
                CHECK(j.find(R"("node":7)") != std::string::npos);
                CHECK(j.find(R"("read_faults":2)") != std::string::npos);
                CHECK(j.find(R"("write_faults":1)") != std::string::npos);
                CHECK(j.find(R"("read_fault":{"count":1,"min":55000,"p50":55000)") != std::string::npos);
                CHECK(j.find(R"({"page":1,"read_faults":1,"write_faults":1,"invalidations":0,"bytes_sent":0,"last_writer":7})") != std::string::npos);
                CHECK(j.find(R"("last_writer":null)") != std::string::npos);  // page 2
                CHECK(j.find(R"("hot_pages":[{"page":1)") != std::string::npos);
            }
        }
        WHEN("a JSON with nothing recorded is dumped") {
            DsmStats empty(0, "", 1);
            auto j = stats_json_text(empty.snapshot(32));
            THEN("it is still well formed with an empty hot list") {
                CHECK(json_well_formed(j));
                CHECK(j.find(R"("hot_pages":[])") != std::string::npos);
            }
        }
        WHEN("printed as a table") {
            auto t = stats_table(st.snapshot(5));
            THEN("it names the counters, the latency rows and the hot pages") {
                CHECK(t.find("DSM statistics for node 7") != std::string::npos);
                CHECK(t.find("read_faults") != std::string::npos);
                CHECK(t.find("zero_page_grants") != std::string::npos);
                CHECK(t.find("p99") != std::string::npos);
                CHECK(t.find("55.0") != std::string::npos);
                CHECK(t.find("last_writer") != std::string::npos);
            }
        }
    }
    GIVEN("a label that is not valid UTF-8") {
        DsmStats st(1, "bad\xff", 1);
        THEN("the JSON replaces the byte instead of failing") {
            auto j = stats_json_text(st.snapshot(4));
            CHECK(json_well_formed(j));
            CHECK(j.find("\"label\":\"bad\xef\xbf\xbd\"") != std::string::npos);
        }
    }
}
