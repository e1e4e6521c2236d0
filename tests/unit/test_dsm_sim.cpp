// The simulator as a library: a few seeds pass, broken variants are caught,
// and runs are reproducible.
#include <doctest/doctest.h>

#include "tests/sim/sim_cluster.hpp"

using namespace spanvm::dsm;
using namespace spanvm::dsm::sim;

SCENARIO("the DSM simulator checks real runs") {
    GIVEN("3 nodes, 2 pages, 2 threads each") {
        SimConfig c;
        c.nodes = 3;
        c.pages = 2;
        c.steps = 300;
        WHEN("50 seeds run against the correct protocol") {
            THEN("all pass and do real work") {
                for (std::uint64_t s = 1; s <= 50; ++s) {
                    c.seed = s;
                    SimResult r = run_simulation(c);
                    REQUIRE_MESSAGE(r.ok, r.failure, " -- ", repro_command(c));
                    CHECK(r.ops_completed > 0);
                    CHECK(r.messages > 0);
                }
            }
        }
        WHEN("a seed runs twice") {
            c.seed = 77;
            SimResult a = run_simulation(c), b = run_simulation(c);
            THEN("the runs are identical") {
                CHECK(a.steps == b.steps);
                CHECK(a.ops_completed == b.ops_completed);
                CHECK(a.messages == b.messages);
            }
        }
        for (auto [bug, what] : {std::pair{FaultInjection::SkipInvalidateAck, "deadlock"},
                                 std::pair{FaultInjection::AckWithoutDrop, "writable on one node and readable"},
                                 std::pair{FaultInjection::SkipDoneWait, "(no copy)"},
                                 std::pair{FaultInjection::IgnoreAcks, "writable on one node and readable"}}) {
            WHEN("the protocol has a deliberate bug") {
                c.bug = bug;
                bool caught = false;
                std::string failure;
                for (std::uint64_t s = 1; s <= 50 && !caught; ++s) {
                    c.seed = s;
                    SimResult r = run_simulation(c);
                    caught = !r.ok;
                    failure = r.failure;
                }
                THEN("some seed fails with the matching diagnosis") {
                    REQUIRE(caught);
                    CHECK_MESSAGE(failure.find(what) != std::string::npos, failure);
                    CHECK(repro_command(c).find(std::string("--bug ") + std::string(to_string(bug))) !=
                          std::string::npos);
                }
            }
        }
    }
}
