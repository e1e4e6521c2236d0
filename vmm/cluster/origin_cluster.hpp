#pragma once
// The origin's half of the distributed process mode: it owns the DSM engine
// over guest RAM (the origin is home of every page, so a single-node access
// pattern costs no message), places threads, creates the executors' remote
// vCPUs, routes Traps to them, kicks remote threads and ends the program on
// every node. Implements process::RemoteThreads for the process layer (the
// CLI hands it to the Process) and ExecutorServices for its RemoteVcpus.
//
// The cluster's messages go through its own ControlChannel (which shares
// the DSM engine's connections through a router, not the engine), and its
// failures other than the DSM's through its own ClusterFailure (which tells
// every node with Abort before the origin exits).
//
// Threads: the transport's I/O thread calls on_cluster_message() (through
// the ControlChannel); the ChannelListener's thread hands channels to
// executors (on_channel); executors call send(), channel_lost() and
// register/unregister_thread(); any guest thread may call kick() and
// shutdown(). Lock order: threads_mu_ -> RemoteVcpu::mu_, threads_mu_ ->
// layout_mu_, layout_send_mu_ -> layout_mu_; bye_mu_,
// place_mu_, sharing_mu_ and layout_mu_ are leaves. Under `--place auto` a placement
// thread (placement_loop) wakes once per window, reads the faults per page
// (the origin's own threads from faults_, the nodes' from their Sharing
// messages), asks the SharingPolicy and hands its moves to the Process's
// ThreadMover; the moving threads report back through thread_moved().
//
// Failure: a lost node, a broken syscall channel or a bad cluster message
// ends the program through failure_ (ClusterFailure); the DSM's own faults
// through the engine's UffdRegion::fail_all, whose fatal hook tells the
// nodes the same way.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "net/cluster_config.hpp"
#include "vmm/cluster/build_identity.hpp"
#include "vmm/cluster/cluster_failure.hpp"
#include "vmm/cluster/cluster_messages.hpp"
#include "vmm/cluster/control_channel.hpp"
#include "vmm/cluster/file_filler.hpp"
#include "vmm/cluster/layout_messages.hpp"
#include "vmm/cluster/layout_rides.hpp"
#include "vmm/cluster/node_answers.hpp"
#include "vmm/cluster/placement.hpp"
#include "vmm/cluster/remote_vcpu.hpp"
#include "vmm/cluster/shared_fs.hpp"
#include "vmm/cluster/sharing_policy.hpp"
#include "vmm/cluster/syscall_channel.hpp"
#include "vmm/cluster/thread_cpu.hpp"
#include "vmm/cluster/thread_faults.hpp"
#include "vmm/dsm/dsm_engine.hpp"
#include "vmm/memory/layout.hpp"
#include "vmm/process/remote_threads.hpp"
#include "vmm/report/run_report.hpp"

namespace spanvm::cluster {

class OriginCluster final : public process::RemoteThreads, public ExecutorServices {
public:
    OriginCluster(net::ClusterConfig config, PlacePolicy policy);
    ~OriginCluster() override;

    Result<void> attach_memory(memory::GuestMemory& mem, const memory::GuestProtection& prot) override;
    void layout_changed(const std::vector<memory::LayoutRun>& runs) override;
    void discard(std::uint64_t gpa, std::uint64_t len, const std::function<void()>& open) override;
    std::optional<std::vector<bool>> fill_from_file(std::uint64_t gpa, std::uint64_t len, int fd,
                                                     std::uint64_t off) override;
    std::pair<std::uint64_t, std::uint64_t> node_page_counts() override;
    std::pair<std::uint64_t, std::uint64_t> layout_counts() override;
    void mapped(std::uint64_t gpa, std::uint64_t len, unsigned node) override;
    bool heap_windows() const override;
    Result<void> gather_for_fork(std::uint64_t gpa, std::uint64_t len) override;
    Result<void> set_vdso_data(std::uint64_t gva) override;
    std::uint64_t vdso_data() const override { return vvar_gva_; }
    std::uint8_t node_answers() const override { return static_cast<std::uint8_t>(node_answers_); }
    // A cluster made for an exec placed on another node serves one image;
    // execve left it one thread, whose Spawn is the cluster's first.
    bool sole_thread_spawn() override {
        return placement_.policy() == PlacePolicy::away && !sole_spawned_.exchange(true);
    }
    SharedFsProof acquire_fs_proof() override;
    void release_fs_proof() override { fs_probe_.release(); }
    // SPANVM_NODE_ANSWERS (node_answers.hpp): all (unset), thread or off;
    // an error line for any other value (the CLI checks it at start).
    static Result<NodeAnswers> node_answers_from_env();
    unsigned place_thread() override;
    void thread_gone(unsigned node) override;
    process::RemoteThreadVcpu create_vcpu(unsigned node, unsigned long vcpu_id) override;
    void kick(unsigned node, int tid) override;
    void shutdown(int status) override;
    std::pair<std::uint64_t, std::uint64_t> thread_faults(int host_tid) override;
    void start_placement(process::ThreadMover& m) override;
    void thread_moved(int tid, unsigned from, unsigned to, std::uint64_t ns) override;

    // --place-exec: SessionReady and NodeLoad from the nodes
    // (session_messages.hpp) go to `h`, on the transport's I/O thread (it
    // must not block). Set before attach_memory; without it they are dropped.
    using SessionHandler = std::function<void(unsigned from, std::uint16_t type, net::ByteView payload)>;
    void on_sessions(SessionHandler h) { session_handler_ = std::move(h); }

    // A deputy's cluster: see ClusterFailure::quiet_when (before
    // attach_memory, which gives the DSM region the same rule: a session
    // that dies with its host during the handshake is quiet too).
    void quiet_failures_when(std::function<bool()> quiet) {
        quiet_ = quiet;
        failure_.quiet_when(std::move(quiet));
    }
    // A deputy's cluster: its engine listens on this socket, bound to node
    // 0's port since the port's pick (net::hold_free_tcp_port; before
    // attach_memory, which takes it over).
    void listen_on(int fd) { listen_fd_ = fd; }
    // A deputy's cluster, once attached: node `node` is told (ChannelOffer,
    // session_messages.hpp) to dial guest thread `tid`'s syscall channel
    // now, before its Spawn; the channel that comes before the thread is
    // registered is kept for it (register_thread attaches it). At most
    // kMaxOffered offers are outstanding; a channel for a thread never
    // offered and not registered is still dropped.
    Result<void> offer_channel(unsigned node, int tid);

    // The machine table and the top `top_pages` hot pages of guest RAM, for
    // the run report (the CLI asks after the Process has shut the nodes
    // down; a node that sent no Stats has no counters).
    report::ClusterReport report(std::size_t top_pages);

    Result<void> send(unsigned node, std::uint16_t type, const net::Bytes& payload) override;
    void register_thread(int tid, RemoteVcpu* v) override;
    void unregister_thread(int tid, RemoteVcpu* v) override;
    // Where nodes connect a thread's SyscallChannel (sent in Spawn).
    std::uint16_t channel_port() const override;
    std::uint64_t channel_cookie() const override;
    // A thread's channel broke. Ends the program naming the node unless the
    // program is already ending (then it returns).
    void channel_lost(unsigned node, int tid, const std::string& why) override;
    std::optional<LayoutMsg> take_ride(unsigned node, int tid) override;
    void settle_rides(unsigned node) override;

private:
    void on_cluster_message(unsigned from, std::uint16_t type, net::ByteView payload);
    void on_channel(std::int32_t tid, std::unique_ptr<SyscallChannel> ch);
    // Counters of node k for the tables: the origin's own, a node's last
    // Stats message, or nullopt if that node has sent none.
    std::optional<NodeStatsMsg> node_stats(std::size_t k);
    // `--place auto`: once per window, the threads' faults per page into the
    // SharingPolicy, and its moves to the ThreadMover.
    void placement_loop();
    void placement_window();

    net::ClusterConfig config_;
    SessionHandler session_handler_;  // set before the transport starts
    ClusterFailure failure_;
    std::function<bool()> quiet_;  // quiet_failures_when's, for the DSM region too
    ControlChannel channel_;  // its router outlives engine_'s transport
    std::unique_ptr<dsm::DsmEngine> engine_;
    std::unique_ptr<ChannelListener> listener_;
    ThreadFaults faults_;
    std::uint8_t* ram_base_ = nullptr;  // host view of guest RAM (guest address 0)
    int listen_fd_ = -1;  // listen_on
    const memory::GuestProtection* guest_protection_ = nullptr;  // attach_memory (gather_for_fork skips what the guest may not touch)
    std::uint64_t vvar_gva_ = 0;        // the vDSO's node-local time page (Spawn)
    std::atomic<bool> sole_spawned_{false};  // sole_thread_spawn
    NodeAnswers node_answers_ = NodeAnswers::all;  // Spawn
    SharedFsProbe fs_probe_;                       // Spawn (NodeAnswers::all only)
    std::mutex place_mu_;
    Placement placement_;
    std::mutex threads_mu_;
    std::map<int, RemoteVcpu*> threads_;
    // offer_channel: the tids offered and not registered yet, and the
    // channels that came for them first (both guarded by threads_mu_).
    static constexpr std::size_t kMaxOffered = 4;
    std::set<int> offered_;
    std::map<int, std::unique_ptr<SyscallChannel>> early_channels_;
    std::mutex bye_mu_;
    std::condition_variable bye_cv_;
    std::size_t byes_ = 0;
    std::vector<std::optional<NodeStatsMsg>> node_stats_;  // guarded by bye_mu_; by node id
    std::atomic<bool> shut_{false};
    // Layout broadcasts (layout_changed, one at a time under the Process's
    // aspace_mu_, and settle_rides): layout_send_mu_ -> layout_mu_ (leaf).
    // layout_send_mu_ is held from a Layout's sequence number to its sends,
    // so the nodes get Layouts in sequence order; layout_mu_ guards the
    // refusals and rides_ (the acks by node id, the rides, the thread map).
    std::mutex layout_send_mu_;
    std::mutex layout_mu_;
    std::condition_variable layout_cv_;
    std::map<std::uint64_t, std::vector<std::uint32_t>> layout_refused_;  // by seq, for Layouts naming files
    // Rides (docs/dsm-protocol.md "Fillers", F6 and F7; a cluster of two
    // only): the layout changes node k has not been sent, held for the
    // Resume of the call that made them or for node k's first Spawn, the
    // Layout seqs and the acks; its rules decide, this class waits and sends.
    LayoutRides rides_;
    static bool rides_from_env();  // SPANVM_LAYOUT_RIDE=0 turns rides off (tests, counts)
    std::atomic<std::uint64_t> layout_round_trips_{0};  // Layouts sent and waited for
    std::atomic<std::uint64_t> layouts_ridden_{0};      // rides taken by a Resume
    std::atomic<std::uint64_t> layouts_unacked_{0};     // filler changes sent unacked (F7)
    // One Layout to every node, waiting for every LayoutAck; returns the
    // file ids any node refused. Held rides go first in it.
    std::vector<std::uint32_t> broadcast_layout(LayoutMsg m);
    // Waits on layout_cv_ (lk held on layout_mu_, released meanwhile) until
    // `until` (a LayoutRides AckWait, or a bool) has nothing left to wait
    // for, or the program ends. A template, not a std::function: take_ride
    // waits here on every Resume. A node lost meanwhile ends the program
    // (ControlChannel), so the wait ends with the process; after shutdown
    // the nodes are gone.
    template <class Until>
    void wait_acked(std::unique_lock<std::mutex>& lk, Until until) {
        while (!shut_ && until()) layout_cv_.wait_for(lk, std::chrono::milliseconds(100));
    }
    // A layout change with no file to name: held for a ride when the rule
    // allows (see Ride), else broadcast.
    void change_layout(LayoutMsg m);
    bool ride(const LayoutMsg& m);
    // F7 (a cluster of two): a filler-only change sent to node 1 and not
    // waited for; false where the rule does not apply.
    bool send_fills_unacked(const LayoutMsg& m);
    // Fillers (file_filler.hpp): the origin's own, and the files named to
    // the nodes by identity, with whether every node has the same file
    // (fill_from_file, under the Process's aspace_mu_; files_mu_ a leaf).
    FileFiller filler_{memory::layout::kUserBase};
    std::mutex files_mu_;
    struct NamedFile {
        FileIdentity identity;
        std::uint32_t id;
        bool everywhere;
    };
    std::vector<NamedFile> files_;  // file id = index + 1
    static constexpr std::size_t kMaxFilledFiles = 4096;  // per process image; more are read here

    // `--place auto` (sharing_mu_ is a leaf; the placement thread calls the
    // ThreadMover without holding it).
    const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
    process::ThreadMover* mover_ = nullptr;
    bool cycle_test_ = false;  // SPANVM_MIGRATE_CYCLE=1: move every thread each window (tests)
    SharingPolicy sharing_;  // the placement thread's only
    std::mutex sharing_mu_;
    std::condition_variable sharing_cv_;
    bool stop_placer_ = false;
    struct NodeWindow {
        unsigned node = 0;
        std::uint64_t cpu_ns = 0;
        std::uint64_t created = 0;
        std::vector<PageUse> pages;
    };
    std::map<int, NodeWindow> node_windows_;  // tid -> the node's reports this window
    std::map<unsigned, std::uint64_t> node_fault_ns_;  // node -> its last window's write-fault latency
    WindowMean fault_latency_;                         // the origin's own (placement thread)
    ThreadCpuWindow origin_cpu_;                       // the origin's threads' CPU time (placement thread)
    std::map<int, std::string> move_reasons_;  // decided, not yet done
    std::vector<report::MigrationReport> migrations_;
    std::thread placer_;
};

}  // namespace spanvm::cluster
