#pragma once
// `spanvm run --place-exec origin|round-robin|least-loaded`: where an execve
// in a forked guest process starts its new image (the process layer's
// process::ExecPlacer; docs/ARCHITECTURE.md, "An exec placed on another
// node").
//  * origin        every image here (the default; no deputies);
//  * round-robin   host 0, 1, ..., N-1, 0, ... over the run's hosts, one per exec;
//  * least-loaded  an image worth moving (its program's earlier images
//                  that ran at the origin were busy >= 300 ms on average,
//                  or none did yet) goes to the host with the fewest images running
//                  per CPU: counted here as they start, block in a child
//                  wait and end (a waiting compiler driver is not running),
//                  over the CPUs each node reports (NodeLoad) and the
//                  origin's own; ties go to the lowest id, the origin first.
//                  Any other image stays at the origin
//                  (vmm/cluster/exec_balance.hpp: the pure choice).
// For host k != 0 the exec'ing process becomes the deputy: it asks host
// k's `spanvm node` (the run's daemon there, over the run's own link) to
// start a session node, which is node 1 of the deputy's cluster of two,
// keyed with the run's key (vmm/cluster/session_launcher.hpp). The same
// path serves --local-hosts (loopback or --netns) and --cluster.
//
// The deputy is a forked child of the run's process, whose links to the
// nodes it does not have (a forked child leaves the cluster). So the
// request goes through a mailbox in the run's shared page: the deputy
// posts {host, its port} in a slot and waits on the slot's futex; a broker
// thread in the run's process (serve()) sends SessionStart to the host and
// the transport's I/O thread writes the SessionReady's port back and wakes
// the deputy.
//
// State shared by every process of the run (the turn, the per-host counts,
// the programs' busy times, the mailbox) lives in a MAP_SHARED page mapped before the run starts, so
// forked processes share it; the rest is per process (a fork copies it).
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "net/cluster_config.hpp"
#include "net/wire_frame.hpp"
#include "vmm/base/result.hpp"
#include "vmm/process/exec_placement.hpp"

namespace spanvm::cluster {
class OriginCluster;
}

namespace spanvm::cli {

enum class ExecPolicy { origin, round_robin, least_loaded };
Result<ExecPolicy> parse_exec_policy(const std::string& s);

struct ExecDeputyOptions {
    ExecPolicy policy = ExecPolicy::origin;
    net::ClusterConfig cluster;  // the run's: its hosts and key
};

class ExecDeputies final : public process::ExecPlacer {
public:
    // Throws std::runtime_error (one line) when the shared page cannot be made.
    explicit ExecDeputies(ExecDeputyOptions o);
    // In the run's process, before the run starts (before `run` attaches
    // its memory): takes the nodes' session answers and loads from `run`
    // and starts the broker thread that sends the deputies' requests.
    void serve(cluster::OriginCluster& run);

    unsigned place_exec(std::string_view program, int parent_node) override;
    process::RemoteThreads* start_deputy(unsigned node, memory::GuestMemory& ram, memory::GuestProtection& prot,
                                         int tid) override;
    void exec_waiting(unsigned node, bool waiting) override;
    void exec_forked(std::string_view program) override;
    void exec_gone(unsigned node, std::string_view program, std::uint64_t busy_ms) override;

    static constexpr unsigned kMaxHosts = 64;

private:
    struct Shared;
    struct Slot;
    // The deputy's side of the mailbox: the port of the session host
    // `node` started for a deputy listening on `deputy_port`. `meanwhile`
    // runs once the request is posted, before the wait for its answer.
    Result<std::uint16_t> request_session(unsigned node, std::uint16_t deputy_port,
                                          const std::function<void()>& meanwhile);
    void broker_loop(cluster::OriginCluster& run);  // the run's process only
    void on_node_message(unsigned from, std::uint16_t type, net::ByteView payload);  // I/O thread

    ExecDeputyOptions o_;
    Shared* shared_ = nullptr;
    std::uint32_t origin_cpus_ = 1;  // CPUs the origin may use (after --host-cpus pinned it)
    int run_pidfd_ = -1;  // the run's process (serve(); inherited by every fork)
};

}  // namespace spanvm::cli
