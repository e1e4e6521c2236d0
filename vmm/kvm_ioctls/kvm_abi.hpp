#pragma once
// Departure from <linux/kvm.h>: with linux-libc-dev 6.x, structs that end in
// __DECLARE_FLEX_ARRAY (kvm_cpuid2, kvm_msrs, ...) get a different layout in
// C++ (an empty struct of size 1 shifts `entries`: offsetof 12 instead of 8),
// and the ioctl numbers derived from their sizeof change too: kvm_xsave is
// 4100 bytes in C++, so <linux/kvm.h>'s KVM_GET_XSAVE2 encodes size 0x1004
// and the kernel answers EINVAL. spanvm uses
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
// struct kvm_xsave without its flexible tail: the 4096 bytes that the ioctl
// numbers encode (the kernel reads or writes KVM_CAP_XSAVE2 bytes).
struct XsaveRegion {
    uint32_t region[1024];
};
static_assert(sizeof(Cpuid2Header) == 8 && sizeof(MsrsHeader) == 8 && sizeof(XsaveRegion) == 4096);

inline constexpr unsigned long KVM_GET_SUPPORTED_CPUID_C = _IOWR(KVMIO, 0x05, Cpuid2Header);
inline constexpr unsigned long KVM_SET_CPUID2_C = _IOW(KVMIO, 0x90, Cpuid2Header);
inline constexpr unsigned long KVM_GET_MSRS_C = _IOWR(KVMIO, 0x88, MsrsHeader);
inline constexpr unsigned long KVM_SET_MSRS_C = _IOW(KVMIO, 0x89, MsrsHeader);
inline constexpr unsigned long KVM_GET_XSAVE_C = _IOR(KVMIO, 0xa4, XsaveRegion);
inline constexpr unsigned long KVM_SET_XSAVE_C = _IOW(KVMIO, 0xa5, XsaveRegion);
inline constexpr unsigned long KVM_GET_XSAVE2_C = _IOR(KVMIO, 0xcf, XsaveRegion);

}  // namespace spanvm::kvm_ioctls::abi
