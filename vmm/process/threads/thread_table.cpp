#include "vmm/process/threads/thread_table.hpp"

namespace spanvm::process {

const char* to_string(ThreadState s) {
    switch (s) {
        case ThreadState::starting: return "starting";
        case ThreadState::running: return "running";
        case ThreadState::in_syscall: return "syscall";
        case ThreadState::blocked: return "blocked";
        case ThreadState::exited: return "exited";
    }
    return "?";
}

ThreadRow& ThreadTable::add(unsigned vcpu_id, unsigned node_id) {
    std::lock_guard lk(mu_);
    auto& r = rows_.emplace_back();
    r.tid = next_tid_++;
    r.vcpu_id = vcpu_id;
    r.node_id = node_id;
    return r;
}

void ThreadTable::keep_only_in_child(ThreadRow& keep, int pid) {
    for (auto& r : rows_)
        if (&r != &keep) r.state.store(ThreadState::exited);
    keep.tid = pid;
    keep.sig_pending.store(0);
    keep.sig_queue.clear();
    next_tid_ = pid + 1;
}

size_t ThreadTable::live_threads() const {
    std::lock_guard lk(mu_);
    size_t n = 0;
    for (auto& r : rows_) n += r.state.load() != ThreadState::exited;
    return n;
}

void ThreadTable::make_leader(ThreadRow& row, int pid) {
    std::lock_guard lk(mu_);
    row.tid = pid;
}

ThreadRow* ThreadTable::find_live(int tid) {
    std::lock_guard lk(mu_);
    for (auto& r : rows_)
        if (r.tid == tid && r.state.load() != ThreadState::exited) return &r;
    return nullptr;
}

std::vector<ThreadRow*> ThreadTable::live_rows() {
    std::lock_guard lk(mu_);
    std::vector<ThreadRow*> out;
    for (auto& r : rows_)
        if (r.state.load() != ThreadState::exited) out.push_back(&r);
    return out;
}

bool ThreadTable::any_live_remote_locked(const ThreadRow* except) const {
    for (auto& r : rows_)
        if (&r != except && r.state.load() != ThreadState::exited && r.node_id.load() != 0) return true;
    return false;
}

size_t ThreadTable::total_threads() const {
    std::lock_guard lk(mu_);
    return rows_.size();
}

void ThreadTable::refresh_faults(const std::function<std::pair<uint64_t, uint64_t>(int host_tid)>& local) {
    std::lock_guard lk(mu_);
    for (auto& r : rows_) {
        const auto [rf, wf] = local(r.host_tid);
        r.read_faults.store(rf + r.remote_read_faults.load() + r.banked_read_faults.load());
        r.write_faults.store(wf + r.remote_write_faults.load() + r.banked_write_faults.load());
    }
}

std::pair<uint64_t, uint64_t> ThreadTable::remote_syscalls() const {
    std::lock_guard lk(mu_);
    std::pair<uint64_t, uint64_t> sum{0, 0};
    for (auto& r : rows_) {
        sum.first += r.remote_local_syscalls.load() + r.banked_local_syscalls.load();
        sum.second += r.forwarded.load();
    }
    return sum;
}

std::vector<report::ThreadReport> ThreadTable::report() const {
    std::lock_guard lk(mu_);
    std::vector<report::ThreadReport> out;
    out.reserve(rows_.size());
    for (auto& r : rows_) {
        report::ThreadReport t;
        t.tid = r.tid;
        t.node = r.node_id.load();
        t.vcpu = r.vcpu_id.load();
        t.host_tid = r.host_tid;
        t.remote_host_tid = r.remote_host_tid.load();
        const uint64_t fwd = r.forwarded.load();
        // Every syscall of a remote thread that reached the executor was
        // forwarded; those its node ran itself are counted there.
        t.syscalls_local = r.syscalls.load() - fwd + r.remote_local_syscalls.load() + r.banked_local_syscalls.load();
        t.syscalls_forwarded = fwd;
        t.exits_syscall = r.exits_io.load();
        t.exits_exception = r.exits_exception.load();
        t.exits_other = r.exits_other.load();
        t.read_faults = r.read_faults.load();
        t.write_faults = r.write_faults.load();
        t.migrations = r.migrations.load();
        t.state = to_string(r.state.load());
        out.push_back(std::move(t));
    }
    return out;
}

}  // namespace spanvm::process
