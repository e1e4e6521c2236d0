#pragma once
// `spanvm run --place-exec origin|round-robin|least-loaded`: where an execve
// in a forked guest process starts its new image (the process layer's
// process::ExecPlacer; docs/ARCHITECTURE.md, "An exec placed on another
// node").
//  * origin        every image here (the default; no deputies);
//  * round-robin   host 0, 1, ..., N-1, 0, ... over the run's hosts, one per exec;
//  * least-loaded  the host with the fewest placed images running per CPU
//                  (its load as the origin counts it: the images it placed
//                  there that have not ended), ties to the lowest id.
// For host k != 0 the exec'ing process becomes the deputy: it launches a
// fresh `spanvm node` for host k (pinned to host k's CPUs with
// --host-cpus) and forms a cluster of two with it over loopback, keyed with
// the run's key. Only with --local-hosts on loopback so far: hosts of a
// --cluster file would need host k's `spanvm node` to launch the process
// (not built yet), and --netns a launch into host k's namespace.
//
// State shared by every process of the run (the turn and the per-host
// counts) lives in a MAP_SHARED page mapped before the run starts, so
// forked processes share it; the rest is per process (a fork copies it).
#include <cstdint>
#include <string>
#include <vector>

#include "net/cluster_config.hpp"
#include "vmm/base/result.hpp"
#include "vmm/process/exec_placement.hpp"

namespace spanvm::cli {

enum class ExecPolicy { origin, round_robin, least_loaded };
Result<ExecPolicy> parse_exec_policy(const std::string& s);

struct ExecDeputyOptions {
    ExecPolicy policy = ExecPolicy::origin;
    net::ClusterConfig cluster;  // the run's: its hosts and key
    std::string mem;             // --mem, in bytes, as the run's nodes got it
    std::string platform;
    std::vector<std::vector<int>> host_cpus;  // --host-cpus: host k's CPUs; empty: none
};

class ExecDeputies final : public process::ExecPlacer {
public:
    // Throws std::runtime_error (one line) when the shared page cannot be made.
    explicit ExecDeputies(ExecDeputyOptions o);
    unsigned place_exec() override;
    process::RemoteThreads* start_deputy(unsigned node, memory::GuestMemory& ram,
                                         memory::GuestProtection& prot) override;
    void exec_gone(unsigned node) override;

    static constexpr unsigned kMaxHosts = 64;

private:
    struct Shared;
    ExecDeputyOptions o_;
    Shared* shared_ = nullptr;
    int node_pid_ = -1;  // this process's deputy node process, if any
};

}  // namespace spanvm::cli
