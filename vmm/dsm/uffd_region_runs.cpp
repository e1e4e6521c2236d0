// UffdRegion operations over a run of pages (uffd_region.hpp): one ioctl or
// madvise for a contiguous stretch instead of one per page.
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <bitset>
#include <cerrno>
#include <vector>

#include "fmt/format.h"
#include "vmm/dsm/uffd_region.hpp"

namespace spanvm::dsm {

Result<void> UffdRegion::install_run(std::uint64_t first, std::uint64_t count, const void* data, bool writable) {
    if (count == 0) return {};
    if (auto c = check_run(first, count, "install_run"); !c) return c;
    const auto* bytes = static_cast<const std::uint8_t*>(data);
    std::bitset<kStripes> installed;  // by page - first
    // Where the guest's protection changes inside the run, its host mapping
    // is split into VMAs: the run is cut there first (read before the stripe
    // locks; a protection that changes meanwhile costs only the halving below).
    std::vector<const std::uint8_t*> edges;
    if (reader_) edges = reader_->protection_edges(base_ + first * kPageSize, count * kPageSize);
    {
        std::unique_lock<std::mutex> locks[kStripes];
        lock_run(locks, first, count);
        bool all_absent = true;
        for (std::uint64_t q = first; q < first + count; ++q) all_absent = all_absent && presence(q) == Presence::absent;
        // One UFFDIO_COPY for [a, a + n) where the host mapping allows it.
        // The kernel wants the range inside one host VMA (ENOENT, nothing
        // copied, otherwise), and the guest's protections split guest RAM
        // into many: a run that crosses a boundary is halved until its parts
        // fit (a boundary costs ~2 log2(n) ioctls, not one per page).
        auto copy = [&](auto& self, std::uint64_t a, std::uint64_t n) -> void {
            uffdio_copy c{};
            c.dst = addr(a);
            c.src = reinterpret_cast<std::uint64_t>(bytes + (a - first) * kPageSize);
            c.len = n * kPageSize;
            c.mode = writable ? 0 : UFFDIO_COPY_MODE_WP;
            std::uint64_t ok = 0;
            int err = 0;
            // On failure the kernel leaves the bytes it did copy (a prefix) in c.copy.
            if (ioctl(fd_, UFFDIO_COPY, &c) == 0) {
                ok = n;
            } else {
                err = errno;
                if (c.copy > 0) ok = static_cast<std::uint64_t>(c.copy) / kPageSize;
            }
            for (std::uint64_t q = a; q < a + ok; ++q) installed.set(q - first);
            const std::uint64_t rest = a + ok, left = n - ok;
            if (left == 0) return;
            if (ok > 0) return self(self, rest, left);
            if (err == ENOENT && left > 1) {
                self(self, rest, left / 2);
                self(self, rest + left / 2, left - left / 2);
            }
            // Anything else (a present page, EAGAIN): page by page below.
        };
        if (all_absent) {
            std::uint64_t a = first;
            for (const std::uint8_t* e : edges) {
                const auto b = static_cast<std::uint64_t>(e - base_) / kPageSize;
                copy(copy, a, b - a);
                a = b;
            }
            copy(copy, a, first + count - a);
        }
        for (std::uint64_t q = first; q < first + count; ++q)
            if (installed.test(q - first)) set_presence(q, writable ? Presence::writable : Presence::read_only);
    }
    for (std::uint64_t q = first; q < first + count; ++q)
        if (installed.test(q - first)) mark_answered(q);
    // The rest (a present page, EAGAIN): page by page, as install() does.
    for (std::uint64_t q = first; q < first + count; ++q)
        if (!installed.test(q - first))
            if (auto r = install(q, bytes + (q - first) * kPageSize, writable); !r) return r.error();
    return {};
}

Result<void> UffdRegion::invalidate_run(std::uint64_t first, std::uint64_t count) {
    if (count == 0) return {};
    if (auto c = check_run(first, count, "invalidate_run"); !c) return c;
    std::unique_lock<std::mutex> locks[kStripes];
    lock_run(locks, first, count);
    if (madvise(base_ + first * kPageSize, count * kPageSize, MADV_DONTNEED) != 0)
        return errno_error(fmt::format("madvise(MADV_DONTNEED) pages {}..{}", first, first + count - 1));
    for (std::uint64_t q = first; q < first + count; ++q) set_presence(q, Presence::absent);
    return {};
}

Result<std::uint64_t> UffdRegion::make_writable_run(std::uint64_t first, std::uint64_t count) {
    if (count == 0) return std::uint64_t{0};
    if (auto c = check_run(first, count, "make_writable_run"); !c) return c.error();
    std::unique_lock<std::mutex> locks[kStripes];
    lock_run(locks, first, count);
    std::uint64_t done = 0;
    for (std::uint64_t p = first; p < first + count;) {
        if (presence(p) != Presence::read_only) {
            ++p;
            continue;
        }
        std::uint64_t end = p + 1;
        while (end < first + count && presence(end) == Presence::read_only) ++end;
        uffdio_writeprotect w{};
        w.range.start = addr(p);
        w.range.len = (end - p) * kPageSize;
        w.mode = 0;  // clearing also wakes
        if (ioctl(fd_, UFFDIO_WRITEPROTECT, &w) != 0)
            return errno_error(fmt::format("UFFDIO_WRITEPROTECT(0) pages {}..{}", p, end - 1));
        for (std::uint64_t q = p; q < end; ++q) set_presence(q, Presence::writable);
        done += end - p;
        p = end;
    }
    return done;
}

}  // namespace spanvm::dsm
