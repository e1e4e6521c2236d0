// spanvm command line. Every error is one line on stderr with a non-zero exit.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <thread>

#include "net/crypto.hpp"
#include "vmm/base/log.hpp"
#include "vmm/base/size_parse.hpp"
#include "vmm/cli/commands.hpp"
#include "vmm/memory/layout.hpp"
#include "vmm/memory/ram_size.hpp"
#include "vmm/cli/exec_deputies.hpp"
#include "vmm/cli/local_hosts.hpp"
#include "vmm/cluster/node_runner.hpp"
#include "vmm/cluster/origin_cluster.hpp"
#include "vmm/process/huge_code.hpp"
#include "vmm/process/process.hpp"
#include "vmm/report/run_report_json.hpp"
#include "vmm/report/run_report_text.hpp"

extern char** environ;

namespace spanvm::cli {

// Exit statuses of spanvm's own failures follow env(1)/the shell: 127 the
// program (or its interpreter) was not found, 126 it cannot be executed,
// 125 spanvm itself failed, 2 a usage error. Anything else is the guest's.
int exit_status_for_load_error(const Error& e) {
    if (e.code == ENOENT || e.code == ENOTDIR) return 127;
    if (e.code != 0) return 126;
    return 125;
}

// PROGRAM without a slash is searched in $PATH like execvp(3) does; the
// first executable regular file wins. Returns the name unchanged when
// nothing matches, so the loader reports it as not found.
std::string resolve_program(const std::string& name) {
    if (name.empty() || name.find('/') != std::string::npos) return name;
    const char* path = std::getenv("PATH");
    std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
    size_t start = 0;
    while (start <= dirs.size()) {
        size_t end = dirs.find(':', start);
        if (end == std::string::npos) end = dirs.size();
        std::string dir = dirs.substr(start, end - start);
        std::string cand = (dir.empty() ? std::string(".") : dir) + "/" + name;
        struct stat st {};
        if (::stat(cand.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(cand.c_str(), X_OK) == 0) return cand;
        start = end + 1;
    }
    return name;
}

// Hot pages the --json file lists (--stats prints the first few of them).
constexpr std::size_t kJsonHotPages = 32;

// `spanvm run`'s report sink: called once by the exiting Process. Adds the
// cluster's tables, prints --stats on stderr and writes the --json file.
void emit_run_report(report::RunReport r, cluster::OriginCluster* oc, bool stats, const std::string& json_path) {
    if (oc) r.cluster = oc->report(kJsonHotPages);
    // Processes per node: where each process's image ran (--place-exec).
    if (r.cluster)
        for (auto& m : r.cluster->machines) {
            for (const auto& p : r.processes) m.processes += p.node == m.id;
            if (r.processes.empty()) m.processes = m.id == 0;  // the run's own process only
        }
    if (stats) {
        const std::string t = report::render_text(r);
        std::fwrite(t.data(), 1, t.size(), stderr);
    }
    if (!json_path.empty()) {
        if (FILE* f = std::fopen(json_path.c_str(), "w")) {
            const std::string text = report::to_json_text(r);
            std::fwrite(text.data(), 1, text.size(), f);
            std::fclose(f);
        } else {
            log::error("--json {}: {}", json_path, std::strerror(errno));
        }
    }
}

// --platform as given, else $SPANVM_PLATFORM, else "auto" (run and node).
std::string platform_name(const std::string& flag) {
    if (!flag.empty()) return flag;
    const char* env = std::getenv("SPANVM_PLATFORM");
    return env && *env ? env : "auto";
}

// Guest RAM in bytes, a multiple of the 2 MiB granule of the guest page
// tables: --mem rounded up, or without it the host's size
// (memory::default_ram_size). Bad input: one line, nullopt.
std::optional<uint64_t> guest_ram_size(const std::string& flag) {
    if (flag.empty()) {
        auto host = memory::read_host_memory();
        if (!host) {
            log::error("cannot size guest memory from the host ({}); give --mem", host.error().message);
            return std::nullopt;
        }
        return memory::default_ram_size(*host);
    }
    auto mem = parse_size(flag);
    if (!mem) {
        log::error("--mem: {}", mem.error().message);
        return std::nullopt;
    }
    if (*mem < memory::layout::kMinRamSize) {
        log::error("--mem {}: too small (minimum {} MiB)", flag, memory::layout::kMinRamSize >> 20);
        return std::nullopt;
    }
    if (*mem > memory::layout::kMaxRamSize) {
        log::error("--mem {}: too large (maximum {} GiB)", flag, memory::layout::kMaxRamSize >> 30);
        return std::nullopt;
    }
    return (*mem + memory::layout::kHugePageSize - 1) & ~(memory::layout::kHugePageSize - 1);
}

namespace {
// The fds (>= 3) open when spanvm started: the caller's, for the program
// (ProcessConfig::inherited_fds). Read before anything of spanvm's opens one.
std::vector<int> g_inherited_fds;
}  // namespace

static std::vector<int> open_fds_at_start() {
    std::vector<int> fds;
    DIR* d = ::opendir("/proc/self/fd");
    if (!d) return fds;
    while (const dirent* e = ::readdir(d)) {
        int fd = -1;
        const char* end = e->d_name + std::strlen(e->d_name);
        auto [p, ec] = std::from_chars(e->d_name, end, fd);
        if (ec != std::errc() || p != end || fd < 3 || fd == ::dirfd(d)) continue;
        fds.push_back(fd);
    }
    ::closedir(d);
    std::sort(fds.begin(), fds.end());
    return fds;
}

int run_command(const RunOptions& o) {
    const auto mem = guest_ram_size(o.mem);
    if (!mem) return 2;
    if (o.command.empty()) {
        log::error("run: no program given (usage: spanvm run [options] -- PROGRAM ARGS...)");
        return 2;
    }
    // Before any thread and before guest memory: every forked guest
    // process copies fewer page-table entries of spanvm (huge_code.hpp).
    if (const uint64_t moved = process::code_on_huge_pages())
        log::debug("spanvm's code and read-only data: {} MiB on huge pages", moved >> 20);
    process::ProcessConfig cfg;
    cfg.program = resolve_program(o.command[0]);
    cfg.argv = o.command;
    for (char** e = environ; *e; ++e) cfg.envp.emplace_back(*e);
    // Close-on-exec on the host: the nodes and sessions spanvm starts must
    // not hold them (the guest's own flag, in its table, stays clear).
    for (const int fd : g_inherited_fds) (void)::fcntl(fd, F_SETFD, FD_CLOEXEC);
    cfg.inherited_fds = g_inherited_fds;
    cfg.mem_size = *mem;
    cfg.vcpus = o.vcpus ? o.vcpus : std::max(1u, std::thread::hardware_concurrency());
    const std::string plat = platform_name(o.platform);
    auto kind = platform::parse_platform_kind(plat);
    if (!kind) {
        log::error("--platform: {}", kind.error().message);
        return 2;
    }
    cfg.platform = *kind;

    // --host-cpus: the origin pins itself before any thread starts, and
    // after it forked its nodes (a busy CPU 0 would delay their start, the
    // longest part of a short run's); the nodes pin themselves
    // (start_local_hosts).
    std::vector<std::vector<int>> host_cpus;
    if (o.host_cpus) {
        if (!o.cluster_file.empty()) {
            log::error("--host-cpus: only with --local-hosts N or on one host, not with --cluster");
            return 2;
        }
        try {
            host_cpus = split_host_cpus(o.host_cpus, o.local_hosts ? o.local_hosts : 1);
        } catch (const std::exception& e) {
            log::error("{}", e.what());
            return 2;
        }
    }
    auto pin_origin = [&]() -> bool {
        if (host_cpus.empty()) return true;
        try {
            pin_to_cpus(host_cpus[0]);
            return true;
        } catch (const std::exception& e) {
            log::error("{}", e.what());
            return false;
        }
    };
    if (!o.local_hosts && !pin_origin()) return 2;

    if (!o.keys.key_file.empty() && o.cluster_file.empty()) {
        log::error("--key-file: only with --cluster (--local-hosts makes its own key)");
        return 2;
    }
    if (o.keys.encrypt && o.cluster_file.empty() && !o.local_hosts) {
        log::error("--encrypt: only with --cluster or --local-hosts");
        return 2;
    }
    auto exec_policy = parse_exec_policy(o.place_exec);
    if (!exec_policy) {
        log::error("--place-exec: {}", exec_policy.error().message);
        return 2;
    }
    if (*exec_policy != ExecPolicy::origin && o.cluster_file.empty() && !o.local_hosts) {
        log::error("--place-exec {}: only across hosts (--cluster FILE or --local-hosts N)", o.place_exec);
        return 2;
    }
    if (auto na = cluster::OriginCluster::node_answers_from_env(); !na) {
        log::error("{}", na.error().message);
        return 2;
    }
    std::unique_ptr<cluster::OriginCluster> oc;
    std::unique_ptr<ExecDeputies> deputies;
    if (!o.cluster_file.empty() || o.local_hosts) {
        auto place = cluster::parse_place_policy(o.place);
        if (!place) {
            log::error("--place: {}", place.error().message);
            return 2;
        }
        net::ClusterConfig cc;
        int origin_listen_fd = -1;  // --local-hosts on loopback: node 0's socket, listening already
        try {
            if (!o.cluster_file.empty()) {
                cc = net::load_cluster_file(o.cluster_file);
            } else {
                // The nodes get the origin's size in bytes: they must agree.
                // start_local_hosts makes a throw-away cluster key for them.
                LocalHostsOptions lh{o.local_hosts, o.netns, std::to_string(*mem), plat, host_cpus, o.keys.encrypt};
                auto hosts = start_local_hosts(lh);
                cc = std::move(hosts.cluster);
                origin_listen_fd = hosts.origin_listen_fd;
            }
        } catch (const std::exception& e) {
            log::error("{}", e.what());
            return !o.cluster_file.empty() ? 2 : 125;
        }
        if (o.local_hosts) {
            if (!pin_origin()) return 2;
            // OpenSSL's first use (its random generator, the digests:
            // milliseconds) while the nodes exec, not in the handshake with
            // the first of them.
            net::prepare_crypto();
        }
        if (!o.cluster_file.empty() && !apply_key_options(cc, o.keys, "run")) return 2;
        if (cc.size() < 2) {
            log::error("--cluster {}: a shared program needs at least 2 nodes", o.cluster_file);
            return 2;
        }
        if (*exec_policy != ExecPolicy::origin) {
            try {
                deputies = std::make_unique<ExecDeputies>(ExecDeputyOptions{*exec_policy, cc});
            } catch (const std::exception& e) {
                log::error("{}", e.what());
                return 125;
            }
            cfg.exec_placer = deputies.get();
        }
        oc = std::make_unique<cluster::OriginCluster>(std::move(cc), *place);
        if (origin_listen_fd >= 0) oc->listen_on(origin_listen_fd);  // its engine owns it from attach_memory
        // The nodes' daemons start the deputies' sessions (exec_deputies.hpp).
        if (deputies) deputies->serve(*oc);
        cfg.remote = oc.get();
    }
    if (o.stats || !o.json.empty())
        cfg.report_sink = [oc = oc.get(), stats = o.stats, json = o.json](report::RunReport r) {
            emit_run_report(std::move(r), oc, stats, json);
        };
    auto p = process::Process::create(cfg);
    if (!p) {
        log::error("{}", p.error().message);
        return exit_status_for_load_error(p.error());
    }
    (*p)->run();
}

int node_command(const NodeOptions& o) {
    const auto mem = guest_ram_size(o.mem);
    if (!mem) return 2;
    cluster::NodeOptions no;
    try {
        if (!o.cluster_file.empty())
            no.cluster = net::load_cluster_file(o.cluster_file);
        else if (!o.cluster_spec.empty())
            no.cluster = net::parse_cluster_spec(o.cluster_spec, "local");
        else {
            log::error("node: give --cluster FILE or --cluster-spec SPEC");
            return 2;
        }
    } catch (const std::exception& e) {
        log::error("{}", e.what());
        return 2;
    }
    if (!apply_key_options(no.cluster, o.keys, "node")) return 2;
    if (o.node == 0 || o.node >= no.cluster.size()) {
        log::error("node: --node {} is not a node other than the origin (0) in a cluster of {}", o.node,
                   no.cluster.size());
        return 2;
    }
    no.self = o.node;
    // Set once this node has joined (a session: its deputy's link decides from then on).
    static std::atomic<bool> joined{false};
    no.on_joined = [] { joined.store(true); };
    try {
        if (!o.origin.empty()) watch_origin(o.origin);
        if (!o.daemon.empty()) watch_origin(o.daemon, &joined);
    } catch (const std::exception& e) {
        log::error("{}", e.what());
        return 2;
    }
    no.mem_size = *mem;
    const std::string plat = platform_name(o.platform);
    auto kind = platform::parse_platform_kind(plat);
    if (!kind) {
        log::error("--platform: {}", kind.error().message);
        return 2;
    }
    no.platform = *kind;
    no.deputy_fd = o.deputy_fd;
    no.session = !o.daemon.empty();
    // Inherited (a session's from its daemon, a --local-hosts node's from
    // the origin): close-on-exec here, so the sessions a node starts do not
    // hold its listener.
    if (o.listen_fd >= 0 && ::fcntl(o.listen_fd, F_SETFD, FD_CLOEXEC) != 0) {
        log::error("node: --listen-fd {}: {}", o.listen_fd, std::strerror(errno));
        return 2;
    }
    no.listen_fd = o.listen_fd;
    return cluster::NodeRunner::run(no);
}

}  // namespace spanvm::cli

int main(int argc, char** argv) {
    using namespace spanvm;
    cli::g_inherited_fds = cli::open_fds_at_start();
    CLI::App app{"spanvm: run one program across several hosts"};
    app.require_subcommand(1);
    bool verbose = false;
    app.add_flag("-v,--verbose", verbose, "log more (info level)");

    cli::RunOptions run;
    auto* run_cmd = app.add_subcommand("run", "run a Linux x86-64 program in a VM, one vCPU per guest thread");
    run_cmd->add_option("--vcpus", run.vcpus, "CPUs the guest sees (default: host CPUs)")->check(CLI::Range(1, 1024));
    run_cmd->add_option("--mem", run.mem,
                        "guest memory, e.g. 512M, 64G (default: the host's MemTotal rounded up to 1 GiB; "
                        "the guest costs only the pages it touches)");
    run_cmd->add_flag("--stats", run.stats, "print the platform and the thread table at exit");
    run_cmd->add_option("--platform", run.platform,
                        "auto | kvm | native (default: $SPANVM_PLATFORM, else auto: KVM when a vCPU runs, else native)");
    run_cmd->add_option("--cluster", run.cluster_file, "run across the hosts of this cluster TOML file (this is node 0)");
    run_cmd->add_option("--local-hosts", run.local_hosts, "start N-1 nodes on this machine and run across all N")
        ->check(CLI::Range(2, 16));
    run_cmd->add_flag("--netns", run.netns, "with --local-hosts: each host in its own network namespace");
    run_cmd->add_option("--host-cpus", run.host_cpus,
                        "pin each host to C CPUs of its own: node k (the origin is 0) to CPUs [k*C, (k+1)*C)")
        ->check(CLI::Number)
        ->check(CLI::Range(1, 1024));
    run_cmd->add_option("--json", run.json, "write the thread, machine and hot-page tables as JSON at exit");
    run_cmd->add_option("--place-exec", run.place_exec,
                        "where an exec in a child process starts its image: origin (default) | round-robin | "
                        "least-loaded (across --cluster or --local-hosts hosts: each host's node starts the image's "
                        "session; the process at the origin stays its deputy)");
    run_cmd->add_option("--place", run.place, "thread placement: auto (default: round-robin, then threads that share pages migrate to one node) | round-robin | origin | pack");
    run_cmd->add_option("--key-file", run.keys.key_file, "cluster key file (overrides the cluster file's key_file)");
    run_cmd->add_flag("--encrypt", run.keys.encrypt, "encrypt all traffic between the hosts (AES-256-GCM)");
    bool run_version = false;
    run_cmd->add_flag("--version", run_version, "print the version and the platform `auto` would choose, then exit");

    cli::NodeOptions node;
    auto* node_cmd = app.add_subcommand("node", "serve the origin's program as node K of a cluster");
    auto* nf = node_cmd->add_option("--cluster", node.cluster_file, "cluster TOML file (the same as the origin's)");
    auto* ns = node_cmd->add_option("--cluster-spec", node.cluster_spec, "cluster spec, e.g. 0=10.0.0.1:7400,1=10.0.0.2:7400");
    nf->excludes(ns);
    node_cmd->add_option("--node", node.node, "this node's id (1..N-1)")->required();
    node_cmd->add_option("--mem", node.mem,
                         "guest memory; must equal the origin's (default: sized from this host as the origin's is)");
    node_cmd->add_option("--platform", node.platform, "auto | kvm | native");
    node_cmd->add_option("--key-file", node.keys.key_file, "cluster key file (overrides the cluster file's key_file)");
    node_cmd->add_option("--key-fd", node.keys.key_fd, "read the cluster key from this inherited descriptor")
        ->check(CLI::Range(0, 1 << 20));
    node_cmd->add_flag("--encrypt", node.keys.encrypt, "encrypt all traffic between the hosts");
    node_cmd->add_option("--origin", node.origin, "PID:FD: end with the origin PID, whose pidfd FD is inherited (--local-hosts)");
    node_cmd->add_option("--daemon", node.daemon,
                         "PID:FD: a placed exec's session: end with its node daemon PID (pidfd FD) until joined");
    node_cmd->add_option("--deputy-fd", node.deputy_fd,
                         "a session started ahead: wait for its deputy's port on this inherited descriptor "
                         "(the spec's node 0 port is a placeholder until then)")
        ->check(CLI::Range(3, 1 << 20));
    node_cmd->add_option("--listen-fd", node.listen_fd,
                         "a session: listen for the cluster on this inherited socket, bound to this node's "
                         "address and port by its daemon")
        ->check(CLI::Range(3, 1 << 20));

    std::string keygen_path;
    auto* keygen_cmd = app.add_subcommand("keygen", "write a fresh cluster key to PATH (mode 0600; never overwrites)");
    keygen_cmd->add_option("path", keygen_path, "key file to create")->required();

    cli::InfoOptions info;
    auto* info_cmd = app.add_subcommand("info", "say which platforms can run here and which one `auto` picks");
    info_cmd->add_flag("--require-any", info.require_any, "exit 1 when no platform can run");
    info_cmd->add_option("--require", info.require, "exit 77 (skip) unless this platform (kvm|native) can run");
    run_cmd->add_option("command", run.command, "PROGRAM ARGS... (after --)")->expected(-1);

    cli::BenchExitOptions bex;
    auto* bench_cmd = app.add_subcommand("bench-exit", "measure a bare KVM exit round trip (baseline for syscalls)");
    bench_cmd->add_option("--iterations", bex.iterations, "exits to time")->check(CLI::Range(1, 100000000));
    bench_cmd->add_option("--json", bex.json, "also write the figures as JSON to FILE");

    cli::BenchTrapOptions btr;
    auto* trap_cmd = app.add_subcommand("bench-trap", "measure a bare Syscall User Dispatch trap and a native getppid");
    trap_cmd->add_option("--iterations", btr.iterations, "traps to time")->check(CLI::Range(1, 100000000));
    trap_cmd->add_option("--json", btr.json, "also write the figures as JSON to FILE");

    cli::register_dsm_commands(app);

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        std::string msg = e.what();
        for (auto& c : msg)
            if (c == '\n') c = ' ';
        log::error("{} (see 'spanvm --help')", msg);
        return 2;
    }
    if (verbose) log::set_level(log::Level::info);
    try {
        if (run_cmd->parsed() && run_version) return cli::info_command(info);
        if (run_cmd->parsed()) return cli::run_command(run);
        if (info_cmd->parsed()) return cli::info_command(info);
        if (node_cmd->parsed()) return cli::node_command(node);
        if (keygen_cmd->parsed()) return cli::keygen_command(keygen_path);
        if (bench_cmd->parsed()) return cli::bench_exit_command(bex);
        if (trap_cmd->parsed()) return cli::bench_trap_command(btr);
        return cli::dispatch_dsm_commands(app);
    } catch (const std::exception& e) {
        log::error("{}", e.what());
        return 125;
    }
}
