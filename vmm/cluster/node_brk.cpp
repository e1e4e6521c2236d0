#include "vmm/cluster/node_brk.hpp"

#include <utility>

#include "vmm/memory/layout.hpp"

namespace spanvm::cluster {

void NodeBrk::resumed(const std::optional<BrkWindow>& w) {
    // The Trap before this Resume took what was owed, and the origin's
    // window starts from the break it applied.
    window_ = w;
    if (window_ && window_->limit < memory::layout::page_align_up(window_->brk)) window_.reset();
}

std::optional<NodeBrk::Answer> NodeBrk::answer(std::uint64_t addr) {
    if (!window_) return std::nullopt;
    BrkWindow& w = *window_;
    if (addr == 0 || addr == w.brk) {
        ++answered_;
        return Answer{w.brk, 0, 0};
    }
    if (addr < w.brk || memory::layout::page_align_up(addr) > w.limit || memory::layout::page_align_up(addr) < addr)
        return std::nullopt;
    Answer a{addr, memory::layout::page_align_up(w.brk), memory::layout::page_align_up(addr)};
    w.brk = addr;
    owed_ = addr;
    ++answered_;
    return a;
}

std::optional<std::uint64_t> NodeBrk::take_owed() { return std::exchange(owed_, std::nullopt); }

}  // namespace spanvm::cluster
