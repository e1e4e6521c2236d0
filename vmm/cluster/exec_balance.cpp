#include "vmm/cluster/exec_balance.hpp"

namespace spanvm::cluster {

bool worth_placing(const ProgramHistory& h) {
    if (h.runs == 0) return !h.forks;
    return h.busy_ms >= kWorthPlacingBusyMs * h.runs;  // mean >= threshold, without a division
}

unsigned least_loaded_node(std::span<const NodeBalance> nodes) {
    unsigned best = 0;
    auto cpus = [&](unsigned k) -> std::uint64_t { return nodes[k].cpus ? nodes[k].cpus : 1; };
    for (unsigned k = 1; k < nodes.size(); ++k)
        // running(k) / cpus(k) < running(best) / cpus(best), cross-multiplied.
        if (nodes[k].running * cpus(best) < nodes[best].running * cpus(k)) best = k;
    return best;
}

std::uint64_t program_key(std::string_view program) {
    std::uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a 64-bit offset basis
    for (unsigned char c : program) {
        h ^= c;
        h *= 0x100000001b3ull;  // FNV-1a 64-bit prime
    }
    return h ? h : 1;
}

}  // namespace spanvm::cluster
