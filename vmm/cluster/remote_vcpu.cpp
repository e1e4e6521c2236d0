#include "vmm/cluster/remote_vcpu.hpp"

#include "vmm/cluster/origin_cluster.hpp"

namespace spanvm::cluster {

RemoteVcpu::~RemoteVcpu() {
    if (tid_) cluster_.unregister_thread(tid_);
}

void RemoteVcpu::set_guest_tid(int tid) {
    tid_ = tid;
    cluster_.register_thread(tid, this);
}

Result<void> RemoteVcpu::set_initial_state(const platform::Regs& regs, uint64_t fs_base, uint64_t gs_base) {
    state_.regs = regs;
    state_.fs_base = fs_base;
    state_.gs_base = gs_base;
    SpawnMsg m{tid_, state_};
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

Result<std::vector<uint8_t>> RemoteVcpu::save_fpu() {
    if (state_.fpu.empty()) return make_error(EIO, "no FPU image from node {}", node_);
    return state_.fpu;
}

Result<void> RemoteVcpu::restore_fpu(std::span<const uint8_t> image) {
    if (image.size() < 512) return make_error(EINVAL, "FPU image shorter than 512 bytes");
    // The node's platform validates it when it loads it; a shorter (FXSAVE)
    // image replaces the legacy area only.
    if (image.size() < state_.fpu.size())
        std::copy(image.begin(), image.end(), state_.fpu.begin());
    else
        state_.fpu.assign(image.begin(), image.end());
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
    owes_resume_ = false;
    (void)cluster_.send(node_, kResumeType, encode(m));  // a lost node is reported by the DSM engine
}

platform::VcpuExit RemoteVcpu::run() {
    if (owes_resume_) send_resume(false);
    TrapMsg t;
    {
        std::unique_lock lk(mu_);
        cv_.wait(lk, [&] { return !traps_.empty() || !aborted_.empty(); });
        if (traps_.empty()) {
            platform::VcpuExit e;
            e.kind = platform::VcpuExit::Kind::error;
            e.what = aborted_;
            return e;
        }
        t = std::move(traps_.front());
        traps_.pop_front();
    }
    state_.regs = t.state.regs;
    state_.fs_base = t.state.fs_base;
    state_.gs_base = t.state.gs_base;
    if (!t.state.fpu.empty()) state_.fpu = std::move(t.state.fpu);
    remote_host_tid_ = t.host_tid;
    owes_resume_ = true;
    return t.exit;
}

void RemoteVcpu::on_thread_exit() {
    send_resume(true);
}

void RemoteVcpu::deliver(TrapMsg t) {
    {
        std::lock_guard lk(mu_);
        traps_.push_back(std::move(t));
    }
    cv_.notify_one();
}

void RemoteVcpu::abort(const std::string& why) {
    {
        std::lock_guard lk(mu_);
        aborted_ = why;
    }
    cv_.notify_one();
}

}  // namespace spanvm::cluster
