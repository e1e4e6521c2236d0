#include "vmm/cluster/node_map_window.hpp"

#include <sys/mman.h>

#include <utility>

#include "vmm/memory/layout.hpp"

namespace spanvm::cluster {

namespace {
// MAP_STACK and MAP_NORESERVE change nothing Linux does for a private
// anonymous mapping here; anything else (MAP_FIXED, MAP_GROWSDOWN,
// MAP_32BIT, MAP_POPULATE, MAP_HUGETLB, ...) is the origin's to decide.
constexpr std::uint64_t kAnswerableFlags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK;
constexpr std::uint64_t kAnswerableProt = PROT_READ | PROT_WRITE;
}  // namespace

bool NodeMapWindow::answerable(std::uint64_t addr, std::uint64_t len, std::uint64_t prot, std::uint64_t flags,
                               std::uint64_t fd, std::uint64_t off) {
    // No hint (Linux takes one as the place to start looking), fd -1 and
    // offset 0 as glibc and every allocator pass them (Linux ignores both
    // for an anonymous mapping, but checks the offset's alignment first).
    return addr == 0 && len != 0 && (flags & ~kAnswerableFlags) == 0 && (flags & MAP_TYPE) == MAP_PRIVATE &&
           (flags & MAP_ANONYMOUS) && (prot & ~kAnswerableProt) == 0 && static_cast<std::int32_t>(fd) == -1 &&
           off == 0;
}

void NodeMapWindow::resumed(const std::optional<MapWindow>& w) {
    // The Trap before this Resume took what was owed; the origin's window
    // lies below every mapping it applied.
    window_ = w;
    if (window_ && (window_->lo >= window_->hi || window_->lo % memory::layout::kPageSize ||
                    window_->hi % memory::layout::kPageSize))
        window_.reset();
}

std::optional<NodeMapWindow::Answer> NodeMapWindow::answer(std::uint64_t addr, std::uint64_t len,
                                                           std::uint64_t prot, std::uint64_t flags,
                                                           std::uint64_t fd, std::uint64_t off) {
    if (!window_ || owed_.size() >= kMaxOwed || !answerable(addr, len, prot, flags, fd, off)) return std::nullopt;
    MapWindow& w = *window_;
    const std::uint64_t plen = memory::layout::page_align_up(len);
    if (plen < len || plen > w.hi - w.lo) return std::nullopt;  // overflow, or more than is left
    w.hi -= plen;
    owed_.push_back(OwedMap{w.hi, len, static_cast<std::uint32_t>(prot), static_cast<std::uint32_t>(flags)});
    ++answered_;
    return Answer{w.hi, w.hi, w.hi + plen, static_cast<std::uint32_t>(prot)};
}

std::vector<OwedMap> NodeMapWindow::take_owed() { return std::exchange(owed_, {}); }

}  // namespace spanvm::cluster
