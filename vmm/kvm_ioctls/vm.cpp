#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <cstring>
#include <vector>

#include "vmm/kvm_ioctls/vcpu.hpp"
#include "vmm/kvm_ioctls/vm.hpp"

namespace spanvm::kvm_ioctls {

int VmFd::check_extension(long cap) const { return ::ioctl(fd(), KVM_CHECK_EXTENSION, cap); }

Result<void> VmFd::set_user_memory_region(uint32_t slot, uint64_t gpa, uint64_t size, void* host, uint32_t flags) {
    kvm_userspace_memory_region r{};
    r.slot = slot;
    r.flags = flags;
    r.guest_phys_addr = gpa;
    r.memory_size = size;
    r.userspace_addr = reinterpret_cast<uint64_t>(host);
    if (::ioctl(fd(), KVM_SET_USER_MEMORY_REGION, &r) < 0) return errno_error("KVM_SET_USER_MEMORY_REGION");
    return {};
}

Result<void> VmFd::set_tss_addr(uint64_t gpa) {
    if (::ioctl(fd(), KVM_SET_TSS_ADDR, gpa) < 0) return errno_error("KVM_SET_TSS_ADDR");
    return {};
}

Result<void> VmFd::set_identity_map_addr(uint64_t gpa) {
    if (::ioctl(fd(), KVM_SET_IDENTITY_MAP_ADDR, &gpa) < 0) return errno_error("KVM_SET_IDENTITY_MAP_ADDR");
    return {};
}

Result<VcpuFd> VmFd::create_vcpu(unsigned long id) const {
    int cfd = ::ioctl(fd(), KVM_CREATE_VCPU, id);
    if (cfd < 0) return errno_error(fmt::format("KVM_CREATE_VCPU {}", id));
    Fd owned(cfd);
    void* p = ::mmap(nullptr, run_mmap_size_, PROT_READ | PROT_WRITE, MAP_SHARED, cfd, 0);
    if (p == MAP_FAILED) return errno_error("mmap kvm_run");
    return VcpuFd(std::move(owned), static_cast<kvm_run*>(p), run_mmap_size_, id);
}

VcpuFd::VcpuFd(Fd fd, kvm_run* run, int run_size, unsigned long id)
    : fd_(std::move(fd)), run_(run), run_size_(run_size), id_(id) {}

VcpuFd::VcpuFd(VcpuFd&& o) noexcept
    : fd_(std::move(o.fd_)), run_(std::exchange(o.run_, nullptr)), run_size_(o.run_size_), id_(o.id_) {}

VcpuFd::~VcpuFd() {
    if (run_) ::munmap(run_, run_size_);
}

Result<void> VcpuFd::run() {
    if (::ioctl(fd(), KVM_RUN, 0) < 0) {
        int e = errno;
        return Error{e, e == EINTR ? "KVM_RUN interrupted" : fmt::format("KVM_RUN: {}", std::strerror(e))};
    }
    return {};
}

Result<kvm_regs> VcpuFd::get_regs() const {
    kvm_regs r{};
    if (::ioctl(fd(), KVM_GET_REGS, &r) < 0) return errno_error("KVM_GET_REGS");
    return r;
}
Result<void> VcpuFd::set_regs(const kvm_regs& r) {
    if (::ioctl(fd(), KVM_SET_REGS, &r) < 0) return errno_error("KVM_SET_REGS");
    return {};
}
Result<kvm_sregs> VcpuFd::get_sregs() const {
    kvm_sregs s{};
    if (::ioctl(fd(), KVM_GET_SREGS, &s) < 0) return errno_error("KVM_GET_SREGS");
    return s;
}
Result<void> VcpuFd::set_sregs(const kvm_sregs& s) {
    if (::ioctl(fd(), KVM_SET_SREGS, &s) < 0) return errno_error("KVM_SET_SREGS");
    return {};
}
}  // namespace spanvm::kvm_ioctls
