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
    // (~2 ms here) where a run touches the first few. The header's claim
    // counter starts at zero too; reports read up to it.
    static_assert(ProcessSlot::kFree == 0);
    static_assert(kHeaderBytes % alignof(ProcessSlot) == 0);
    void* m = ::mmap(nullptr, kHeaderBytes + kSlots * sizeof(ProcessSlot), PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return nullptr;
    auto* base = static_cast<unsigned char*>(m);
    return new ProcessRegistry(reinterpret_cast<Header*>(base), reinterpret_cast<ProcessSlot*>(base + kHeaderBytes));
}

ProcessSlot* ProcessRegistry::claim(int pid, int ppid, const std::string& program) {
    const std::uint32_t i = header_->next.fetch_add(1);
    if (i >= kSlots) return nullptr;
    ProcessSlot& s = slots_[i];
    s.ppid = ppid;
    s.set_program(program);
    s.threads = 0;
    s.threads_total = 0;
    s.node = 0;
    s.pid.store(pid);
    s.state.store(ProcessSlot::kRunning, std::memory_order_release);
    return &s;
}

std::vector<report::ProcessReport> ProcessRegistry::report(bool run_over) const {
    std::vector<report::ProcessReport> out;
    const std::size_t n = std::min<std::size_t>(header_->next.load(), kSlots);
    for (std::size_t i = 0; i < n; ++i) {
        const ProcessSlot& s = slots_[i];
        const int st = s.state.load(std::memory_order_acquire);
        if (st == ProcessSlot::kFree) continue;  // claimed, not filled in yet
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
