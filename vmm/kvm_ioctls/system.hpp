#pragma once
// /dev/kvm: the KVM system fd. Thin wrapper, no policy.
#include <linux/kvm.h>

#include <string>
#include <vector>

#include "vmm/base/result.hpp"
#include "vmm/kvm_ioctls/fd.hpp"

namespace spanvm::kvm_ioctls {

class VmFd;

class SystemFd {
public:
    // Opens /dev/kvm and checks the API version. The error message says
    // plainly whether the device is missing or not accessible.
    static Result<SystemFd> open(const std::string& path = "/dev/kvm");

    int fd() const { return fd_.get(); }
    int check_extension(long cap) const;
    Result<int> vcpu_mmap_size() const;
    // CPUID the host KVM supports (KVM_GET_SUPPORTED_CPUID).
    Result<std::vector<kvm_cpuid_entry2>> supported_cpuid() const;
    Result<VmFd> create_vm() const;

private:
    explicit SystemFd(Fd fd) : fd_(std::move(fd)) {}
    Fd fd_;
};

}  // namespace spanvm::kvm_ioctls
