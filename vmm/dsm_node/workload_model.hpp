#pragma once
// Pure reference logic of the built-in DSM workloads (vmm/dsm_node/workloads.hpp):
// where the counters live, the stress workload's deterministic per-owner
// operation sequence and its expected final memory, page checksums, sample
// percentiles and litmus outcome tallies. No I/O, no threads.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace spanvm::dsm_node {

inline constexpr std::size_t kWordsPerPage = 4096 / 8;

// ---- counter: counter i lives at this byte offset of the region. Two
// counters share each page (different cache lines), consecutive pairs go to
// consecutive pages, wrapping to higher offsets when pages run out.
std::uint64_t counter_offset(std::uint64_t index, std::uint64_t pages);
// Largest counter count that fits in `pages` pages.
std::uint64_t max_counters(std::uint64_t pages);

// ---- stress. Owner w = node * threads + thread owns the 8-byte slots
// j with j % owners == w over all pages, so every page is written by many
// owners (false sharing). Values encode (owner + 1, step + 1).
struct StressParams {
    std::uint64_t seed = 1;
    std::uint32_t nodes = 2;
    std::uint32_t threads = 2;
    std::uint64_t pages = 4;
    std::uint64_t iterations = 1000;

    std::uint64_t owners() const { return std::uint64_t{nodes} * threads; }
    std::uint64_t slots() const { return pages * kWordsPerPage; }
    std::uint64_t slots_per_owner() const { return slots() / owners(); }
};

std::uint64_t stress_value(std::uint64_t owner, std::uint64_t step);
std::uint64_t stress_value_owner(std::uint64_t value);  // owner + 1, 0 for an unwritten slot
std::uint64_t stress_value_step(std::uint64_t value);

struct StressOp {
    bool write = false;
    std::uint64_t slot = 0;   // word index in the region
    std::uint64_t value = 0;  // write: value to store
    std::uint64_t own_index = 0;  // write: index among the owner's slots
};

// The deterministic operation sequence of one owner (splitmix64 seeded by
// seed and owner): 3 of 4 operations write one of the owner's slots, 1 of 4
// reads any slot.
class StressOwner {
public:
    StressOwner(const StressParams& p, std::uint64_t owner);
    StressOp next();
    std::uint64_t owner() const { return owner_; }

private:
    StressParams p_;
    std::uint64_t owner_;
    std::uint64_t state_;
    std::uint64_t step_ = 0;
};

// Error text for a read of `value` from `slot` by a reader that is not its
// owner, or empty if the value is one the owner can have written.
std::string stress_check_foreign(const StressParams& p, std::uint64_t slot, std::uint64_t value);
// The final value of every slot after every owner ran all its operations.
std::vector<std::uint64_t> stress_final_values(const StressParams& p);
// FNV-1a over the page's words (as little-endian bytes).
std::uint64_t page_checksum(const std::uint64_t* words, std::size_t n = kWordsPerPage);

// ---- latency samples.
struct SampleSummary {
    std::size_t count = 0;
    double min_us = 0, p50_us = 0, p90_us = 0, p99_us = 0, max_us = 0, mean_us = 0;
};
// Nearest-rank percentiles of nanosecond samples (vmm/base/stats.hpp), in us.
SampleSummary summarize_samples(std::vector<std::uint64_t> ns);

// ---- litmus tallies. Store buffering: index r0 * 2 + r1; (0, 0) is the
// outcome sequential consistency forbids.
struct SbTally {
    std::array<std::uint64_t, 4> counts{};
    void add(std::uint64_t r0, std::uint64_t r1) { counts[(r0 ? 2 : 0) + (r1 ? 1 : 0)]++; }
    std::uint64_t forbidden() const { return counts[0]; }
    std::string to_string() const;  // "r0=0,r1=0:N r0=0,r1=1:N ..."
};

}  // namespace spanvm::dsm_node
