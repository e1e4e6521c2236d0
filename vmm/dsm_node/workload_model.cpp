#include "vmm/dsm_node/workload_model.hpp"

#include <algorithm>
#include <numeric>

#include <fmt/format.h>

#include "vmm/base/stats.hpp"

namespace spanvm::dsm_node {

std::uint64_t counter_offset(std::uint64_t index, std::uint64_t pages) {
    std::uint64_t pair = index / 2;
    std::uint64_t page = pair % pages;
    std::uint64_t round = pair / pages;
    return page * 4096 + round * 128 + (index % 2) * 64;
}

std::uint64_t max_counters(std::uint64_t pages) { return pages * 2 * (4096 / 128); }

std::uint64_t stress_value(std::uint64_t owner, std::uint64_t step) { return ((owner + 1) << 48) | (step + 1); }
std::uint64_t stress_value_owner(std::uint64_t value) { return value >> 48; }
std::uint64_t stress_value_step(std::uint64_t value) { return value & ((std::uint64_t{1} << 48) - 1); }

namespace {
std::uint64_t splitmix64(std::uint64_t& s) {
    std::uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
}  // namespace

StressOwner::StressOwner(const StressParams& p, std::uint64_t owner)
    : p_(p), owner_(owner), state_(p.seed * 0xD1B54A32D192ED03ull ^ (owner + 1) * 0x9E3779B97F4A7C15ull) {}

StressOp StressOwner::next() {
    std::uint64_t r = splitmix64(state_);
    StressOp op;
    if (r % 4 != 0) {
        op.write = true;
        op.own_index = (r >> 8) % p_.slots_per_owner();
        op.slot = owner_ + op.own_index * p_.owners();
        op.value = stress_value(owner_, step_);
    } else {
        op.slot = (r >> 8) % p_.slots();
    }
    ++step_;
    return op;
}

std::string stress_check_foreign(const StressParams& p, std::uint64_t slot, std::uint64_t value) {
    if (value == 0) return {};
    std::uint64_t owner = slot % p.owners();
    bool owned_slot = slot < p.slots_per_owner() * p.owners();
    if (!owned_slot)
        return fmt::format("slot {} (owned by nobody) holds {:#x}", slot, value);
    if (stress_value_owner(value) != owner + 1)
        return fmt::format("slot {} of owner {} holds {:#x}, written by owner {}", slot, owner, value,
                           static_cast<std::int64_t>(stress_value_owner(value)) - 1);
    if (stress_value_step(value) == 0 || stress_value_step(value) > p.iterations)
        return fmt::format("slot {} of owner {} holds {:#x}: step out of range", slot, owner, value);
    return {};
}

std::vector<std::uint64_t> stress_final_values(const StressParams& p) {
    std::vector<std::uint64_t> v(p.slots(), 0);
    for (std::uint64_t w = 0; w < p.owners(); ++w) {
        StressOwner o(p, w);
        for (std::uint64_t i = 0; i < p.iterations; ++i) {
            StressOp op = o.next();
            if (op.write) v[op.slot] = op.value;
        }
    }
    return v;
}

std::uint64_t page_checksum(const std::uint64_t* words, std::size_t n) {
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (std::size_t i = 0; i < n; ++i)
        for (int b = 0; b < 8; ++b) {
            h ^= (words[i] >> (8 * b)) & 0xff;
            h *= 0x100000001b3ull;
        }
    return h;
}

SampleSummary summarize_samples(std::vector<std::uint64_t> ns) {
    const stats::Summary t = stats::summarize(std::move(ns));
    auto us = [](auto v) { return static_cast<double>(v) / 1000.0; };
    SampleSummary s;
    s.count = t.count;
    s.min_us = us(t.min);
    s.max_us = us(t.max);
    s.p50_us = us(t.p50);
    s.p90_us = us(t.p90);
    s.p99_us = us(t.p99);
    s.mean_us = us(t.mean);
    return s;
}

std::string SbTally::to_string() const {
    return fmt::format("r0=0,r1=0:{} r0=0,r1=1:{} r0=1,r1=0:{} r0=1,r1=1:{}", counts[0], counts[1], counts[2],
                       counts[3]);
}

}  // namespace spanvm::dsm_node
