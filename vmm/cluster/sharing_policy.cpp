#include "vmm/cluster/sharing_policy.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>
#include <optional>
#include <unordered_map>

namespace spanvm::cluster {

namespace {

struct Use {
    int tid;
    std::uint32_t faults;
    bool wrote;
};

// Union-find over indices.
int find(std::vector<int>& parent, int i) {
    while (parent[static_cast<std::size_t>(i)] != i) {
        auto& p = parent[static_cast<std::size_t>(i)];
        p = parent[static_cast<std::size_t>(p)];
        i = p;
    }
    return i;
}

}  // namespace

std::map<std::pair<int, int>, std::uint64_t> sharing_weights(const std::vector<ThreadWindow>& window,
                                                             std::size_t max_threads_per_page) {
    // A thread's entries for one page add up (a window may hold several
    // reports of one thread).
    std::unordered_map<std::uint64_t, std::vector<Use>> by_page;
    for (const auto& t : window)
        for (const auto& p : t.pages) {
            if (p.reads + p.writes == 0) continue;
            auto& v = by_page[p.page];
            auto same = std::find_if(v.begin(), v.end(), [&](const Use& u) { return u.tid == t.tid; });
            if (same != v.end()) {
                same->faults += p.reads + p.writes;
                same->wrote = same->wrote || p.writes > 0;
            } else if (v.size() < max_threads_per_page) {
                v.push_back({t.tid, p.reads + p.writes, p.writes > 0});
            }
        }
    std::map<std::pair<int, int>, std::uint64_t> w;
    for (const auto& [page, uses] : by_page) {
        (void)page;
        for (std::size_t i = 0; i < uses.size(); ++i)
            for (std::size_t j = i + 1; j < uses.size(); ++j) {
                const Use& a = uses[i];
                const Use& b = uses[j];
                if (a.tid == b.tid || !(a.wrote || b.wrote)) continue;
                w[{std::min(a.tid, b.tid), std::max(a.tid, b.tid)}] += std::min(a.faults, b.faults);
            }
    }
    return w;
}

double SharingPolicy::stall_fraction(std::uint64_t weight, std::uint64_t lat_ns, std::uint64_t cpu_a,
                                     std::uint64_t cpu_b) const {
    const double stall = static_cast<double>(weight) * static_cast<double>(lat_ns);
    const double window = static_cast<double>(opt_.window_ns);
    if (cpu_a == 0 || cpu_b == 0) return stall / window;
    // The busier thread's running time plus the stall, within
    // [window / kMinSpanDivisor, window]: the floor keeps a mostly idle
    // pair's few faults from looking like most of its time.
    const double span =
        std::clamp(static_cast<double>(std::max(cpu_a, cpu_b)) + stall, window / kMinSpanDivisor, window);
    return stall / span;
}

unsigned SharingPolicy::streak(int a, int b) const {
    auto it = streak_.find({std::min(a, b), std::max(a, b)});
    return it == streak_.end() ? 0 : it->second;
}

bool SharingPolicy::may_move(int tid) const {
    if (auto m = moves_.find(tid); m != moves_.end() && m->second >= opt_.max_moves) return false;
    if (auto l = last_move_.find(tid); l != last_move_.end() && window_ - l->second < opt_.hold_windows) return false;
    return true;
}

std::uint64_t SharingPolicy::resident(int tid) const {
    auto r = resident_.find(tid);
    return r == resident_.end() ? 0 : r->second.pages;
}

void SharingPolicy::thread_gone(int tid) {
    cheap_at_.erase(tid);
    resident_.erase(tid);
    last_move_.erase(tid);
    moves_.erase(tid);
    std::erase_if(streak_, [&](const auto& e) { return e.first.first == tid || e.first.second == tid; });
}

std::vector<MoveDecision> SharingPolicy::decide(const std::vector<ThreadWindow>& window) {
    ++window_;
    // Resident pages: those it made its node's since it came there
    // (a report from the node it left is dropped before it gets here).
    for (const auto& t : window) {
        auto& r = resident_[t.tid];
        if (r.node != t.node) r = Resident{t.node, 0};
        r.pages += t.created;
    }
    const auto weights = sharing_weights(window, opt_.max_threads_per_page);
    // Streaks: a pair without enough sharing this window starts over.
    std::map<int, std::size_t> index;
    for (std::size_t i = 0; i < window.size(); ++i) index[window[i].tid] = i;
    std::map<std::pair<int, int>, unsigned> next;
    for (const auto& [pair, wt] : weights) {
        if (wt < opt_.min_shared_faults) continue;
        auto a = index.find(pair.first), b = index.find(pair.second);
        if (a == index.end() || b == index.end()) continue;
        const ThreadWindow& ta = window[a->second];
        const ThreadWindow& tb = window[b->second];
        const auto lat = std::max(ta.fault_ns, tb.fault_ns);
        if (lat != 0 && stall_fraction(wt, lat, ta.cpu_ns, tb.cpu_ns) < opt_.min_stall) continue;
        next[pair] = streak(pair.first, pair.second) + 1;
    }
    streak_ = std::move(next);
    // Per thread, its sharing this window with every thread it shares with
    // (the pairs that passed the gates above).
    std::map<int, std::uint64_t> shared;
    for (const auto& [pair, n] : streak_) {
        (void)n;
        shared[pair.first] += weights.at(pair);
        shared[pair.second] += weights.at(pair);
    }
    // Enough evidence for the pair now (see the top of sharing_policy.hpp):
    // one of the two shares strongly in this window, or the pair shared in
    // `windows_needed` windows in a row.
    enum class Rule { none, strong, weak };
    auto rule = [&](const std::pair<int, int>& pair, unsigned n) {
        for (int t : {pair.first, pair.second})
            if (shared[t] >= opt_.strong_shared_faults) return Rule::strong;
        return n >= opt_.windows_needed ? Rule::weak : Rule::none;
    };

    // Groups of threads joined by pairs with enough evidence.
    std::vector<int> parent(window.size());
    std::iota(parent.begin(), parent.end(), 0);
    std::map<int, std::uint64_t> evidence;  // per thread: shared faults with its group this window
    std::map<int, Rule> why;                // per thread: the strongest rule of its pairs (enum order)
    for (const auto& [pair, n] : streak_) {
        const Rule r = rule(pair, n);
        if (r == Rule::none) continue;
        auto a = index.find(pair.first), b = index.find(pair.second);
        if (a == index.end() || b == index.end()) continue;
        parent[static_cast<std::size_t>(find(parent, static_cast<int>(a->second)))] =
            find(parent, static_cast<int>(b->second));
        const auto wt = weights.at(pair);
        for (int t : {pair.first, pair.second}) {
            evidence[t] += wt;
            auto w = why.find(t);
            if (w == why.end() || r < w->second) why[t] = r;
        }
    }
    std::map<int, std::vector<std::size_t>> groups;
    for (std::size_t i = 0; i < window.size(); ++i)
        if (evidence.count(window[i].tid)) groups[find(parent, static_cast<int>(i))].push_back(i);

    std::vector<MoveDecision> out;
    std::map<int, std::uint64_t> cheap_next;  // the cheap_at_ of the next window
    for (const auto& [root, members] : groups) {
        (void)root;
        if (members.size() < 2) continue;
        std::map<unsigned, std::size_t> per_node;
        std::map<unsigned, std::uint64_t> memory;  // members' resident pages per node
        for (auto i : members) ++per_node[window[i].node], memory[window[i].node] += resident(window[i].tid);
        if (per_node.size() < 2) continue;
        // The node where most of the group's memory already is (nodes within
        // `equal_pages` of the most count as equal: a page or two written
        // says nothing); among those, the one holding most members, the
        // origin (node 0) counting `origin_weight` more; std::map order makes
        // ties go to the lowest id.
        std::uint64_t most = 0;
        for (const auto& [node, pages] : memory) most = std::max(most, pages);
        auto score = [&](unsigned node) { return per_node[node] + (node == 0 ? opt_.origin_weight : 0); };
        std::optional<unsigned> best;
        for (const auto& [node, count] : per_node)
            if (memory[node] + opt_.equal_pages >= most && (!best || score(node) > score(*best))) best = node;
        const unsigned target = *best;  // the node with the most memory qualifies
        std::string tids;
        for (auto i : members) tids += fmt::format("{}{}", tids.empty() ? "" : ",", window[i].tid);
        for (auto i : members) {
            const ThreadWindow& t = window[i];
            if (t.node == target || !may_move(t.tid)) continue;
            // The cost rule: the move pays when the sharing it ends, over
            // `payback_windows`, outweighs the pages it would fetch back.
            const std::uint64_t cost = resident(t.tid), saving = evidence[t.tid] * opt_.payback_windows;
            if (saving < cost) continue;
            // A thread with under `equal_pages` resident pages moves only when
            // the report after the one that found it cheap still does: a
            // thread's state is often built as its sharing begins (xz's
            // worker), after the report the decision read.
            if (cost < opt_.equal_pages && cheap_at_.count(t.tid) == 0) {
                cheap_next[t.tid] = window_;
                continue;
            }
            last_move_[t.tid] = window_;
            ++moves_[t.tid];
            const Rule r = why[t.tid];
            out.push_back({t.tid, t.node, target,
                           fmt::format("shares pages with threads {} ({} shared faults in the last window, {}); {} of "
                                       "{} are on node {}, with {} of their {} resident pages; cost {} resident pages "
                                       "<= saving {} ({} windows)",
                                       tids, evidence[t.tid],
                                       r == Rule::strong ? std::string("strong: one window is enough")
                                                         : fmt::format("weak: {} windows in a row", opt_.windows_needed),
                                       per_node[target], members.size(), target, memory[target],
                                       std::accumulate(memory.begin(), memory.end(), std::uint64_t{0},
                                                       [](std::uint64_t a, const auto& e) { return a + e.second; }),
                                       cost, saving, opt_.payback_windows)});
        }
    }
    cheap_at_ = std::move(cheap_next);
    // Pairs with a thread that moves start over: their faults so far say
    // nothing about the new layout.
    std::set<int> moving;
    for (const auto& m : out) moving.insert(m.tid);
    std::erase_if(streak_, [&](const auto& e) { return moving.count(e.first.first) || moving.count(e.first.second); });
    return out;
}

}  // namespace spanvm::cluster
