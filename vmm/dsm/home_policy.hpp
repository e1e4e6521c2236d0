#pragma once
// Which node is the home (directory holder and request serializer) of a page.
// A value type so every node computes the same answer without coordination;
// all nodes of a cluster must use an identical policy.
#include <cstdint>
#include <string>
#include <string_view>

#include "vmm/base/result.hpp"

namespace spanvm::dsm {

using NodeId = std::uint32_t;

class HomePolicy {
public:
    enum class Kind : std::uint8_t {
        Interleaved,  // home = page % num_nodes
        Single,       // every page lives on `node`
    };

    static HomePolicy interleaved(NodeId num_nodes);
    static HomePolicy single(NodeId node, NodeId num_nodes);
    // "interleave" or "node:K" (K < num_nodes). One-line error otherwise.
    static Result<HomePolicy> parse(std::string_view spec, NodeId num_nodes);

    NodeId home_of(std::uint64_t page) const {
        return kind_ == Kind::Interleaved ? static_cast<NodeId>(page % num_nodes_) : node_;
    }
    Kind kind() const { return kind_; }
    NodeId num_nodes() const { return num_nodes_; }
    std::string to_string() const;  // round-trips through parse()

private:
    HomePolicy(Kind k, NodeId node, NodeId n) : kind_(k), node_(node), num_nodes_(n) {}
    Kind kind_;
    NodeId node_;
    NodeId num_nodes_;
};

}  // namespace spanvm::dsm
