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
    std::string out = fmt::format("{:>8} {:>4} {:>5} {:>8} {:>9} {:>9} {:>9} {:>9} {:<8}\n", "tid", "node", "vcpu",
                                  "host-tid", "syscalls", "exits-io", "exits-exc", "exits-oth", "state");
    for (auto& r : rows_)
        out += fmt::format("{:>8} {:>4} {:>5} {:>8} {:>9} {:>9} {:>9} {:>9} {:<8}\n", r.tid, r.node_id, r.vcpu_id,
                           r.host_tid, r.syscalls.load(), r.exits_io.load(), r.exits_exception.load(),
                           r.exits_other.load(), to_string(r.state.load()));
    return out;
}

}  // namespace spanvm::process
