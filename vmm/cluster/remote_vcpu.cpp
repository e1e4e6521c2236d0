#include "vmm/cluster/remote_vcpu.hpp"

#include <algorithm>
#include <utility>

namespace spanvm::cluster {

namespace {
thread_local RemoteVcpu* t_serving = nullptr;  // see RemoteVcpu::serving()
}  // namespace

RemoteVcpu* RemoteVcpu::serving() { return t_serving; }

RemoteVcpu::~RemoteVcpu() {
    if (tid_) cluster_.unregister_thread(tid_, this);
    if (std::exchange(holds_proof_, false)) cluster_.release_fs_proof();
}

void RemoteVcpu::set_guest_tid(int tid) {
    tid_ = tid;
    cluster_.register_thread(tid, this);
}

Result<void> RemoteVcpu::set_initial_state(const platform::Regs& regs, uint64_t fs_base, uint64_t gs_base) {
    state_.regs = regs;
    state_.fs_base = fs_base;
    state_.gs_base = gs_base;
    spawned_ = true;
    fpu_dirty_ = false;  // an image set before this travels with the Spawn
    cluster_.settle_rides(node_);  // the new thread sees every layout change made so far
    SpawnMsg m{tid_, cluster_.channel_port(), cluster_.channel_cookie(), cluster_.vdso_data(), state_};
    m.node_answers = cluster_.node_answers();
    m.sole_thread = cluster_.sole_thread_spawn();
    // The proof is of this thread's view: set_initial_state runs on the
    // executor's own host thread (GuestThread::run, or the migrating thread).
    if (!holds_proof_) {
        m.fs = cluster_.acquire_fs_proof();
        holds_proof_ = !m.fs.probe_path.empty();
    }
    return cluster_.send(node_, kSpawnType, encode(m));
}

Result<void> RemoteVcpu::set_fs_base(uint64_t v) {
    state_.fs_base = v;
    return {};
}

Result<void> RemoteVcpu::set_gs_base(uint64_t v) {
    state_.gs_base = v;
    return {};
}

Result<void> RemoteVcpu::fetch_fpu() {
    if (fpu_valid_) return {};
    SyscallChannel* ch = wait_channel();
    if (auto s = ch->send(ChannelType::fpu_request, {}); !s) return s.error();
    auto f = ch->receive();
    if (!f) return f.error();
    if (f->type != ChannelType::fpu || f->payload.size() < 512)
        return make_error(EPROTO, "node {}: expected an FPU image, got type {:#x} of {} bytes", node_,
                          static_cast<unsigned>(f->type), f->payload.size());
    state_.fpu = std::move(f->payload);
    fpu_valid_ = true;
    return {};
}

Result<std::vector<uint8_t>> RemoteVcpu::save_fpu() {
    if (auto r = fetch_fpu(); !r) return make_error(EIO, "FPU image from node {}: {}", node_, r.error().message);
    return state_.fpu;
}

Result<void> RemoteVcpu::restore_fpu(std::span<const uint8_t> image) {
    if (image.size() < 512) return make_error(EINVAL, "FPU image shorter than 512 bytes");
    if (!spawned_) {
        // A migrating thread's image: it goes with the Spawn.
        state_.fpu.assign(image.begin(), image.end());
        fpu_valid_ = true;
        return {};
    }
    // The node's platform validates it when it loads it; a shorter (FXSAVE)
    // image replaces the legacy area of the current one.
    if (image.size() < state_.fpu.size() || state_.fpu.empty()) {
        if (auto r = fetch_fpu(); !r) return make_error(EIO, "FPU image from node {}: {}", node_, r.error().message);
    }
    if (image.size() < state_.fpu.size())
        std::copy(image.begin(), image.end(), state_.fpu.begin());
    else
        state_.fpu.assign(image.begin(), image.end());
    fpu_valid_ = true;
    fpu_dirty_ = true;
    return {};
}

void RemoteVcpu::send_resume(bool exit) {
    ResumeMsg m;
    m.tid = tid_;
    m.exit = exit;
    m.state.regs = state_.regs;
    m.state.fs_base = state_.fs_base;
    m.state.gs_base = state_.gs_base;
    if (fpu_dirty_) m.state.fpu = state_.fpu;
    fpu_dirty_ = false;
    m.writes = std::move(writes_);
    writes_.clear();
    m.layout = cluster_.take_ride(node_, tid_);
    m.opened = std::exchange(opened_, std::nullopt);
    m.brk_window = std::exchange(heap_window_, std::nullopt);
    m.map_window = std::exchange(map_window_, std::nullopt);
    owes_resume_ = false;
    t_serving = nullptr;
    // A lost node is reported by the DSM engine (or by the next receive).
    (void)wait_channel()->send(ChannelType::resume, encode(m));
}

SyscallChannel* RemoteVcpu::wait_channel() {
    if (auto* c = channel_ptr_.load(std::memory_order_acquire)) [[likely]]
        return c;
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return channel_ != nullptr; });
    return channel_.get();
}

void RemoteVcpu::lost(const Error& e) {
    // At shutdown the nodes close their channels: park until the process
    // exits. Otherwise the node is gone; the cluster ends the program.
    cluster_.channel_lost(node_, tid_, e.message);
    std::unique_lock lk(mu_);
    for (;;) cv_.wait(lk);  // nothing wakes it: the process is exiting
}

platform::VcpuExit RemoteVcpu::run() {
    if (owes_resume_) send_resume(false);
    args_.ranges.clear();
    opened_.reset();
    SyscallChannel* ch = wait_channel();
    auto f = ch->receive();
    if (!f) lost(f.error());
    if (f->type != ChannelType::trap)
        lost(make_error(EPROTO, "expected a Trap, got type {:#x}", static_cast<unsigned>(f->type)));
    auto t = decode_trap(f->payload);
    if (!t) lost(make_error(EPROTO, "bad Trap: {}", t.error().message));
    // The node checked the probe before its first Trap. Not before its
    // channel: one dialled ahead on a ChannelOffer may connect (and attach)
    // after the Spawn went and before the node has read it.
    if (std::exchange(holds_proof_, false)) cluster_.release_fs_proof();
    state_.regs = t->state.regs;
    state_.fs_base = t->state.fs_base;
    state_.gs_base = t->state.gs_base;
    fpu_valid_ = !t->state.fpu.empty();
    if (fpu_valid_) state_.fpu = std::move(t->state.fpu);
    args_ = std::move(t->args);
    remote_host_tid_ = t->host_tid;
    remote_faults_ = {t->read_faults, t->write_faults};
    remote_local_calls_ = t->local_syscalls;
    if (t->clear_child_tid) words_.clear_child_tid = t->clear_child_tid;
    if (t->robust_list) words_.robust_list = t->robust_list;
    words_.closed_fds.insert(words_.closed_fds.end(), t->closed_fds.begin(), t->closed_fds.end());
    words_.seeks.insert(words_.seeks.end(), t->seeks.begin(), t->seeks.end());
    if (t->brk) words_.brk = t->brk;
    for (const OwedMap& o : t->maps)
        words_.maps.push_back({o.addr, o.len, static_cast<int>(o.prot), static_cast<int>(o.flags)});
    owes_resume_ = true;
    t_serving = this;
    return t->exit;
}

void RemoteVcpu::syscall_returned() {
    // The bytes Linux writes for this result, per range (ArgRange::Store):
    // stored on the node before the thread continues.
    const auto result = static_cast<std::int64_t>(state_.regs.rax);
    args_.for_each_store(result, [&](std::uint64_t gva, std::span<const std::uint8_t> b) {
        writes_.push_back({gva, std::vector<std::uint8_t>(b.begin(), b.end())});
    });
}

void RemoteVcpu::on_thread_exit() {
    send_resume(true);
}

bool RemoteVcpu::leave_node(memory::GuestMemory& mem, const memory::GuestProtection& layout) {
    // Stored before the Resume goes: the node's thread is parked until it
    // gets it, so nothing of the thread runs between the call and this
    // store, and the Resume then carries no writes.
    for (const auto& g : writes_) {
        if (!mem.host_ptr(g.gva, g.bytes.size())) return false;
        if (g.bytes.empty() || !layout.writable(g.gva, g.bytes.size())) continue;
        (void)mem.write(g.gva, g.bytes.data(), g.bytes.size());
    }
    writes_.clear();
    send_resume(true);
    return true;
}

void RemoteVcpu::attach_channel(std::unique_ptr<SyscallChannel> ch) {
    {
        std::lock_guard lk(mu_);
        if (channel_) return;  // one per thread; a second hello is dropped
        channel_ = std::move(ch);
        channel_ptr_.store(channel_.get(), std::memory_order_release);
    }
    cv_.notify_all();
}

}  // namespace spanvm::cluster
