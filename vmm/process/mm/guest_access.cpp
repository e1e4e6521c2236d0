#include "vmm/process/mm/guest_access.hpp"

#include <climits>
#include <cstddef>

#include "vmm/memory/arg_memory.hpp"

namespace spanvm::process {

GuestAccess::GuestAccess(uint8_t* host_base, uint64_t lo, uint64_t hi)
    : host_base_(host_base), lo_(lo), hi_(hi < lo ? lo : hi) {}

uint8_t* GuestAccess::ptr(uint64_t gva, uint64_t len) const {
    if (len == 0) {
        // Never dereferenced; stay in-window so no wild pointer is formed.
        return host_base_ + ((gva >= lo_ && gva <= hi_) ? gva : lo_);
    }
    if (gva < lo_ || gva >= hi_ || len > hi_ - gva) return nullptr;
    if (access_ && !access_->accessible(gva, len)) return nullptr;
    if (auto* am = memory::tl_arg_memory; am != nullptr) [[unlikely]] {
        // A forwarded call's buffers handled on the caller's node
        // (arg_memory.hpp): inputs copied there, outputs stored there.
        if (uint8_t* p = am->find(gva, len)) return p;
    }
    return host_base_ + gva;
}

uint8_t* GuestAccess::wptr(uint64_t gva, uint64_t len) const {
    const bool in_window = gva >= lo_ && gva < hi_ && len <= hi_ - gva;
    if (len != 0 && access_ && in_window && !access_->writable(gva, len)) return nullptr;
    return ptr(gva, len);
}

Error GuestAccess::fault_error(uint64_t gva, uint64_t len) {
    return make_error(EFAULT, "guest range [{:#x}, +{:#x}) outside the user window", gva, len);
}

Result<std::string_view> GuestAccess::cstring(uint64_t gva, size_t max_len) const {
    if (gva < lo_ || gva >= hi_) return fault_error(gva, 1);
    if (const auto* am = memory::tl_arg_memory; am != nullptr) [[unlikely]] {
        if (const char* s = am->string(gva)) {
            const size_t n = std::strlen(s);
            if (n >= max_len)
                return make_error(ENAMETOOLONG, "guest string at {:#x} longer than {} bytes", gva, max_len);
            return std::string_view(s, n);
        }
    }
    uint64_t avail = hi_ - gva;
    if (access_) avail = access_->accessible_prefix(gva, avail < max_len ? avail : max_len);
    if (avail == 0) return fault_error(gva, 1);
    const uint64_t scan = avail < max_len ? avail : max_len;
    const char* base = reinterpret_cast<const char*>(host_base_ + gva);
    const void* nul = std::memchr(base, 0, scan);
    if (nul != nullptr) {
        return std::string_view(base, static_cast<size_t>(static_cast<const char*>(nul) - base));
    }
    if (scan == max_len && avail >= max_len) {
        return make_error(ENAMETOOLONG, "guest string at {:#x} longer than {} bytes", gva, max_len);
    }
    return make_error(EFAULT, "guest string at {:#x} runs off the user window", gva);
}

Result<std::vector<iovec>> GuestAccess::iovecs(uint64_t iov_gva, uint64_t count) const {
    std::vector<iovec> out;
    if (count == 0) return out;
    if (count > IOV_MAX) return make_error(EINVAL, "iovec count {} exceeds IOV_MAX", count);
    // Guest layout is the x86-64 struct iovec: {u64 base, u64 len}.
    static_assert(sizeof(iovec) == 16 && offsetof(iovec, iov_len) == 8);
    const uint8_t* arr = ptr(iov_gva, count * sizeof(iovec));
    if (arr == nullptr) return fault_error(iov_gva, count * sizeof(iovec));
    out.resize(count);
    // Like the kernel, the total is clamped to MAX_RW_COUNT by shortening the
    // entry that crosses it (and every later one to 0), so a guest cannot make
    // a single call move more than that.
    constexpr uint64_t kMaxRwCount = static_cast<uint64_t>(INT_MAX) & ~uint64_t{0xfff};
    uint64_t total = 0;
    for (uint64_t i = 0; i < count; ++i) {
        uint64_t g[2];
        std::memcpy(g, arr + i * sizeof(iovec), sizeof(g));
        if (g[1] > static_cast<uint64_t>(SSIZE_MAX)) {
            return make_error(EINVAL, "iovec[{}] length {:#x} exceeds SSIZE_MAX", i, g[1]);
        }
        uint64_t len = g[1] > kMaxRwCount - total ? kMaxRwCount - total : g[1];
        total += len;
        uint8_t* h = ptr(g[0], len);
        if (h == nullptr) return fault_error(g[0], len);
        out[i].iov_base = h;
        out[i].iov_len = len;
    }
    return out;
}

}  // namespace spanvm::process
