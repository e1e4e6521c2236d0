#pragma once
// A KVM VM fd. Thin wrapper, no policy.
#include <linux/kvm.h>

#include <cstdint>

#include "vmm/base/result.hpp"
#include "vmm/kvm_ioctls/fd.hpp"

namespace spanvm::kvm_ioctls {

class VcpuFd;

class VmFd {
public:
    VmFd(Fd fd, int run_mmap_size) : fd_(std::move(fd)), run_mmap_size_(run_mmap_size) {}
    int fd() const { return fd_.get(); }
    int check_extension(long cap) const;

    Result<void> set_user_memory_region(uint32_t slot, uint64_t gpa, uint64_t size, void* host,
                                        uint32_t flags = 0);
    Result<void> set_tss_addr(uint64_t gpa);
    Result<void> set_identity_map_addr(uint64_t gpa);
    Result<VcpuFd> create_vcpu(unsigned long id) const;

private:
    Fd fd_;
    int run_mmap_size_;
};

}  // namespace spanvm::kvm_ioctls
