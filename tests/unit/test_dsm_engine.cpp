// DsmEngine in one process: two nodes on loopback (two UffdRegions, two
// transports). Needs root or vm.unprivileged_userfaultfd=1 (not skipped).
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <string>
#include <thread>

#include "net/free_ports.hpp"
#include "vmm/dsm/dsm_engine.hpp"
#include "vmm/dsm_node/workload_model.hpp"
#include "vmm/dsm_node/workloads.hpp"

using namespace spanvm::dsm;
using namespace spanvm::dsm_node;
using namespace std::chrono_literals;

namespace {

std::vector<std::unique_ptr<DsmEngine>> make_engines(const spanvm::net::ClusterConfig& cfg, std::uint64_t pages,
                                                     std::uint64_t hold_us = 0, const std::string& home = "interleave") {
    std::vector<std::unique_ptr<DsmEngine>> v;
    for (NodeId n = 0; n < cfg.size(); ++n) {
        DsmEngineOptions o;
        o.cluster = cfg;
        o.self = n;
        o.pages = pages;
        o.hold_us = hold_us;
        o.home = home;
        o.overall_timeout = 60s;
        auto e = DsmEngine::create(o);
        REQUIRE_MESSAGE(e.has_value(), (e ? std::string() : e.error().message));
        v.push_back(std::move(*e));
    }
    return v;
}

// start() blocks until every peer is connected: start all nodes at once.
void start_all(std::vector<std::unique_ptr<DsmEngine>>& engines) {
    std::vector<std::future<spanvm::Result<void>>> f;
    for (auto& e : engines) f.push_back(std::async(std::launch::async, [&e] { return e->start(); }));
    for (auto& x : f) {
        auto r = x.get();
        REQUIRE_MESSAGE(r.has_value(), (r ? std::string() : r.error().message));
    }
}

}  // namespace

SCENARIO("two in-process DSM nodes run the counter workload exactly") {
    GIVEN("two engines on loopback with 16 pages each") {
        auto cfg = spanvm::net::loopback_cluster(2, "engine-test");
        auto engines = make_engines(cfg, 16);
        start_all(engines);
        WHEN("each runs 2 threads x 100 iterations of lock xadd on 8 counters") {
            WorkloadOptions wo;
            wo.kind = WorkloadKind::counter;
            wo.threads = 2;
            wo.iterations = 100;
            std::vector<std::future<spanvm::Result<WorkloadOutcome>>> f;
            for (auto& e : engines)
                f.push_back(std::async(std::launch::async, [&e, &wo] { return run_workload(*e, wo); }));
            auto r0 = f[0].get();
            auto r1 = f[1].get();
            THEN("node 0's check passes and every counter is exactly 2*2*100 on both nodes") {
                REQUIRE(r0.has_value());
                REQUIRE(r1.has_value());
                CHECK(r0->ok);
                CHECK(r0->check_line.rfind("CHECK ok counter total=3200", 0) == 0);
                CHECK(r1->check_line.empty());
                for (std::uint64_t c = 0; c < 8; ++c)
                    for (auto& e : engines) {
                        std::atomic_ref<std::uint64_t> v(
                            *reinterpret_cast<std::uint64_t*>(e->base() + counter_offset(c, 16)));
                        CHECK(v.load() == 400);
                    }
                CHECK(engines[0]->stats().get(DsmStats::Counter::write_faults) > 0);
                CHECK(engines[1]->stats().get(DsmStats::Counter::remote_fetches) > 0);
            }
            std::vector<std::future<spanvm::Result<void>>> s;
            for (auto& e : engines) s.push_back(std::async(std::launch::async, [&e] { return e->shutdown(10s); }));
            for (auto& x : s) CHECK(x.get().has_value());
        }
    }
}

SCENARIO("two in-process DSM nodes with a hold time pass the stress workload") {
    GIVEN("two engines with a 100 us minimum hold (deferred Invalidate/Forward on several pages)") {
        auto cfg = spanvm::net::loopback_cluster(2, "engine-hold");
        auto engines = make_engines(cfg, 4, 100);
        start_all(engines);
        WHEN("each runs 2 stress threads x 1500 operations on falsely shared pages") {
            WorkloadOptions wo;
            wo.kind = WorkloadKind::stress;
            wo.threads = 2;
            wo.iterations = 1500;
            wo.seed = 11;
            std::vector<std::future<spanvm::Result<WorkloadOutcome>>> f;
            for (auto& e : engines)
                f.push_back(std::async(std::launch::async, [&e, &wo] { return run_workload(*e, wo); }));
            auto r0 = f[0].get();
            auto r1 = f[1].get();
            THEN("every page checksum matches the replayed model and no read was bad") {
                REQUIRE(r0.has_value());
                REQUIRE(r1.has_value());
                CHECK_MESSAGE(r0->ok, r0->check_line);
                CHECK(r0->check_line.rfind("CHECK ok stress", 0) == 0);
                CHECK(r1->ok);
            }
            std::vector<std::future<spanvm::Result<void>>> s;
            for (auto& e : engines) s.push_back(std::async(std::launch::async, [&e] { return e->shutdown(10s); }));
            for (auto& x : s) CHECK(x.get().has_value());
        }
    }
}

SCENARIO("downgrade-ahead: read forwards write-protect the owner's block, its writes stay local") {
    GIVEN("node 0 (home of all pages) has written pages 0-7 (Modified there)") {
        auto cfg = spanvm::net::loopback_cluster(2, "engine-ahead");
        auto engines = make_engines(cfg, 8, 0, "node:0");
        start_all(engines);
        auto word = [&](NodeId n, std::uint64_t page) {
            return std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(engines[n]->base() + page * 4096));
        };
        for (std::uint64_t p = 0; p < 8; ++p) word(0, p).store(1000 + p);
        // Not adjacent pages: a sequential pair would start read-ahead.
        WHEN("node 1 reads pages 0 and 4 (two read forwards in one block)") {
            CHECK(word(1, 0).load() == 1000);
            CHECK(word(1, 4).load() == 1004);
            THEN("node 0's other writable pages are read-only mappings of Modified pages") {
                for (std::uint64_t p : {1, 2, 3, 5, 6, 7}) {
                    CHECK(engines[0]->local_state(p) == LocalState::Modified);
                    CHECK(engines[0]->region().presence(p) == UffdRegion::Presence::read_only);
                }
                AND_THEN("a write there is served locally, and node 1 then reads the new value") {
                    auto msgs_before = engines[0]->stats().get(DsmStats::Counter::bytes_sent);
                    word(0, 2).store(2002);
                    // The waker records the presence just after the ioctl that woke us.
                    auto until = std::chrono::steady_clock::now() + 2s;
                    while (engines[0]->region().presence(2) != UffdRegion::Presence::writable &&
                           std::chrono::steady_clock::now() < until)
                        std::this_thread::sleep_for(1ms);
                    CHECK(engines[0]->region().presence(2) == UffdRegion::Presence::writable);
                    CHECK(engines[0]->local_state(2) == LocalState::Modified);
                    CHECK(engines[0]->stats().get(DsmStats::Counter::bytes_sent) == msgs_before);
                    CHECK(word(1, 2).load() == 2002);
                    CHECK(word(1, 6).load() == 1006);
                    CHECK(engines[0]->local_state(2) == LocalState::Shared);
                }
            }
        }
        std::vector<std::future<spanvm::Result<void>>> s;
        for (auto& e : engines) s.push_back(std::async(std::launch::async, [&e] { return e->shutdown(10s); }));
        for (auto& x : s) CHECK(x.get().has_value());
    }
}

SCENARIO("first-use claims: pages node 0 homes but node 1 uses first cost no per-page message") {
    GIVEN("dynamic homes, every page homed on node 0, 64-page claim chunks; node 0 wrote page 600") {
        auto cfg = spanvm::net::loopback_cluster(2, "engine-claims");
        std::vector<std::unique_ptr<DsmEngine>> engines;
        for (NodeId n = 0; n < 2; ++n) {
            DsmEngineOptions o;
            o.cluster = cfg;
            o.self = n;
            o.pages = 1024;
            o.home = "node:0";
            o.dynamic_homes = true;
            o.claim_chunk = 64;
            o.overall_timeout = 60s;
            auto e = DsmEngine::create(o);
            REQUIRE_MESSAGE(e.has_value(), (e ? std::string() : e.error().message));
            engines.push_back(std::move(*e));
        }
        start_all(engines);
        auto word = [&](NodeId n, std::uint64_t page) {
            return std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(engines[n]->base() + page * 4096));
        };
        using C = DsmStats::Counter;
        word(0, 600).store(6000);  // zero-fill-ahead: pages 512-1023 are node 0's now
        WHEN("node 1 writes pages 0-127, which no node ever had") {
            for (std::uint64_t p = 0; p < 128; ++p) word(1, p).store(100 + p);
            THEN("they came in chunk claims, with no per-page request for a never-used page") {
                CHECK(engines[0]->stats().get(C::remote_first_touches) == 0);
                CHECK(engines[0]->stats().get(C::claims) >= 2);
                CHECK(engines[0]->stats().get(C::pages_claimed) >= 128);
                CHECK(engines[1]->stats().get(C::claim_requests) >= 2);
                CHECK(engines[1]->home_of(5) == 1);
                CHECK(engines[0]->home_of(127) == 1);
                AND_THEN("coherence holds both ways, and a page node 0 had is not claimed") {
                    CHECK(word(0, 5).load() == 105);
                    word(0, 70).store(7000);
                    CHECK(word(1, 70).load() == 7000);
                    const auto claimed = engines[0]->stats().get(C::pages_claimed);
                    CHECK(word(1, 700).load() == 0);
                    word(1, 600).store(6001);
                    CHECK(word(0, 600).load() == 6001);
                    CHECK(engines[0]->home_of(600) == 0);
                    CHECK(engines[0]->home_of(700) == 0);
                    CHECK(engines[0]->stats().get(C::pages_claimed) == claimed);
                    CHECK(engines[0]->stats().get(C::remote_first_touches) == 0);
                }
            }
        }
        std::vector<std::future<spanvm::Result<void>>> s;
        for (auto& e : engines) s.push_back(std::async(std::launch::async, [&e] { return e->shutdown(10s); }));
        for (auto& x : s) CHECK(x.get().has_value());
    }
}

namespace {

// Pages [256, 512) hold a file's bytes until written (page_filler.hpp): word
// k of page p is p * 1000 + k.
class PatternFiller final : public PageFiller {
public:
    bool filled(std::uint64_t page) override { return page >= 256 && page < 512; }
    bool fill(std::uint64_t page, std::byte* out) override {
        if (!filled(page)) return false;
        auto* w = reinterpret_cast<std::uint64_t*>(out);
        for (std::uint64_t k = 0; k < 4096 / 8; ++k) w[k] = page * 1000 + k;
        return true;
    }
};

// Until `pred` holds (a home move in flight), at most 10 s.
template <typename P> bool eventually(P pred) {
    for (int i = 0; i < 1000 && !pred(); ++i) std::this_thread::sleep_for(10ms);
    return pred();
}

}  // namespace

SCENARIO("never-used pages one node uses cost no per-page message; a chunk two nodes use is counted apart") {
    GIVEN("dynamic homes, every page homed on node 0, 64-page claim chunks, pages 256-511 filled from a file") {
        auto cfg = spanvm::net::loopback_cluster(2, "engine-first");
        PatternFiller filler;
        std::vector<std::unique_ptr<DsmEngine>> engines;
        for (NodeId n = 0; n < 2; ++n) {
            DsmEngineOptions o;
            o.cluster = cfg;
            o.self = n;
            o.pages = 1024;
            o.home = "node:0";
            o.dynamic_homes = true;
            o.claim_chunk = 64;
            o.zero_fill_block = 0;  // node 0's touches are exactly its own pages
            o.filler = &filler;
            o.overall_timeout = 60s;
            auto e = DsmEngine::create(o);
            REQUIRE_MESSAGE(e.has_value(), (e ? std::string() : e.error().message));
            engines.push_back(std::move(*e));
        }
        start_all(engines);
        auto word = [&](NodeId n, std::uint64_t page, std::uint64_t k = 0) {
            return std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(engines[n]->base() + page * 4096 + k * 8));
        };
        using C = DsmStats::Counter;
        auto count = [&](C c) { return engines[0]->stats().get(c) + engines[1]->stats().get(c); };
        WHEN("node 1 writes fresh pages 0-127 and reads file pages 256-383, which no node ever had") {
            for (std::uint64_t p = 0; p < 128; ++p) word(1, p).store(100 + p);
            bool file_ok = true;
            for (std::uint64_t p = 256; p < 384; ++p) file_ok = file_ok && word(1, p, 7).load() == p * 1000 + 7;
            THEN("they came in chunk claims, with no per-page request for any of them, and hold their fillers") {
                CHECK(file_ok);
                CHECK(count(C::remote_first_touches) == 0);
                CHECK(count(C::shared_chunk_first_touches) == 0);
                CHECK(engines[0]->stats().get(C::claims) >= 4);
                CHECK(engines[0]->home_of(300) == 1);
                CHECK(engines[1]->stats().get(C::pages_filled) >= 128);
                CHECK(word(0, 5).load() == 105);
                CHECK(word(0, 300, 9).load() == 300009);
            }
        }
        WHEN("node 0 uses page 640, node 1 reads it, node 0 then writes 650 and node 1 reads 660 (chunk 640-703)") {
            word(0, 640).store(6400);
            CHECK(word(1, 640).load() == 6400);  // a claim of a used page: the chunk's 63 others go to node 1
            REQUIRE(eventually([&] { return engines[0]->home_of(650) == 1 && engines[1]->home_of(650) == 1; }));
            word(0, 650).store(6500);  // node 0's claim: 650 and the chunk's never-used rest go back
            REQUIRE(eventually([&] { return engines[1]->home_of(660) == 0; }));
            CHECK(word(1, 660).load() == 0);  // node 1 claimed this chunk once: an ordinary request
            THEN("that one request is a shared-chunk first touch, not a remote first touch") {
                CHECK(engines[0]->stats().get(C::shared_chunk_first_touches) == 1);
                CHECK(count(C::remote_first_touches) == 0);
                CHECK(word(1, 650).load() == 6500);
            }
        }
        std::vector<std::future<spanvm::Result<void>>> s;
        for (auto& e : engines) s.push_back(std::async(std::launch::async, [&e] { return e->shutdown(10s); }));
        for (auto& x : s) CHECK(x.get().has_value());
    }
}

SCENARIO("a DSM node whose peer disappears exits with status 70 naming the peer") {
    GIVEN("a forked child running two connected engines") {
        auto cfg = spanvm::net::loopback_cluster(2, "engine-fail");
        int pipefd[2];
        REQUIRE(pipe(pipefd) == 0);
        pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            close(pipefd[0]);
            dup2(pipefd[1], 2);
            {
                auto engines = make_engines(cfg, 4);
                start_all(engines);
                // Node 1 holds page 1 (its home) Modified, so node 0 depends on it.
                *reinterpret_cast<volatile std::uint64_t*>(engines[1]->base() + 4096) = 5;
                // Node 1's transport stops: node 0 must exit long before 10 s.
                engines[1]->stop();
                std::this_thread::sleep_for(10s);
            }
            _exit(99);
        }
        close(pipefd[1]);
        int status = 0;
        auto end = std::chrono::steady_clock::now() + 20s;
        bool timed_out = false;
        while (waitpid(pid, &status, WNOHANG) != pid) {
            if (std::chrono::steady_clock::now() > end) {
                timed_out = true;
                kill(pid, SIGKILL);
                waitpid(pid, &status, 0);
                break;
            }
            std::this_thread::sleep_for(10ms);
        }
        std::string err;
        char buf[4096];
        ssize_t n;
        while ((n = read(pipefd[0], buf, sizeof buf)) > 0) err.append(buf, static_cast<std::size_t>(n));
        close(pipefd[0]);
        THEN("the child exits 70 within seconds with the fatal line naming node 1") {
            CHECK_FALSE(timed_out);
            REQUIRE(WIFEXITED(status));
            CHECK(WEXITSTATUS(status) == UffdRegion::kFatalExitCode);
            std::string want = "spanvm: fatal: DSM: " + cfg.describe(1) + " failed: ";
            CHECK_MESSAGE(err.find(want) != std::string::npos, err);
        }
    }
}
