#pragma once
// `--place auto`: which threads to move, from what they share (pure logic,
// no I/O; the mechanism is GuestThread::migrate and OriginCluster's
// placement thread).
//
// Input, once per window (OriginCluster: kSharingWindowUs, 62.5 ms): for every live thread,
// its node and the DSM faults it took on each page during the window.
// Two threads *share* in a window when they faulted on the same pages and
// at least one of them wrote there; the pair's weight is the sum over those
// pages of the smaller of the two fault counts (one thread's faults that
// the other did not cause are not sharing). Threads on one node that share
// a page take no faults on it, so evidence only comes from threads apart.
//
// Sharing only matters when it costs time: the pair's stall is its weight
// times the mean DSM write-fault latency of the window on the slower of the
// two threads' nodes, as a fraction of the time the pair had: the window,
// or, where both threads' CPU time is known, the busier one's CPU time plus
// the stall when that is less (on a loaded host a thread runs a fraction of
// the window, and its sharing costs it that much more of its progress;
// measured here under load 19: 12 shared faults at 0.5 ms per window, 2.4%
// of the wall window but a fifth of the threads' time). The span is never
// under a twentieth of the window, so a mostly idle pair's few faults do
// not count. A pair counts only when
// its stall reaches `min_stall` (a tenth: rare sharing, such as a counter
// written once in a while, leaves threads spread). The node-wide mean
// understates a contended page's queueing, so the bar is low; measured
// here, one-page writers and sysbench's per-thread counters both pass it
// and a once-a-second writer does not. An unknown latency (0) counts as
// enough.
//
// Decision: a pair shares in a window when its weight reaches
// `min_shared_faults` and its stall `min_stall`. It has enough evidence to
// act on when
//   - one of the two shares `strong_shared_faults` in this window with all
//     the threads it shares with (strong sharing: pigz's reader,
//     compressors and writer fault 68-367 times a window a pair on their
//     lock and job-list pages, and 15-24 a pair, 48-58 a thread, in the
//     window before; waiting for a second window cost pigz a third of its
//     faults), or
//   - it shared in `windows_needed` consecutive windows (hysteresis, as
//     Linux NUMA balancing waits for two faults in a row from one node).
// The cost of a move. A thread that has run a while where it is has built
// a working set there (fresh memory is homed on its first user's node,
// and a first touch at the home zero-fills its 2 MiB block ahead), which
// it would fetch back a page at a time after a move: xz -T2's worker,
// moved at 0.4-3.8 s on 2-19 shared faults a window, then took ~5000 faults
// on its own LZ encoder state (2200-2900 faults/MiB against ~200 unmoved).
// So each node reports, per thread and window, the pages it made that
// node's (ThreadWindow::created: first touches at their home on that node,
// with the pages zero-filled ahead, and pages it wrote there for the first
// time, which are then Modified there wherever they are homed:
// thread_faults.hpp), and the policy keeps their sum since the thread came
// to the node: its resident pages, the cost of moving it. A
// thread moves only when the saving, its shared faults with its group in
// this window times `payback_windows`, reaches that cost (xz's worker:
// 5700-6700 resident pages against at most 19 x 64; pigz's compressors
// 517-612, gp_share_one_page's writers 0-2). The decision sees the cost as
// of the last report: a thread that builds its state between the report
// and the move still moves (xz's worker in 1 of 16 runs, with 4 resident
// pages two windows into its sharing). So a thread with under
// `equal_pages` resident pages moves only when two reports in a row find
// it so: its state is often built as its sharing begins. The count is coarse (a thread that
// touches one page of a fresh block is credited the block) and an upper
// bound on what the thread would fetch back. (Before the cost was counted,
// weak sharing moved only threads that had run under 4 windows where they
// were, which still moved xz's worker in 2 of 12 runs: it builds its state
// when its first block comes, while still young. A rule that moved a
// thread with no resident pages on one window of sharing moved xz's worker
// in 4 of 32 runs, 3 of them bad: its first window of sharing is the one in
// which it builds its state, and the move lands after the report; by a
// second window the report has the pages.)
// Sharing pairs join into
// groups; a group spread over several nodes gathers on the node that holds
// most of its members' resident pages (the moves that cost least: xz's
// settled worker is joined on its node or stays; nodes within
// `equal_pages` of the most count as equal), then on the
// node that holds most of its members, the origin counting `origin_weight`
// (one) member more (ties: the lowest node id, so the origin): at the origin system calls
// cost no hop and the program's data, brk and files are homed, so a group
// split 2 to 1 away from it comes home rather than taking the thread at the
// origin away (pigz -p 2: its main thread, moved to node 1 after its
// compressors, took 2505 faults against ~1200 gathered at the origin).
// Threads that share with nobody stay where they
// are: round-robin placement spread them, and nothing here packs them.
// Bounds: a thread moves at most once per `hold_windows` windows and at
// most `max_moves` times in all, so no thread ping-pongs.
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace spanvm::cluster {

struct PageUse {
    std::uint64_t page = 0;  // DSM page index
    std::uint32_t reads = 0;
    std::uint32_t writes = 0;
    bool operator==(const PageUse&) const = default;
};

// One live thread's faults in one window.
struct ThreadWindow {
    int tid = 0;
    unsigned node = 0;
    std::vector<PageUse> pages;
    std::uint64_t fault_ns = 0;  // mean DSM write-fault latency on its node in the window (0: unknown)
    std::uint64_t cpu_ns = 0;    // CPU time the thread ran in the window (0: unknown)
    std::uint64_t created = 0;   // pages it made its node's in the window (created there or first written there)
};

struct MoveDecision {
    int tid = 0;
    unsigned from = 0;
    unsigned to = 0;
    std::string reason;  // one line for --json
};

struct SharingPolicyOptions {
    std::uint64_t min_shared_faults = 2;  // pair weight per window that counts as sharing (the stall gate does the rest)
    double min_stall = 0.1;               // and the fraction of the window it costs
    std::uint64_t window_ns = 62'500'000;  // kSharingWindowUs (sharing_messages.hpp)
    unsigned windows_needed = 4;          // consecutive windows of weak evidence before acting (250 ms)
    std::uint64_t strong_shared_faults = 32;  // a thread's shared faults in one window that are enough on their own
    std::uint64_t equal_pages = 64;         // groups' memory on two nodes this close counts as equal
    unsigned payback_windows = 128;         // windows (8 s) a move's saving is counted over (the cost rule)
    std::size_t origin_weight = 1;        // members the origin counts more when choosing a group's node
    unsigned hold_windows = 32;          // a thread moves at most once per this many windows (2 s)
    unsigned max_moves = 16;              // moves per thread in all
    std::size_t max_threads_per_page = 64;  // larger sets on one page: only the first count
};

class SharingPolicy {
public:
    explicit SharingPolicy(SharingPolicyOptions o = {}) : opt_(o) {}

    // One window's observations of every live thread; the moves to make now
    // (each thread at most once). A decided move counts against the
    // thread's bounds at once, whether or not the mechanism completes it.
    std::vector<MoveDecision> decide(const std::vector<ThreadWindow>& window);
    // The thread ended: forget it.
    void thread_gone(int tid);

    // The pair's stall as a fraction of the time it had (see the top of
    // this file); cpu 0 = unknown.
    double stall_fraction(std::uint64_t weight, std::uint64_t lat_ns, std::uint64_t cpu_a, std::uint64_t cpu_b) const;
    static constexpr double kMinSpanDivisor = 20;

    // For tests and the report: the pair's current run of sharing windows.
    unsigned streak(int a, int b) const;
    std::uint64_t windows() const { return window_; }
    // The pages the thread made its node's since it came there (the cost
    // of moving it away).
    std::uint64_t resident(int tid) const;

private:
    bool may_move(int tid) const;

    SharingPolicyOptions opt_;
    std::uint64_t window_ = 0;
    std::map<std::pair<int, int>, unsigned> streak_;  // (lower tid, higher tid)
    std::map<int, std::uint64_t> last_move_;           // window of the thread's last decided move
    std::map<int, unsigned> moves_;
    struct Resident {
        unsigned node = 0;
        std::uint64_t pages = 0;
    };
    std::map<int, Resident> resident_;  // pages it made its node's since it came
    std::map<int, std::uint64_t> cheap_at_;  // threads the last window would have moved cheap (see decide)
};

// The mean of the samples since the last take(), from cumulative figures
// (a DsmStats::LatencySummary's count and mean): one window's latency.
class WindowMean {
public:
    std::uint64_t take(std::uint64_t count, std::uint64_t mean_ns) {
        const long double sum = static_cast<long double>(count) * static_cast<long double>(mean_ns);
        const std::uint64_t n = count > count_ ? count - count_ : 0;
        const long double d = sum - sum_;
        count_ = count;
        sum_ = sum;
        return n == 0 || d <= 0 ? 0 : static_cast<std::uint64_t>(d / static_cast<long double>(n));
    }

private:
    std::uint64_t count_ = 0;
    long double sum_ = 0;
};

// Pair weights of one window (exposed for tests): (lower tid, higher tid)
// -> shared faults.
std::map<std::pair<int, int>, std::uint64_t> sharing_weights(const std::vector<ThreadWindow>& window,
                                                             std::size_t max_threads_per_page);

}  // namespace spanvm::cluster
