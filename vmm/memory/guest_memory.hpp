#pragma once
// Guest RAM: one private anonymous mapping with MADV_NOHUGEPAGE, registered
// with KVM as memory slot 0 at GPA 0. Private anonymous so that the
// userfaultfd coherence layer can take it over (MISSING + WP); no THP so that
// coherence works at 4 KiB granularity. See layout.hpp for what lives where.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "vmm/base/result.hpp"

namespace spanvm::memory {

class GuestMemory {
public:
    static Result<GuestMemory> create(uint64_t size);
    // The native platform's guest RAM: mapped at host address == guest
    // address, i.e. host_base() is 0 and [kNullGuardEnd, size) is one
    // MAP_FIXED_NOREPLACE mapping with protection `prot`. Fails (EEXIST) if
    // anything of spanvm's already lives there. Guest RAM is then this
    // process's own memory, remapped in pieces (unshare, map_file_private)
    // many times per exec: transparent huge pages are turned off for the
    // whole process (PR_SET_THP_DISABLE, inherited by fork children) so
    // that a remapped piece needs no madvise(MADV_NOHUGEPAGE) of its own
    // (the guest never sees it: its prctl calls are emulated). spanvm's own
    // heap gets no huge pages either; it is small.
    static Result<GuestMemory> create_at_guest_address(uint64_t size, int prot);
    GuestMemory(GuestMemory&& o) noexcept;
    GuestMemory& operator=(GuestMemory&&) = delete;
    GuestMemory(const GuestMemory&) = delete;
    GuestMemory& operator=(const GuestMemory&) = delete;
    ~GuestMemory();

    uint8_t* host_base() const { return base_; }
    uint64_t size() const { return size_; }

    // Bounds-checked GPA -> host pointer; nullptr if [gpa, gpa+len) is outside.
    uint8_t* host_ptr(uint64_t gpa, uint64_t len) const {
        if (gpa > size_ || len > size_ - gpa) return nullptr;
        return base_ + gpa;
    }
    bool write(uint64_t gpa, const void* src, uint64_t len) {
        uint8_t* p = host_ptr(gpa, len);
        if (!p) return false;
        std::memcpy(p, src, len);
        return true;
    }
    bool read(uint64_t gpa, void* dst, uint64_t len) const {
        const uint8_t* p = host_ptr(gpa, len);
        if (!p) return false;
        std::memcpy(dst, p, len);
        return true;
    }
    // Returns pages to the host and makes them read as zero again
    // (MADV_DONTNEED on private anonymous memory). KVM's mappings of those
    // pages are invalidated by the kernel's MMU notifiers.
    Result<void> discard(uint64_t gpa, uint64_t len);
    // Puts host memory that other processes share at [gpa, gpa+len) (page
    // aligned): MAP_SHARED of host `fd` at `off`, or shared anonymous memory
    // when fd < 0. A host fork() keeps it shared: this is a guest MAP_SHARED
    // mapping. `prot` is the host protection. KVM follows the change through
    // its MMU notifiers, as for discard().
    Result<void> map_shared(uint64_t gpa, uint64_t len, int prot, int fd, uint64_t off);
    // Host System V shared-memory segment `shmid` at [gpa, gpa+len) (shmat
    // with SHM_REMAP: it replaces what was there). `read_only`: SHM_RDONLY;
    // `exec`: SHM_EXEC. The kernel detaches it when the range is mapped over.
    Result<void> attach_sysv_shm(uint64_t gpa, uint64_t len, int shmid, bool read_only, bool exec);
    // Puts a private copy-on-write mapping of host file `fd` at `off` at
    // [gpa, gpa+len) (page aligned; every page within the file): a guest
    // MAP_PRIVATE file mapping without copying the bytes. `prot` is the host
    // protection. unshare() puts zero-filled memory back.
    Result<void> map_file_private(uint64_t gpa, uint64_t len, int prot, int fd, uint64_t off);
    // Puts private zero-filled memory back at [gpa, gpa+len) (a shared
    // mapping released): what the rest of guest RAM is.
    Result<void> unshare(uint64_t gpa, uint64_t len, int prot);

private:
    GuestMemory(uint8_t* base, uint64_t size, uint64_t map_start, bool thp_off = false)
        : base_(base), size_(size), map_start_(map_start), mapped_(true), thp_off_(thp_off) {}
    // Departure from strict C++: with create_at_guest_address base_ is the
    // null pointer and base_ + gpa is a plain address computation (never a
    // dereference of null: the NULL guard below map_start_ stays unmapped).
    uint8_t* base_ = nullptr;
    uint64_t size_ = 0;
    uint64_t map_start_ = 0;  // the mapping is [base_ + map_start_, base_ + size_)
    bool mapped_ = false;
    bool thp_off_ = false;  // PR_SET_THP_DISABLE is in force: no madvise after a remap
};

}  // namespace spanvm::memory
