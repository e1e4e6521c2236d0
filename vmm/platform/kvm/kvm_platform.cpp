#include "vmm/platform/kvm/kvm_platform.hpp"

#include <linux/kvm.h>
#include <signal.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cpuid.h>
#include <cstring>
#include <vector>

#include "guest-shim/shim.hpp"
#include "vmm/arch/x86/gdt.hpp"
#include "vmm/arch/x86/page_tables.hpp"
#include "vmm/memory/layout.hpp"
#include "vmm/platform/kvm/kvm_vcpu.hpp"

namespace spanvm::platform::kvm {

void kvm_on_kick(int, siginfo_t*, void*);  // kvm_vcpu.cpp

namespace {
// Size of the XSAVE image for XCR0 (standard format): the end of the highest
// enabled component, from CPUID leaf 0xD. 512 (FXSAVE) without XSAVE.
uint32_t xstate_size(uint64_t xcr0) {
    if (!xcr0) return 512;
    uint32_t size = 576;  // legacy area + XSAVE header
    for (unsigned i = 2; i < 63; ++i) {
        if (!(xcr0 & (1ull << i))) continue;
        unsigned a, b, c, d;
        __cpuid_count(0xD, i, a, b, c, d);
        size = std::max(size, a + b);
    }
    return std::min<uint32_t>(size, kvm_ioctls::VcpuFd::kXsaveBufferSize);
}
}  // namespace

Result<std::unique_ptr<KvmPlatform>> KvmPlatform::create(uint64_t ram_size, RamBacking backing) {
    if (ram_size < memory::layout::kMinRamSize)
        return make_error(EINVAL, "--mem {} MiB is too small (minimum {} MiB)", ram_size >> 20, memory::layout::kMinRamSize >> 20);
    if (ram_size > memory::layout::kMaxRamSize)
        return make_error(EINVAL, "--mem {} GiB is too large (maximum {} GiB)", ram_size >> 30, memory::layout::kMaxRamSize >> 30);
    auto sys = kvm_ioctls::SystemFd::open();
    if (!sys) return sys.error();
    for (long cap : {KVM_CAP_SYNC_REGS, KVM_CAP_USER_MEMORY})
        if (sys->check_extension(cap) <= 0) return make_error(ENOTSUP, "KVM lacks capability {}", cap);
    auto vm = sys->create_vm();
    if (!vm) return vm.error();
    auto mem = memory::GuestMemory::create(ram_size);
    if (!mem) return mem.error();
    // on_demand needs a slot per GiB; a KVM with fewer slots backs it all.
    const uint64_t gibs = (ram_size + kSlotSize - 1) / kSlotSize;
    const bool on_demand = backing == RamBacking::on_demand && gibs > 1 &&
                           static_cast<uint64_t>(std::max(0, vm->check_extension(KVM_CAP_NR_MEMSLOTS))) >= gibs;
    const uint64_t first_slot = on_demand ? kSlotSize : ram_size;
    if (auto r = vm->set_user_memory_region(0, 0, first_slot, mem->host_base()); !r) return r.error();

    // System area.
    std::span<uint8_t> ram(mem->host_base(), ram_size);
    arch::x86::write_gdt(ram.subspan(memory::layout::kGdtGpa, arch::x86::GDT_ENTRIES * 8), memory::layout::kTssGpa);
    std::vector<uint16_t> ports{shim::kSyscallPort};
    for (uint16_t v = 0; v < shim::kVectors; ++v) ports.push_back(static_cast<uint16_t>(shim::kExceptionPortBase + v));
    arch::x86::write_tss(ram.subspan(memory::layout::kTssGpa, arch::x86::kTssSize), memory::layout::kExceptionStackGpa + memory::layout::kExceptionStackSize,
                   ports);
    arch::x86::write_idt(ram.subspan(memory::layout::kIdtGpa, shim::kVectors * 16), shim::kVectors,
                   memory::layout::kStubGpa + shim::kVectorEntryOffset, shim::kVectorEntryStride);
    auto img = shim::image();
    if (img.size() > memory::layout::kPageSize) return make_error(EINVAL, "guest shim larger than a page");
    std::memcpy(ram.data() + memory::layout::kStubGpa, img.data(), img.size());
    arch::x86::PageTableLayout ptl{ram_size,         memory::layout::kPageTableGpa, memory::layout::kSystemEnd, memory::layout::kNullGuardEnd,
                             memory::layout::kStubGpa, memory::layout::kSystemMappedEnd, memory::layout::kUserBase,
                             first_slot};
    auto cr3 = arch::x86::write_identity_page_tables(ram, ptl);
    if (!cr3) return cr3.error();

    std::unique_ptr<KvmPlatform> m(new KvmPlatform(std::move(*sys), std::move(*vm), std::move(*mem)));
    m->on_demand_ = on_demand;
    m->tables_ = ptl;
    for (uint64_t g = 0; g < (first_slot + kSlotSize - 1) / kSlotSize; ++g)
        m->present_[g / 64].fetch_or(1ull << (g % 64), std::memory_order_relaxed);
    auto tmpl = make_cpu_template(m->sys_, *cr3);
    if (!tmpl) return tmpl.error();
    m->cpu_ = std::move(*tmpl);
    m->features_.hwcap = m->cpu_.hwcap;
    m->features_.xcr0 = m->cpu_.xcr0;
    m->features_.xstate_size = xstate_size(m->cpu_.xcr0);
    int mv = m->vm_.check_extension(KVM_CAP_MAX_VCPUS);
    if (mv <= 0) mv = m->vm_.check_extension(KVM_CAP_NR_VCPUS);
    m->max_vcpus_ = mv > 0 ? mv : 1;
    return m;
}

Result<void> KvmPlatform::probe_vcpu() {
    auto p = create(memory::layout::kMinRamSize);
    if (!p) return p.error();
    auto v = (*p)->create_raw_vcpu(0);
    if (!v) return v.error();
    kvm_regs r{};
    r.rip = memory::layout::kStubGpa + shim::kSyscallEntryOffset;  // first instruction: out to the syscall port
    r.rsp = memory::layout::kUserBase + 0x1000;
    r.rflags = 2;
    if (auto e = v->set_regs(r); !e) return e.error();
    auto s = v->get_sregs();
    if (!s) return s.error();
    set_user_segments(*s);
    if (auto e = v->set_sregs(*s); !e) return e.error();
    for (int tries = 0; tries < 3; ++tries) {
        auto e = v->run();
        if (!e && e.error().code == EINTR) continue;
        if (!e) return make_error(e.error().code, "probe vCPU: KVM_RUN: {}", e.error().message);
        const kvm_run* run = v->run_data();
        if (run->exit_reason == KVM_EXIT_IO && run->io.port == shim::kSyscallPort) return {};
        return make_error(EIO, "probe vCPU: unexpected KVM exit reason {}", run->exit_reason);
    }
    return make_error(EINTR, "probe vCPU: KVM_RUN kept being interrupted");
}

Result<kvm_ioctls::VcpuFd> KvmPlatform::create_raw_vcpu(unsigned long id) {
    std::lock_guard lk(vcpu_mu_);
    auto v = vm_.create_vcpu(id);
    if (!v) return v.error();
    if (auto r = configure_vcpu(*v, cpu_); !r) return r.error();
    return v;
}

Result<std::unique_ptr<Vcpu>> KvmPlatform::create_vcpu(unsigned long id) {
    auto v = create_raw_vcpu(id);
    if (!v) return v.error();
    return std::unique_ptr<Vcpu>(new KvmVcpu(*this, std::move(*v)));
}

Result<void> KvmPlatform::make_present(uint64_t gpa, uint64_t len) {
    if (!on_demand_ || len == 0) return {};
    const uint64_t ram = mem_.size();
    if (gpa >= ram) return {};
    const uint64_t last = std::min(gpa + len, ram) - 1;
    for (uint64_t g = gpa / kSlotSize; g <= last / kSlotSize; ++g) {
        const uint64_t bit = 1ull << (g % 64);
        if (present_[g / 64].load(std::memory_order_acquire) & bit) continue;
        std::lock_guard lk(slots_mu_);
        if (present_[g / 64].load(std::memory_order_relaxed) & bit) continue;
        const uint64_t start = g * kSlotSize, size = std::min(kSlotSize, ram - start);
        if (auto r = vm_.set_user_memory_region(static_cast<uint32_t>(g), start, size, mem_.host_base() + start); !r)
            return make_error(r.error().code, "guest RAM GiB {}: {}", g, r.error().message);
        // The slot exists before the guest can reach the GiB: then the
        // PDPT entry (absent -> present needs no TLB shootdown).
        const arch::x86::PdptEntry e = arch::x86::identity_pdpt_entry(tables_, g);
        std::atomic_ref<uint64_t>(*reinterpret_cast<uint64_t*>(mem_.host_base() + e.gpa))
            .store(e.value, std::memory_order_release);
        present_[g / 64].fetch_or(bit, std::memory_order_release);
    }
    return {};
}

Result<void> KvmPlatform::after_fork_child() {
    auto vm = sys_.create_vm();
    if (!vm) return make_error(vm.error().code, "a new VM for the forked process: {}", vm.error().message);
    vm_ = std::move(*vm);  // closes this process's reference to the parent's VM
    const uint64_t ram = mem_.size();
    if (!on_demand_) return vm_.set_user_memory_region(0, 0, ram, mem_.host_base());
    for (uint64_t g = 0; g * kSlotSize < ram; ++g) {
        if (!(present_[g / 64].load(std::memory_order_acquire) & (1ull << (g % 64)))) continue;
        const uint64_t start = g * kSlotSize, size = std::min(kSlotSize, ram - start);
        if (auto r = vm_.set_user_memory_region(static_cast<uint32_t>(g), start, size, mem_.host_base() + start); !r)
            return make_error(r.error().code, "forked process, guest RAM GiB {}: {}", g, r.error().message);
    }
    return {};
}

int KvmPlatform::host_prot() const { return PROT_READ | PROT_WRITE; }

void KvmPlatform::install_signal_handlers(HostFaultHandler on_host_fault) {
    struct sigaction sa {};
    sa.sa_sigaction = kvm_on_kick;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_SIGINFO;  // no SA_RESTART: a blocking host syscall returns EINTR
    ::sigaction(kick_signal(), &sa, nullptr);
    // A host write to a broken pipe returns EPIPE; the gate turns that into
    // the guest's SIGPIPE.
    ::signal(SIGPIPE, SIG_IGN);
    struct sigaction fa {};
    fa.sa_sigaction = reinterpret_cast<void (*)(int, siginfo_t*, void*)>(on_host_fault);
    fa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&fa.sa_mask);
    ::sigaction(SIGSEGV, &fa, nullptr);
    ::sigaction(SIGBUS, &fa, nullptr);
}

}  // namespace spanvm::platform::kvm
