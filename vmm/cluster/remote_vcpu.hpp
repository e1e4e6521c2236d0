#pragma once
// The executor's side of a guest thread that runs on another node.
//
// At the origin each remote guest thread has an executor: an ordinary
// GuestThread whose vCPU is a RemoteVcpu. Its run() sends the previous
// Resume (the syscall's result and any register, FS/GS or FPU change) and
// waits for the thread's next Trap on the thread's SyscallChannel; then
// SyscallGate, signal delivery and exception handling run on the executor
// exactly as for a local thread, on the trapped thread's state. So every
// system call a remote thread makes runs at the origin, on the executor
// paired 1:1 with it, and guest pointers reach guest RAM there through the
// DSM, except the inputs the Trap carries and the outputs it declares,
// whose bytes go back with the Resume (arg_memory.hpp, syscall_returned).
// The FPU image is fetched from the node only when asked for (save_fpu).
//
// It is both the executor's platform::Vcpu and its process::RemoteLink
// (vmm/process/remote_threads.hpp): OriginCluster::create_vcpu returns the
// one object twice, as the vCPU (owner) and as the link (a view of it).
// What it needs of the origin is ExecutorServices, not OriginCluster.
//
// Threads: run() and the accessors are called by the executor only; the
// ChannelListener's thread attaches the channel once (attach_channel()),
// or the executor itself when the channel came first (register_thread of a
// channel dialled ahead, OriginCluster::offer_channel);
// mu_ is a leaf.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "vmm/cluster/cluster_messages.hpp"
#include "vmm/cluster/syscall_channel.hpp"
#include "vmm/platform/vcpu.hpp"
#include "vmm/process/remote_threads.hpp"

namespace spanvm::cluster {

class RemoteVcpu;

// What an executor's RemoteVcpu asks of the origin (OriginCluster
// implements it). All calls come from the executor's host thread, except
// register_thread (the thread spawning it) and unregister_thread (whoever
// drops the vCPU).
class ExecutorServices {
public:
    virtual ~ExecutorServices() = default;
    // Routes the thread's syscall channel to `v` once the node connects it.
    virtual void register_thread(int tid, RemoteVcpu* v) = 0;
    // Drops the route of `tid` if it still leads to `v` (a migrated thread's
    // new vCPU may already hold it).
    virtual void unregister_thread(int tid, RemoteVcpu* v) = 0;
    // Sent in the thread's Spawn: where to connect its channel, and the
    // vDSO's node-local time page.
    virtual std::uint16_t channel_port() const = 0;
    virtual std::uint64_t channel_cookie() const = 0;
    virtual std::uint64_t vdso_data() const = 0;
    // Also in the Spawn: what the node may answer itself (NodeAnswers,
    // node_answers.hpp) and the proof of the calling thread's file system
    // view (shared_fs.hpp), whose probe is held until release_fs_proof().
    virtual std::uint8_t node_answers() const = 0;
    // True for the one Spawn of a thread that is, and stays until it
    // clones, its process's only thread, every change to the process's fd
    // table being its own call (SpawnMsg::sole_thread): the first Spawn of
    // a cluster made for an exec placed on another node (PlacePolicy::away).
    virtual bool sole_thread_spawn() = 0;
    virtual SharedFsProof acquire_fs_proof() = 0;
    virtual void release_fs_proof() = 0;
    // A cluster message to `node` over the DSM link (the Spawn).
    virtual Result<void> send(unsigned node, std::uint16_t type, const net::Bytes& payload) = 0;
    // The thread's channel broke: ends the program naming the node unless
    // it is already ending (then it returns).
    virtual void channel_lost(unsigned node, int tid, const std::string& why) = 0;
    // Layouts riding on Resumes (docs/dsm-protocol.md "Fillers", F6): the
    // layout changes of the call thread `tid` is ending that go with its
    // Resume, if any; from here they count as sent.
    virtual std::optional<LayoutMsg> take_ride(unsigned node, int tid) = 0;
    // Before a Spawn to `node`: every layout change made so far is applied
    // there (a ride still held is sent as a Layout, one in flight acked).
    virtual void settle_rides(unsigned node) = 0;
};

class RemoteVcpu final : public platform::Vcpu, public process::RemoteLink {
public:
    RemoteVcpu(ExecutorServices& c, unsigned node, unsigned long id) : cluster_(c), node_(node), id_(id) {}
    ~RemoteVcpu() override;

    unsigned long id() const override { return id_; }
    Result<void> attach_thread() override { return {}; }
    Result<void> set_initial_state(const platform::Regs& regs, uint64_t fs_base, uint64_t gs_base) override;
    platform::VcpuExit run() override;
    platform::Regs& regs() override { return state_.regs; }
    void mark_regs_dirty() override {}
    Result<uint64_t> fs_base() override { return state_.fs_base; }
    Result<void> set_fs_base(uint64_t v) override;
    Result<uint64_t> gs_base() override { return state_.gs_base; }
    Result<void> set_gs_base(uint64_t v) override;
    Result<std::vector<uint8_t>> save_fpu() override;
    Result<void> restore_fpu(std::span<const uint8_t> image) override;

    // --- process::RemoteLink ---
    void set_guest_tid(int tid) override;
    void on_thread_exit() override;
    bool leave_node(memory::GuestMemory& mem, const memory::GuestProtection& layout) override;
    int remote_host_tid() const override { return remote_host_tid_; }
    std::pair<uint64_t, uint64_t> remote_faults() const override { return remote_faults_; }
    uint64_t remote_local_syscalls() const override { return remote_local_calls_; }
    ThreadWords take_thread_words() override { return std::exchange(words_, ThreadWords{}); }
    void opened_file(std::uint64_t dev, std::uint64_t ino) override { opened_ = std::make_pair(dev, ino); }
    void set_heap_window(std::uint64_t brk, std::uint64_t limit) override { heap_window_ = BrkWindow{brk, limit}; }
    void set_map_window(std::uint64_t lo, std::uint64_t hi) override { map_window_ = MapWindow{lo, hi}; }
    memory::ArgMemory* arg_memory() override { return &args_; }
    void syscall_returned() override;

    unsigned node() const override { return node_; }
    int tid() const { return tid_; }
    // The remote thread whose call this host thread (its executor) is
    // running, between its Trap and its Resume; null elsewhere.
    static RemoteVcpu* serving();
    // The thread's node connected its channel (listener thread).
    void attach_channel(std::unique_ptr<SyscallChannel> ch);

private:
    void send_resume(bool exit);
    SyscallChannel* wait_channel();  // blocks until the node has connected
    [[noreturn]] void lost(const Error& e);
    Result<void> fetch_fpu();

    ExecutorServices& cluster_;
    unsigned node_;
    unsigned long id_;
    int tid_ = 0;
    int remote_host_tid_ = 0;
    std::pair<uint64_t, uint64_t> remote_faults_{0, 0};
    std::optional<std::pair<std::uint64_t, std::uint64_t>> opened_;  // for the next Resume
    uint64_t remote_local_calls_ = 0;
    ThreadState state_;
    memory::ArgMemory args_;          // of the current Trap
    std::vector<GuestWrite> writes_;  // for the next Resume
    bool fpu_valid_ = false;        // state_.fpu is the thread's current image
    bool fpu_dirty_ = false;
    bool owes_resume_ = false;  // a Trap was taken and not yet answered
    bool spawned_ = false;      // the Spawn went out (set_initial_state)
    ThreadWords words_;         // from the last Trap, until the executor takes them
    std::optional<BrkWindow> heap_window_;  // for the next Resume only
    std::optional<MapWindow> map_window_;   // for the next Resume only
    bool holds_proof_ = false;  // a probe is held for this Spawn until the first Trap (executor only)

    std::mutex mu_;
    std::condition_variable cv_;
    std::unique_ptr<SyscallChannel> channel_;         // set once under mu_, kept until destruction
    std::atomic<SyscallChannel*> channel_ptr_{nullptr};  // channel_, published for the executor's fast path
};

}  // namespace spanvm::cluster
