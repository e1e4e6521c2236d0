#pragma once
// Deterministic simulator for the DSM protocol (vmm/dsm/protocol.hpp):
// N Protocol instances over an in-memory network (per-pair FIFO, random
// order across pairs), a model of the userfaultfd backend (per-node page
// protection + data), simulated threads issuing random reads/writes, and
// read-ahead requests for pages no thread waits for (as the engine's
// ReadAhead issues them).
// After every step it checks:
//   * at most one writable (Modified) mapping per page, and none alongside
//     a readable one;
//   * every mapped copy equals the reference memory (the value of the latest
//     completed write in the single global order of completed operations);
//   * every completed read returned the reference value;
//   * no protocol error; no deadlock (nothing deliverable, no timer, but
//     blocked operations); bounded drain (livelock);
//   * at quiescence the directories match the nodes' states exactly, and
//     (dynamic homes) every node's table names the same home, none frozen.
// With dynamic homes a request, Done, forward or grant that reaches a node
// which is not (or no longer) the page's home is a protocol error.
// Same seed + config = same run (own PRNG use, no wall clock).
// DSM_SIM_TRACE in the environment prints every delivered message.
#include <cstdint>
#include <string>

#include "vmm/dsm/protocol_types.hpp"

namespace spanvm::dsm::sim {

struct SimConfig {
    std::uint64_t seed = 1;
    unsigned nodes = 3;
    unsigned pages = 2;
    unsigned words = 2;            // 4-byte words per page
    unsigned threads = 2;          // per node
    std::uint64_t steps = 500;     // steps during which new operations start
    TimeNs hold_ns = 0;
    std::string home = "interleave";  // HomePolicy::parse spec
    bool initial_owner = false;       // node 0 starts owning every page
    // Dynamic homes (vmm/dsm/home_table.hpp): homes hand pages over at random
    // (Move events) and by the migration rule (threshold `migrate`, 0 = off).
    bool dynamic_homes = false;
    unsigned migrate = 0;
    FaultInjection bug = FaultInjection::None;
    // Run requests (docs/dsm-protocol.md "Runs"): nodes also ask for random
    // stretches of pages with Protocol::request_ahead, which the home starts
    // on idle pages and refuses on busy ones.
    bool runs = false;
    // First-use claims (docs/dsm-protocol.md "Claims", needs dynamic homes):
    // faults and requests no thread waits for from Invalid are sent as
    // claims at random; a home hands the never-used pages of the page's
    // aligned chunk of `claim_chunk` pages to the claimant.
    bool claims = false;
    unsigned claim_chunk = 2;
    // Fillers (docs/dsm-protocol.md "Fillers"): a page's never-written
    // content is a filler every node produces by itself (here a pattern per
    // page and word, not zero); grants of DataKind::Zero install it.
    bool fill = false;
    // Rides (docs/dsm-protocol.md "Fillers", F6; 2 nodes, static homes):
    // node 0 maps a file over pages no node was ever handed (Map events),
    // which changes their filler on node 0 at once and on node 1 when node
    // 1 follows: held while node 1 has not started (its threads, read-ahead
    // and runs wait for a Start event, which applies what is held first),
    // at once (an acked Layout) after that.
    bool ride = false;
    // Fills on the link (F7, with --ride): node 1 runs from the start, and
    // node 0's fill for it is a packet on node 0's FIFO channel to node 1,
    // queued when node 0 asks the home (only pages homed at node 0 are
    // mapped: a home at node 1 gets the Query after the fill on that same
    // channel, not modelled here); node 1 sets its filler when the packet
    // is delivered.
    bool link_fill = false;
    // Discards (docs/dsm-protocol.md "Discards", needs dynamic homes): a home
    // discards a page at random (the origin's munmap / MADV_DONTNEED): where
    // it alone holds the page, idle, it drops its copy and the page is
    // pristine again (Protocol::reclaim_zero), and its content is the
    // filler from then on. (Where it cannot, the origin zeroes the page
    // through the coherent mapping: ordinary writes, as the threads issue.)
    bool discard = false;
};

struct SimResult {
    bool ok = true;
    std::string failure;  // one line, empty if ok
    std::uint64_t steps = 0;
    std::uint64_t ops_completed = 0;
    std::uint64_t faults = 0;
    std::uint64_t messages = 0;
    std::uint64_t moves = 0;  // home handovers completed
    std::uint64_t run_pages = 0;  // pages asked for by RunAhead events
    std::uint64_t refusals = 0;   // Refuse messages delivered
    std::uint64_t claims = 0;     // claims granted (moves started by a claim)
    std::uint64_t pages_claimed = 0;
    std::uint64_t maps = 0;  // --ride: pages a file was mapped over
    std::uint64_t reclaims = 0;  // --discard: pages a discard made pristine again
};

SimResult run_simulation(const SimConfig& cfg);

// Command line that reproduces `cfg` with the dsm_sim executable.
std::string repro_command(const SimConfig& cfg);

}  // namespace spanvm::dsm::sim
