#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <cstring>
#include <vector>

#include "vmm/kvm_ioctls/kvm_abi.hpp"
#include "vmm/kvm_ioctls/vcpu.hpp"

namespace spanvm::kvm_ioctls {

namespace {
template <typename Header, typename Entry>
std::vector<uint8_t> with_header(std::span<const Entry> entries) {
    std::vector<uint8_t> buf(sizeof(Header) + entries.size_bytes());
    uint32_t n = static_cast<uint32_t>(entries.size());
    std::memcpy(buf.data(), &n, sizeof(n));
    std::memcpy(buf.data() + sizeof(Header), entries.data(), entries.size_bytes());
    return buf;
}
}  // namespace

Result<void> VcpuFd::set_cpuid(std::span<const kvm_cpuid_entry2> entries) {
    auto buf = with_header<abi::Cpuid2Header>(entries);
    if (::ioctl(fd(), abi::KVM_SET_CPUID2_C, buf.data()) < 0) return errno_error("KVM_SET_CPUID2");
    return {};
}
Result<void> VcpuFd::set_msrs(std::span<const kvm_msr_entry> entries) {
    auto buf = with_header<abi::MsrsHeader>(entries);
    int n = ::ioctl(fd(), abi::KVM_SET_MSRS_C, buf.data());
    if (n < 0) return errno_error("KVM_SET_MSRS");
    if (static_cast<size_t>(n) != entries.size())
        return make_error(EINVAL, "KVM_SET_MSRS: MSR {:#x} rejected", entries[n].index);
    return {};
}
Result<void> VcpuFd::get_msrs(std::span<kvm_msr_entry> entries) const {
    auto buf = with_header<abi::MsrsHeader>(std::span<const kvm_msr_entry>(entries));
    int n = ::ioctl(fd(), abi::KVM_GET_MSRS_C, buf.data());
    if (n < 0) return errno_error("KVM_GET_MSRS");
    if (static_cast<size_t>(n) != entries.size())
        return make_error(EINVAL, "KVM_GET_MSRS: MSR {:#x} rejected", entries[n].index);
    std::memcpy(entries.data(), buf.data() + sizeof(abi::MsrsHeader), entries.size_bytes());
    return {};
}
Result<void> VcpuFd::set_fpu(const kvm_fpu& f) {
    if (::ioctl(fd(), KVM_SET_FPU, &f) < 0) return errno_error("KVM_SET_FPU");
    return {};
}
Result<kvm_fpu> VcpuFd::get_fpu() const {
    kvm_fpu f{};
    if (::ioctl(fd(), KVM_GET_FPU, &f) < 0) return errno_error("KVM_GET_FPU");
    return f;
}
Result<kvm_xcrs> VcpuFd::get_xcrs() const {
    kvm_xcrs x{};
    if (::ioctl(fd(), KVM_GET_XCRS, &x) < 0) return errno_error("KVM_GET_XCRS");
    return x;
}
Result<void> VcpuFd::get_xsave(std::span<uint8_t> buf) const {
    if (buf.size() < kXsaveBufferSize) return make_error(EINVAL, "KVM_GET_XSAVE2: buffer too small");
    if (::ioctl(fd(), abi::KVM_GET_XSAVE2_C, buf.data()) < 0) return errno_error("KVM_GET_XSAVE2");
    return {};
}
Result<void> VcpuFd::set_xsave(std::span<const uint8_t> buf) {
    if (buf.size() < kXsaveBufferSize) return make_error(EINVAL, "KVM_SET_XSAVE: buffer too small");
    if (::ioctl(fd(), abi::KVM_SET_XSAVE_C, buf.data()) < 0) return errno_error("KVM_SET_XSAVE");
    return {};
}
Result<void> VcpuFd::set_xcrs(const kvm_xcrs& x) {
    if (::ioctl(fd(), KVM_SET_XCRS, &x) < 0) return errno_error("KVM_SET_XCRS");
    return {};
}

}  // namespace spanvm::kvm_ioctls
