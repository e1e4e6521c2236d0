#pragma once
// What `spanvm run` reports at exit (--stats as text, --json as a file):
// plain structs, no I/O. The process fills the thread rows
// (ThreadTable::report), the cluster fills the machine rows and hot pages
// (OriginCluster::report); run_report_text.cpp is the only place they are
// rendered as text and run_report_json.cpp the only place they are
// serialised.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace spanvm::report {

// One guest thread. A thread on another node (node != 0) is served by an
// executor at the origin: `host_tid` is then the executor's host thread and
// `remote_host_tid` the thread's own on its node (0 until its first trap).
struct ThreadReport {
    int tid = 0;
    unsigned node = 0;
    unsigned vcpu = 0;
    int host_tid = 0;
    int remote_host_tid = 0;
    std::uint64_t syscalls_local = 0;      // run where the thread runs
    std::uint64_t syscalls_forwarded = 0;  // run by its executor at the origin
    std::uint64_t exits_syscall = 0;
    std::uint64_t exits_exception = 0;
    std::uint64_t exits_other = 0;
    std::uint64_t read_faults = 0;   // DSM faults (distributed mode)
    std::uint64_t write_faults = 0;
    std::uint64_t migrations = 0;  // moves between nodes (`--place auto`)
    std::string state;  // "running", "exited", ...
    int pid = 0;        // the guest process the thread belongs to
};

// One guest process of the run (one host; a fork is a spanvm process).
// `status`: the exit status ("exited") or the signal ("killed").
struct ProcessReport {
    int pid = 0;
    int ppid = 0;
    unsigned node = 0;
    unsigned threads = 0;        // live at the end
    unsigned threads_total = 0;  // ever started
    // --place-exec: its image's node received / filled from a file (pages).
    std::uint64_t node_pages_fetched = 0;
    std::uint64_t node_pages_filled = 0;
    // --place-exec: the placed image's system calls its node answered itself
    // and those it forwarded to this process (its deputy).
    std::uint64_t node_syscalls_local = 0;
    std::uint64_t node_syscalls_forwarded = 0;
    // Its cluster's Layouts: sent and waited for (a round trip each), and
    // ridden on a Resume (docs/dsm-protocol.md "Fillers", F6).
    std::uint64_t layout_round_trips = 0;
    std::uint64_t layouts_ridden = 0;
    int status = 0;
    std::string state;  // "running", "exited", "killed", "ended by the run"
    std::string program;
};

// A node's own counters, from its Stats message at shutdown (the origin's
// are read directly).
struct NodeCounters {
    std::uint64_t bytes_sent = 0;
    std::uint64_t bytes_received = 0;
    std::uint64_t read_faults = 0;
    std::uint64_t write_faults = 0;
    std::uint64_t remote_fetches = 0;
    std::uint64_t home_first_touch_faults = 0;  // first touches at the home that reached user space
    std::uint64_t remote_first_touches = 0;     // requests for never-used pages that crossed the network
    std::uint64_t home_migrations = 0;          // pages this node handed to another home (migration)
    std::uint64_t pages_rehomed = 0;            // fresh pages homed at the mapping thread's node
    std::uint64_t claim_requests = 0;           // first-use claims this node sent
    std::uint64_t claims = 0;                   // claims this node granted as a home (one hand-over each)
    std::uint64_t pages_claimed = 0;            // never-used pages those hand-overs moved
    std::uint64_t pages_filled = 0;             // pages installed from a file filler there, no transfer
    std::uint64_t shared_chunk_first_touches = 0;  // requests for never-used pages of a chunk two nodes use
};

// One row of the machine table.
struct MachineReport {
    unsigned id = 0;
    std::string address;
    std::uint16_t port = 0;
    std::string endpoint;  // address:port as the logs write it ([v6]:port)
    unsigned threads = 0;  // live guest threads placed there
    std::optional<NodeCounters> counters;  // absent: the node sent none
    std::string state;  // "origin", "up" or "stopped"
    unsigned processes = 0;  // guest processes whose image ran there (process table's node; --place-exec)
};

// One page of guest RAM by DSM traffic, at the origin.
struct HotPage {
    std::uint64_t guest_address = 0;
    std::uint64_t read_faults = 0;
    std::uint64_t write_faults = 0;
    std::uint64_t invalidations = 0;
    std::uint64_t bytes_sent = 0;
};

// One thread migration (`--place auto`), in the order they happened.
struct MigrationReport {
    int tid = 0;
    unsigned from = 0;
    unsigned to = 0;
    double at_s = 0;           // seconds since the cluster started
    std::uint64_t cost_ns = 0;  // the move itself, on the moving thread
    std::string reason;
};

// The distributed mode's part of the report.
struct ClusterReport {
    std::string placement;  // --place policy
    std::vector<MigrationReport> migrations;
    std::vector<MachineReport> machines;
    // Hottest first; false when the origin had no DSM to ask (no table).
    bool has_hot_pages = false;
    std::vector<HotPage> hot_pages;
    // The origin's discards (munmap, MADV_DONTNEED, mmap over a range):
    // pages made pristine again with no zeroing (only the origin had them)
    // and pages zeroed through the coherent mapping (docs/dsm-protocol.md
    // "Discards").
    std::uint64_t discard_pages_reclaimed = 0;
    std::uint64_t discard_pages_zeroed = 0;
};

struct RunReport {
    std::string platform;         // "kvm" or "native"
    std::string platform_reason;  // one line: which platform and why
    int pid = 0;
    unsigned vcpus_created = 0;
    int exit_status = 0;
    std::vector<ThreadReport> threads;
    // Every process of the run (its own first); empty when it forked none.
    std::vector<ProcessReport> processes;
    std::optional<ClusterReport> cluster;  // only for a program that spans hosts
};

}  // namespace spanvm::report
