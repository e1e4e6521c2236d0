#include "vmm/dsm/run_detector.hpp"

#include <algorithm>

namespace spanvm::dsm {

RunDetector::Stream& RunDetector::find(std::uint32_t tid, bool write) {
    Stream* victim = &streams_[0];
    for (Stream& s : streams_) {
        if (s.used && s.tid == tid && s.write == write) {
            s.stamp = ++clock_;
            return s;
        }
        if (!s.used || (victim->used && s.stamp < victim->stamp)) victim = &s;
    }
    *victim = Stream{};
    victim->used = true;
    victim->tid = tid;
    victim->write = write;
    victim->stamp = ++clock_;
    return *victim;
}

std::int64_t RunDetector::majority(const Stream& s) {
    // Boyer-Moore majority vote, then a count to confirm it.
    std::int64_t cand = 0;
    std::size_t votes = 0;
    for (std::size_t i = 0; i < s.filled; ++i) {
        if (votes == 0) cand = s.deltas[i];
        votes += s.deltas[i] == cand ? 1 : std::size_t{0} - 1;
    }
    std::size_t n = 0;
    for (std::size_t i = 0; i < s.filled; ++i) n += s.deltas[i] == cand;
    return 2 * n > s.filled ? cand : 0;
}

void RunDetector::restart(Stream& s, PageIndex page) {
    s.pos = page;
    s.next = page + 1;
    s.run = 0;
    s.filled = 0;
    s.head = 0;
    s.positioned = true;
}

RunDetector::Range RunDetector::on_fault(std::uint32_t tid, bool write, PageIndex page) {
    Stream& s = find(tid, write);
    if (!s.positioned) {  // a stream's first fault has no delta
        restart(s, page);
        return Range{};
    }
    const bool continues = page > s.pos && page <= std::max(s.pos + 1, s.next);
    const std::int64_t delta = continues ? 1 : static_cast<std::int64_t>(page - s.pos);
    s.deltas[s.head] = delta;
    s.head = (s.head + 1) % kHistory;
    s.filled = std::min(s.filled + 1, kHistory);
    if (majority(s) != 1) {
        restart(s, page);
        return Range{};
    }
    if (!continues) return Range{};  // a stray fault: the trend holds, the stream waits
    s.run = std::clamp<PageIndex>(s.run * 2, kMinRun, kMaxRun);
    s.pos = page;
    Range r;
    r.first = std::max(page + 1, s.next);
    r.end = std::min({pages_, page + 1 + s.run, r.first + kMaxRun});
    if (r.empty()) return Range{};
    s.next = r.end;
    return r;
}

PageIndex RunDetector::run_length(std::uint32_t tid, bool write) const {
    for (const Stream& s : streams_)
        if (s.used && s.tid == tid && s.write == write) return s.run;
    return 0;
}

}  // namespace spanvm::dsm
