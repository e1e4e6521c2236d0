#include "vmm/dsm/home_policy.hpp"

#include <cerrno>
#include <charconv>

namespace spanvm::dsm {

HomePolicy HomePolicy::interleaved(NodeId num_nodes) {
    return HomePolicy(Kind::Interleaved, 0, num_nodes == 0 ? 1 : num_nodes);
}

HomePolicy HomePolicy::single(NodeId node, NodeId num_nodes) {
    return HomePolicy(Kind::Single, node, num_nodes == 0 ? 1 : num_nodes);
}

Result<HomePolicy> HomePolicy::parse(std::string_view spec, NodeId num_nodes) {
    if (num_nodes == 0) return make_error(EINVAL, "home policy: cluster has no nodes");
    if (spec == "interleave") return interleaved(num_nodes);
    constexpr std::string_view prefix = "node:";
    if (spec.substr(0, prefix.size()) == prefix) {
        auto digits = spec.substr(prefix.size());
        NodeId node = 0;
        auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), node);
        if (ec != std::errc{} || end != digits.data() + digits.size() || digits.empty())
            return make_error(EINVAL, "home policy '{}': expected node:<number>", spec);
        if (node >= num_nodes)
            return make_error(EINVAL, "home policy '{}': node {} out of range for {} nodes", spec, node, num_nodes);
        return single(node, num_nodes);
    }
    return make_error(EINVAL, "home policy '{}': expected 'interleave' or 'node:<K>'", spec);
}

std::string HomePolicy::to_string() const {
    return kind_ == Kind::Interleaved ? std::string("interleave") : fmt::format("node:{}", node_);
}

}  // namespace spanvm::dsm
