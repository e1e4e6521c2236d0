#include "vmm/process/threads/thread_table.hpp"

#include <fmt/format.h>

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

size_t ThreadTable::live_threads() const {
    std::lock_guard lk(mu_);
    size_t n = 0;
    for (auto& r : rows_) n += r.state.load() != ThreadState::exited;
    return n;
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

size_t ThreadTable::total_threads() const {
    std::lock_guard lk(mu_);
    return rows_.size();
}

std::string ThreadTable::format_table() const {
    std::lock_guard lk(mu_);
    // host-tid: the host thread running the guest thread; for a thread on
    // another node, that node's host thread, and executor: the origin's
    // host thread running its syscalls (the process-sharing executor).
    std::string out =
        fmt::format("{:>8} {:>4} {:>5} {:>8} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8} {:<8}\n", "tid", "node",
                    "vcpu", "host-tid", "executor", "sys-local", "sys-fwd", "exits-sys", "exits-exc", "exits-oth",
                    "rd-flt", "wr-flt", "state");
    for (auto& r : rows_) {
        const bool remote = r.node_id != 0 && r.remote_host_tid.load() != 0;
        const uint64_t fwd = r.forwarded.load();
        out += fmt::format("{:>8} {:>4} {:>5} {:>8} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8} {:<8}\n", r.tid,
                           r.node_id,
                           r.vcpu_id, remote ? r.remote_host_tid.load() : r.host_tid,
                           r.node_id != 0 ? fmt::format("{}", r.host_tid) : std::string("-"), r.syscalls.load() - fwd + r.remote_local_syscalls.load(),
                           fwd, r.exits_io.load(), r.exits_exception.load(), r.exits_other.load(),
                           r.read_faults.load(), r.write_faults.load(), to_string(r.state.load()));
    }
    return out;
}

void ThreadTable::refresh_faults(const std::function<std::pair<uint64_t, uint64_t>(int host_tid)>& local) {
    std::lock_guard lk(mu_);
    for (auto& r : rows_) {
        const auto [rf, wf] = local(r.host_tid);
        r.read_faults.store(rf + r.remote_read_faults.load());
        r.write_faults.store(wf + r.remote_write_faults.load());
    }
}

nlohmann::json ThreadTable::to_json() const {
    std::lock_guard lk(mu_);
    nlohmann::json rows = nlohmann::json::array();
    for (auto& r : rows_) {
        const uint64_t fwd = r.forwarded.load();
        nlohmann::json j = {{"tid", r.tid},
                            {"node", r.node_id},
                            {"vcpu", r.vcpu_id},
                            {"host_tid", r.node_id != 0 ? r.remote_host_tid.load() : r.host_tid},
                            {"syscalls_local", r.syscalls.load() - fwd + r.remote_local_syscalls.load()},
                            {"syscalls_forwarded", fwd},
                            {"exits_syscall", r.exits_io.load()},
                            {"exits_exception", r.exits_exception.load()},
                            {"exits_other", r.exits_other.load()},
                            {"read_faults", r.read_faults.load()},
                            {"write_faults", r.write_faults.load()},
                            {"state", to_string(r.state.load())}};
        if (r.node_id != 0) j["executor_tid"] = r.host_tid;
        rows.push_back(std::move(j));
    }
    return rows;
}

}  // namespace spanvm::process
