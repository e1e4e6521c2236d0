#pragma once
// The run's process table, shared by every guest process of a run (one
// host): a MAP_SHARED anonymous array made by the run's process before its
// first fork, so every descendant inherits the same memory. Each process
// writes only its own slot (claimed at its start; thread counts as threads
// come and go; its end); the run's process reads them all for --stats and
// --json. Lock-free: a slot is claimed by a fetch-and-add on the mapping's
// claim counter (slots are handed out in order and never reused), every
// field is an atomic, the program name is written before `state` is set.
// The counter, not a scan from slot 0: a forked process does not have its
// parent's page-table entries for this shared mapping, so a scan past the
// run's earlier processes faulted in one page per ~28 of them, in every
// process (~2 faults per spawn 200 processes into a make).
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "vmm/report/run_report.hpp"

namespace spanvm::process {

struct ProcessSlot {
    enum State : int { kFree = 0, kRunning = 1, kExited = 2, kKilled = 3 };
    std::atomic<int> pid{0};
    std::atomic<int> ppid{0};
    std::atomic<int> state{kFree};
    std::atomic<int> status{0};  // exit status, or the signal for kKilled
    std::atomic<int> threads{0};  // live guest threads
    std::atomic<int> threads_total{0};
    std::atomic<int> node{0};  // the node its image runs on (--place-exec)
    // A placed image's node, at its end: pages it received with their
    // data, pages it filled from its own copy of a file (docs/dsm-protocol.md
    // "Fillers"). Summed over the images the process exec'd there.
    std::atomic<std::uint64_t> node_pages_fetched{0};
    std::atomic<std::uint64_t> node_pages_filled{0};
    // Its system calls there: answered by the node, forwarded to the deputy.
    std::atomic<std::uint64_t> node_syscalls_local{0};
    std::atomic<std::uint64_t> node_syscalls_forwarded{0};
    // Its cluster's layout changes (a placed image's, or the run's own):
    // Layouts sent and waited for, Layouts ridden on a Resume
    // (docs/dsm-protocol.md "Fillers", F6).
    std::atomic<std::uint64_t> layout_round_trips{0};
    std::atomic<std::uint64_t> layouts_ridden{0};
    char program[64] = {};
    void set_program(const std::string& p);
};

class ProcessRegistry {
public:
    static constexpr std::size_t kSlots = 4096;
    // Null when the shared mapping cannot be made (the run goes on without
    // a process table).
    static ProcessRegistry* create();
    // The slot of process `pid` (null when all slots are taken).
    ProcessSlot* claim(int pid, int ppid, const std::string& program);
    // Every claimed slot, in claim order. A process still running is shown
    // "ended by the run" when `run_over` (the run's end killed it).
    std::vector<report::ProcessReport> report(bool run_over) const;
    // The host thread that runs the run's own process's first guest thread
    // (its host main thread only waits, Process::run), for the calls that
    // name a process by its pid and act on its first thread (setpriority,
    // sched_setscheduler: process_syscalls_sched.cpp). 0 until it starts.
    void set_root_main_host_tid(int tid) { header_->root_main_host_tid.store(tid); }
    int root_main_host_tid() const { return header_->root_main_host_tid.load(); }

private:
    // The mapping's first cache line, before the slots.
    struct Header {
        std::atomic<std::uint32_t> next{0};  // slots claimed so far (may pass kSlots)
        std::atomic<int> root_main_host_tid{0};
    };
    static constexpr std::size_t kHeaderBytes = 64;
    static_assert(sizeof(Header) <= kHeaderBytes);
    ProcessRegistry(Header* header, ProcessSlot* slots) : header_(header), slots_(slots) {}
    Header* header_;
    ProcessSlot* slots_;
};

}  // namespace spanvm::process
