#pragma once
// `--place-exec least-loaded`'s choice, as pure logic (no I/O; the caller,
// vmm/cli/exec_deputies.cpp, keeps the counts in the run's shared page).
//
// Two questions per execve:
//  * Is the image worth moving? A placed image costs a fixed ~100-150 ms
//    (its session's join, its loader's round trips) and its deputy's CPU at
//    the origin for every forwarded call (~80-130 ms for a `cc` driver or
//    `as`, bench/results/make2-2026-12-05), so an image that is busy only
//    briefly runs faster and cheaper at the origin. The answer comes from
//    the earlier images of the same program in this run that ran at the
//    origin (the caller's rule: a placed image's time holds its
//    placement's cost): their mean busy time (lifetime less the time
//    blocked waiting for a child: a compiler driver that waits for cc1 and
//    as is not busy). A program never seen is worth moving (the first cc1
//    of a build must spread too), unless an image of it has forked (one
//    still running, say): a placed image's fork gathers every page its
//    node holds back to the origin (vmm/process/process_fork_cluster.cpp)
//    and its children are placed on their own, so a program that spawns
//    (a `cc` driver, a shell, collect2) moves only when its history says
//    its images are busy.
//  * Where? The node with the fewest *running* images per CPU: placed
//    there (or kept at the origin), alive and not blocked in wait4/waitid
//    for a child, counted by the origin as they start, wait and end. The
//    nodes' own reports (NodeLoad) lag behind a burst of execs and count a
//    waiting driver like a compiling cc1. Ties go to the lowest id, the
//    origin first (an image there needs no deputy).
#include <cstdint>
#include <span>
#include <string_view>

namespace spanvm::cluster {

// An image busy for less than this on average (its program's earlier runs)
// stays at the origin: about twice a placed exec's fixed cost.
inline constexpr std::uint64_t kWorthPlacingBusyMs = 300;

// What the run has seen of one program's images.
struct ProgramHistory {
    std::uint64_t runs = 0;     // images of it that ended
    std::uint64_t busy_ms = 0;  // their busy time, summed
    bool forks = false;         // an image of it (ended or not) forked a child
};

// True when an image of a program with this history should be placed by
// load (false: it stays at the origin).
bool worth_placing(const ProgramHistory& h);

// One node as the chooser sees it.
struct NodeBalance {
    std::uint64_t running = 0;  // images running there (not waiting for a child)
    std::uint64_t cpus = 1;     // CPUs it may use (0 is taken as 1)
};

// The node with the fewest running images per CPU; ties go to the lowest
// id. An empty span gives 0.
unsigned least_loaded_node(std::span<const NodeBalance> nodes);

// A program's key in the run's history table: FNV-1a of its path, never 0
// (0 marks a free slot).
std::uint64_t program_key(std::string_view program);

}  // namespace spanvm::cluster
