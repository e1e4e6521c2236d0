// fuzz-sources: vmm/process/mm/address_space.cpp
// Fuzz target for process::AddressSpace.
//
// The input is decoded into a random sequence of mmap/munmap/mprotect/
// mremap/brk/madvise/guest-write operations on a small window (16..79 pages).
// Each operation runs against the AddressSpace AND against a page-array
// reference model written independently from Linux semantics. A simulated
// guest RAM (one word per page) is driven ONLY by the plans the AddressSpace
// returns, exactly as the VMM does it (zero released ranges, memmove copies,
// fill file pages). After every step the harness checks:
//   - check_invariants() passes;
//   - every page's mapping state, prot, flags, kind and file offset match the
//     model (so VMAs are the maximal mergeable runs);
//   - simulated RAM equals the model's contents, in particular every unmapped
//     page is zero (the invariant the VMM relies on);
//   - placements (top-down first fit, hints), errnos and the released ranges
//     of munmap / MAP_FIXED / brk are exactly what the model predicts.
// Violations abort with a one-line description.
//
// The engine (namespace aspace_model) is also driven with seeded random bytes
// by tests/unit/test_address_space.cpp, which includes this file.
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <array>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "vmm/process/mm/address_space.hpp"

namespace aspace_model {

using spanvm::Result;
using spanvm::process::AddressSpace;
using spanvm::process::FileRef;
using spanvm::process::Range;
using spanvm::process::Vma;
using spanvm::process::VmaKind;

inline constexpr uint64_t kPage = 4096;
inline constexpr uint64_t kLo = spanvm::memory::layout::kUserBase;
using Failure = std::optional<std::string>;

#define AS_EXPECT(cond, ...)                                          \
    do {                                                              \
        if (!(cond)) return fail(fmt::format(__VA_ARGS__));           \
    } while (0)

class Input {
public:
    Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}
    bool exhausted() const { return pos_ >= size_; }
    uint32_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }
    // Value in [0, n), n <= 256.
    uint32_t below(uint32_t n) { return n == 0 ? 0 : byte() % n; }

private:
    const uint8_t* data_;
    size_t size_;
    size_t pos_ = 0;
};

struct Page {
    bool mapped = false;
    int prot = 0;
    int flags = 0;
    VmaKind kind = VmaKind::anonymous;
    int fd = -1;
    uint64_t foff = 0;
    uint32_t content = 0;  // 0 == zero page
};

inline uint32_t file_word(int fd, uint64_t off) {
    return 0x80000000u | (static_cast<uint32_t>(fd) << 24) | static_cast<uint32_t>((off / kPage) & 0xffffff);
}
inline std::string file_path(int fd) { return fmt::format("/f{}", fd); }

// Whether page b (right after page a) would sit in the same VMA as a.
inline bool compatible(const Page& a, const Page& b) {
    return a.mapped && b.mapped && a.prot == b.prot && a.flags == b.flags && a.kind == b.kind && a.fd == b.fd &&
           (a.fd < 0 || b.foff == a.foff + kPage);
}

class Harness {
public:
    Harness(uint64_t npages, uint64_t stack_pages, uint64_t gap_pages, uint64_t brk_page)
        : n_(npages), hi_(kLo + npages * kPage),
          as_(AddressSpace::create(kLo, kLo + npages * kPage, gap_pages * kPage).value()), ref_(npages),
          ram_(npages), mmap_base_(hi_) {
        if (stack_pages > 0) {
            const uint64_t start = hi_ - stack_pages * kPage;
            (void)as_.reserve_stack(stack_pages * kPage - 5);  // checked by verify()
            for (uint64_t a = start; a < hi_; a += kPage)
                page(a) = Page{true, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN,
                               VmaKind::stack, -1, 0, 0};
            mmap_base_ = start - kLo > gap_pages * kPage ? start - gap_pages * kPage : kLo;
        }
        brk_base_ = brk_end_ = kLo + brk_page * kPage;
        (void)as_.set_brk_base(brk_base_);  // checked by verify()
    }

    Failure step(Input& in) {
        ++step_;
        switch (in.below(10)) {
            case 0: case 1: return op_map(in);
            case 2: return op_unmap(in);
            case 3: return op_protect(in);
            case 4: return op_brk(in);
            case 5: return op_remap(in);
            case 6: return op_madvise(in);
            case 7: case 8: return op_write(in);
            default: return op_invalid(in);
        }
    }

    Failure verify() {
        op_ += " [verify]";
        if (auto r = as_.check_invariants(); !r) return fail(r.error().message);
        uint64_t mapped = 0;
        for (uint64_t i = 0; i < n_; ++i) {
            const uint64_t a = kLo + i * kPage;
            const Page& p = ref_[i];
            const auto v = as_.find(a);
            AS_EXPECT(p.mapped == v.has_value(), "page {:#x}: mapped {} but model says {}", a, v.has_value(), p.mapped);
            AS_EXPECT(ram_[i] == p.content, "page {:#x}: RAM holds {:#x}, model {:#x}", a, ram_[i], p.content);
            if (!v) continue;
            ++mapped;
            AS_EXPECT(v->prot == p.prot && v->flags == p.flags && v->kind == p.kind,
                      "page {:#x}: prot/flags/kind {}/{:#x}/{} vs model {}/{:#x}/{}", a, v->prot, v->flags,
                      static_cast<int>(v->kind), p.prot, p.flags, static_cast<int>(p.kind));
            AS_EXPECT((p.fd >= 0) == v->file.has_value(), "page {:#x}: file-backed mismatch", a);
            if (p.fd >= 0)
                AS_EXPECT(v->file->fd == p.fd && *v->file_offset_at(a) == p.foff,
                          "page {:#x}: file fd/offset {}/{:#x} vs model {}/{:#x}", a, v->file->fd,
                          *v->file_offset_at(a), p.fd, p.foff);
        }
        AS_EXPECT(as_.mapped_bytes() == mapped * kPage, "mapped_bytes {:#x} vs {:#x}", as_.mapped_bytes(),
                  mapped * kPage);
        AS_EXPECT(!as_.find(kLo - 1) && !as_.find(hi_), "a VMA outside the window");
        AS_EXPECT(as_.brk_base() == brk_base_ && as_.brk_end() == brk_end_, "brk [{:#x},{:#x}) vs model [{:#x},{:#x})",
                  as_.brk_base(), as_.brk_end(), brk_base_, brk_end_);
        AS_EXPECT(as_.mmap_base() == mmap_base_, "mmap_base {:#x} vs model {:#x}", as_.mmap_base(), mmap_base_);
        return std::nullopt;
    }

    const AddressSpace& address_space() const { return as_; }

private:
    Failure fail(const std::string& what) const { return fmt::format("step {} ({}): {}", step_, op_, what); }

    Page& page(uint64_t a) { return ref_[(a - kLo) / kPage]; }
    uint32_t& ram(uint64_t a) { return ram_[(a - kLo) / kPage]; }
    bool in_window(uint64_t a, uint64_t e) const { return a >= kLo && a <= e && e <= hi_; }

    // ---- model queries (state before the operation) ----
    bool ref_free(uint64_t a, uint64_t e) {
        for (uint64_t x = a; x < e; x += kPage)
            if (x >= kLo && x < hi_ && page(x).mapped) return false;
        return true;
    }
    bool ref_mapped(uint64_t a, uint64_t e) {
        for (uint64_t x = a; x < e; x += kPage)
            if (x < kLo || x >= hi_ || !page(x).mapped) return false;
        return true;
    }
    std::vector<Range> ref_runs(uint64_t a, uint64_t e) {
        std::vector<Range> out;
        for (uint64_t x = a; x < e; x += kPage) {
            if (x < kLo || x >= hi_ || !page(x).mapped) continue;
            if (!out.empty() && out.back().end() == x) out.back().len += kPage;
            else out.push_back(Range{x, kPage});
        }
        return out;
    }
    // End of the VMA (maximal compatible run) containing mapped page a.
    uint64_t ref_vma_end(uint64_t a) {
        uint64_t e = a + kPage;
        while (e < hi_ && compatible(page(e - kPage), page(e))) e += kPage;
        return e;
    }
    std::optional<uint64_t> ref_top_down(uint64_t len, uint64_t ceil) {
        for (uint64_t a = ceil; a >= kLo + len; a -= kPage)
            if (ref_free(a - len, a)) return a - len;
        return std::nullopt;
    }
    std::optional<uint64_t> ref_place(uint64_t len) {
        if (auto a = ref_top_down(len, mmap_base_)) return a;
        return ref_top_down(len, hi_);
    }
    void ref_unmap(uint64_t a, uint64_t e) {
        for (uint64_t x = a; x < e; x += kPage)
            if (x >= kLo && x < hi_) page(x) = Page{};
    }

    // ---- the VMM side: apply plans to simulated RAM ----
    Failure check_ranges(const std::vector<Range>& rs) {
        uint64_t prev_end = 0;
        for (const Range& r : rs) {
            AS_EXPECT(r.len > 0 && r.start % kPage == 0 && r.len % kPage == 0 && in_window(r.start, r.end()),
                      "bad released range [{:#x},+{:#x})", r.start, r.len);
            AS_EXPECT(r.start > prev_end || prev_end == 0, "released ranges unsorted/uncoalesced at {:#x}", r.start);
            prev_end = r.end();
        }
        return std::nullopt;
    }
    void zero(const std::vector<Range>& rs) {
        for (const Range& r : rs)
            for (uint64_t x = r.start; x < r.end(); x += kPage) ram(x) = 0;
    }
    void fill_from_file(Range r) {
        for (uint64_t x = r.start; x < r.end(); x += kPage) {
            const auto v = as_.find(x);
            if (v && v->file) ram(x) = file_word(v->file->fd, *v->file_offset_at(x));
        }
    }
    template <typename T>
    Failure expect_error(const Result<T>& r, int code) {
        AS_EXPECT(!r.has_value(), "succeeded, expected errno {}", code);
        AS_EXPECT(r.error().code == code, "errno {} ({}), expected {}", r.error().code, r.error().message, code);
        AS_EXPECT(!r.error().message.empty() && r.error().message.find('\n') == std::string::npos,
                  "error message must be one line");
        return std::nullopt;
    }
    template <typename T>
    Failure expect_ok(const Result<T>& r) {
        AS_EXPECT(r.has_value(), "failed: {} (errno {})", r.error().message, r.error().code);
        return std::nullopt;
    }

    // ---- operations ----
    Failure op_map(Input& in) {
        const uint64_t pages = 1 + in.below(8);
        const uint32_t mode = in.below(4);  // 0 no hint, 1 hint, 2 MAP_FIXED, 3 MAP_FIXED_NOREPLACE
        const uint64_t addr = kLo + in.below(static_cast<uint32_t>(n_ + 2)) * kPage;
        const uint32_t kind = in.below(4);  // anon private/shared, file private/shared
        const int prot = static_cast<int>(in.below(8));
        const int extra = std::array<int, 4>{0, MAP_NORESERVE, MAP_STACK, MAP_POPULATE}[in.below(4)];
        const int fd = 3 + static_cast<int>(in.below(2));
        const uint64_t foff = in.below(8) * kPage;
        const uint64_t len = pages * kPage - (in.below(2) ? 123 : 0);
        const bool anon = kind < 2;
        const int sharing = (kind % 2) ? MAP_SHARED : MAP_PRIVATE;
        int flags = sharing | extra | (anon ? MAP_ANONYMOUS : 0);
        if (mode == 2) flags |= MAP_FIXED;
        if (mode == 3) flags |= MAP_FIXED_NOREPLACE;
        const uint64_t plen = pages * kPage;
        op_ = fmt::format("map({:#x}, {:#x}, prot {}, flags {:#x}, fd {} off {:#x})", mode ? addr : 0, len, prot,
                          flags, fd, foff);
        auto r = as_.map(mode ? addr : 0, len, prot, flags, FileRef{fd, foff, file_path(fd)});

        std::optional<uint64_t> expect;
        std::vector<Range> expect_released;
        if (mode >= 2) {
            if (addr + plen > hi_) return expect_error(r, ENOMEM);
            if (mode == 3 && !ref_free(addr, addr + plen)) return expect_error(r, EEXIST);
            expect = addr;
            expect_released = ref_runs(addr, addr + plen);
        } else if (mode == 1 && addr + plen <= hi_ && ref_free(addr, addr + plen)) {
            expect = addr;
        } else {
            expect = ref_place(plen);
            if (!expect) return expect_error(r, ENOMEM);
        }
        if (auto f = expect_ok(r)) return f;
        AS_EXPECT(r->addr == *expect, "placed at {:#x}, model expects {:#x}", r->addr, *expect);
        AS_EXPECT(r->released == expect_released, "released {} ranges, model expects {}", r->released.size(),
                  expect_released.size());
        if (auto f = check_ranges(r->released)) return f;
        zero(r->released);
        ref_unmap(*expect, *expect + plen);
        const int recorded = sharing | (anon ? MAP_ANONYMOUS : 0) | (extra == MAP_POPULATE ? 0 : extra);
        for (uint64_t i = 0; i < pages; ++i) {
            page(*expect + i * kPage) = Page{true, prot, recorded, anon ? VmaKind::anonymous : VmaKind::file,
                                             anon ? -1 : fd, anon ? 0 : foff + i * kPage,
                                             anon ? 0 : file_word(fd, foff + i * kPage)};
        }
        if (!anon) fill_from_file(Range{*expect, plen});
        return std::nullopt;
    }

    Failure op_unmap(Input& in) {
        const uint64_t addr = kLo + in.below(static_cast<uint32_t>(n_ + 2)) * kPage;
        const uint64_t len = (1 + in.below(10)) * kPage - (in.below(2) ? 1 : 0);
        op_ = fmt::format("unmap({:#x}, {:#x})", addr, len);
        const uint64_t end = addr + spanvm::memory::layout::page_align_up(len);
        const auto expect_released = ref_runs(addr, end);
        auto r = as_.unmap(addr, len);
        if (auto f = expect_ok(r)) return f;
        AS_EXPECT(*r == expect_released, "released {} ranges, model expects {}", r->size(), expect_released.size());
        if (auto f = check_ranges(*r)) return f;
        zero(*r);
        ref_unmap(addr, end);
        return std::nullopt;
    }

    Failure op_protect(Input& in) {
        const uint64_t addr = kLo + in.below(static_cast<uint32_t>(n_ + 2)) * kPage;
        const uint64_t pages = 1 + in.below(8);
        const int prot = static_cast<int>(in.below(8));
        op_ = fmt::format("protect({:#x}, {:#x}, {})", addr, pages * kPage, prot);
        auto r = as_.protect(addr, pages * kPage, prot);
        if (!ref_mapped(addr, addr + pages * kPage)) return expect_error(r, ENOMEM);
        if (auto f = expect_ok(r)) return f;
        for (uint64_t i = 0; i < pages; ++i) page(addr + i * kPage).prot = prot;
        return std::nullopt;
    }

    Failure op_brk(Input& in) {
        const uint32_t v = in.below(24);
        uint64_t new_end = 0;
        if (v == 1) new_end = brk_base_ - 1;
        else if (v >= 2) new_end = brk_base_ + (v - 2) * (kPage / 2) + (in.below(2) ? 17 : 0);
        op_ = fmt::format("brk({:#x})", new_end);
        auto r = as_.brk(new_end);
        uint64_t expect = brk_end_;
        std::vector<Range> expect_released;
        if (new_end >= brk_base_) {
            const uint64_t old_top = spanvm::memory::layout::page_align_up(brk_end_);
            const uint64_t new_top = spanvm::memory::layout::page_align_up(new_end);
            if (new_top < old_top) {
                expect_released = ref_runs(new_top, old_top);
                ref_unmap(new_top, old_top);
                expect = new_end;
            } else if (new_top == old_top) {
                expect = new_end;
            } else if (new_top <= hi_ && ref_free(old_top, new_top)) {
                for (uint64_t x = old_top; x < new_top; x += kPage)
                    page(x) = Page{true, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, VmaKind::heap, -1, 0, 0};
                expect = new_end;
            }
        }
        AS_EXPECT(r.brk == expect, "brk returned {:#x}, model {:#x}", r.brk, expect);
        AS_EXPECT(r.released == expect_released, "brk released {} ranges, model {}", r.released.size(),
                  expect_released.size());
        if (auto f = check_ranges(r.released)) return f;
        zero(r.released);
        brk_end_ = expect;
        return std::nullopt;
    }

    // Model side of a move: [old, old + keep) of one VMA to [dest, dest + nlen).
    void ref_move(uint64_t old, uint64_t keep, uint64_t dest, uint64_t nlen, bool dontunmap) {
        std::vector<Page> saved;
        for (uint64_t i = 0; i < keep; i += kPage) saved.push_back(page(old + i));
        const Page src = saved.front();
        if (dontunmap)
            for (uint64_t i = 0; i < keep; i += kPage) page(old + i).content = 0;
        else
            ref_unmap(old, old + keep);
        for (uint64_t i = 0; i < nlen; i += kPage) {
            Page p = src;
            if (p.kind == VmaKind::heap || p.kind == VmaKind::stack) p.kind = VmaKind::anonymous;
            if (p.fd >= 0) p.foff = src.foff + i;
            p.content = i < keep ? saved[i / kPage].content : (p.fd >= 0 ? file_word(p.fd, p.foff) : 0);
            page(dest + i) = p;
        }
    }

    Failure op_remap(Input& in) {
        const uint64_t old = kLo + in.below(static_cast<uint32_t>(n_ + 1)) * kPage;
        const uint64_t olen = (1 + in.below(8)) * kPage;
        const uint64_t nlen = (1 + in.below(8)) * kPage;
        const int flags = static_cast<int>(in.below(8));  // MAYMOVE 1, FIXED 2, DONTUNMAP 4
        const uint64_t dest_in = kLo + in.below(static_cast<uint32_t>(n_ + 1)) * kPage;
        const bool may_move = flags & MREMAP_MAYMOVE, fixed = flags & MREMAP_FIXED, dontunmap = flags & MREMAP_DONTUNMAP;
        op_ = fmt::format("remap({:#x}, {:#x}, {:#x}, flags {}, {:#x})", old, olen, nlen, flags, dest_in);
        auto r = as_.remap(old, olen, nlen, flags, dest_in);

        if ((fixed || dontunmap) && !may_move) return expect_error(r, EINVAL);
        if (dontunmap && olen != nlen) return expect_error(r, EINVAL);
        if (old >= hi_ || !page(old).mapped) return expect_error(r, EFAULT);
        const Page src = page(old);
        const bool priv_anon = (src.flags & MAP_PRIVATE) && src.fd < 0;
        const uint64_t keep = std::min(olen, nlen);
        uint64_t dest = 0;
        if (fixed) {
            dest = dest_in;
            if (dest < old + olen && old < dest + nlen) return expect_error(r, EINVAL);
            if (dest + nlen > hi_) return expect_error(r, ENOMEM);
            if (ref_vma_end(old) < old + keep) return expect_error(r, EFAULT);
            if (dontunmap && !priv_anon) return expect_error(r, EINVAL);
            if (auto f = expect_ok(r)) return f;
            ref_unmap(dest, dest + nlen);
            if (olen > nlen) ref_unmap(old + nlen, old + olen);
        } else if (!dontunmap && nlen <= olen) {
            if (auto f = expect_ok(r)) return f;
            const auto expect_released = ref_runs(old + nlen, old + olen);
            AS_EXPECT(r->new_addr == old && !r->copy && !r->grown && r->released == expect_released,
                      "shrink plan mismatch");
            if (auto f = check_ranges(r->released)) return f;
            zero(r->released);
            ref_unmap(old + nlen, old + olen);
            return std::nullopt;
        } else {
            if (ref_vma_end(old) < old + olen) return expect_error(r, EFAULT);
            if (dontunmap && !priv_anon) return expect_error(r, EINVAL);
            if (!dontunmap && ref_vma_end(old) == old + olen && old + nlen <= hi_ && ref_free(old + olen, old + nlen)) {
                if (auto f = expect_ok(r)) return f;
                AS_EXPECT(r->new_addr == old && !r->copy && r->released.empty() && r->grown &&
                              *r->grown == (Range{old + olen, nlen - olen}),
                          "grow-in-place plan mismatch");
                for (uint64_t i = olen; i < nlen; i += kPage) {
                    Page p = src;
                    if (p.fd >= 0) p.foff = src.foff + i;
                    p.content = p.fd >= 0 ? file_word(p.fd, p.foff) : 0;
                    page(old + i) = p;
                }
                fill_from_file(*r->grown);
                return std::nullopt;
            }
            if (!dontunmap && !may_move) return expect_error(r, ENOMEM);
            const auto placed = ref_place(nlen);
            if (!placed) return expect_error(r, ENOMEM);
            dest = *placed;
            if (auto f = expect_ok(r)) return f;
        }
        // A move: check and execute the plan in the documented order.
        AS_EXPECT(r->new_addr == dest, "moved to {:#x}, model expects {:#x}", r->new_addr, dest);
        AS_EXPECT(r->copy && r->copy->from == old && r->copy->to == dest && r->copy->len == keep,
                  "copy plan mismatch");
        if (auto f = check_ranges(r->released)) return f;
        for (const Range& z : r->released)
            AS_EXPECT(z.end() <= dest || z.start >= dest + keep, "released range [{:#x},+{:#x}) hits the copy target",
                      z.start, z.len);
        AS_EXPECT(nlen > keep ? (r->grown && *r->grown == (Range{dest + keep, nlen - keep})) : !r->grown,
                  "grown range mismatch");
        for (uint64_t i = 0; i < keep; i += kPage) ram(dest + i) = ram(old + i);  // memmove (disjoint here)
        zero(r->released);
        if (r->grown) fill_from_file(*r->grown);
        ref_move(old, keep, dest, nlen, dontunmap);
        return std::nullopt;
    }

    Failure op_madvise(Input& in) {
        const uint64_t addr = kLo + in.below(static_cast<uint32_t>(n_ + 1)) * kPage;
        const uint64_t pages = 1 + in.below(8);
        op_ = fmt::format("madvise_dontneed({:#x}, {:#x})", addr, pages * kPage);
        auto r = as_.madvise_dontneed(addr, pages * kPage);
        if (!ref_mapped(addr, addr + pages * kPage)) return expect_error(r, ENOMEM);
        if (auto f = expect_ok(r)) return f;
        for (const Range& z : *r) {
            const auto v = as_.find(z.start);
            AS_EXPECT(v && v->start <= z.start && z.end() <= v->end && !v->shared(),
                      "madvise range [{:#x},+{:#x}) is not inside one private VMA", z.start, z.len);
            if (v->file) fill_from_file(z);
            else zero({z});
        }
        for (uint64_t x = addr; x < addr + pages * kPage; x += kPage) {
            Page& p = page(x);
            if (p.flags & MAP_PRIVATE) p.content = p.fd >= 0 ? file_word(p.fd, p.foff) : 0;
        }
        return std::nullopt;
    }

    Failure op_write(Input& in) {
        const uint64_t a = kLo + in.below(static_cast<uint32_t>(n_)) * kPage;
        op_ = fmt::format("write({:#x})", a);
        if (!page(a).mapped) return std::nullopt;  // would be a guest bug, not modelled
        page(a).content = ram(a) = next_tag_++;
        return std::nullopt;
    }

    // Invalid arguments: the errno is checked and verify() confirms nothing changed.
    Failure op_invalid(Input& in) {
        const uint64_t a = kLo + in.below(static_cast<uint32_t>(n_)) * kPage;
        const int anon = MAP_PRIVATE | MAP_ANONYMOUS;
        switch (in.below(9)) {
            case 0: op_ = "map len 0"; return expect_error(as_.map(0, 0, PROT_READ, anon), EINVAL);
            case 1: op_ = "map fixed unaligned"; return expect_error(as_.map(a + 1, kPage, 0, anon | MAP_FIXED), EINVAL);
            case 2: op_ = "map no sharing"; return expect_error(as_.map(0, kPage, 0, MAP_ANONYMOUS), EINVAL);
            case 3: op_ = "map file without file"; return expect_error(as_.map(0, kPage, 0, MAP_PRIVATE), EBADF);
            case 4: op_ = "unmap unaligned"; return expect_error(as_.unmap(a + 8, kPage), EINVAL);
            case 5: op_ = "unmap len 0"; return expect_error(as_.unmap(a, 0), EINVAL);
            case 6: op_ = "protect unaligned"; return expect_error(as_.protect(a + 1, kPage, PROT_READ), EINVAL);
            case 7: op_ = "remap bad flags"; return expect_error(as_.remap(a, kPage, kPage, 8), EINVAL);
            default: op_ = "madvise unaligned"; return expect_error(as_.madvise_dontneed(a + 1, kPage), EINVAL);
        }
    }

    uint64_t n_;
    uint64_t hi_;
    AddressSpace as_;
    std::vector<Page> ref_;
    std::vector<uint32_t> ram_;
    uint64_t mmap_base_;
    uint64_t brk_base_ = 0;
    uint64_t brk_end_ = 0;
    uint32_t next_tag_ = 1;
    uint64_t step_ = 0;
    std::string op_ = "setup";
};

#undef AS_EXPECT

// Decodes a window from the first bytes, then runs operations until the input
// is exhausted or max_steps. Returns the first violation.
inline Failure run(Input& in, uint64_t max_steps = 100000) {
    const uint64_t npages = 16 + in.below(64);
    const uint64_t stack_pages = in.below(7);
    const uint64_t gap_pages = in.below(5);
    const uint64_t brk_page = in.below(8);
    Harness h(npages, stack_pages, gap_pages, brk_page);
    if (auto f = h.verify()) return f;
    for (uint64_t i = 0; i < max_steps && !in.exhausted(); ++i) {
        if (auto f = h.step(in)) return f;
        if (auto f = h.verify()) return f;
    }
    return std::nullopt;
}

}  // namespace aspace_model

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    aspace_model::Input in(data, size);
    if (auto failure = aspace_model::run(in)) {
        std::fprintf(stderr, "fuzz_address_space: %s\n", failure->c_str());
        std::abort();
    }
    return 0;
}
