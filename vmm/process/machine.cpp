#include "vmm/process/machine.hpp"

#include <cstring>
#include <vector>

#include "guest-shim/shim.hpp"
#include "vmm/arch/x86/gdt.hpp"
#include "vmm/arch/x86/page_tables.hpp"
#include "vmm/memory/layout.hpp"

namespace spanvm::process {

Result<std::unique_ptr<Machine>> Machine::create(uint64_t ram_size) {
    if (ram_size < layout::kMinRamSize)
        return make_error(EINVAL, "--mem {} MiB is too small (minimum {} MiB)", ram_size >> 20, layout::kMinRamSize >> 20);
    if (ram_size > layout::kMaxRamSize)
        return make_error(EINVAL, "--mem {} GiB is too large (maximum {} GiB)", ram_size >> 30, layout::kMaxRamSize >> 30);
    auto sys = kvm::System::open();
    if (!sys) return sys.error();
    for (long cap : {KVM_CAP_SYNC_REGS, KVM_CAP_USER_MEMORY})
        if (sys->check_extension(cap) <= 0) return make_error(ENOTSUP, "KVM lacks capability {}", cap);
    auto vm = sys->create_vm();
    if (!vm) return vm.error();
    auto mem = memory::GuestMemory::create(ram_size);
    if (!mem) return mem.error();
    if (auto r = vm->set_user_memory_region(0, 0, ram_size, mem->host_base()); !r) return r.error();

    // System area.
    std::span<uint8_t> ram(mem->host_base(), ram_size);
    x86::write_gdt(ram.subspan(layout::kGdtGpa, x86::GDT_ENTRIES * 8), layout::kTssGpa);
    std::vector<uint16_t> ports{shim::kSyscallPort};
    for (uint16_t v = 0; v < shim::kVectors; ++v) ports.push_back(static_cast<uint16_t>(shim::kExceptionPortBase + v));
    x86::write_tss(ram.subspan(layout::kTssGpa, x86::kTssSize), layout::kExceptionStackGpa + layout::kExceptionStackSize,
                   ports);
    x86::write_idt(ram.subspan(layout::kIdtGpa, shim::kVectors * 16), shim::kVectors,
                   layout::kStubGpa + shim::kVectorEntryOffset, shim::kVectorEntryStride);
    auto img = shim::image();
    if (img.size() > layout::kPageSize) return make_error(EINVAL, "guest shim larger than a page");
    std::memcpy(ram.data() + layout::kStubGpa, img.data(), img.size());
    x86::PageTableLayout ptl{ram_size,         layout::kPageTableGpa, layout::kSystemEnd, layout::kNullGuardEnd,
                             layout::kStubGpa, layout::kSystemMappedEnd, layout::kUserBase};
    auto cr3 = x86::write_identity_page_tables(ram, ptl);
    if (!cr3) return cr3.error();

    std::unique_ptr<Machine> m(new Machine(std::move(*sys), std::move(*vm), std::move(*mem)));
    auto tmpl = make_cpu_template(m->sys_, *cr3);
    if (!tmpl) return tmpl.error();
    m->cpu_ = std::move(*tmpl);
    int mv = m->vm_.check_extension(KVM_CAP_MAX_VCPUS);
    if (mv <= 0) mv = m->vm_.check_extension(KVM_CAP_NR_VCPUS);
    m->max_vcpus_ = mv > 0 ? mv : 1;
    return m;
}

Result<kvm::Vcpu> Machine::create_vcpu(unsigned long id) {
    std::lock_guard lk(vcpu_mu_);
    auto v = vm_.create_vcpu(id);
    if (!v) return v.error();
    if (auto r = configure_vcpu(*v, cpu_); !r) return r.error();
    return v;
}

}  // namespace spanvm::process
