#pragma once
// The executor's side of a guest thread that runs on another node.
//
// At the origin each remote guest thread has an executor: an ordinary
// GuestThread whose vCPU is a RemoteVcpu. Its run() sends the previous
// Resume (the syscall's result and any register, FS/GS or FPU change) and
// waits for the thread's next Trap; then SyscallGate, signal delivery and
// exception handling run on the executor exactly as for a local thread, on
// the trapped thread's state. So every system call a remote thread makes
// runs at the origin, on the executor paired 1:1 with it, and guest
// pointers reach guest RAM there through the DSM.
//
// Threads: run() and the accessors are called by the executor only; traps
// are pushed by the transport's I/O thread (deliver()). mu_ is a leaf.
#include <condition_variable>
#include <deque>
#include <mutex>

#include "vmm/cluster/cluster_messages.hpp"
#include "vmm/platform/vcpu.hpp"

namespace spanvm::cluster {

class OriginCluster;

class RemoteVcpu final : public platform::Vcpu {
public:
    RemoteVcpu(OriginCluster& c, unsigned node, unsigned long id) : cluster_(c), node_(node), id_(id) {}
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

    bool pooled() const override { return false; }
    void set_guest_tid(int tid) override;
    void on_thread_exit() override;
    int remote_host_tid() const override { return remote_host_tid_; }

    unsigned node() const { return node_; }
    // A Trap for this thread arrived (transport I/O thread).
    void deliver(TrapMsg t);
    // The node failed or the program ends: run() returns an error exit.
    void abort(const std::string& why);

private:
    void send_resume(bool exit);

    OriginCluster& cluster_;
    unsigned node_;
    unsigned long id_;
    int tid_ = 0;
    int remote_host_tid_ = 0;
    ThreadState state_;
    bool fpu_dirty_ = false;
    bool owes_resume_ = false;  // a Trap was taken and not yet answered

    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<TrapMsg> traps_;
    std::string aborted_;
};

}  // namespace spanvm::cluster
