#pragma once
// ReadAhead: adaptive sequential read-ahead window for DSM read faults. Pure
// logic (no I/O, not thread-safe: the engine calls it from its fault thread).
//
// A read fault on page p counts as sequential when it lands just after the
// previous read fault or inside the pages already read ahead
// (last < p <= max(last + 1, next)). Each sequential fault doubles the window
// (kMinWindow .. kMaxWindow pages); any other fault resets it. The answer is
// the range of pages to fetch now, [first, end), never overlapping what was
// asked for before, so a stream keeps about one window of pages in flight.
//
// Coherence does not depend on the guess: the engine turns each page of the
// range into an ordinary read request (Protocol::on_fault with no waiting
// thread) only when the page is Invalid locally, so a wrong guess costs a
// Shared copy that later writes invalidate like any other.
#include <algorithm>
#include <cstdint>

#include "vmm/dsm/messages.hpp"

namespace spanvm::dsm {

class ReadAhead {
public:
    static constexpr PageIndex kMinWindow = 4;
    static constexpr PageIndex kMaxWindow = 64;

    explicit ReadAhead(PageIndex num_pages) : pages_(num_pages) {}

    struct Range {
        PageIndex first = 0, end = 0;  // [first, end); empty when first == end
        bool empty() const { return first >= end; }
    };

    Range on_read_fault(PageIndex p) {
        bool sequential = have_last_ && p > last_ && p <= std::max(last_ + 1, next_);
        if (sequential) {
            window_ = std::clamp<PageIndex>(window_ * 2, kMinWindow, kMaxWindow);
        } else {
            window_ = 0;
            next_ = p + 1;
        }
        have_last_ = true;
        last_ = p;
        Range r;
        r.first = std::max(p + 1, next_);
        r.end = std::min(pages_, p + 1 + window_);
        if (r.empty()) return Range{};
        next_ = r.end;
        return r;
    }
    PageIndex window() const { return window_; }

private:
    PageIndex pages_;
    bool have_last_ = false;
    PageIndex last_ = 0;
    PageIndex next_ = 0;  // first page not yet read ahead
    PageIndex window_ = 0;
};

}  // namespace spanvm::dsm
