#include "vmm/cluster/placement.hpp"

#include <algorithm>

namespace spanvm::cluster {

Result<PlacePolicy> parse_place_policy(const std::string& s) {
    if (s == "auto") return PlacePolicy::automatic;
    if (s == "round-robin") return PlacePolicy::round_robin;
    if (s == "origin") return PlacePolicy::origin;
    if (s == "pack") return PlacePolicy::pack;
    return make_error(EINVAL, "unknown placement '{}' (expected auto, round-robin, origin or pack)", s);
}

const char* place_policy_name(PlacePolicy p) {
    switch (p) {
        case PlacePolicy::automatic: return "auto";
        case PlacePolicy::round_robin: return "round-robin";
        case PlacePolicy::origin: return "origin";
        case PlacePolicy::pack: return "pack";
        case PlacePolicy::away: return "away";
    }
    return "?";
}

Placement::Placement(PlacePolicy policy, std::vector<unsigned> cpus)
    : policy_(policy), cpus_(std::move(cpus)), live_(cpus_.size(), 0) {
    for (auto& c : cpus_) c = std::max(1u, c);
    if (cpus_.empty()) cpus_ = {1}, live_ = {0};
}

unsigned Placement::place() {
    unsigned node = 0;
    const auto n = static_cast<unsigned>(live_.size());
    if (policy_ == PlacePolicy::away) {
        node = n - 1;
    } else if (!placed_main_) {
        placed_main_ = true;  // the main thread starts where the program did
        next_ = 1 % n;
    } else if (policy_ == PlacePolicy::round_robin || policy_ == PlacePolicy::automatic) {
        node = next_;
        next_ = (next_ + 1) % n;
    } else if (policy_ == PlacePolicy::pack) {
        node = n - 1;  // all full: the last node takes the overflow
        for (unsigned k = 0; k < n; ++k)
            if (live_[k] < cpus_[k]) {
                node = k;
                break;
            }
    }
    ++live_[node];
    return node;
}

void Placement::thread_gone(unsigned node) {
    if (node < live_.size() && live_[node] > 0) --live_[node];
}

void Placement::moved(unsigned from, unsigned to) {
    if (to >= live_.size()) return;
    thread_gone(from);
    ++live_[to];
}

}  // namespace spanvm::cluster
