#pragma once
// `spanvm node`: one non-origin host of a shared program. It maps guest RAM
// at the same guest addresses as the origin, puts it under the DSM, then
// runs the guest threads the origin places here (Spawn). Every time such a
// thread leaves the guest (syscall, CPU exception, kick) its state goes to
// its executor at the origin (Trap, on the thread's own SyscallChannel) and
// the thread waits on that channel for the Resume.
// The node exits 0 when the origin says the program ended (Shutdown), and
// with one line and status 70 when the origin or another node fails: its
// ClusterFailure for a lost node, the origin's Abort, a bad cluster message
// or a thread that cannot start; the DSM engine's fail_all for the DSM's
// own faults.
//
// Threads: one host thread per guest thread here; the transport's I/O
// thread handles Spawn/Kick/Shutdown/Abort (through the ControlChannel,
// which shares the DSM engine's connections). mu_ guards the thread map
// and the vCPU pool (leaf).
//
// The daemon of a run (started by `run --local-hosts` or by the user with
// --cluster) also starts the sessions of execs placed on its host
// (SessionStart; session_launcher.hpp) and reports its load (NodeLoad):
// once when it has joined, then whenever a session ends.
//
// The I/O thread never touches guest memory and never blocks: a page
// fault it took would wait for an answer that only it can deliver, and a
// Spawn can even arrive before this node's links to the other nodes are
// up, when no fault thread runs yet (the DSM engine starts them once
// connected). Its heartbeats would stop and the origin would fail this
// node for silence ("no traffic for 3.0 s"). So a Spawn only registers the
// thread; the new host thread writes the vDSO time page (Timekeeper) and
// creates its vCPU. tk_mu_ (leaf, never taken on the I/O thread) guards
// the Timekeeper's start. Likewise a ChannelOffer (a deputy's session) only
// starts a host thread that dials the offered channel, ahead of the Spawn.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <vector>
#include <memory>
#include <mutex>
#include <string>

#include "net/cluster_config.hpp"
#include "vmm/cluster/cluster_failure.hpp"
#include "vmm/cluster/cluster_messages.hpp"
#include "vmm/cluster/control_channel.hpp"
#include "vmm/cluster/file_filler.hpp"
#include "vmm/cluster/node_local_calls.hpp"
#include "vmm/cluster/session_launcher.hpp"
#include "vmm/cluster/session_messages.hpp"
#include "vmm/cluster/syscall_channel.hpp"
#include "vmm/cluster/thread_faults.hpp"
#include "vmm/dsm/dsm_engine.hpp"
#include "vmm/memory/guest_protection.hpp"
#include "vmm/memory/layout.hpp"
#include "vmm/time/timekeeper.hpp"
#include "vmm/platform/platform.hpp"

namespace spanvm::cluster {

struct NodeOptions {
    net::ClusterConfig cluster;
    unsigned self = 1;
    std::uint64_t mem_size = 2ull << 30;
    platform::PlatformKind platform = platform::PlatformKind::automatic;
    // Called once, when every peer has joined (the DSM engine started).
    std::function<void()> on_joined;
    // A session started ahead by its daemon (session_launcher.hpp): >= 0,
    // the descriptor on which the daemon sends its deputy's port ("PORT\n")
    // once an exec is placed here. Everything before the DSM engine's start
    // (the platform, guest RAM, the engine and its listener's address) is
    // made before that; the cluster's node 0 port is a placeholder until
    // then. End of file: the daemon dropped it (or died), exit 0.
    int deputy_fd = -1;
    // A placed exec's session (`--daemon`), whether started ahead
    // (deputy_fd) or for an exec that found none ahead: its engine serves
    // one placed image.
    bool session = false;
    // >= 0: the DSM listener's socket, bound to this node's address and
    // port by the daemon that spawned this session (held from the port's
    // pick: net::hold_free_tcp_port); the engine listens on it.
    int listen_fd = -1;
};

class NodeRunner {
public:
    // Runs until the program ends; returns the process exit status.
    static int run(const NodeOptions& o);

private:
    struct Thread {
        int tid = 0;
        std::atomic<int> host_tid{0};
        std::atomic<bool> kicked{false};
    };

    explicit NodeRunner(const NodeOptions& o);
    int serve();
    // deputy_fd: blocks until the deputy's port arrives; false at end of file.
    bool await_deputy();
    void on_cluster_message(unsigned from, std::uint16_t type, net::ByteView payload);
    // A Layout from the origin, or one ridden on a Resume (guest thread):
    // applied here, then its LayoutAck.
    void apply_layout(const LayoutMsg& m);
    // brk() inside the thread's heap window, answered here (node_brk.hpp).
    bool answer_brk(NodeCallState& calls, platform::Vcpu& v);
    bool answer_mmap(NodeCallState& calls, platform::Vcpu& v);
    void start_thread(SpawnMsg m);                 // I/O thread
    void dial_ahead(const ChannelOfferMsg& m);     // I/O thread: starts the dialling thread
    // The thread's channel: the one dialled ahead for it when that dial
    // succeeded (waiting for it to end), else dialled now.
    Result<std::unique_ptr<SyscallChannel>> take_channel(const SpawnMsg& m, const ChannelSecurity& sec);
    void start_timekeeper(std::uint64_t vvar_gva);  // guest threads, before their first run
    // A session started ahead, before its deputy comes: measures the TSC
    // rate on a record of its own (Timekeeper::start sleeps 3 ms for it
    // where CPUID does not state the rate, 5-17 ms on a busy host) and
    // detaches, so that the first Spawn only attaches it to the guest's
    // vDSO page (start_timekeeper).
    void measure_tsc_ahead();
    std::unique_ptr<platform::Vcpu> take_vcpu(int tid);
    void guest_loop(std::shared_ptr<Thread> t, std::unique_ptr<platform::Vcpu> v, SpawnMsg m);
    // Once per placement window until the program ends: this node's
    // threads' faults per page to the origin (Sharing), when there are any.
    void sharing_loop();

    NodeOptions opts_;
    ClusterFailure failure_;
    ControlChannel channel_;  // its router outlives engine_'s transport
    std::unique_ptr<platform::Platform> platform_;
    // Host protection of guest RAM as the origin's Layout messages say
    // (written by the I/O thread only; the DSM engine reads pages through it).
    std::unique_ptr<memory::GuestProtection> protection_;
    // The pages filled from files (Layout files and fills); outlives engine_.
    FileFiller filler_{memory::layout::kUserBase};
    std::unique_ptr<dsm::DsmEngine> engine_;
    std::unique_ptr<SessionLauncher> sessions_;  // made before the engine starts, never reset
    std::mutex tk_mu_;
    std::unique_ptr<time::Timekeeper> timekeeper_;  // set once, by the first guest thread (tk_mu_), or ahead
    bool timekeeper_attached_ = false;              // it writes the guest's vDSO page (tk_mu_)
    // Taken as the node starts: the Timekeeper calibrates from it over the
    // time until the first Spawn instead of sleeping (timekeeper.hpp).
    const time::Timekeeper::Baseline tsc_baseline_ = time::Timekeeper::take_baseline();
    std::unique_ptr<spanvm_vvar> ahead_vvar_;       // the record it was measured on ahead (measure_tsc_ahead)
    ThreadFaults faults_;
    std::mutex mu_;
    std::map<int, std::shared_ptr<Thread>> threads_;
    // vCPUs of ended threads, reused by the next Spawn (mu_). A KVM vCPU id
    // stays taken until the VM closes and must be below KVM's limit, so ids
    // are small and handed out once: next_vcpu_id_ (mu_), never the tid.
    std::vector<std::unique_ptr<platform::Vcpu>> vcpu_pool_;
    unsigned long next_vcpu_id_ = 0;
    std::condition_variable done_cv_;
    bool done_ = false;
    // Channels dialled ahead (ChannelOffer), by tid (mu_; early_cv_ wakes
    // take_channel when a dial ends). Taken once, by the thread's Spawn.
    struct EarlyChannel {
        std::uint16_t port = 0;
        std::uint64_t cookie = 0;
        bool done = false;
        std::unique_ptr<SyscallChannel> channel;  // null: the dial failed (the Spawn's thread dials again)
    };
    static constexpr std::size_t kMaxEarlyChannels = 4;
    // How long a lost node other than the origin waits for the origin's
    // Abort before this node fails by itself (ControlChannel::
    // defer_peer_failures): the origin's line goes out, then its last
    // words (250 ms at most).
    static constexpr std::chrono::milliseconds kPeerFailureDefer{1000};
    std::map<int, std::shared_ptr<EarlyChannel>> early_channels_;
    std::condition_variable early_cv_;
};

}  // namespace spanvm::cluster
