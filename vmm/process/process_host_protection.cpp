// The host protection of guest RAM, kept as the guest's layout says
// (docs/architecture/distributed.md, "One table, three users"): every mm
// call re-syncs the ranges it changed through GuestProtection, which calls
// mprotect only where the host differs from what the layout wants, and
// tells every node in a cluster. host_allow opens a range for the VMM's
// own writes until the next re-sync.
#include "vmm/base/log.hpp"
#include "vmm/memory/guest_protection.hpp"
#include "vmm/memory/layout.hpp"
#include "vmm/process/process.hpp"

namespace spanvm::process {

void Process::sync_host_protection(uint64_t start, uint64_t end, uint64_t start2, uint64_t end2) {
    std::vector<memory::LayoutRun> changed;
    sync_range(start, end, changed);
    if (start2 < end2) sync_range(start2, end2, changed);
    // Every node's host mapping follows before the call returns (one
    // message per call, only when something changed).
    if (cfg_.remote && !changed.empty()) cfg_.remote->layout_changed(changed);
}

void Process::sync_host_protection_here(uint64_t start, uint64_t end) {
    std::vector<memory::LayoutRun> changed;
    sync_range(start, end, changed);
}

void Process::sync_range(uint64_t start, uint64_t end, std::vector<memory::LayoutRun>& changed) {
    // Patched syscall sites in a range whose mappings change go back to
    // their original bytes first (the memory is still as it was).
    platform_->guest_code_changed(start, end);
    auto& mem = platform_->memory();
    start = std::max(memory::layout::page_align_down(start), memory::layout::kUserBase);
    end = std::min(memory::layout::page_align_up(end), mem.size());
    if (start >= end) return;
    auto apply = [&](uint64_t a, uint64_t b, int prot) {
        if (a >= b) return;
        auto c = protection_->set(a, b, prot);
        if (!c)
            log::warn("guest RAM [{:#x}, {:#x}): {}", a, b, c.error().message);
        else
            changed.insert(changed.end(), c->begin(), c->end());
        access_map_.set(a, b - a, memory::normalize_access(prot));
    };
    // Runs of the same protection go as one range (one mprotect, one TLB
    // shootdown): adjacent mappings with equal protection (an image's data
    // and bss, a hole after a hole) are common.
    uint64_t run_start = start, run_end = start;
    int run_prot = PROT_NONE;
    auto add = [&](uint64_t a, uint64_t b, int prot) {
        if (a >= b) return;
        if (prot != run_prot && run_end > run_start) {
            apply(run_start, run_end, run_prot);
            run_start = a;
        }
        if (run_end <= run_start) run_start = a;
        run_end = b;
        run_prot = prot;
    };
    uint64_t cur = start;
    for (const Vma& v : aspace_->vmas()) {
        if (v.end <= start) continue;
        if (v.start >= end) break;
        const uint64_t vs = std::max(v.start, start), ve = std::min(v.end, end);
        // Any mapping, PROT_NONE too (an access there is SEGV_ACCERR, which
        // needs the memory reachable and the host protection to refuse it).
        if (auto r = platform_->make_present(vs, ve - vs); !r)
            log::warn("guest memory [{:#x}, {:#x}) stays unreachable: {}", vs, ve, r.error().message);
        add(cur, vs, PROT_NONE);
        // The vDSO data page stays host-writable while the guest may read
        // it: every node's Timekeeper writes it through the host mapping
        // (a departure: a guest write there does not fault).
        if (vvar_addr_ && v.prot != PROT_NONE && vs <= vvar_addr_ && vvar_addr_ < ve) {
            add(vs, vvar_addr_, v.prot);
            add(vvar_addr_, vvar_addr_ + memory::layout::kPageSize, v.prot | PROT_WRITE);
            add(vvar_addr_ + memory::layout::kPageSize, ve, v.prot);
        } else {
            add(vs, ve, v.prot);
        }
        cur = ve;
    }
    add(cur, end, PROT_NONE);
    apply(run_start, run_end, run_prot);
}

void Process::host_allow(uint64_t start, uint64_t len) {
    // No call where the host mapping is known to be open already (guest RAM
    // an exec has just renewed, memory unshare() has just mapped).
    if (len)
        if (auto r = protection_->open(start, start + len, platform_->host_prot()); !r)
            log::warn("guest RAM [{:#x}, +{:#x}): {}", start, len, r.error().message);
}

}  // namespace spanvm::process
