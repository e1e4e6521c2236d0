#pragma once
// Where a new guest thread runs (pure; `--place`):
//   auto         round-robin to start, then threads migrate so that those
//                that share pages gather on one node (sharing_policy.hpp;
//                the default)
//   round-robin  the main thread stays on the origin; each new thread goes
//                to the next node in id order, wrapping around
//   origin       every thread on the origin: the distributed code path with
//                no remote thread, as a baseline
//   pack         fill each node's CPUs before the next node (node 0 first)
// Placement counts live threads per node; thread_gone() frees a slot.
#include <cstdint>
#include <string>
#include <vector>

#include "vmm/base/result.hpp"

namespace spanvm::cluster {

// `away` (not a --place value): every thread on the last node, the main
// thread too; a deputy's cluster of two (docs/ARCHITECTURE.md, "An exec
// placed on another node") keeps the placed image's threads on its node.
enum class PlacePolicy { automatic, round_robin, origin, pack, away };

Result<PlacePolicy> parse_place_policy(const std::string& s);
const char* place_policy_name(PlacePolicy p);

class Placement {
public:
    // `cpus[k]`: CPUs node k offers (pack); every entry >= 1.
    Placement(PlacePolicy policy, std::vector<unsigned> cpus);
    // The node for the next thread; the first call places the main thread.
    unsigned place();
    void thread_gone(unsigned node);
    // A live thread migrated.
    void moved(unsigned from, unsigned to);
    PlacePolicy policy() const { return policy_; }
    unsigned live(unsigned node) const { return live_.at(node); }
    std::size_t nodes() const { return live_.size(); }

private:
    PlacePolicy policy_;
    std::vector<unsigned> cpus_;
    std::vector<unsigned> live_;
    unsigned next_ = 0;
    bool placed_main_ = false;
};

}  // namespace spanvm::cluster
