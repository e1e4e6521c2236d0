#pragma once
// Departure from <linux/kvm.h>: with linux-libc-dev 6.x, structs that end in
// __DECLARE_FLEX_ARRAY (kvm_cpuid2, kvm_msrs, ...) get a different layout in
// C++ (an empty struct of size 1 shifts `entries`: offsetof 12 instead of 8),
// and the ioctl numbers derived from their sizeof change too. spanvm uses
// these C-layout headers and ioctl numbers instead; the entries follow the
// 8-byte header directly, exactly as the kernel expects.
#include <linux/kvm.h>
#include <sys/ioctl.h>

#include <cstdint>

namespace spanvm::kvm_ioctls::abi {

struct Cpuid2Header {
    uint32_t nent;
    uint32_t padding;
};
struct MsrsHeader {
    uint32_t nmsrs;
    uint32_t pad;
};
static_assert(sizeof(Cpuid2Header) == 8 && sizeof(MsrsHeader) == 8);

inline constexpr unsigned long KVM_GET_SUPPORTED_CPUID_C = _IOWR(KVMIO, 0x05, Cpuid2Header);
inline constexpr unsigned long KVM_SET_CPUID2_C = _IOW(KVMIO, 0x90, Cpuid2Header);
inline constexpr unsigned long KVM_GET_MSRS_C = _IOWR(KVMIO, 0x88, MsrsHeader);
inline constexpr unsigned long KVM_SET_MSRS_C = _IOW(KVMIO, 0x89, MsrsHeader);

}  // namespace spanvm::kvm_ioctls::abi
