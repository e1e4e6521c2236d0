#pragma once
// Subcommand entry points of the spanvm CLI.
#include <string>
#include <vector>

#include "vmm/cli/cluster_keys.hpp"

namespace CLI {
class App;
}

namespace spanvm::cli {

struct RunOptions {
    unsigned vcpus = 0;
    std::string mem;  // --mem; empty: sized from the host (memory::default_ram_size)
    bool stats = false;
    std::string platform;  // auto | kvm | native; empty: $SPANVM_PLATFORM, else auto
    // Distributed: this process is node 0 (the origin) of --cluster FILE, or
    // of N hosts started here (--local-hosts N, each in a netns with --netns).
    std::string cluster_file;
    unsigned local_hosts = 0;
    bool netns = false;
    std::string place = "auto";
    std::string place_exec = "origin";  // --place-exec: where a forked process's execve starts its image
    unsigned host_cpus = 0;  // --host-cpus C: pin each host to C CPUs of its own; 0: no pinning
    std::string json;  // --json FILE
    KeyOptions keys;   // --key-file, --encrypt (--local-hosts makes its own key)
    std::vector<std::string> command;
};

// `spanvm node`: serve the origin's program as node K.
struct NodeOptions {
    std::string cluster_file;
    std::string cluster_spec;
    unsigned node = 0;
    std::string mem;  // must give the origin's size; empty: sized from this host, as the origin's default
    std::string platform;
    KeyOptions keys;  // --key-file, --key-fd, --encrypt
    std::string origin;  // --origin PID:FD (--local-hosts): exit when that process ends
    std::string daemon;  // --daemon PID:FD (a placed exec's session): exit when it ends before this node joined
    int deputy_fd = -1;  // --deputy-fd FD (a session started ahead): its deputy's port arrives there
    int listen_fd = -1;  // --listen-fd FD (a session): its DSM listener's socket, bound by its daemon
};
int node_command(const NodeOptions& o);
int run_command(const RunOptions& o);

// `spanvm info`: which platforms can run here and which `auto` picks.
// With --require-any, exits 1 when none can (the test suite's guard).
struct InfoOptions {
    bool require_any = false;
    std::string require;  // a platform that must be able to run (exit 77 if not)
};
int info_command(const InfoOptions& o);

struct BenchExitOptions {
    unsigned iterations = 20000;
    std::string json;  // also write the figures there (keys as the text lines)
};
int bench_exit_command(const BenchExitOptions& o);

struct BenchTrapOptions {
    unsigned iterations = 50000;
    std::string json;  // also write the figures there (keys as the text lines)
};
int bench_trap_command(const BenchTrapOptions& o);

// dsm-node and friends (issue: distributed shared memory).
void register_dsm_commands(CLI::App& app);
int dispatch_dsm_commands(CLI::App& app);

}  // namespace spanvm::cli
