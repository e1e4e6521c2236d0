#include "vmm/cluster/sharing_policy.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>
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

bool SharingPolicy::young(int tid) const {
    auto a = age_.find(tid);
    return a == age_.end() || a->second < opt_.young_windows;
}

void SharingPolicy::thread_gone(int tid) {
    age_.erase(tid);
    last_move_.erase(tid);
    moves_.erase(tid);
    std::erase_if(streak_, [&](const auto& e) { return e.first.first == tid || e.first.second == tid; });
}

std::vector<MoveDecision> SharingPolicy::decide(const std::vector<ThreadWindow>& window) {
    ++window_;
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
    // Enough evidence for the pair now: strong sharing in this window, or
    // weak sharing in `windows_needed` windows in a row while one of the
    // threads is young where it is (see the top of sharing_policy.hpp).
    auto enough = [&](const std::pair<int, int>& pair, unsigned n) {
        if (weights.at(pair) >= opt_.strong_shared_faults) return true;
        return n >= opt_.windows_needed && (young(pair.first) || young(pair.second));
    };

    // Groups of threads joined by pairs with enough evidence.
    std::vector<int> parent(window.size());
    std::iota(parent.begin(), parent.end(), 0);
    std::map<int, std::uint64_t> evidence;  // per thread: shared faults with its group this window
    std::set<int> strong;                    // threads in a pair with strong sharing this window
    for (const auto& [pair, n] : streak_) {
        if (!enough(pair, n)) continue;
        auto a = index.find(pair.first), b = index.find(pair.second);
        if (a == index.end() || b == index.end()) continue;
        parent[static_cast<std::size_t>(find(parent, static_cast<int>(a->second)))] =
            find(parent, static_cast<int>(b->second));
        const auto wt = weights.at(pair);
        evidence[pair.first] += wt;
        evidence[pair.second] += wt;
        if (wt >= opt_.strong_shared_faults) strong.insert(pair.first), strong.insert(pair.second);
    }
    std::map<int, std::vector<std::size_t>> groups;
    for (std::size_t i = 0; i < window.size(); ++i)
        if (evidence.count(window[i].tid)) groups[find(parent, static_cast<int>(i))].push_back(i);

    std::vector<MoveDecision> out;
    for (const auto& [root, members] : groups) {
        (void)root;
        if (members.size() < 2) continue;
        std::map<unsigned, std::size_t> per_node;
        for (auto i : members) ++per_node[window[i].node];
        if (per_node.size() < 2) continue;
        // The node holding most members, the origin (node 0) counting
        // `origin_weight` more; std::map order makes ties go to the lowest id.
        auto score = [&](unsigned node) { return per_node[node] + (node == 0 ? opt_.origin_weight : 0); };
        unsigned target = per_node.begin()->first;
        for (const auto& [node, count] : per_node)
            if (score(node) > score(target)) target = node;
        std::string tids;
        for (auto i : members) tids += fmt::format("{}{}", tids.empty() ? "" : ",", window[i].tid);
        for (auto i : members) {
            const ThreadWindow& t = window[i];
            if (t.node == target || !may_move(t.tid)) continue;
            last_move_[t.tid] = window_;
            age_[t.tid] = 0;
            ++moves_[t.tid];
            out.push_back({t.tid, t.node, target,
                           fmt::format("shares pages with threads {} ({} shared faults in the last window, {}); {} of "
                                       "{} are on node {}",
                                       tids, evidence[t.tid],
                                       strong.count(t.tid) ? std::string("strong: one window is enough")
                                                           : fmt::format("{} windows in a row while young", opt_.windows_needed),
                                       per_node[target], members.size(), target)});
        }
    }
    // Pairs with a thread that moves start over: their faults so far say
    // nothing about the new layout.
    std::set<int> moving;
    for (const auto& m : out) moving.insert(m.tid);
    std::erase_if(streak_, [&](const auto& e) { return moving.count(e.first.first) || moving.count(e.first.second); });
    // Age: the windows a thread ran in since it started or moved (a thread
    // that hardly ran, on a loaded host, has built little where it is).
    for (const auto& t : window)
        if (!moving.count(t.tid) && (t.cpu_ns == 0 || t.cpu_ns >= opt_.window_ns / kMinSpanDivisor)) ++age_[t.tid];
    return out;
}

}  // namespace spanvm::cluster
