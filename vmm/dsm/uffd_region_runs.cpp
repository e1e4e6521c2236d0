// UffdRegion operations over a run of pages (uffd_region.hpp): one ioctl or
// madvise for a contiguous stretch instead of one per page.
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <cerrno>

#include "fmt/format.h"
#include "vmm/dsm/uffd_region.hpp"

namespace spanvm::dsm {

Result<void> UffdRegion::install_run(std::uint64_t first, std::uint64_t count, const void* data, bool writable) {
    if (count == 0) return {};
    if (auto c = check_run(first, count, "install_run"); !c) return c;
    std::uint64_t done = 0;  // pages of the run the one ioctl installed
    {
        std::unique_lock<std::mutex> locks[kStripes];
        lock_run(locks, first, count);
        bool all_absent = true;
        for (std::uint64_t q = first; q < first + count; ++q) all_absent = all_absent && presence(q) == Presence::absent;
        if (all_absent) {
            uffdio_copy c{};
            c.dst = addr(first);
            c.src = reinterpret_cast<std::uint64_t>(data);
            c.len = count * kPageSize;
            c.mode = writable ? 0 : UFFDIO_COPY_MODE_WP;
            // On failure the kernel leaves the bytes it did copy (a prefix) in c.copy.
            if (ioctl(fd_, UFFDIO_COPY, &c) == 0)
                done = count;
            else if (c.copy > 0)
                done = static_cast<std::uint64_t>(c.copy) / kPageSize;
            for (std::uint64_t q = first; q < first + done; ++q)
                set_presence(q, writable ? Presence::writable : Presence::read_only);
        }
    }
    for (std::uint64_t q = first; q < first + done; ++q) mark_answered(q);
    // The rest (a present page, EAGAIN): page by page, as install() does.
    const auto* bytes = static_cast<const std::uint8_t*>(data);
    for (std::uint64_t q = first + done; q < first + count; ++q)
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
