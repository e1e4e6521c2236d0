// Heap windows (docs/dsm-protocol.md F8; the node's side is
// vmm/cluster/node_brk.hpp): a remote thread that is its process's only
// thread grows the program break on its node by itself, inside a window
// the origin grants with each Resume, and reports the new break with its
// next Trap. Mapping windows (F9, vmm/cluster/node_map_window.hpp) do the
// same for its anonymous private mmap(NULL) calls, inside a free range.
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
#include <cstdlib>
#include <string_view>

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
// A mapping window: 16 MiB where the next mmap(NULL) would go (a placed
// cc1 maps ~12 MiB in ~40 calls, its garbage collector's 2 MiB chunks the
// largest), granted again once less than 4 MiB of it is free: a larger
// request goes to the origin, and the window after it is new.
constexpr uint64_t kMapWindowBytes = 16ull << 20;
constexpr uint64_t kMapWindowRefill = 4ull << 20;

// SPANVM_MAP_WINDOW=0 turns mapping windows off (tests, counts).
bool map_windows_on() {
    static const bool on = [] {
        const char* v = std::getenv("SPANVM_MAP_WINDOW");
        return !(v && std::string_view(v) == "0");
    }();
    return on;
}
}  // namespace

bool Process::heap_window_eligible(GuestThread& t) {
    return cfg_.remote && t.remote_link() && cfg_.remote->heap_windows() && threads_.live_threads() == 1;
}

uint64_t Process::heap_window_cap(uint64_t top) const {
    // The two windows never share a page (F9): a mapping grant's free
    // pages count as free in the address space, so the heap window stops
    // below it, and one at or below the break leaves it no room.
    return map_window_hi_ > top ? std::max(top, map_window_lo_) : UINT64_MAX;
}

uint64_t Process::heap_window_top(GuestThread& t, uint64_t top) {
    if (!heap_window_eligible(t)) return top;
    heap_window_end_ = std::min({top + kHeapWindowBytes, aspace_->free_until(top), heap_window_cap(top)});
    return std::max(top, heap_window_end_);
}

void Process::offer_heap_window(GuestThread& t) {
    if (!heap_window_eligible(t)) return;
    std::lock_guard lk(aspace_mu_);
    const uint64_t brk = aspace_->brk_end();
    const uint64_t top = memory::layout::page_align_up(brk);
    // None granted above this break (or none at all: heap_window_end_ 0).
    if (heap_window_end_ < top) return;
    const uint64_t limit = std::min({heap_window_end_, aspace_->free_until(top), heap_window_cap(top)});
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

void Process::offer_map_window(GuestThread& t) {
    if (!map_windows_on() || !heap_window_eligible(t)) return;
    std::lock_guard lk(aspace_mu_);
    // What is still free of the last grant: a mapping the origin made in
    // it since (a forwarded call's, or the node's own, applied at its
    // Trap) ends it there, and one at its bottom ends it altogether.
    uint64_t lo = map_window_lo_, hi = lo ? std::min(map_window_hi_, aspace_->free_until(lo)) : 0;
    if (hi <= lo || hi - lo < kMapWindowRefill) {
        const auto a = aspace_->placement(kMapWindowBytes);
        const uint64_t heap = memory::layout::page_align_up(aspace_->brk_end());
        // Never over the heap window (F8), which may grow up to its end.
        if (!a || (*a < heap_window_end_ && heap < *a + kMapWindowBytes)) {
            map_window_lo_ = map_window_hi_ = 0;
            return;
        }
        lo = map_window_lo_ = *a;
        hi = map_window_hi_ = *a + kMapWindowBytes;
        // Homed at the node now, once (one round trip): its first touches
        // of every mapping it makes there cost no message.
        mapped(t, lo, hi - lo);
    }
    t.remote_link()->set_map_window(lo, hi);
}

void Process::node_made_maps(GuestThread& t, const std::vector<RemoteLink::ThreadWords::NodeMap>& maps) {
    std::lock_guard lk(aspace_mu_);
    for (const auto& m : maps) {
        // The window was free when granted and nothing else changes the
        // layout meanwhile: a refusal is a broken invariant, not a guest error.
        auto r = aspace_->map(m.addr, m.len, m.prot, m.flags | MAP_FIXED_NOREPLACE, std::nullopt);
        if (!r || r->addr != m.addr || !r->released.empty()) {
            log::error("thread {}: its node mapped [{:#x}, +{:#x}), which the address space refuses: {}", t.row().tid,
                       m.addr, m.len, r ? "not free" : r.error().message);
            exit_process_signal(SIGSEGV);
        }
        // The node opened it in its own host mapping before the thread went
        // on; this host's follows before the Trap is handled.
        sync_host_protection_here(m.addr, m.addr + memory::layout::page_align_up(m.len));
    }
}

}  // namespace spanvm::process
