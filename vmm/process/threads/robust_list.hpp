#pragma once
// A thread's robust futex list, released as Linux releases it when the
// thread exits or execs (kernel/futex/core.c, exit_robust_list and
// handle_futex_death): for every lock on the list whose owner is the
// thread, the futex word becomes FUTEX_OWNER_DIED (keeping FUTEX_WAITERS),
// and one waiter is woken where FUTEX_WAITERS was set, so the next locker
// of a PTHREAD_MUTEX_ROBUST mutex gets EOWNERDEAD instead of waiting
// forever. Pure: guest memory and the wake come through RobustListAccess.
//
// The list (the Linux ABI, <linux/futex.h>): a head of three words at the
// address the thread gave set_robust_list (len 24): `list.next`, the first
// entry; `futex_offset`, from an entry to its futex word; and
// `list_op_pending`, an entry being locked or unlocked. Each entry's first
// word points to the next; the list ends where an entry points back to the
// head. Bit 0 of each pointer marks a PI futex. As Linux: at most
// kRobustListLimit entries (a cycle ends the walk), the pending entry is
// handled last and once, a word not 4-aligned or unreadable ends that
// entry, and an unreadable pointer ends the walk.
#include <cstdint>
#include <functional>
#include <optional>

namespace spanvm::process {

inline constexpr uint32_t kFutexWaiters = 0x80000000;    // FUTEX_WAITERS
inline constexpr uint32_t kFutexOwnerDied = 0x40000000;  // FUTEX_OWNER_DIED
inline constexpr uint32_t kFutexTidMask = 0x3fffffff;    // FUTEX_TID_MASK
inline constexpr int kRobustListLimit = 2048;            // ROBUST_LIST_LIMIT
inline constexpr uint64_t kRobustListHeadLen = 24;       // sizeof(struct robust_list_head)

struct RobustListAccess {
    // A 64-bit guest word (a list pointer or the futex offset); nullopt: EFAULT.
    std::function<std::optional<uint64_t>(uint64_t addr)> read64;
    // The 32-bit futex word; nullopt: EFAULT.
    std::function<std::optional<uint32_t>(uint64_t addr)> read32;
    // Compare-and-exchange of the futex word: true if it held `expected`
    // and now holds `desired`.
    std::function<bool(uint64_t addr, uint32_t expected, uint32_t desired)> cas32;
    // FUTEX_WAKE of one waiter on the word.
    std::function<void(uint64_t addr)> wake_one;
};

// Releases the robust futexes that thread `tid` (its guest tid) holds, on
// the list whose head is at `head`. Returns how many futex words it marked
// FUTEX_OWNER_DIED (or, for a pending unlock with waiters, woke).
int release_robust_list(uint64_t head, uint32_t tid, const RobustListAccess& mem);

}  // namespace spanvm::process
