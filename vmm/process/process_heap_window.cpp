// Heap windows (docs/dsm-protocol.md F8; the node's side is
// vmm/cluster/node_brk.hpp): a remote thread that is its process's only
// thread grows the program break on its node by itself, inside a window
// the origin grants with each Resume, and reports the new break with its
// next Trap.
//
// Why the window stays free until that Trap: every change to this
// process's address space is made here, by a call of one of its threads
// (or by exec, which replaces the address space and the window with it);
// the only thread is the remote one, and each of its calls is a Trap that
// first applies the break it owes. A second thread (a clone is such a
// call) ends the windows: the clone's Resume carries none. The window is
// re-read from the address space for every Resume (free_until), so a call
// that maps something above the break (MAP_FIXED) shrinks it at once.
// Pages of the window are homed at the node when it is granted (one
// RemoteThreads::mapped with the growth), so the node's first touches of
// its own heap cost no message; homes are only a cost question, never one
// of correctness.
#include <algorithm>
#include <csignal>

#include "vmm/base/log.hpp"
#include "vmm/memory/layout.hpp"
#include "vmm/process/process.hpp"
#include "vmm/process/threads/guest_thread.hpp"

namespace spanvm::process {

namespace {
// How far above the break a window reaches: glibc grows its main arena by
// at least its top pad (128 KiB) each time, so a cc1 that forwarded ~94
// brk calls forwards one per 4 MiB of heap.
constexpr uint64_t kHeapWindowBytes = 4ull << 20;
}  // namespace

bool Process::heap_window_eligible(GuestThread& t) {
    return cfg_.remote && t.remote_link() && cfg_.remote->heap_windows() && threads_.live_threads() == 1;
}

uint64_t Process::heap_window_top(GuestThread& t, uint64_t top) {
    if (!heap_window_eligible(t)) return top;
    heap_window_end_ = std::min(top + kHeapWindowBytes, aspace_->free_until(top));
    return std::max(top, heap_window_end_);
}

void Process::offer_heap_window(GuestThread& t) {
    if (!heap_window_eligible(t)) return;
    std::lock_guard lk(aspace_mu_);
    const uint64_t brk = aspace_->brk_end();
    const uint64_t top = memory::layout::page_align_up(brk);
    // None granted above this break (or none at all: heap_window_end_ 0).
    if (heap_window_end_ < top) return;
    const uint64_t limit = std::min(heap_window_end_, aspace_->free_until(top));
    if (limit < top) return;
    t.remote_link()->set_heap_window(brk, limit);
}

void Process::node_grew_brk(GuestThread& t, uint64_t brk) {
    std::lock_guard lk(aspace_mu_);
    const uint64_t before = aspace_->brk_end();
    auto b = aspace_->brk(brk);
    if (b.brk != brk || brk < before || !b.released.empty()) {
        // The window was free when granted and nothing else changes the
        // layout meanwhile: this is a broken invariant, not a guest error.
        log::error("thread {}: its node grew the heap to {:#x}, which the address space refuses (break {:#x})",
                   t.row().tid, brk, before);
        exit_process_signal(SIGSEGV);
    }
    // The node opened the pages in its own host mapping before the thread
    // went on; this host's follows before the Trap is handled.
    sync_host_protection_here(before, brk);
}

}  // namespace spanvm::process
