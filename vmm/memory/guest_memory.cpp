#include "vmm/memory/guest_memory.hpp"

#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/shm.h>

#include <utility>

#include "vmm/memory/layout.hpp"

namespace spanvm::memory {

Result<GuestMemory> GuestMemory::create(uint64_t size) {
    if (size % memory::layout::kHugePageSize != 0)
        return make_error(EINVAL, "guest memory size {:#x} is not a multiple of 2 MiB", size);
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return errno_error(fmt::format("mmap guest RAM ({} MiB)", size >> 20));
    if (::madvise(p, size, MADV_NOHUGEPAGE) != 0) {
        auto err = errno_error("madvise(MADV_NOHUGEPAGE) on guest RAM");
        ::munmap(p, size);
        return err;
    }
    return GuestMemory(static_cast<uint8_t*>(p), size, 0);
}

Result<GuestMemory> GuestMemory::create_at_guest_address(uint64_t size, int prot) {
    if (size % memory::layout::kHugePageSize != 0)
        return make_error(EINVAL, "guest memory size {:#x} is not a multiple of 2 MiB", size);
    const uint64_t start = memory::layout::kNullGuardEnd;
    void* want = reinterpret_cast<void*>(start);
    void* p = ::mmap(want, size - start, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
    if (p == MAP_FAILED) return errno_error(fmt::format("mmap guest RAM at guest addresses [{:#x}, {:#x})", start, size));
    if (p != want) {  // kernels before 4.17 treat MAP_FIXED_NOREPLACE as a hint
        ::munmap(p, size - start);
        return make_error(EEXIST, "guest RAM range [{:#x}, {:#x}) is not free in spanvm's address space", start, size);
    }
    if (::madvise(p, size - start, MADV_NOHUGEPAGE) != 0) {
        auto err = errno_error("madvise(MADV_NOHUGEPAGE) on guest RAM");
        ::munmap(p, size - start);
        return err;
    }
    // Every later remap of a piece (unshare) would otherwise need its own
    // madvise(MADV_NOHUGEPAGE): a new VMA does not inherit it.
    const bool thp_off = ::prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) == 0;
    return GuestMemory(nullptr, size, start, thp_off);
}

GuestMemory::GuestMemory(GuestMemory&& o) noexcept
    : base_(std::exchange(o.base_, nullptr)),
      size_(std::exchange(o.size_, 0)),
      map_start_(std::exchange(o.map_start_, 0)),
      mapped_(std::exchange(o.mapped_, false)),
      thp_off_(o.thp_off_) {}

GuestMemory::~GuestMemory() {
    if (mapped_) ::munmap(base_ + map_start_, size_ - map_start_);
}

Result<void> GuestMemory::discard(uint64_t gpa, uint64_t len) {
    if (len == 0) return {};
    if (gpa % memory::layout::kPageSize || len % memory::layout::kPageSize || gpa < map_start_ || !host_ptr(gpa, len))
        return make_error(EINVAL, "discard of [{:#x}, +{:#x}) is not page-aligned guest RAM", gpa, len);
    if (::madvise(base_ + gpa, len, MADV_DONTNEED) != 0) return errno_error("madvise(MADV_DONTNEED)");
    return {};
}

Result<void> GuestMemory::map_shared(uint64_t gpa, uint64_t len, int prot, int fd, uint64_t off) {
    if (gpa % memory::layout::kPageSize || len % memory::layout::kPageSize || gpa < map_start_ || !host_ptr(gpa, len))
        return make_error(EINVAL, "shared mapping [{:#x}, +{:#x}) is not page-aligned guest RAM", gpa, len);
    const int flags = MAP_SHARED | MAP_FIXED | (fd < 0 ? MAP_ANONYMOUS : 0);
    if (::mmap(base_ + gpa, len, prot, flags, fd, static_cast<off_t>(off)) == MAP_FAILED)
        return errno_error("mmap(MAP_SHARED) into guest RAM");
    return {};
}

Result<void> GuestMemory::attach_sysv_shm(uint64_t gpa, uint64_t len, int shmid, bool read_only, bool exec) {
    if (gpa % memory::layout::kPageSize || len % memory::layout::kPageSize || gpa < map_start_ || !host_ptr(gpa, len))
        return make_error(EINVAL, "SysV segment at [{:#x}, +{:#x}) is not page-aligned guest RAM", gpa, len);
    const int flags = SHM_REMAP | (read_only ? SHM_RDONLY : 0) | (exec ? SHM_EXEC : 0);
    void* at = ::shmat(shmid, base_ + gpa, flags);
    if (at == reinterpret_cast<void*>(-1)) return errno_error("shmat into guest RAM");
    if (at != base_ + gpa) {  // cannot happen with an address given; never leave it elsewhere
        ::shmdt(at);
        return make_error(EINVAL, "shmat placed the segment elsewhere");
    }
    return {};
}

Result<void> GuestMemory::map_file_private(uint64_t gpa, uint64_t len, int prot, int fd, uint64_t off) {
    if (gpa % memory::layout::kPageSize || len % memory::layout::kPageSize || gpa < map_start_ || !host_ptr(gpa, len))
        return make_error(EINVAL, "file mapping [{:#x}, +{:#x}) is not page-aligned guest RAM", gpa, len);
    if (::mmap(base_ + gpa, len, prot, MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE, fd, static_cast<off_t>(off)) ==
        MAP_FAILED)
        return errno_error("mmap(MAP_PRIVATE) of a file into guest RAM");
    return {};
}

Result<void> GuestMemory::unshare(uint64_t gpa, uint64_t len, int prot) {
    if (gpa % memory::layout::kPageSize || len % memory::layout::kPageSize || gpa < map_start_ || !host_ptr(gpa, len))
        return make_error(EINVAL, "unshare of [{:#x}, +{:#x}) is not page-aligned guest RAM", gpa, len);
    if (::mmap(base_ + gpa, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) == MAP_FAILED)
        return errno_error("mmap of private guest RAM over a shared mapping");
    if (!thp_off_) (void)::madvise(base_ + gpa, len, MADV_NOHUGEPAGE);
    return {};
}

}  // namespace spanvm::memory
