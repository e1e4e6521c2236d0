#pragma once
// AddressSpace: the guest process's virtual layout (the VMA list) in process
// mode. Pure bookkeeping: no I/O, no KVM, no access to guest RAM.
//
// Because guest-virtual == guest-physical (vmm/memory/layout.hpp), every page
// of the window [lo, hi) is always backed by guest RAM; a VMA only records
// that the guest asked for it. The caller performs the memory effects using
// the plans returned here, and in return this class keeps one invariant the
// caller relies on:
//
//   Every byte of [lo, hi) that is not covered by a VMA is zero in guest RAM,
//   PROVIDED the caller zeroes every `released` range it is handed
//   (MADV_DONTNEED on the host mapping) in the order documented per call.
//
// Hence a fresh anonymous mapping placed into free space needs no zeroing,
// and a file mapping only needs its contents copied in (pread).
//
// Errors follow Linux: Error::code is the errno the syscall would return.
//
// Departures from Linux (all documented at the call):
//   - The window is RAM, not TASK_SIZE: a mapping that would end above `hi`
//     fails with ENOMEM (that is how a guest exhausting --mem is reported).
//   - mprotect is all-or-nothing (Linux applies the change up to the first
//     hole and then fails with ENOMEM); madvise(MADV_DONTNEED) likewise.
//   - Protections are bookkeeping only: the guest page tables map the whole
//     user area RWX (layout.hpp), so PROT_NONE does not fault.
//   - MAP_GROWSDOWN is recorded but never grows; the stack is a fixed-size
//     reservation. MAP_POPULATE/MAP_LOCKED/MAP_NONBLOCK/MAP_HUGETLB are
//     accepted and ignored (RAM is always present, 4 KiB bookkeeping).
//   - mremap with old_len == 0 (duplicate a shared mapping) is EINVAL.
//   - Vacant-area search is a linear walk of the VMA list (Linux uses an
//     augmented tree); VMA counts in one guest are small.
//
// Thread safety: none. AddressSpace is not synchronized; the caller holds the
// process's address-space lock around every call AND around the memory
// effects it performs from the returned plan, so no vCPU observes a state in
// which a range is listed free but still holds data.
#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "vmm/base/result.hpp"
#include "vmm/memory/layout.hpp"

// The guest ABI is x86-64 Linux, same as the host's; fall back to the ABI
// values where an older libc lacks a name.
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#ifndef MAP_UNINITIALIZED
#define MAP_UNINITIALIZED 0x4000000
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

namespace spanvm::process {

// x86-64 TASK_SIZE_MAX (47-bit user space minus the last page). Arguments
// beyond it are EINVAL as on Linux; between `hi` and it they are just
// unmapped (or ENOMEM when asked to map there).
inline constexpr uint64_t kTaskSize = 0x7ffffffff000ull;
inline constexpr uint64_t kDefaultStackGuardGap = 1ull << 20;
// MAP_32BIT places mappings below 2 GiB (Linux: in [1 GiB, 2 GiB); here
// anywhere in the window below 2 GiB, since small guests have no RAM there).
inline constexpr uint64_t kMap32BitLimit = 0x80000000ull;

// A page-aligned range [start, start + len).
struct Range {
    uint64_t start = 0;
    uint64_t len = 0;
    uint64_t end() const { return start + len; }
    bool operator==(const Range&) const = default;
};

// Identity of a mapped file. Never used for I/O here.
struct FileRef {
    int fd = -1;          // the guest's fd at mmap time (identity only)
    uint64_t offset = 0;  // file offset of the mapping's first byte; page-aligned
    std::string path;     // for display (/proc/self/maps-like dump)
    // The host file's (st_dev, st_ino) where the caller knows it (0, 0: not
    // known; such mappings never compare as the same file).
    uint64_t dev = 0, ino = 0;
    bool operator==(const FileRef&) const = default;
};

enum class VmaKind : uint8_t { anonymous, file, heap, stack };

struct Vma {
    uint64_t start = 0;  // page-aligned
    uint64_t end = 0;    // page-aligned, > start
    int prot = PROT_NONE;  // subset of PROT_READ|PROT_WRITE|PROT_EXEC
    // Recorded subset of the mmap flags: exactly one of MAP_SHARED or
    // MAP_PRIVATE, plus MAP_ANONYMOUS, MAP_NORESERVE, MAP_GROWSDOWN,
    // MAP_STACK as given (MAP_SHARED_VALIDATE is recorded as MAP_SHARED).
    int flags = MAP_PRIVATE | MAP_ANONYMOUS;
    VmaKind kind = VmaKind::anonymous;
    std::optional<FileRef> file;  // present iff kind == file; offset is at `start`
    // Some protection since the mmap allowed writing (map or mprotect with
    // PROT_WRITE): only a mapping never writable is known to hold the file's
    // bytes, or zeros past its end, in every page.
    bool ever_writable = false;

    uint64_t len() const { return end - start; }
    bool contains(uint64_t addr) const { return addr >= start && addr < end; }
    bool shared() const { return (flags & MAP_SHARED) != 0; }
    // File offset backing `addr` (must be inside the VMA), if file-backed.
    std::optional<uint64_t> file_offset_at(uint64_t addr) const {
        if (!file) return std::nullopt;
        return file->offset + (addr - start);
    }
    bool operator==(const Vma&) const = default;
};

// map(): the mapping's address and the ranges inside it that previously held
// other mappings (MAP_FIXED only). Caller: zero `released`, then (file
// mapping) copy the file contents into [addr, addr + page-aligned len).
struct MapResult {
    uint64_t addr = 0;
    std::vector<Range> released;
};

// brk(): the program break (Linux: the old break on failure) and the pages
// released by a shrink, which the caller zeroes.
struct BrkResult {
    uint64_t brk = 0;
    std::vector<Range> released;
};

struct Copy {
    uint64_t from = 0;
    uint64_t to = 0;
    uint64_t len = 0;
};

// remap(): the caller executes, in this order:
//   1. memmove(to, from, len) if `copy` is set;
//   2. zero every `released` range (none intersects copy->to .. +len);
//   3. if `grown` is set and the VMA at new_addr is file-backed, fill `grown`
//      from the file at vma.file_offset_at(grown.start) (anonymous: already
//      zero by the free-space invariant or by step 2).
struct RemapPlan {
    uint64_t new_addr = 0;
    std::optional<Copy> copy;
    std::vector<Range> released;
    std::optional<Range> grown;
};

class AddressSpace {
public:
    // The window [lo, hi): page-aligned, 0 < lo < hi <= kTaskSize.
    // Typically lo = memory::layout::kUserBase, hi = guest RAM size.
    static Result<AddressSpace> create(uint64_t lo, uint64_t hi,
                                       uint64_t stack_guard_gap = kDefaultStackGuardGap);

    // Stack VMA [hi - size, hi), RW, private anonymous, MAP_GROWSDOWN, kind
    // stack. Top-down mmap allocation then starts stack_guard_gap below it.
    // Once only (EEXIST after); EINVAL for size 0; ENOMEM if it does not fit;
    // EEXIST if something is mapped there.
    Result<Range> reserve_stack(uint64_t size);

    // Start of the brk heap: the page-aligned end of the program's bss.
    // EINVAL if unaligned or outside the window; EBUSY once the heap grew.
    Result<void> set_brk_base(uint64_t addr);

    // Linux brk(2): new_end below the base, or growth into a mapped range or
    // past the window, leaves the break unchanged. brk(0) queries.
    BrkResult brk(uint64_t new_end);

    // Linux mmap(2) placement and bookkeeping. `file` is required unless
    // MAP_ANONYMOUS (EBADF) and ignored with it. Non-fixed: the page-aligned
    // hint if it is free and inside the window, else top-down first fit below
    // mmap_base(), else anywhere in the window (as Linux falls back to a
    // bottom-up search), else ENOMEM. MAP_FIXED below lo: EPERM (Linux's
    // mmap_min_addr answer); ending above hi: ENOMEM.
    Result<MapResult> map(uint64_t addr_hint, uint64_t len, int prot, int flags,
                          const std::optional<FileRef>& file = std::nullopt);

    // Whether [start, start + len) (page-aligned) is all private mappings of
    // the known file `f` (dev, ino) never writable, each page at the offset
    // f.offset + (page - start): a private mapping of f at f.offset there
    // would hold the same bytes in every page (ld.so maps a library's whole
    // span, then its text and read-only segments over it at the same file
    // offsets).
    bool same_private_file(uint64_t start, uint64_t len, const FileRef& f) const;
    // Linux munmap(2): returns the released (previously mapped) ranges, sorted
    // and coalesced; unmapped parts of the range are fine.
    Result<std::vector<Range>> unmap(uint64_t addr, uint64_t len);

    // Linux mprotect(2), all-or-nothing: ENOMEM if any page is unmapped.
    // PROT_SEM and PROT_GROWSUP are accepted and ignored; PROT_GROWSDOWN
    // extends the change down to the start of addr's MAP_GROWSDOWN mapping
    // (EINVAL on any other), as Linux does.
    Result<void> protect(uint64_t addr, uint64_t len, int prot);

    // Linux mremap(2) with MREMAP_MAYMOVE, MREMAP_FIXED (new_addr) and
    // MREMAP_DONTUNMAP (private anonymous only, as Linux 5.7). The old range
    // must lie in one VMA (EFAULT). See RemapPlan for the caller's steps.
    Result<RemapPlan> remap(uint64_t old_addr, uint64_t old_len, uint64_t new_len, int flags,
                            uint64_t new_addr = 0);

    // madvise(MADV_DONTNEED): ranges whose contents the caller discards, one
    // per VMA intersected (so the caller can find() each). Private anonymous
    // ranges are zeroed; for private file-backed ones Linux re-reads the file,
    // so the caller refills them from the file. Shared VMAs are skipped (their
    // contents persist, as with shmem). ENOMEM if any page is unmapped.
    Result<std::vector<Range>> madvise_dontneed(uint64_t addr, uint64_t len);

    std::optional<Vma> find(uint64_t addr) const;
    // True when every byte of [addr, addr + len) is in a VMA whose prot
    // includes `prot` (for EFAULT checks on syscall pointers). len 0: true.
    bool covers(uint64_t addr, uint64_t len, int prot = PROT_NONE) const;
    // True when no VMA intersects [start, end).
    bool is_free(uint64_t start, uint64_t end) const;
    // Where mmap(NULL, len) would place a mapping of page-aligned `len` now
    // (top-down below the mmap base, as Linux), or nullopt (ENOMEM).
    std::optional<uint64_t> placement(uint64_t len) const { return find_free(len, false); }
    // The end of the free space that starts at `addr`: the start of the
    // first VMA at or above it, or hi(); `addr` itself when a VMA holds it.
    uint64_t free_until(uint64_t addr) const;

    std::vector<Vma> vmas() const;  // sorted by address
    size_t vma_count() const { return vmas_.size(); }
    uint64_t mapped_bytes() const { return mapped_bytes_; }

    uint64_t lo() const { return lo_; }
    uint64_t hi() const { return hi_; }
    uint64_t mmap_base() const { return mmap_base_; }
    uint64_t brk_base() const { return brk_base_; }
    uint64_t brk_end() const { return brk_end_; }
    std::optional<Range> stack() const { return stack_; }

    // One line per VMA, /proc/self/maps style ("start-end rwxp offset 00:00 0 name").
    std::string format_maps() const;

    // Error (code EINVAL, one-line message) if VMAs overlap, are unsorted,
    // empty, unaligned, outside the window, carry invalid prot/flags/file
    // data, or two adjacent VMAs could have been merged; or if the counters
    // or the brk bounds are inconsistent.
    Result<void> check_invariants() const;

private:
    AddressSpace(uint64_t lo, uint64_t hi, uint64_t stack_guard_gap);

    using Map = std::map<uint64_t, Vma>;  // key == Vma::start

    // First VMA with end > addr (may start above addr), or end().
    Map::iterator first_ending_after(uint64_t addr);
    Map::const_iterator first_ending_after(uint64_t addr) const;
    // Splits the VMA strictly containing addr (if any) at addr.
    void split_at(uint64_t addr);
    // Removes every mapped page in [start, end), appending the removed ranges
    // to `released` (ascending, coalesced).
    void remove_range(uint64_t start, uint64_t end, std::vector<Range>& released);
    // Inserts a VMA into free space, then merges it with compatible neighbours.
    void insert(Vma v);
    // Merges compatible adjacent VMAs touching [start, end].
    void merge_around(uint64_t start, uint64_t end);
    // Highest free [a, a + len) with floor <= a and a + len <= ceil.
    std::optional<uint64_t> find_free_top_down(uint64_t len, uint64_t floor, uint64_t ceil) const;
    // Non-fixed placement (no hint): below mmap_base_, then anywhere.
    std::optional<uint64_t> find_free(uint64_t len, bool map_32bit) const;
    // Moves [old_addr, old_addr + keep) of `src` to a new VMA [new_addr,
    // new_addr + new_len) (which must be free) and fills `plan`; `released`
    // carries ranges already removed by the caller.
    void move_to(const Vma& src, uint64_t old_addr, uint64_t keep, uint64_t new_addr,
                 uint64_t new_len, bool dontunmap, std::vector<Range> released, RemapPlan& plan);

    uint64_t lo_ = 0;
    uint64_t hi_ = 0;
    uint64_t stack_guard_gap_ = 0;
    uint64_t mmap_base_ = 0;
    uint64_t brk_base_ = 0;
    uint64_t brk_end_ = 0;  // may be unaligned (Linux keeps the requested value)
    std::optional<Range> stack_;
    uint64_t mapped_bytes_ = 0;
    Map vmas_;
};

// Whether two VMAs with a.end == b.start would be merged (same attributes,
// and for files the same file at contiguous offsets).
bool vmas_mergeable(const Vma& a, const Vma& b);

}  // namespace spanvm::process
