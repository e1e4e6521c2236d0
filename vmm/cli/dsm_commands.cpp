// `spanvm dsm-node`: one node of a DSM cluster running a built-in workload.
// Contract (used by the launcher, tests and bench scripts):
//   stdout: "CHECK ok <workload> ..." (node 0) or "CHECK FAILED <why>"
//   exit 0 success, 1 failed check, 2 bad arguments/config (one stderr line),
//   70 (UffdRegion::kFatalExitCode) when a peer fails, with the stderr line
//   "spanvm: fatal: DSM: node K (ADDR:PORT) failed: ...".
#include <cstdio>
#include <fstream>

#include <CLI/CLI.hpp>

#include "net/cluster_config.hpp"
#include "vmm/base/log.hpp"
#include "vmm/cli/cluster_keys.hpp"
#include "vmm/cli/commands.hpp"
#include "vmm/dsm/dsm_engine.hpp"
#include "vmm/dsm/dsm_stats_report.hpp"
#include "vmm/dsm_node/report.hpp"
#include "vmm/dsm_node/workloads.hpp"

namespace spanvm::cli {

namespace {

struct DsmNodeOptions {
    std::string config_file;
    std::string cluster_spec;
    unsigned node = 0;
    std::string workload;
    std::uint64_t pages = 0;  // 0 = default
    unsigned threads = 2;
    std::uint64_t iterations = 0;
    std::string home = "interleave";
    std::uint64_t hold_us = 0;
    std::uint64_t seed = 1;
    bool stats = false;
    std::string json;
    double timeout_s = 120;
    KeyOptions keys;
};

DsmNodeOptions g_opts;
CLI::App* g_cmd = nullptr;

int dsm_node_command(const DsmNodeOptions& o) {
    using namespace spanvm::dsm;
    using namespace spanvm::dsm_node;
    if (o.config_file.empty() == o.cluster_spec.empty()) {
        log::error("dsm-node: give exactly one of --config FILE or --cluster SPEC");
        return 2;
    }
    net::ClusterConfig cluster;
    try {
        cluster = o.config_file.empty() ? net::parse_cluster_spec(o.cluster_spec)
                                        : net::load_cluster_file(o.config_file);
    } catch (const std::exception& e) {
        log::error("dsm-node: {}", e.what());
        return 2;
    }
    if (!apply_key_options(cluster, o.keys, "dsm-node")) return 2;
    if (o.node >= cluster.size()) {
        log::error("dsm-node: --node {} is not in the cluster (nodes 0..{})", o.node, cluster.size() - 1);
        return 2;
    }
    auto kind = parse_workload(o.workload);
    if (!kind) {
        log::error("dsm-node: unknown workload '{}' (want {})", o.workload, workload_names());
        return 2;
    }
    auto nodes = static_cast<std::uint32_t>(cluster.size());
    if (nodes < min_nodes(*kind)) {
        log::error("dsm-node: workload {} needs at least {} nodes, the cluster has {}", o.workload, min_nodes(*kind),
                   nodes);
        return 2;
    }
    if (auto h = HomePolicy::parse(o.home, nodes); !h) {
        log::error("dsm-node: --home: {}", h.error().message);
        return 2;
    }
    if (o.timeout_s <= 0) {
        log::error("dsm-node: --timeout-s must be positive");
        return 2;
    }
    WorkloadOptions wo;
    wo.kind = *kind;
    wo.threads = o.threads;
    wo.iterations = o.iterations ? o.iterations : default_iterations(*kind);
    wo.seed = o.seed;
    std::uint64_t need = min_pages(*kind, nodes, wo.iterations);
    std::uint64_t pages = o.pages ? o.pages : std::max<std::uint64_t>(16, need);
    if (pages < need) {
        log::error("dsm-node: workload {} with {} iterations needs --pages >= {}", o.workload, wo.iterations, need);
        return 2;
    }

    DsmEngineOptions eo;
    eo.cluster = cluster;
    eo.self = o.node;
    eo.pages = pages;
    eo.home = o.home;
    eo.hold_us = o.hold_us;
    eo.overall_timeout = std::chrono::milliseconds(static_cast<std::int64_t>(o.timeout_s * 1000));
    auto engine = DsmEngine::create(eo);
    if (!engine) {
        log::error("dsm-node: {}", engine.error().message);
        return engine.error().code == EINVAL ? 2 : UffdRegion::kFatalExitCode;
    }
    DsmEngine& e = **engine;
    if (auto s = e.start(); !s) {
        log::error("dsm-node: {}", s.error().message);
        return 2;
    }
    auto outcome = run_workload(e, wo);
    if (!outcome) e.fail(fmt::format("{}: workload {}: {}", cluster.describe(static_cast<net::NodeId>(o.node)),
                                     o.workload, outcome.error().message));
    if (!outcome->check_line.empty()) {
        std::printf("%s\n", outcome->check_line.c_str());
        std::fflush(stdout);
    }
    // Peers leaving after the goodbye are expected; keep the transport's
    // per-connection warnings for them off stderr (fatal lines still print).
    if (!log::enabled(log::Level::info)) log::set_level(log::Level::error);
    if (auto s = e.shutdown(std::chrono::milliseconds(static_cast<std::int64_t>(o.timeout_s * 1000))); !s)
        e.fail(fmt::format("{}: {}", cluster.describe(static_cast<net::NodeId>(o.node)), s.error().message));
    if (o.stats) std::fputs(stats_table(e.stats().snapshot(10)).c_str(), stderr);
    if (!o.json.empty()) {
        NodeReport report{o.workload, o.node, nodes, pages, o.home, o.hold_us, outcome->ok, outcome->figures,
                          e.stats().snapshot(32)};
        std::ofstream f(o.json);
        f << report_json(report).dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << '\n';
        if (!f) {
            log::error("dsm-node: cannot write --json {}", o.json);
            return 1;
        }
    }
    return outcome->ok ? 0 : 1;
}

}  // namespace

void register_dsm_commands(CLI::App& app) {
    auto& o = g_opts;
    g_cmd = app.add_subcommand("dsm-node", "run one node of a DSM cluster with a built-in workload");
    auto* cfg = g_cmd->add_option("--config", o.config_file, "cluster TOML file");
    auto* spec = g_cmd->add_option("--cluster", o.cluster_spec, "cluster spec, e.g. 0=127.0.0.1:7400,1=127.0.0.1:7401");
    cfg->excludes(spec);
    g_cmd->add_option("--node", o.node, "this node's id")->required();
    g_cmd->add_option("--workload", o.workload, dsm_node::workload_names())->required();
    g_cmd->add_option("--pages", o.pages, "pages in the shared region (default 16 or what the workload needs)")
        ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 24));
    g_cmd->add_option("--threads", o.threads, "workload threads per node (counter, stress)")->check(CLI::Range(1, 256));
    g_cmd->add_option("--iterations", o.iterations, "iterations / samples (default per workload)")
        ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 32));
    g_cmd->add_option("--home", o.home, "home policy: interleave | node:K");
    g_cmd->add_option("--hold-us", o.hold_us, "minimum hold time of a copy in microseconds (Mirage)")
        ->check(CLI::Range(std::uint64_t{0}, std::uint64_t{10000000}));
    g_cmd->add_option("--seed", o.seed, "stress seed");
    g_cmd->add_flag("--stats", o.stats, "print DSM statistics to stderr at exit");
    g_cmd->add_option("--json", o.json, "write statistics and results as JSON");
    g_cmd->add_option("--timeout-s", o.timeout_s, "fail if the run takes longer (default 120)");
    g_cmd->add_option("--key-file", o.keys.key_file, "cluster key file (overrides the cluster file's key_file)");
    g_cmd->add_option("--key-fd", o.keys.key_fd, "read the cluster key from this inherited descriptor")
        ->check(CLI::Range(0, 1 << 20));
    g_cmd->add_flag("--encrypt", o.keys.encrypt, "encrypt all traffic between the nodes (AES-256-GCM)");
}

int dispatch_dsm_commands(CLI::App&) {
    if (g_cmd && g_cmd->parsed()) return dsm_node_command(g_opts);
    log::error("no such command (see 'spanvm --help')");
    return 2;
}

}  // namespace spanvm::cli
