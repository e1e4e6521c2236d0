// The KVM ioctl numbers spanvm uses are the ones a C program gets from
// <linux/kvm.h> (the kernel's), not the ones C++ derives from the flexible-
// array structs (see vmm/kvm_ioctls/kvm_abi.hpp). The literal values are
// _IOC(dir, KVMIO=0xAE, nr, size) computed by gcc in C.
#include <doctest/doctest.h>

#include "vmm/kvm_ioctls/kvm_abi.hpp"

using namespace spanvm::kvm_ioctls;

TEST_CASE("KVM ioctl numbers match the C layout of <linux/kvm.h>") {
    CHECK(abi::KVM_GET_SUPPORTED_CPUID_C == 0xc008ae05ul);
    CHECK(abi::KVM_SET_CPUID2_C == 0x4008ae90ul);
    CHECK(abi::KVM_GET_MSRS_C == 0xc008ae88ul);
    CHECK(abi::KVM_SET_MSRS_C == 0x4008ae89ul);
    CHECK(abi::KVM_GET_XSAVE_C == 0x9000aea4ul);
    CHECK(abi::KVM_SET_XSAVE_C == 0x5000aea5ul);
    CHECK(abi::KVM_GET_XSAVE2_C == 0x9000aecful);
}
