#include "vmm/process/process_registry.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <new>

namespace spanvm::process {

void ProcessSlot::set_program(const std::string& p) {
    const std::string base = p.substr(p.find_last_of('/') == std::string::npos ? 0 : p.find_last_of('/') + 1);
    const std::size_t n = std::min(base.size(), sizeof program - 1);
    std::memcpy(program, base.data(), n);
    program[n] = 0;
}

ProcessRegistry* ProcessRegistry::create() {
    // The mapping's zero bytes are every slot's initial state (all its
    // fields start at zero: kFree, empty program; the unit test "a fresh
    // registry's slots are free" checks it): constructing the 4096 slots
    // would write those zeros, faulting in all 144 pages of shared memory
    // (~2 ms here) where a run touches the first few. Claims and reports
    // scan from slot 0 and stop at the first never-claimed slot.
    static_assert(ProcessSlot::kFree == 0);
    void* m = ::mmap(nullptr, kSlots * sizeof(ProcessSlot), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return nullptr;
    return new ProcessRegistry(static_cast<ProcessSlot*>(m));
}

ProcessSlot* ProcessRegistry::claim(int pid, int ppid, const std::string& program) {
    for (std::size_t i = 0; i < kSlots; ++i) {
        int expect = 0;
        if (!slots_[i].pid.compare_exchange_strong(expect, pid)) continue;
        ProcessSlot& s = slots_[i];
        s.ppid = ppid;
        s.set_program(program);
        s.threads = 0;
        s.threads_total = 0;
        s.node = 0;
        s.state.store(ProcessSlot::kRunning, std::memory_order_release);
        return &s;
    }
    return nullptr;
}

std::vector<report::ProcessReport> ProcessRegistry::report(bool run_over) const {
    std::vector<report::ProcessReport> out;
    for (std::size_t i = 0; i < kSlots; ++i) {
        const ProcessSlot& s = slots_[i];
        const int st = s.state.load(std::memory_order_acquire);
        if (s.pid.load() == 0) break;  // slots are claimed in order
        if (st == ProcessSlot::kFree) continue;
        report::ProcessReport r;
        r.pid = s.pid.load();
        r.ppid = s.ppid.load();
        r.node = static_cast<unsigned>(slots_[i].node.load());
        r.threads = static_cast<unsigned>(std::max(0, s.threads.load()));
        r.threads_total = static_cast<unsigned>(std::max(0, s.threads_total.load()));
        r.node_pages_fetched = s.node_pages_fetched.load();
        r.node_pages_filled = s.node_pages_filled.load();
        r.node_syscalls_local = s.node_syscalls_local.load();
        r.node_syscalls_forwarded = s.node_syscalls_forwarded.load();
        r.layout_round_trips = s.layout_round_trips.load();
        r.layouts_ridden = s.layouts_ridden.load();
        r.program = s.program;
        switch (st) {
            case ProcessSlot::kExited: r.state = "exited"; r.status = s.status.load(); break;
            case ProcessSlot::kKilled: r.state = "killed"; r.status = s.status.load(); break;
            default: r.state = run_over ? "ended by the run" : "running"; break;
        }
        out.push_back(std::move(r));
    }
    return out;
}

}  // namespace spanvm::process
