#pragma once
// The anonymous mappings a node makes by itself (docs/dsm-protocol.md, F9
// "Mapping windows"). Pure: no I/O, no lock.
//
// A placed cc1 calls mmap(NULL, len, PROT_READ|PROT_WRITE,
// MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) ~40 times (its garbage collector's
// chunks, malloc's large blocks); each was a forwarded call, a round trip
// to the origin, and a second one to home the new pages at the node. As
// with the heap window (F8, node_brk.hpp), the origin hands the process's
// only thread a *window* with the Resume of each forwarded call: a range
// [lo, hi) that is free in the origin's address space and stays free until
// the thread's next Trap (nothing but this thread changes the process's
// layout), homed at this node when it was granted.
//
// Within the window the node answers such an mmap itself, top-down as
// Linux places mappings: the mapping takes the highest free part of the
// window, the node opens it with the asked protection in its own host
// mapping (`Answer`, applied before the thread continues), and the mapping
// is *owed*: it goes with the thread's next Trap (TrapMsg::maps), whose
// executor makes the same mapping in the origin's address space (and this
// host's protection) before it handles that Trap. Every other mmap (a
// hint, MAP_FIXED, a file, MAP_SHARED, PROT_EXEC, more than what is left)
// and every munmap, mprotect, mremap or madvise is forwarded, with what is
// owed applied first. Every Resume replaces the window; a Resume without
// one revokes it.
// Departure from Linux: RLIMIT_AS is not checked for node-made mappings
// (spanvm's own mmap does not check it either).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace spanvm::cluster {

struct MapWindow {
    std::uint64_t lo = 0;  // page-aligned, lo < hi: free in the origin's address space
    std::uint64_t hi = 0;
    bool operator==(const MapWindow&) const = default;
};

// One mapping the node made: mmap(addr, len, prot, flags) as the origin
// must repeat it (addr page-aligned, inside the window it was made in).
struct OwedMap {
    std::uint64_t addr = 0;
    std::uint64_t len = 0;  // as the guest asked (not rounded)
    std::uint32_t prot = 0;
    std::uint32_t flags = 0;
    bool operator==(const OwedMap&) const = default;
};

class NodeMapWindow {
public:
    // At most this many mappings are owed at once: the next one is
    // forwarded (its Trap carries these).
    static constexpr std::size_t kMaxOwed = 64;
    // The flags and protections a node-made mapping may have.
    static bool answerable(std::uint64_t addr, std::uint64_t len, std::uint64_t prot, std::uint64_t flags,
                           std::uint64_t fd, std::uint64_t off);

    // What a Resume said: the window, or none (revoked).
    void resumed(const std::optional<MapWindow>& w);

    struct Answer {
        std::uint64_t ret = 0;  // mmap()'s result: the mapping's address
        std::uint64_t open_from = 0;  // pages [open_from, open_to) to open here with `prot`
        std::uint64_t open_to = 0;
        std::uint32_t prot = 0;
    };
    // mmap(addr, len, prot, flags, fd, off) answered here, or nullopt
    // (forward it).
    std::optional<Answer> answer(std::uint64_t addr, std::uint64_t len, std::uint64_t prot, std::uint64_t flags,
                                 std::uint64_t fd, std::uint64_t off);

    // The mappings made here since the last Trap, in order, for the next
    // Trap; none are owed after.
    std::vector<OwedMap> take_owed();

    bool has_window() const { return window_.has_value(); }
    std::uint64_t answered() const { return answered_; }

private:
    std::optional<MapWindow> window_;  // hi: moved down by each mapping made here
    std::vector<OwedMap> owed_;
    std::uint64_t answered_ = 0;
};

}  // namespace spanvm::cluster
