#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <cstring>
#include <vector>

#include "vmm/kvm_ioctls/kvm_abi.hpp"
#include "vmm/kvm_ioctls/system.hpp"
#include "vmm/kvm_ioctls/vm.hpp"

namespace spanvm::kvm_ioctls {

Result<SystemFd> SystemFd::open(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT)
            return make_error(e, "{} is missing: KVM is not available on this host (load kvm or enable virtualization)", path);
        if (e == EACCES || e == EPERM)
            return make_error(e, "{} is not accessible: permission denied (run as root or join the kvm group)", path);
        return make_error(e, "cannot open {}: {}", path, std::strerror(e));
    }
    Fd owned(fd);
    int v = ::ioctl(fd, KVM_GET_API_VERSION, 0);
    if (v != KVM_API_VERSION) return make_error(0, "{}: unsupported KVM API version {}", path, v);
    return SystemFd(std::move(owned));
}

int SystemFd::check_extension(long cap) const { return ::ioctl(fd(), KVM_CHECK_EXTENSION, cap); }

Result<int> SystemFd::vcpu_mmap_size() const {
    int s = ::ioctl(fd(), KVM_GET_VCPU_MMAP_SIZE, 0);
    if (s <= 0) return errno_error("KVM_GET_VCPU_MMAP_SIZE");
    return s;
}

Result<std::vector<kvm_cpuid_entry2>> SystemFd::supported_cpuid() const {
    for (uint32_t n = 64; n <= 4096; n *= 2) {
        std::vector<uint8_t> buf(sizeof(abi::Cpuid2Header) + n * sizeof(kvm_cpuid_entry2));
        auto* h = reinterpret_cast<abi::Cpuid2Header*>(buf.data());
        h->nent = n;
        if (::ioctl(fd(), abi::KVM_GET_SUPPORTED_CPUID_C, buf.data()) == 0) {
            std::vector<kvm_cpuid_entry2> out(h->nent);
            std::memcpy(out.data(), buf.data() + sizeof(*h), h->nent * sizeof(kvm_cpuid_entry2));
            return out;
        }
        if (errno != E2BIG) return errno_error("KVM_GET_SUPPORTED_CPUID");
    }
    return make_error(E2BIG, "KVM_GET_SUPPORTED_CPUID: too many entries");
}

Result<VmFd> SystemFd::create_vm() const {
    auto sz = vcpu_mmap_size();
    if (!sz) return sz.error();
    int vfd = -1;
    // KVM_CREATE_VM can fail transiently with EINTR.
    do { vfd = ::ioctl(fd(), KVM_CREATE_VM, 0); } while (vfd < 0 && errno == EINTR);
    if (vfd < 0) return errno_error("KVM_CREATE_VM");
    return VmFd(Fd(vfd), *sz);
}

}  // namespace spanvm::kvm_ioctls
