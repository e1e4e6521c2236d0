#include "vmm/process/mm/address_space.hpp"

#include <algorithm>
#include <iterator>
#include <utility>

#include <fmt/format.h>

namespace spanvm::process {
namespace {

using memory::layout::kPageSize;

constexpr int kProtMask = PROT_READ | PROT_WRITE | PROT_EXEC;
constexpr int kProtSem = 0x8;  // asm-generic PROT_SEM; glibc does not name it
constexpr int kSharingMask = MAP_SHARED | MAP_PRIVATE;  // == MAP_SHARED_VALIDATE bits
constexpr int kRecordedFlags =
    MAP_SHARED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_GROWSDOWN | MAP_STACK;
// Linux LEGACY_MAP_MASK plus the later flags that need no file support: what
// MAP_SHARED_VALIDATE accepts here (anything else: EOPNOTSUPP).
constexpr int kKnownMapFlags = MAP_SHARED | MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS |
                               MAP_DENYWRITE | MAP_EXECUTABLE | MAP_UNINITIALIZED |
                               MAP_GROWSDOWN | MAP_LOCKED | MAP_NORESERVE | MAP_POPULATE |
                               MAP_NONBLOCK | MAP_STACK | MAP_HUGETLB | MAP_FIXED_NOREPLACE |
                               MAP_32BIT;
constexpr int kRemapFlags = MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP;

bool aligned(uint64_t v) { return (v & (kPageSize - 1)) == 0; }

// Page-rounded length, or nullopt when rounding overflows.
std::optional<uint64_t> page_len(uint64_t len) {
    if (len > UINT64_MAX - (kPageSize - 1)) return std::nullopt;
    return memory::layout::page_align_up(len);
}

// Appends [start, end) keeping `out` coalesced (callers append in order).
void append_range(std::vector<Range>& out, uint64_t start, uint64_t end) {
    if (start >= end) return;
    if (!out.empty() && out.back().end() == start) {
        out.back().len += end - start;
        return;
    }
    out.push_back(Range{start, end - start});
}

// Sorts and coalesces; the input ranges are disjoint.
void normalize(std::vector<Range>& ranges) {
    std::sort(ranges.begin(), ranges.end(),
              [](const Range& a, const Range& b) { return a.start < b.start; });
    std::vector<Range> out;
    for (const Range& r : ranges) append_range(out, r.start, r.end());
    ranges = std::move(out);
}

// Removes `cut` from every range.
void subtract(std::vector<Range>& ranges, Range cut) {
    std::vector<Range> out;
    for (const Range& r : ranges) {
        append_range(out, r.start, std::min(r.end(), cut.start));
        append_range(out, std::max(r.start, cut.end()), r.end());
    }
    ranges = std::move(out);
}

bool private_anonymous(const Vma& v) { return !v.shared() && !v.file; }

}  // namespace

bool vmas_mergeable(const Vma& a, const Vma& b) {
    if (a.end != b.start || a.prot != b.prot || a.flags != b.flags || a.kind != b.kind) return false;
    if (a.file.has_value() != b.file.has_value()) return false;
    if (!a.file) return true;
    return a.file->fd == b.file->fd && a.file->path == b.file->path && a.file->dev == b.file->dev &&
           a.file->ino == b.file->ino && a.file->offset + a.len() == b.file->offset;
}

Result<AddressSpace> AddressSpace::create(uint64_t lo, uint64_t hi, uint64_t stack_guard_gap) {
    if (!aligned(lo) || !aligned(hi) || lo == 0 || lo >= hi || hi > kTaskSize)
        return make_error(EINVAL, "address space: window [{:#x}, {:#x}) is not page-aligned inside (0, {:#x}]",
                          lo, hi, kTaskSize);
    if (!aligned(stack_guard_gap))
        return make_error(EINVAL, "address space: stack guard gap {:#x} is not page-aligned", stack_guard_gap);
    return AddressSpace(lo, hi, stack_guard_gap);
}

AddressSpace::AddressSpace(uint64_t lo, uint64_t hi, uint64_t stack_guard_gap)
    : lo_(lo), hi_(hi), stack_guard_gap_(stack_guard_gap), mmap_base_(hi), brk_base_(lo), brk_end_(lo) {}

AddressSpace::Map::const_iterator AddressSpace::first_ending_after(uint64_t addr) const {
    auto it = vmas_.upper_bound(addr);
    if (it != vmas_.begin()) {
        auto prev = std::prev(it);
        if (prev->second.end > addr) return prev;
    }
    return it;
}

AddressSpace::Map::iterator AddressSpace::first_ending_after(uint64_t addr) {
    auto cit = std::as_const(*this).first_ending_after(addr);
    return vmas_.erase(cit, cit);  // const_iterator -> iterator, erases nothing
}

void AddressSpace::split_at(uint64_t addr) {
    auto it = vmas_.upper_bound(addr);
    if (it == vmas_.begin()) return;
    --it;
    Vma& left = it->second;
    if (!(left.start < addr && addr < left.end)) return;
    Vma right = left;
    right.start = addr;
    if (right.file) right.file->offset += addr - left.start;
    left.end = addr;
    vmas_.emplace_hint(std::next(it), addr, std::move(right));
}

void AddressSpace::remove_range(uint64_t start, uint64_t end, std::vector<Range>& released) {
    if (start >= end) return;
    split_at(start);
    split_at(end);
    auto it = vmas_.lower_bound(start);
    while (it != vmas_.end() && it->second.start < end) {
        append_range(released, it->second.start, it->second.end);
        mapped_bytes_ -= it->second.len();
        it = vmas_.erase(it);
    }
}

void AddressSpace::insert(Vma v) {
    const uint64_t start = v.start;
    const uint64_t end = v.end;
    mapped_bytes_ += v.len();
    vmas_.emplace(start, std::move(v));
    merge_around(start, end);
}

void AddressSpace::merge_around(uint64_t start, uint64_t end) {
    // Begin at the VMA ending at or after `start`, so a left neighbour ending
    // exactly at `start` is considered too.
    auto it = first_ending_after(start == 0 ? 0 : start - 1);
    while (it != vmas_.end()) {
        auto next = std::next(it);
        if (next == vmas_.end() || next->second.start > end) break;
        if (vmas_mergeable(it->second, next->second)) {
            it->second.end = next->second.end;
            // Mappings Linux would merge merge here too (mremap and the
            // maps dump see one); the flag then covers both (conservative).
            it->second.ever_writable = it->second.ever_writable || next->second.ever_writable;
            vmas_.erase(next);
            continue;
        }
        it = next;
    }
}

bool AddressSpace::is_free(uint64_t start, uint64_t end) const {
    if (start >= end) return true;
    auto it = first_ending_after(start);
    return it == vmas_.end() || it->second.start >= end;
}

uint64_t AddressSpace::free_until(uint64_t addr) const {
    if (addr >= hi_) return addr;
    auto it = first_ending_after(addr);
    if (it == vmas_.end()) return hi_;
    return std::max(addr, it->second.start);
}

bool AddressSpace::covers(uint64_t addr, uint64_t len, int prot) const {
    if (len == 0) return true;
    if (addr > UINT64_MAX - len) return false;
    const uint64_t end = addr + len;
    uint64_t cur = addr;
    for (auto it = first_ending_after(addr); cur < end; ++it) {
        if (it == vmas_.end() || it->second.start > cur) return false;
        if ((it->second.prot & prot) != prot) return false;
        cur = it->second.end;
    }
    return true;
}

std::optional<uint64_t> AddressSpace::find_free_top_down(uint64_t len, uint64_t floor, uint64_t ceil) const {
    if (ceil < floor || ceil - floor < len) return std::nullopt;
    uint64_t top = ceil;
    for (auto it = vmas_.lower_bound(ceil); it != vmas_.begin();) {
        --it;
        const Vma& v = it->second;
        if (v.end <= floor) break;  // the rest lies below the floor
        if (top > v.end && top - v.end >= len) return top - len;
        top = std::min(top, v.start);
        if (top < floor || top - floor < len) return std::nullopt;
    }
    if (top >= floor && top - floor >= len) return top - len;
    return std::nullopt;
}

std::optional<uint64_t> AddressSpace::find_free(uint64_t len, bool map_32bit) const {
    const uint64_t ceil = map_32bit ? std::min(hi_, kMap32BitLimit) : hi_;
    if (auto a = find_free_top_down(len, lo_, std::min(mmap_base_, ceil))) return a;
    // Linux falls back to a bottom-up search of the whole range; what is left
    // here is the stack guard gap, which is a preference, not a reservation
    // (the stack cannot grow into it).
    return find_free_top_down(len, lo_, ceil);
}

Result<Range> AddressSpace::reserve_stack(uint64_t size) {
    if (stack_) return make_error(EEXIST, "stack: already reserved at [{:#x}, {:#x})", stack_->start, stack_->end());
    if (size == 0) return make_error(EINVAL, "stack: size is zero");
    auto len = page_len(size);
    if (!len || *len > hi_ - lo_)
        return make_error(ENOMEM, "stack: {:#x} bytes do not fit in guest memory [{:#x}, {:#x})", size, lo_, hi_);
    const uint64_t start = hi_ - *len;
    if (!is_free(start, hi_)) return make_error(EEXIST, "stack: [{:#x}, {:#x}) is already mapped", start, hi_);
    insert(Vma{start, hi_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN,
               VmaKind::stack, std::nullopt});
    stack_ = Range{start, *len};
    mmap_base_ = start - lo_ > stack_guard_gap_ ? start - stack_guard_gap_ : lo_;
    return *stack_;
}

Result<void> AddressSpace::set_brk_base(uint64_t addr) {
    if (!aligned(addr) || addr < lo_ || addr > hi_)
        return make_error(EINVAL, "brk base {:#x} is not page-aligned inside [{:#x}, {:#x}]", addr, lo_, hi_);
    if (brk_end_ != brk_base_)
        return make_error(EBUSY, "brk base cannot move: the heap is in use up to {:#x}", brk_end_);
    brk_base_ = brk_end_ = addr;
    return {};
}

BrkResult AddressSpace::brk(uint64_t new_end) {
    BrkResult r{brk_end_, {}};
    if (new_end < brk_base_) return r;
    const auto new_top = page_len(new_end);
    if (!new_top) return r;
    const uint64_t old_top = memory::layout::page_align_up(brk_end_);
    if (*new_top < old_top) {
        // As Linux, the shrink unmaps whatever lies there, heap or not.
        remove_range(*new_top, old_top, r.released);
    } else if (*new_top > old_top) {
        if (*new_top > hi_ || !is_free(old_top, *new_top)) return r;
        insert(Vma{old_top, *new_top, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, VmaKind::heap,
                   std::nullopt});
    }
    brk_end_ = new_end;
    r.brk = new_end;
    return r;
}

Result<MapResult> AddressSpace::map(uint64_t addr_hint, uint64_t len, int prot, int flags,
                                    const std::optional<FileRef>& file) {
    if (len == 0) return make_error(EINVAL, "mmap: length is zero");
    const auto plen = page_len(len);
    if (!plen || *plen > hi_ - lo_)
        return make_error(ENOMEM, "mmap: {:#x} bytes exceed guest memory [{:#x}, {:#x})", len, lo_, hi_);

    int sharing = flags & kSharingMask;
    if (sharing == MAP_SHARED_VALIDATE) {
        if (flags & ~kKnownMapFlags)
            return make_error(EOPNOTSUPP, "mmap: unsupported flags {:#x} with MAP_SHARED_VALIDATE",
                              flags & ~kKnownMapFlags);
        sharing = MAP_SHARED;
    }
    if (sharing == 0) return make_error(EINVAL, "mmap: neither MAP_SHARED nor MAP_PRIVATE in flags {:#x}", flags);

    const bool anonymous = (flags & MAP_ANONYMOUS) != 0;
    if (!anonymous) {
        if (!file) return make_error(EBADF, "mmap: file mapping without a file");
        if (!aligned(file->offset)) return make_error(EINVAL, "mmap: file offset {:#x} is not page-aligned", file->offset);
        if (file->offset > UINT64_MAX - *plen)
            return make_error(EOVERFLOW, "mmap: file offset {:#x} + length {:#x} overflows", file->offset, *plen);
    }

    const bool noreplace = (flags & MAP_FIXED_NOREPLACE) != 0;
    const bool fixed = noreplace || (flags & MAP_FIXED) != 0;
    uint64_t addr = 0;
    if (fixed) {
        if (!aligned(addr_hint)) return make_error(EINVAL, "mmap: fixed address {:#x} is not page-aligned", addr_hint);
        if (addr_hint < lo_)
            return make_error(EPERM, "mmap: fixed address {:#x} is below the user area {:#x}", addr_hint, lo_);
        if (addr_hint > hi_ - *plen)
            return make_error(ENOMEM, "mmap: [{:#x}, +{:#x}) extends past guest memory end {:#x}", addr_hint, *plen,
                              hi_);
        if (noreplace && !is_free(addr_hint, addr_hint + *plen))
            return make_error(EEXIST, "mmap: MAP_FIXED_NOREPLACE range [{:#x}, +{:#x}) is in use", addr_hint, *plen);
        addr = addr_hint;
    } else {
        const bool map_32bit = (flags & MAP_32BIT) != 0;
        const uint64_t ceil = map_32bit ? std::min(hi_, kMap32BitLimit) : hi_;
        const auto hint = page_len(addr_hint);
        if (addr_hint != 0 && hint && *hint >= lo_ && *hint <= ceil && ceil - *hint >= *plen &&
            is_free(*hint, *hint + *plen)) {
            addr = *hint;
        } else if (auto found = find_free(*plen, map_32bit)) {
            addr = *found;
        } else {
            return make_error(ENOMEM, "mmap: no free range of {:#x} bytes in guest memory [{:#x}, {:#x})", *plen,
                              lo_, ceil);
        }
    }

    MapResult result{addr, {}};
    remove_range(addr, addr + *plen, result.released);
    Vma v{addr, addr + *plen, prot & kProtMask, sharing | (flags & kRecordedFlags & ~kSharingMask),
          anonymous ? VmaKind::anonymous : VmaKind::file, std::nullopt};
    if (!anonymous) v.file = *file;
    v.ever_writable = (prot & PROT_WRITE) != 0;
    insert(std::move(v));
    return result;
}

bool AddressSpace::same_private_file(uint64_t start, uint64_t len, const FileRef& f) const {
    const auto plen = page_len(len);
    if (!aligned(start) || !plen || *plen == 0 || (f.dev == 0 && f.ino == 0)) return false;
    const uint64_t end = start + *plen;
    uint64_t at = start;
    for (auto it = first_ending_after(start); it != vmas_.end() && at < end; ++it) {
        const Vma& v = it->second;
        if (v.start > at) return false;  // a hole
        if (v.kind != VmaKind::file || v.shared() || v.ever_writable || !v.file || v.file->dev != f.dev ||
            v.file->ino != f.ino || *v.file_offset_at(at) != f.offset + (at - start))
            return false;
        at = v.end;
    }
    return at >= end;
}

Result<std::vector<Range>> AddressSpace::unmap(uint64_t addr, uint64_t len) {
    if (!aligned(addr)) return make_error(EINVAL, "munmap: address {:#x} is not page-aligned", addr);
    if (len == 0) return make_error(EINVAL, "munmap: length is zero");
    if (addr > kTaskSize || len > kTaskSize - addr)
        return make_error(EINVAL, "munmap: [{:#x}, +{:#x}) is outside user space", addr, len);
    std::vector<Range> released;
    remove_range(addr, addr + memory::layout::page_align_up(len), released);
    return released;
}

Result<void> AddressSpace::protect(uint64_t addr, uint64_t len, int prot) {
    if (!aligned(addr)) return make_error(EINVAL, "mprotect: address {:#x} is not page-aligned", addr);
    const int extra = prot & ~kProtMask;
    if ((extra & ~(kProtSem | PROT_GROWSDOWN | PROT_GROWSUP)) != 0 ||
        (extra & (PROT_GROWSDOWN | PROT_GROWSUP)) == (PROT_GROWSDOWN | PROT_GROWSUP))
        return make_error(EINVAL, "mprotect: invalid protection {:#x}", prot);
    if (len == 0) return {};
    const auto plen = page_len(len);
    if (!plen || addr > UINT64_MAX - *plen)
        return make_error(ENOMEM, "mprotect: [{:#x}, +{:#x}) wraps around", addr, len);
    const uint64_t end = addr + *plen;
    if (extra & PROT_GROWSDOWN) {
        // Linux: the change reaches down to the start of the grows-down
        // mapping that holds addr (ld.so makes the stack executable so).
        auto v = find(addr);
        if (!v) return make_error(ENOMEM, "mprotect: {:#x} is not mapped", addr);
        if (!(v->flags & MAP_GROWSDOWN))
            return make_error(EINVAL, "mprotect: PROT_GROWSDOWN on a mapping that does not grow down");
        return protect(v->start, end - v->start, prot & ~PROT_GROWSDOWN);
    }
    if (!covers(addr, *plen)) return make_error(ENOMEM, "mprotect: [{:#x}, {:#x}) is not fully mapped", addr, end);
    split_at(addr);
    split_at(end);
    for (auto it = vmas_.lower_bound(addr); it != vmas_.end() && it->second.start < end; ++it) {
        it->second.prot = prot & kProtMask;
        if (prot & PROT_WRITE) it->second.ever_writable = true;
    }
    merge_around(addr, end);
    return {};
}

void AddressSpace::move_to(const Vma& src, uint64_t old_addr, uint64_t keep, uint64_t new_addr,
                           uint64_t new_len, bool dontunmap, std::vector<Range> released, RemapPlan& plan) {
    Vma moved = src;
    moved.start = new_addr;
    moved.end = new_addr + new_len;
    if (moved.file) moved.file->offset = *src.file_offset_at(old_addr);
    // [heap] and [stack] name the brk area and the initial stack; a moved
    // copy is an ordinary anonymous mapping.
    if (moved.kind == VmaKind::heap || moved.kind == VmaKind::stack) moved.kind = VmaKind::anonymous;
    if (dontunmap)
        released.push_back(Range{old_addr, keep});  // stays mapped, contents gone
    else
        remove_range(old_addr, old_addr + keep, released);
    insert(std::move(moved));
    normalize(released);
    subtract(released, Range{new_addr, keep});  // overwritten by the copy
    plan.new_addr = new_addr;
    plan.copy = Copy{old_addr, new_addr, keep};
    plan.released = std::move(released);
    if (new_len > keep) plan.grown = Range{new_addr + keep, new_len - keep};
}

Result<RemapPlan> AddressSpace::remap(uint64_t old_addr, uint64_t old_len, uint64_t new_len, int flags,
                                      uint64_t new_addr) {
    if (flags & ~kRemapFlags) return make_error(EINVAL, "mremap: unknown flags {:#x}", flags & ~kRemapFlags);
    const bool may_move = (flags & MREMAP_MAYMOVE) != 0;
    const bool fixed = (flags & MREMAP_FIXED) != 0;
    const bool dontunmap = (flags & MREMAP_DONTUNMAP) != 0;
    if ((fixed || dontunmap) && !may_move)
        return make_error(EINVAL, "mremap: MREMAP_FIXED/MREMAP_DONTUNMAP need MREMAP_MAYMOVE");
    if (!aligned(old_addr)) return make_error(EINVAL, "mremap: address {:#x} is not page-aligned", old_addr);
    const auto olen = page_len(old_len);
    const auto nlen = page_len(new_len);
    if (!nlen || *nlen == 0 || *nlen > kTaskSize)
        return make_error(EINVAL, "mremap: invalid new length {:#x}", new_len);
    if (!olen || *olen == 0)
        return make_error(EINVAL, "mremap: old length {:#x} unsupported (no shared-mapping duplication)", old_len);
    if (dontunmap && *olen != *nlen)
        return make_error(EINVAL, "mremap: MREMAP_DONTUNMAP needs equal old and new lengths");
    if (old_addr > kTaskSize || *olen > kTaskSize - old_addr)
        return make_error(EFAULT, "mremap: [{:#x}, +{:#x}) is outside user space", old_addr, old_len);

    auto src_it = first_ending_after(old_addr);
    if (src_it == vmas_.end() || src_it->second.start > old_addr)
        return make_error(EFAULT, "mremap: {:#x} is not mapped", old_addr);
    const Vma src = src_it->second;
    const uint64_t keep = std::min(*olen, *nlen);
    RemapPlan plan;

    if (fixed) {
        if (!aligned(new_addr)) return make_error(EINVAL, "mremap: new address {:#x} is not page-aligned", new_addr);
        if (new_addr > kTaskSize - *nlen)
            return make_error(EINVAL, "mremap: new range [{:#x}, +{:#x}) is outside user space", new_addr, *nlen);
        if (new_addr < old_addr + *olen && old_addr < new_addr + *nlen)
            return make_error(EINVAL, "mremap: old and new ranges overlap");
        if (new_addr < lo_) return make_error(EPERM, "mremap: new address {:#x} is below the user area", new_addr);
        if (new_addr + *nlen > hi_)
            return make_error(ENOMEM, "mremap: new range ends past guest memory end {:#x}", hi_);
        if (old_addr + keep > src.end)
            return make_error(EFAULT, "mremap: [{:#x}, +{:#x}) spans more than one mapping", old_addr, keep);
        if (dontunmap && !private_anonymous(src))
            return make_error(EINVAL, "mremap: MREMAP_DONTUNMAP needs a private anonymous mapping");
        std::vector<Range> released;
        remove_range(new_addr, new_addr + *nlen, released);
        if (*olen > *nlen) remove_range(old_addr + *nlen, old_addr + *olen, released);
        move_to(src, old_addr, keep, new_addr, *nlen, dontunmap, std::move(released), plan);
        return plan;
    }

    if (!dontunmap && *nlen <= *olen) {
        // Linux shrinks by unmapping the tail, whatever lies there.
        remove_range(old_addr + *nlen, old_addr + *olen, plan.released);
        plan.new_addr = old_addr;
        return plan;
    }
    if (old_addr + *olen > src.end)
        return make_error(EFAULT, "mremap: [{:#x}, +{:#x}) spans more than one mapping", old_addr, *olen);
    if (dontunmap && !private_anonymous(src))
        return make_error(EINVAL, "mremap: MREMAP_DONTUNMAP needs a private anonymous mapping");
    if (!dontunmap) {
        const uint64_t new_end = old_addr + *nlen;  // both <= kTaskSize: no overflow
        if (old_addr + *olen == src.end && new_end <= hi_ && is_free(src.end, new_end)) {
            src_it->second.end = new_end;
            mapped_bytes_ += new_end - src.end;
            merge_around(old_addr, new_end);
            plan.new_addr = old_addr;
            plan.grown = Range{src.end, new_end - src.end};
            return plan;
        }
        if (!may_move)
            return make_error(ENOMEM, "mremap: cannot grow [{:#x}, +{:#x}) in place", old_addr, *olen);
    }
    const auto dest = find_free(*nlen, false);
    if (!dest)
        return make_error(ENOMEM, "mremap: no free range of {:#x} bytes in guest memory [{:#x}, {:#x})", *nlen, lo_,
                          hi_);
    move_to(src, old_addr, keep, *dest, *nlen, dontunmap, {}, plan);
    return plan;
}

Result<std::vector<Range>> AddressSpace::madvise_dontneed(uint64_t addr, uint64_t len) {
    if (!aligned(addr)) return make_error(EINVAL, "madvise: address {:#x} is not page-aligned", addr);
    std::vector<Range> out;
    if (len == 0) return out;
    const auto plen = page_len(len);
    if (!plen || addr > UINT64_MAX - *plen) return make_error(EINVAL, "madvise: [{:#x}, +{:#x}) wraps around", addr, len);
    const uint64_t end = addr + *plen;
    if (!covers(addr, *plen)) return make_error(ENOMEM, "madvise: [{:#x}, {:#x}) is not fully mapped", addr, end);
    for (auto it = first_ending_after(addr); it != vmas_.end() && it->second.start < end; ++it) {
        const Vma& v = it->second;
        if (v.shared()) continue;
        const uint64_t s = std::max(v.start, addr);
        out.push_back(Range{s, std::min(v.end, end) - s});
    }
    return out;
}

std::optional<Vma> AddressSpace::find(uint64_t addr) const {
    auto it = first_ending_after(addr);
    if (it == vmas_.end() || it->second.start > addr) return std::nullopt;
    return it->second;
}

std::vector<Vma> AddressSpace::vmas() const {
    std::vector<Vma> out;
    out.reserve(vmas_.size());
    for (const auto& [start, v] : vmas_) out.push_back(v);
    return out;
}

std::string AddressSpace::format_maps() const {
    std::string out;
    for (const auto& [start, v] : vmas_) {
        const char perms[5] = {(v.prot & PROT_READ) ? 'r' : '-', (v.prot & PROT_WRITE) ? 'w' : '-',
                               (v.prot & PROT_EXEC) ? 'x' : '-', v.shared() ? 's' : 'p', '\0'};
        std::string name;
        if (v.file) name = v.file->path;
        else if (v.kind == VmaKind::heap) name = "[heap]";
        else if (v.kind == VmaKind::stack) name = "[stack]";
        out += fmt::format("{:08x}-{:08x} {} {:08x} 00:00 0", v.start, v.end, perms, v.file ? v.file->offset : 0);
        if (!name.empty()) out += fmt::format("  {}", name);
        out += '\n';
    }
    return out;
}

Result<void> AddressSpace::check_invariants() const {
    const Vma* prev = nullptr;
    uint64_t total = 0;
    for (const auto& entry : vmas_) {
        const uint64_t key = entry.first;
        const Vma& v = entry.second;
        const auto bad = [&](const char* what) {
            return make_error(EINVAL, "address space: VMA [{:#x}, {:#x}) {}", v.start, v.end, what);
        };
        if (key != v.start) return bad("is filed under a different start");
        if (v.start >= v.end) return bad("is empty");
        if (!aligned(v.start) || !aligned(v.end)) return bad("is not page-aligned");
        if (v.start < lo_ || v.end > hi_) return bad("is outside the window");
        if (prev && v.start < prev->end) return bad("overlaps its predecessor or is out of order");
        if (v.prot & ~kProtMask) return bad("has invalid prot bits");
        const int sharing = v.flags & kSharingMask;
        if (sharing != MAP_SHARED && sharing != MAP_PRIVATE) return bad("is neither shared nor private");
        if (v.flags & ~kRecordedFlags) return bad("records unexpected flags");
        if ((v.kind == VmaKind::file) != v.file.has_value()) return bad("has a kind inconsistent with its file");
        if ((v.kind == VmaKind::file) == ((v.flags & MAP_ANONYMOUS) != 0))
            return bad("has MAP_ANONYMOUS inconsistent with its kind");
        if (v.file && (!aligned(v.file->offset) || v.file->offset > UINT64_MAX - v.len()))
            return bad("has an invalid file offset");
        if (prev && vmas_mergeable(*prev, v)) return bad("could have been merged with its predecessor");
        total += v.len();
        prev = &v;
    }
    if (total != mapped_bytes_)
        return make_error(EINVAL, "address space: mapped_bytes {:#x} != sum of VMAs {:#x}", mapped_bytes_, total);
    if (!aligned(brk_base_) || brk_base_ < lo_ || brk_base_ > hi_ || brk_end_ < brk_base_)
        return make_error(EINVAL, "address space: brk [{:#x}, {:#x}) is inconsistent", brk_base_, brk_end_);
    if (mmap_base_ < lo_ || mmap_base_ > hi_)
        return make_error(EINVAL, "address space: mmap base {:#x} is outside the window", mmap_base_);
    return {};
}

}  // namespace spanvm::process
