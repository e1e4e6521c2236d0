#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "vmm/kvm/kvm_abi.hpp"

#include "vmm/kvm/system.hpp"
#include "vmm/kvm/vcpu.hpp"
#include "vmm/kvm/vm.hpp"

namespace spanvm::kvm {

Result<System> System::open(const std::string& path) {
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
    return System(std::move(owned));
}

int System::check_extension(long cap) const { return ::ioctl(fd(), KVM_CHECK_EXTENSION, cap); }

Result<int> System::vcpu_mmap_size() const {
    int s = ::ioctl(fd(), KVM_GET_VCPU_MMAP_SIZE, 0);
    if (s <= 0) return errno_error("KVM_GET_VCPU_MMAP_SIZE");
    return s;
}

Result<std::vector<kvm_cpuid_entry2>> System::supported_cpuid() const {
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

Result<Vm> System::create_vm() const {
    auto sz = vcpu_mmap_size();
    if (!sz) return sz.error();
    int vfd = -1;
    // KVM_CREATE_VM can fail transiently with EINTR.
    do { vfd = ::ioctl(fd(), KVM_CREATE_VM, 0); } while (vfd < 0 && errno == EINTR);
    if (vfd < 0) return errno_error("KVM_CREATE_VM");
    return Vm(Fd(vfd), *sz);
}

int Vm::check_extension(long cap) const { return ::ioctl(fd(), KVM_CHECK_EXTENSION, cap); }

Result<void> Vm::set_user_memory_region(uint32_t slot, uint64_t gpa, uint64_t size, void* host, uint32_t flags) {
    kvm_userspace_memory_region r{};
    r.slot = slot;
    r.flags = flags;
    r.guest_phys_addr = gpa;
    r.memory_size = size;
    r.userspace_addr = reinterpret_cast<uint64_t>(host);
    if (::ioctl(fd(), KVM_SET_USER_MEMORY_REGION, &r) < 0) return errno_error("KVM_SET_USER_MEMORY_REGION");
    return {};
}

Result<void> Vm::set_tss_addr(uint64_t gpa) {
    if (::ioctl(fd(), KVM_SET_TSS_ADDR, gpa) < 0) return errno_error("KVM_SET_TSS_ADDR");
    return {};
}

Result<void> Vm::set_identity_map_addr(uint64_t gpa) {
    if (::ioctl(fd(), KVM_SET_IDENTITY_MAP_ADDR, &gpa) < 0) return errno_error("KVM_SET_IDENTITY_MAP_ADDR");
    return {};
}

Result<Vcpu> Vm::create_vcpu(unsigned long id) const {
    int cfd = ::ioctl(fd(), KVM_CREATE_VCPU, id);
    if (cfd < 0) return errno_error(fmt::format("KVM_CREATE_VCPU {}", id));
    Fd owned(cfd);
    void* p = ::mmap(nullptr, run_mmap_size_, PROT_READ | PROT_WRITE, MAP_SHARED, cfd, 0);
    if (p == MAP_FAILED) return errno_error("mmap kvm_run");
    return Vcpu(std::move(owned), static_cast<kvm_run*>(p), run_mmap_size_, id);
}

Vcpu::Vcpu(Fd fd, kvm_run* run, int run_size, unsigned long id)
    : fd_(std::move(fd)), run_(run), run_size_(run_size), id_(id) {}

Vcpu::Vcpu(Vcpu&& o) noexcept
    : fd_(std::move(o.fd_)), run_(std::exchange(o.run_, nullptr)), run_size_(o.run_size_), id_(o.id_) {}

Vcpu::~Vcpu() {
    if (run_) ::munmap(run_, run_size_);
}

Result<void> Vcpu::run() {
    if (::ioctl(fd(), KVM_RUN, 0) < 0) {
        int e = errno;
        return Error{e, e == EINTR ? "KVM_RUN interrupted" : fmt::format("KVM_RUN: {}", std::strerror(e))};
    }
    return {};
}

Result<kvm_regs> Vcpu::get_regs() const {
    kvm_regs r{};
    if (::ioctl(fd(), KVM_GET_REGS, &r) < 0) return errno_error("KVM_GET_REGS");
    return r;
}
Result<void> Vcpu::set_regs(const kvm_regs& r) {
    if (::ioctl(fd(), KVM_SET_REGS, &r) < 0) return errno_error("KVM_SET_REGS");
    return {};
}
Result<kvm_sregs> Vcpu::get_sregs() const {
    kvm_sregs s{};
    if (::ioctl(fd(), KVM_GET_SREGS, &s) < 0) return errno_error("KVM_GET_SREGS");
    return s;
}
Result<void> Vcpu::set_sregs(const kvm_sregs& s) {
    if (::ioctl(fd(), KVM_SET_SREGS, &s) < 0) return errno_error("KVM_SET_SREGS");
    return {};
}
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

Result<void> Vcpu::set_cpuid(std::span<const kvm_cpuid_entry2> entries) {
    auto buf = with_header<abi::Cpuid2Header>(entries);
    if (::ioctl(fd(), abi::KVM_SET_CPUID2_C, buf.data()) < 0) return errno_error("KVM_SET_CPUID2");
    return {};
}
Result<void> Vcpu::set_msrs(std::span<const kvm_msr_entry> entries) {
    auto buf = with_header<abi::MsrsHeader>(entries);
    int n = ::ioctl(fd(), abi::KVM_SET_MSRS_C, buf.data());
    if (n < 0) return errno_error("KVM_SET_MSRS");
    if (static_cast<size_t>(n) != entries.size())
        return make_error(EINVAL, "KVM_SET_MSRS: MSR {:#x} rejected", entries[n].index);
    return {};
}
Result<void> Vcpu::get_msrs(std::span<kvm_msr_entry> entries) const {
    auto buf = with_header<abi::MsrsHeader>(std::span<const kvm_msr_entry>(entries));
    int n = ::ioctl(fd(), abi::KVM_GET_MSRS_C, buf.data());
    if (n < 0) return errno_error("KVM_GET_MSRS");
    if (static_cast<size_t>(n) != entries.size())
        return make_error(EINVAL, "KVM_GET_MSRS: MSR {:#x} rejected", entries[n].index);
    std::memcpy(entries.data(), buf.data() + sizeof(abi::MsrsHeader), entries.size_bytes());
    return {};
}
Result<void> Vcpu::set_fpu(const kvm_fpu& f) {
    if (::ioctl(fd(), KVM_SET_FPU, &f) < 0) return errno_error("KVM_SET_FPU");
    return {};
}
Result<kvm_xcrs> Vcpu::get_xcrs() const {
    kvm_xcrs x{};
    if (::ioctl(fd(), KVM_GET_XCRS, &x) < 0) return errno_error("KVM_GET_XCRS");
    return x;
}
Result<void> Vcpu::set_xcrs(const kvm_xcrs& x) {
    if (::ioctl(fd(), KVM_SET_XCRS, &x) < 0) return errno_error("KVM_SET_XCRS");
    return {};
}

}  // namespace spanvm::kvm
