#include "net/cluster_config.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <set>
#include <utility>

#include <boost/asio/ip/address.hpp>
#include <fmt/format.h>
#include <toml++/toml.h>

namespace spanvm::net {

std::string NodeAddress::endpoint() const {
    if (address.find(':') != std::string::npos) return fmt::format("[{}]:{}", address, port);
    return fmt::format("{}:{}", address, port);
}

std::string ClusterConfig::describe(NodeId id) const {
    const bool labelled = id < labels.size() && !labels[id].empty();
    const std::string who = labelled ? labels[id] : fmt::format("node {}", id);
    if (!has_node(id)) return who;
    return fmt::format("{} ({})", who, nodes[id].endpoint());
}

std::string ClusterConfig::describe_failure(NodeId id, const std::string& reason) const {
    std::string prefix = describe(id);
    std::string what = reason;
    if (what.rfind(prefix + ": ", 0) == 0) what = what.substr(prefix.size() + 2);
    return fmt::format("{} failed: {}", prefix, what);
}

namespace {

template <typename... A>
[[noreturn]] void fail(std::string_view source, fmt::format_string<A...> f, A&&... a) {
    throw ClusterConfigError(fmt::format("{}: {}", source, fmt::format(f, std::forward<A>(a)...)));
}

bool is_ip_literal(const std::string& s) {
    boost::system::error_code ec;
    (void)boost::asio::ip::make_address(s, ec);
    return !ec;
}

// Integer that must fit in [lo, hi]; `what` names it in errors.
std::int64_t checked_int(std::int64_t v, std::int64_t lo, std::int64_t hi, std::string_view source,
                         const std::string& who, std::string_view what) {
    if (v < lo || v > hi) fail(source, "{}: {} {} out of range ({}..{})", who, what, v, lo, hi);
    return v;
}

}  // namespace

void validate_cluster(ClusterConfig& config, std::string_view source) {
    if (config.name.empty()) fail(source, "cluster name is empty");
    if (config.nodes.empty()) fail(source, "no nodes defined");
    if (config.nodes.size() > MAX_CLUSTER_NODES)
        fail(source, "{} nodes defined, at most {} supported", config.nodes.size(), MAX_CLUSTER_NODES);
    std::size_t n = config.nodes.size();
    std::set<NodeId> ids;
    std::set<std::pair<std::string, std::uint16_t>> endpoints;
    for (const auto& node : config.nodes) {
        if (node.id >= n)
            fail(source, "node {}: id out of range (ids must be 0..{} for {} nodes)", node.id, n - 1, n);
        if (!ids.insert(node.id).second) fail(source, "node {}: duplicate id", node.id);
        if (node.address.empty()) fail(source, "node {}: empty address", node.id);
        if (!is_ip_literal(node.address))
            fail(source, "node {}: address '{}' is not an IP address", node.id, node.address);
        if (node.port == 0) fail(source, "node {}: port 0 out of range (1..65535)", node.id);
        auto canonical = boost::asio::ip::make_address(node.address).to_string();
        if (!endpoints.insert({canonical, node.port}).second)
            fail(source, "node {}: endpoint {} is used by another node", node.id, node.endpoint());
    }
    std::sort(config.nodes.begin(), config.nodes.end(),
              [](const NodeAddress& a, const NodeAddress& b) { return a.id < b.id; });
}

ClusterConfig parse_cluster_toml(std::string_view text, std::string_view source) {
    toml::table root;
    try {
        root = toml::parse(text, std::string(source));
    } catch (const toml::parse_error& e) {
        fail(source, "line {}: {}", e.source().begin.line, e.description());
    }
    for (auto&& [key, value] : root) {
        (void)value;
        if (key != "cluster" && key != "node") fail(source, "unknown top-level key '{}'", key.str());
    }
    ClusterConfig config;
    const toml::table* cluster = root["cluster"].as_table();
    if (!cluster) fail(source, "missing [cluster] table");
    for (auto&& [key, value] : *cluster) {
        (void)value;
        if (key != "name" && key != "key_file" && key != "encrypt")
            fail(source, "[cluster]: unknown key '{}'", key.str());
    }
    auto name = (*cluster)["name"].value<std::string>();
    if (!name) fail(source, "[cluster]: missing string 'name'");
    config.name = *name;
    if (const toml::node* kf = cluster->get("key_file")) {
        auto path = kf->value<std::string>();
        if (!path || path->empty()) fail(source, "[cluster]: key_file must be a non-empty string");
        std::string full = *path;
        if (full[0] != '/') {
            std::string dir(source);
            auto slash = dir.rfind('/');
            full = (slash == std::string::npos ? std::string() : dir.substr(0, slash + 1)) + full;
        }
        try {
            config.key = load_key_file(full);
        } catch (const std::runtime_error& e) {
            fail(source, "{}", e.what());
        }
    }
    if (const toml::node* enc = cluster->get("encrypt")) {
        auto on = enc->value<bool>();
        if (!on) fail(source, "[cluster]: encrypt must be true or false");
        config.encrypt = *on;
    }

    const toml::array* nodes = root["node"].as_array();
    if (!nodes || nodes->empty()) fail(source, "no [[node]] entries");
    std::size_t index = 0;
    for (const toml::node& entry : *nodes) {
        ++index;
        const toml::table* t = entry.as_table();
        if (!t) fail(source, "node entry {}: not a table", index);
        auto id = (*t)["id"].value<std::int64_t>();
        if (!id) fail(source, "node entry {}: missing integer 'id'", index);
        std::string who = fmt::format("node entry {}", index);
        NodeAddress na;
        na.id = static_cast<NodeId>(checked_int(*id, 0, static_cast<std::int64_t>(MAX_CLUSTER_NODES) - 1, source, who, "id"));
        who = fmt::format("node {}", na.id);
        for (auto&& [key, value] : *t) {
            (void)value;
            if (key != "id" && key != "address" && key != "port") fail(source, "{}: unknown key '{}'", who, key.str());
        }
        auto address = (*t)["address"].value<std::string>();
        if (!address) fail(source, "{}: missing string 'address'", who);
        auto port = (*t)["port"].value<std::int64_t>();
        if (!port) fail(source, "{}: missing integer 'port'", who);
        na.address = *address;
        na.port = static_cast<std::uint16_t>(checked_int(*port, 1, 65535, source, who, "port"));
        config.nodes.push_back(std::move(na));
    }
    validate_cluster(config, source);
    return config;
}

ClusterConfig load_cluster_file(const std::string& path) {
    std::string text;
    {
        std::FILE* f = std::fopen(path.c_str(), "rb");
        if (!f) throw ClusterConfigError(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
        char buf[4096];
        std::size_t n;
        while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
            text.append(buf, n);
            if (text.size() > (1u << 20)) {
                std::fclose(f);
                throw ClusterConfigError(fmt::format("{}: file larger than 1 MiB", path));
            }
        }
        bool err = std::ferror(f) != 0;
        std::fclose(f);
        if (err) throw ClusterConfigError(fmt::format("{}: read error", path));
    }
    return parse_cluster_toml(text, path);
}

ClusterConfig parse_cluster_spec(std::string_view spec, std::string name) {
    constexpr std::string_view source = "cluster spec";
    ClusterConfig config;
    config.name = std::move(name);
    if (spec.empty()) fail(source, "empty (expected e.g. \"0=127.0.0.1:7400,1=127.0.0.1:7401\")");
    std::size_t pos = 0;
    while (pos <= spec.size()) {
        std::size_t comma = spec.find(',', pos);
        std::string_view entry = spec.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
        pos = comma == std::string_view::npos ? spec.size() + 1 : comma + 1;
        std::string who = fmt::format("entry '{}'", entry);
        std::size_t eq = entry.find('=');
        if (eq == std::string_view::npos) fail(source, "{}: expected ID=ADDRESS:PORT", who);
        std::string_view id_text = entry.substr(0, eq), rest = entry.substr(eq + 1);
        std::size_t colon = rest.rfind(':');
        if (colon == std::string_view::npos) fail(source, "{}: missing ':PORT'", who);
        std::string_view addr = rest.substr(0, colon), port_text = rest.substr(colon + 1);
        if (addr.size() >= 2 && addr.front() == '[' && addr.back() == ']') addr = addr.substr(1, addr.size() - 2);
        auto parse_num = [&](std::string_view t, std::string_view what) -> std::int64_t {
            std::int64_t v = 0;
            auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
            if (t.empty() || ec != std::errc{} || end != t.data() + t.size())
                fail(source, "{}: {} '{}' is not a number", who, what, t);
            return v;
        };
        NodeAddress na;
        na.id = static_cast<NodeId>(
            checked_int(parse_num(id_text, "id"), 0, static_cast<std::int64_t>(MAX_CLUSTER_NODES) - 1, source, who, "id"));
        na.address = std::string(addr);
        na.port = static_cast<std::uint16_t>(checked_int(parse_num(port_text, "port"), 1, 65535, source,
                                                         fmt::format("node {}", na.id), "port"));
        config.nodes.push_back(std::move(na));
    }
    validate_cluster(config, source);
    return config;
}

}  // namespace spanvm::net
