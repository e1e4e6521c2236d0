#pragma once
// A page's initial content where it is not zero (docs/dsm-protocol.md
// "Fillers"). The protocol's "never written" data (DataKind::Zero: the
// directory's kZeroData, a page no node ever had) means "the page's
// filler": zero, or bytes every node can produce by itself (the cluster's
// FileFiller: a private file mapping, read from each node's own copy of
// the file). Every node must agree on every page's filler whenever the
// protocol may grant it as never written; the cluster layer keeps that so
// (a filler is set or reset on every node before any page it covers can
// be granted under it, and pages granted before are rewritten or zeroed:
// OriginCluster::fill_from_file, discard).
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace spanvm::dsm {

class PageFiller {
public:
    virtual ~PageFiller() = default;
    // True iff page `page` (index in the region) has a filler other than
    // zero. Cheap: the engine asks for every page it installs as zero.
    virtual bool filled(std::uint64_t page) = 0;
    // Writes the page's filler into out[0, 4096) and returns true; false if
    // it is zero (out untouched). A read that fails is fatal to the node
    // (the caller's install would be wrong otherwise).
    virtual bool fill(std::uint64_t page, std::byte* out) = 0;
    // Pages [page, page + count) into out[0, count * 4096): each page's
    // filler, zeros for a page without one. The default asks fill() page by
    // page; a filler that can read a stretch of pages at once overrides it
    // (a library's fill-ahead block is one read, not one per page).
    virtual void fill_run(std::uint64_t page, std::size_t count, std::byte* out) {
        for (std::size_t k = 0; k < count; ++k)
            if (!fill(page + k, out + k * kFillPageSize)) std::memset(out + k * kFillPageSize, 0, kFillPageSize);
    }
    static constexpr std::size_t kFillPageSize = 4096;
};

}  // namespace spanvm::dsm
