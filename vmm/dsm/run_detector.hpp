#pragma once
// RunDetector: per-stream trend detection for DSM faults, after Leap
// (Al Maruf and Chowdhury, ATC'20): a stream is one faulting thread and one
// access kind, and its trend is the majority delta over its last kHistory
// faults. Pure logic (no I/O, not thread-safe: the engine calls it from its
// fault thread only).
//
// A fault on page p continues its stream when it lands just after the
// stream's position or inside the pages already asked for
// (pos < p <= max(pos + 1, next)); that counts as delta +1. Any other fault
// counts as delta p - pos. While the majority delta of the window is +1 the
// stream survives stray faults (a thread touching its stack or a lock
// between two pages of a buffer): the position and the run in flight are
// kept. When the majority is lost the stream restarts at p with an empty
// window. Each fault that
// continues a stream with a +1 majority doubles the run length (kMinRun ..
// kMaxRun); the first fault of a new stream asks for nothing.
//
// The answer is the run to request now, [first, end), never overlapping what
// the stream asked for before, so a stream keeps about one run in flight.
// Coherence does not depend on the guess (the engine turns the run into
// optional requests the home may refuse, docs/dsm-protocol.md "Runs").
//
// Streams are keyed by (host thread id, access); at most kStreams are
// tracked, the least recently used one is replaced. A thread id of 0 (the
// kernel did not say) is one shared stream per access kind.
#include <array>
#include <cstddef>
#include <cstdint>

#include "vmm/dsm/messages.hpp"

namespace spanvm::dsm {

class RunDetector {
public:
    static constexpr std::size_t kStreams = 16;
    static constexpr std::size_t kHistory = 8;  // Leap's window of recent fault deltas
    static constexpr PageIndex kMinRun = 4;
    static constexpr PageIndex kMaxRun = 64;    // one run request names at most 64 pages

    explicit RunDetector(PageIndex num_pages) : pages_(num_pages) {}

    struct Range {
        PageIndex first = 0, end = 0;  // [first, end); empty when first >= end
        bool empty() const { return first >= end; }
        PageIndex size() const { return empty() ? 0 : end - first; }
    };

    Range on_fault(std::uint32_t tid, bool write, PageIndex page);

    // The run length of a stream (0 if not tracked); for tests and traces.
    PageIndex run_length(std::uint32_t tid, bool write) const;

private:
    struct Stream {
        bool used = false;
        std::uint32_t tid = 0;
        bool write = false;
        bool positioned = false;    // pos/next are set (the stream had a fault)
        std::uint64_t stamp = 0;    // LRU
        PageIndex pos = 0;          // last page that continued the stream
        PageIndex next = 0;         // first page not yet asked for
        PageIndex run = 0;          // current run length
        std::array<std::int64_t, kHistory> deltas{};
        std::size_t filled = 0, head = 0;
    };
    Stream& find(std::uint32_t tid, bool write);
    // The delta held by more than half of the window, or 0 when none.
    static std::int64_t majority(const Stream& s);
    static void restart(Stream& s, PageIndex page);

    PageIndex pages_;
    std::uint64_t clock_ = 0;
    std::array<Stream, kStreams> streams_{};
};

}  // namespace spanvm::dsm
