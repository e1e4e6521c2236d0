#pragma once
// Static cluster membership: which node ids exist and where they listen.
// Parsed once at start-up, so errors are exceptions (ClusterConfigError)
// whose what() is one line naming the source and the node, e.g.
//   "cluster.toml: node 1: port 70000 out of range (1..65535)".
//
// Invariants after parsing: nodes.size() >= 1, nodes[i].id == i (ids are
// exactly 0..N-1), every address is an IP literal, no two nodes share an
// address:port, name is non-empty.
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "net/cluster_key.hpp"

namespace spanvm::net {

using NodeId = std::uint16_t;

inline constexpr std::size_t MAX_CLUSTER_NODES = 1024;

struct NodeAddress {
    NodeId id = 0;
    std::string address;  // IPv4 or IPv6 literal
    std::uint16_t port = 0;

    std::string endpoint() const;  // "127.0.0.1:7400" or "[::1]:7400"
};

class ClusterConfigError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct ClusterConfig {
    std::string name;
    std::vector<NodeAddress> nodes;  // indexed by id
    // The cluster's secret key ([cluster] key_file, --key-file, --key-fd):
    // a Transport refuses to start without one (net/handshake.hpp).
    std::optional<ClusterKey> key;
    // Every connection under an AEAD after the handshake ([cluster] encrypt,
    // --encrypt); all nodes must agree (the handshake checks it).
    bool encrypt = false;
    // How lines name a node instead of "node ID", where labels[id] is set
    // and not empty: a placed exec's deputy names its session by the run's
    // host ("node 2's session"), not as node 1 of its cluster of two.
    std::vector<std::string> labels;

    std::size_t size() const { return nodes.size(); }
    const NodeAddress& node(NodeId id) const { return nodes.at(id); }
    bool has_node(std::size_t id) const { return id < nodes.size(); }
    // "node 2 (127.0.0.1:7402)", the prefix of every per-peer message
    // (LABEL instead of "node 2" where labels has one).
    std::string describe(NodeId id) const;
    // "node 2 (127.0.0.1:7402) failed: WHAT", the fatal line's words for a
    // lost peer, from a transport reason "node 2 (127.0.0.1:7402): WHAT"
    // (net/transport.hpp) or a bare WHAT.
    std::string describe_failure(NodeId id, const std::string& reason) const;
};

// Parses TOML text; `source` names it in errors (usually the file name).
// [cluster] takes name, key_file (relative to the directory of `source`)
// and encrypt (bool, default false).
ClusterConfig parse_cluster_toml(std::string_view text, std::string_view source = "cluster.toml");
// Reads and parses a TOML file; errors are prefixed with the path.
ClusterConfig load_cluster_file(const std::string& path);
// Parses the command-line form "0=127.0.0.1:7400,1=127.0.0.1:7401"
// (IPv6 as "2=[::1]:7402").
ClusterConfig parse_cluster_spec(std::string_view spec, std::string name = "cli");

// Validates and normalises (sorts by id) a config built in code. Throws
// ClusterConfigError prefixed with `source`.
void validate_cluster(ClusterConfig& config, std::string_view source);

}  // namespace spanvm::net
