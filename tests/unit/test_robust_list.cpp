#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <vector>

#include "vmm/process/threads/robust_list.hpp"

using namespace spanvm::process;

namespace {
// A sparse fake of guest memory: 8-byte words and 4-byte futex words, and
// the wakes the walk asked for.
struct FakeMem {
    std::map<uint64_t, uint64_t> words;
    std::map<uint64_t, uint32_t> futexes;
    std::vector<uint64_t> woken;
    RobustListAccess access() {
        RobustListAccess a;
        a.read64 = [this](uint64_t addr) -> std::optional<uint64_t> {
            auto it = words.find(addr);
            if (it == words.end()) return std::nullopt;
            return it->second;
        };
        a.read32 = [this](uint64_t addr) -> std::optional<uint32_t> {
            auto it = futexes.find(addr);
            if (it == futexes.end()) return std::nullopt;
            return it->second;
        };
        a.cas32 = [this](uint64_t addr, uint32_t expected, uint32_t desired) {
            auto it = futexes.find(addr);
            if (it == futexes.end() || it->second != expected) return false;
            it->second = desired;
            return true;
        };
        a.wake_one = [this](uint64_t addr) { woken.push_back(addr); };
        return a;
    }
};

constexpr uint64_t kHead = 0x1000;
constexpr int64_t kOffset = 0x20;  // entry -> futex word (glibc: __list to __lock is negative; any offset works)
constexpr uint32_t kTid = 77;

// A head whose list is `entries` in order (each entry's PI bit set where
// `pi` says), and `pending` as list_op_pending.
void make_list(FakeMem& m, const std::vector<uint64_t>& entries, uint64_t pending = 0, int64_t offset = kOffset) {
    m.words[kHead] = entries.empty() ? kHead : entries[0];
    m.words[kHead + 8] = static_cast<uint64_t>(offset);
    m.words[kHead + 16] = pending;
    for (size_t i = 0; i < entries.size(); ++i) m.words[entries[i]] = i + 1 < entries.size() ? entries[i + 1] : kHead;
}
}  // namespace

TEST_CASE("robust_list: the thread's locks become FUTEX_OWNER_DIED, and their waiters are woken") {
    FakeMem m;
    make_list(m, {0x2000, 0x3000, 0x4000});
    m.futexes[0x2000 + kOffset] = kTid;                  // held, no waiter
    m.futexes[0x3000 + kOffset] = kTid | kFutexWaiters;  // held, a waiter
    m.futexes[0x4000 + kOffset] = 12;                    // another thread's: untouched
    CHECK(release_robust_list(kHead, kTid, m.access()) == 2);
    CHECK(m.futexes[0x2000 + kOffset] == kFutexOwnerDied);
    CHECK(m.futexes[0x3000 + kOffset] == (kFutexOwnerDied | kFutexWaiters));
    CHECK(m.futexes[0x4000 + kOffset] == 12);
    CHECK(m.woken == std::vector<uint64_t>{0x3000 + kOffset});
}

TEST_CASE("robust_list: negative offsets (glibc's), an empty list, no list") {
    FakeMem m;
    make_list(m, {0x2000}, 0, -16);
    m.futexes[0x2000 - 16] = kTid;
    CHECK(release_robust_list(kHead, kTid, m.access()) == 1);
    CHECK(m.futexes[0x2000 - 16] == kFutexOwnerDied);
    FakeMem e;
    make_list(e, {});
    CHECK(release_robust_list(kHead, kTid, e.access()) == 0);
    CHECK(release_robust_list(0, kTid, e.access()) == 0);
    CHECK(release_robust_list(0x9000, kTid, e.access()) == 0);  // unreadable head
}

TEST_CASE("robust_list: the pending entry is handled once, last; a released pending unlock wakes a waiter") {
    FakeMem m;
    make_list(m, {0x2000, 0x3000}, 0x3000);
    m.futexes[0x2000 + kOffset] = kTid;
    m.futexes[0x3000 + kOffset] = kTid | kFutexWaiters;
    CHECK(release_robust_list(kHead, kTid, m.access()) == 2);
    CHECK(m.woken == std::vector<uint64_t>{0x3000 + kOffset});
    // An unlock that stored 0 and died before its wake.
    FakeMem u;
    make_list(u, {}, 0x5000);
    u.futexes[0x5000 + kOffset] = 0;
    CHECK(release_robust_list(kHead, kTid, u.access()) == 1);
    CHECK(u.woken == std::vector<uint64_t>{0x5000 + kOffset});
    CHECK(u.futexes[0x5000 + kOffset] == 0);
}

TEST_CASE("robust_list: PI entries are marked but not woken; bad words end only their entry") {
    FakeMem m;
    make_list(m, {0x2000, 0x3000, 0x4000});
    m.words[kHead] = 0x2000 | 1;  // the first entry is a PI futex
    m.futexes[0x2000 + kOffset] = kTid | kFutexWaiters;
    // 0x3000's futex word is unreadable: that entry is skipped.
    m.futexes[0x4000 + kOffset] = kTid;
    CHECK(release_robust_list(kHead, kTid, m.access()) == 2);
    CHECK(m.futexes[0x2000 + kOffset] == (kFutexOwnerDied | kFutexWaiters));
    CHECK(m.woken.empty());
    CHECK(m.futexes[0x4000 + kOffset] == kFutexOwnerDied);
}

TEST_CASE("robust_list: a cycle ends at ROBUST_LIST_LIMIT; an unreadable next pointer ends the walk") {
    FakeMem m;
    make_list(m, {0x2000, 0x3000});
    m.words[0x3000] = 0x2000;  // 0x3000 -> 0x2000 -> 0x3000 -> ...
    m.futexes[0x2000 + kOffset] = 5;
    m.futexes[0x3000 + kOffset] = 6;
    CHECK(release_robust_list(kHead, kTid, m.access()) == 0);  // returns: no hang
    FakeMem b;
    make_list(b, {0x2000});
    b.words.erase(0x2000);  // the entry's next pointer cannot be read
    b.futexes[0x2000 + kOffset] = kTid;
    CHECK(release_robust_list(kHead, kTid, b.access()) == 1);  // that entry still counts, as Linux
}
