#pragma once
// GuestAccess: bounds-checked translation of guest pointers (syscall
// arguments) into host pointers.
//
// Process mode identity-maps guest-virtual onto guest-physical, so a guest
// range [gva, gva+len) is valid iff it lies inside the user window [lo, hi)
// of guest RAM, and its host address is host_base + gva (layout.hpp).
//
// Invariants:
//  - A non-null result of ptr(gva, len) with len > 0 points at len bytes that
//    all lie inside host_base + [lo, hi). Overflowing lengths are rejected.
//  - len == 0 is always valid (Linux's access_ok() accepts any address for a
//    zero-length access); the pointer returned is then never to be
//    dereferenced and is in-window even when gva is not.
//  - Pure: no I/O, immutable after construction, safe to share between vCPU
//    threads. Guest memory itself may change concurrently (other vCPUs):
//    callers that need a stable value (paths, iovec arrays, structs they
//    re-read) must copy it out once, as the kernel's copy_from_user does.
#include <sys/uio.h>

#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>
#include <vector>

#include "vmm/base/result.hpp"
#include "vmm/memory/page_access_map.hpp"

namespace spanvm::process {

class GuestAccess {
public:
    // Precondition: lo <= hi, and host_base + [lo, hi) is mapped host memory.
    GuestAccess(uint8_t* host_base, uint64_t lo, uint64_t hi);

    // Optional: also refuse pages the map marks inaccessible (unmapped holes,
    // PROT_NONE), and writes (wptr, write) to pages it marks read-only, so
    // the VMM never touches memory the guest could not.
    void set_access_map(const memory::PageAccessMap* m) { access_ = m; }

    uint64_t lo() const { return lo_; }
    uint64_t hi() const { return hi_; }

    // Host pointer for guest range [gva, gva+len), or nullptr if any byte of
    // it lies outside [lo, hi) or gva+len overflows (caller returns -EFAULT).
    // For the VMM to read through (or to hand the host kernel, which checks
    // writes itself).
    uint8_t* ptr(uint64_t gva, uint64_t len) const;
    // The same for the VMM to write through: also nullptr where a page is
    // not writable by the guest (Linux's copy_to_user fails there).
    uint8_t* wptr(uint64_t gva, uint64_t len) const;
    bool valid(uint64_t gva, uint64_t len) const { return ptr(gva, len) != nullptr; }

    // NUL-terminated guest string starting at gva, WITHOUT the NUL. The view
    // points into guest memory (copy it before handing it to the host if a
    // concurrent guest write must not change it). Errors (Error::code):
    //   EFAULT       the string runs off the window before a NUL
    //   ENAMETOOLONG no NUL within the first max_len bytes (so the longest
    //                accepted string has max_len-1 chars, like PATH_MAX)
    Result<std::string_view> cstring(uint64_t gva, size_t max_len) const;

    // Typed copies (unaligned-safe memcpy). EFAULT when out of window.
    template <typename T>
    Result<T> read(uint64_t gva) const {
        static_assert(std::is_trivially_copyable_v<T>);
        const uint8_t* p = ptr(gva, sizeof(T));
        if (p == nullptr) return fault_error(gva, sizeof(T));
        T v;
        std::memcpy(&v, p, sizeof(T));
        return v;
    }
    // Returns false (caller returns -EFAULT) when out of window or not
    // writable.
    template <typename T>
    [[nodiscard]] bool write(uint64_t gva, const T& v) const {
        static_assert(std::is_trivially_copyable_v<T>);
        uint8_t* p = wptr(gva, sizeof(T));
        if (p == nullptr) return false;
        std::memcpy(p, &v, sizeof(T));
        return true;
    }

    // Host iovecs for the guest array struct iovec[count] at iov_gva. The
    // array is copied once; every buffer is translated. Errors, in the
    // kernel's order (import_iovec):
    //   EINVAL  count > IOV_MAX, or an iov_len > SSIZE_MAX
    //   EFAULT  the array or any non-empty buffer lies outside the window
    // The total is clamped to MAX_RW_COUNT (0x7ffff000) as in the kernel.
    // count == 0 gives an empty vector (iov_gva not checked).
    Result<std::vector<iovec>> iovecs(uint64_t iov_gva, uint64_t count) const;

private:
    static Error fault_error(uint64_t gva, uint64_t len);

    uint8_t* host_base_;
    uint64_t lo_;
    uint64_t hi_;
    const memory::PageAccessMap* access_ = nullptr;
};

}  // namespace spanvm::process
