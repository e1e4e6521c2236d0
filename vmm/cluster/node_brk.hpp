#pragma once
// The program break a node grows by itself (docs/dsm-protocol.md, F8
// "Heap windows"). Pure: no I/O, no lock.
//
// A placed image's only thread calls brk() ~100 times per cc1 (glibc grows
// the heap by its top pad each time); each used to be a forwarded call, a
// round trip to the origin and its deputy. The origin now hands the thread
// a *window* with the Resume of each forwarded call: the break as the
// origin has it, and a limit up to which the addresses above it are free
// in the origin's address space and stay free until the thread's next Trap
// (nothing but this thread changes the process's layout: it is the
// process's only thread, and every call of it that could is forwarded).
// The origin homed the window's pages at this node (dynamic homes) when it
// granted it, so first touches there cost no message.
//
// Within the window the node answers brk() itself:
//  * brk(0), or the current break: the current break;
//  * growth to at most `limit` (page-rounded): the break moves, the node
//    opens [page_up(old), page_up(new)) read-write in its own host mapping
//    (`Answer::open_*`, applied before the thread continues), and the new
//    break is *owed*: it goes with the thread's next Trap (TrapMsg::brk),
//    whose executor applies it (the same brk() in the origin's address
//    space, the host protection there) before it handles that Trap;
//  * anything else (a shrink, which discards pages: F3; growth past the
//    limit; a break below the current one): forwarded, with the owed break
//    on its Trap first.
// Every Resume replaces the window; a Resume without one revokes it (a
// second thread, a Kick's Resume: the origin sends one only where it holds).
// Departure from Linux: RLIMIT_DATA is not checked against node-grown
// breaks (spanvm's own brk does not check it either).
#include <cstdint>
#include <optional>

namespace spanvm::cluster {

struct BrkWindow {
    std::uint64_t brk = 0;    // the break (may be unaligned, as Linux keeps it)
    std::uint64_t limit = 0;  // page-aligned: the node may grow the break up to here
    bool operator==(const BrkWindow&) const = default;
};

class NodeBrk {
public:
    // What a Resume said: the window, or none (revoked).
    void resumed(const std::optional<BrkWindow>& w);

    struct Answer {
        std::uint64_t ret = 0;        // brk()'s result
        std::uint64_t open_from = 0;  // pages [open_from, open_to) to open read-write here
        std::uint64_t open_to = 0;
    };
    // brk(addr) answered here, or nullopt (forward it).
    std::optional<Answer> answer(std::uint64_t addr);

    // The break moved here since the last Trap, for the next Trap; none is
    // owed after.
    std::optional<std::uint64_t> take_owed();

    bool has_window() const { return window_.has_value(); }
    std::uint64_t answered() const { return answered_; }

private:
    std::optional<BrkWindow> window_;  // brk: the current break as moved here
    std::optional<std::uint64_t> owed_;
    std::uint64_t answered_ = 0;
};

}  // namespace spanvm::cluster
