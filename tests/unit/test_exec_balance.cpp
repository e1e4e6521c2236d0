// `--place-exec least-loaded`'s choice (vmm/cluster/exec_balance): which
// images are worth moving and which node gets them. Pure logic.
#include <doctest/doctest.h>

#include <vector>

#include "vmm/cluster/exec_balance.hpp"

using namespace spanvm::cluster;

TEST_CASE("exec_balance: a program never seen is worth placing; a briefly busy one is not") {
    CHECK(worth_placing({}));
    // cc1 of a ~1 s compile: busy ~900 ms per run.
    CHECK(worth_placing({2, 1800}));
    // The cc driver (waits for cc1 and as) and as: ~20-60 ms busy per run.
    CHECK_FALSE(worth_placing({4, 4 * 40}));
    // The threshold is the mean: exactly at it places, one ms under does not.
    CHECK(worth_placing({3, 3 * kWorthPlacingBusyMs}));
    CHECK_FALSE(worth_placing({3, 3 * kWorthPlacingBusyMs - 1}));
    // One long run among short ones: the mean decides.
    CHECK(worth_placing({2, 10 + 2 * kWorthPlacingBusyMs}));
}

TEST_CASE("exec_balance: a program that forks moves only on its history") {
    // The second `cc` driver of a make -j2, while the first one waits for
    // its cc1: no run has ended, but one forked.
    CHECK_FALSE(worth_placing({0, 0, true}));
    // Its history decides once images have ended: a busy spawner moves.
    CHECK(worth_placing({2, 2 * kWorthPlacingBusyMs, true}));
    CHECK_FALSE(worth_placing({2, 2 * 40, true}));
}

TEST_CASE("exec_balance: the node with the fewest running images per CPU, ties to the lowest id") {
    CHECK(least_loaded_node({}) == 0);
    std::vector<NodeBalance> idle{{0, 1}, {0, 1}};
    CHECK(least_loaded_node(idle) == 0);  // the origin first: no deputy
    // make -j2 on 2 hosts x 1 CPU: one cc1 compiling at the origin, the
    // next goes to host 1; with one on each, the third goes to the origin.
    std::vector<NodeBalance> one_here{{1, 1}, {0, 1}};
    CHECK(least_loaded_node(one_here) == 1);
    std::vector<NodeBalance> one_each{{1, 1}, {1, 1}};
    CHECK(least_loaded_node(one_each) == 0);
    std::vector<NodeBalance> two_away{{1, 1}, {2, 1}};
    CHECK(least_loaded_node(two_away) == 0);
}

TEST_CASE("exec_balance: per CPU, and a node that reported no CPUs counts one") {
    // Host 2 has 4 CPUs and 3 running: 0.75 per CPU beats 1 of 1.
    std::vector<NodeBalance> big{{1, 1}, {1, 1}, {3, 4}};
    CHECK(least_loaded_node(big) == 2);
    std::vector<NodeBalance> unknown{{2, 2}, {0, 0}};
    CHECK(least_loaded_node(unknown) == 1);
    std::vector<NodeBalance> unknown_busy{{1, 2}, {1, 0}};
    CHECK(least_loaded_node(unknown_busy) == 0);
}

TEST_CASE("exec_balance: program keys are stable, distinct and never 0") {
    CHECK(program_key("/usr/lib/gcc/x86_64-linux-gnu/12/cc1") == program_key("/usr/lib/gcc/x86_64-linux-gnu/12/cc1"));
    CHECK(program_key("/usr/bin/as") != program_key("/usr/bin/ld"));
    CHECK(program_key("") != 0);
    CHECK(program_key("a") != 0);
}
