#pragma once
// What a never-used page of guest RAM holds (pure, no I/O): its *filler*.
// A page no node ever had reads as zero, unless it lies in a private file
// mapping whose pages were left to be filled from the file (docs/
// dsm-protocol.md "Fillers"): then it holds file `file` at `offset` (the
// bytes past the file's end zero, as Linux's page cache gives them). The
// origin decides (Process::map_file_private, OriginCluster::fill_from_file),
// every node keeps the same table from its Layout messages, and the DSM
// engine installs a page's filler wherever the protocol grants it as never
// written (DataKind::Zero).
//
// Invariant: runs_ holds disjoint, non-empty, page-aligned intervals, each
// naming a file id other than kZeroFile; everything else is zero. Two
// adjacent intervals are joined when they continue one file.
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

namespace spanvm::memory {

inline constexpr std::uint32_t kZeroFile = 0;

// [start, end) (page-aligned guest addresses) is filled from `file` at
// `offset` for `start` (kZeroFile: zero; offset 0).
struct FillRun {
    std::uint64_t start = 0;
    std::uint64_t end = 0;
    std::uint32_t file = kZeroFile;
    std::uint64_t offset = 0;
    bool operator==(const FillRun&) const = default;
};

// One page's filler.
struct PageFill {
    std::uint32_t file = kZeroFile;
    std::uint64_t offset = 0;
    bool operator==(const PageFill&) const = default;
};

class FillTable {
public:
    // Sets [start, end) to `run`'s filler (start, end page-aligned, start < end).
    void set(const FillRun& run);
    // The filler of the page holding addr.
    PageFill at(std::uint64_t addr) const;
    // True iff some page of [start, end) has a file filler.
    bool any_in(std::uint64_t start, std::uint64_t end) const;
    bool empty() const { return runs_.empty(); }
    // The file-filled intervals, ascending.
    std::vector<FillRun> runs() const;

private:
    struct Interval {
        std::uint64_t end;
        std::uint32_t file;
        std::uint64_t offset;
    };
    std::map<std::uint64_t, Interval> runs_;  // start -> interval
};

}  // namespace spanvm::memory
