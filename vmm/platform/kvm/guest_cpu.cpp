#include "vmm/platform/kvm/guest_cpu.hpp"

#include <cpuid.h>
#include <immintrin.h>

#include <cstring>
#include <memory>

#include "guest-shim/shim.hpp"
#include "vmm/arch/x86/gdt.hpp"
#include "vmm/arch/x86/regs.hpp"
#include "vmm/memory/layout.hpp"

namespace spanvm::platform::kvm {

namespace {

kvm_segment to_kvm(const arch::x86::Segment& s) {
    kvm_segment k{};
    k.base = s.base;
    k.limit = s.limit;
    k.selector = s.selector;
    k.type = s.type;
    k.present = s.present;
    k.dpl = s.dpl;
    k.db = s.db;
    k.s = s.s;
    k.l = s.l;
    k.g = s.g;
    k.avl = s.avl;
    return k;
}

uint64_t host_xcr0() {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE)) return 0;
    uint32_t lo, hi;
    asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (uint64_t{hi} << 32) | lo;
}

}  // namespace

void set_user_segments(kvm_sregs& s) {
    s.cs = to_kvm(arch::x86::user_code_segment());
    s.ss = to_kvm(arch::x86::user_data_segment());
}

Result<CpuTemplate> make_cpu_template(const kvm_ioctls::SystemFd& sys, uint64_t cr3) {
    auto cpuid = sys.supported_cpuid();
    if (!cpuid) return cpuid.error();
    CpuTemplate t;
    t.cr3 = cr3;
    t.cpuid = std::move(*cpuid);
    // XCR0: the host's, limited to what this KVM lets a guest enable
    // (KVM_GET_SUPPORTED_CPUID leaf 0xD.0, EDX:EAX). A nested PVM host may
    // support less than its host XCR0 (AVX-512, AMX, PKRU): KVM_SET_XCRS
    // fails with EINVAL on any bit outside that set.
    uint64_t supported_xcr0 = 0;
    for (auto& e : t.cpuid) {
        if (e.function == 1) t.hwcap = e.edx;
        if (e.function == 0xD && e.index == 0) supported_xcr0 = (uint64_t{e.edx} << 32) | e.eax;
    }
    t.xcr0 = host_xcr0() & supported_xcr0;
    // x87 must be set in any valid XCR0 (SDM Vol. 1, 13.3); without it, no XSAVE.
    if (!(t.xcr0 & 1)) t.xcr0 = 0;
    return t;
}

Result<void> configure_vcpu(kvm_ioctls::VcpuFd& vcpu, const CpuTemplate& t) {
    // CPUID with this vCPU's APIC id (leaf 1 EBX[31:24], leaf 0xB/0x1F EDX).
    std::vector<kvm_cpuid_entry2> c = t.cpuid;
    const uint32_t apic = static_cast<uint32_t>(vcpu.id());
    for (auto& e : c) {
        if (e.function == 1) e.ebx = (e.ebx & 0x00FFFFFF) | (apic << 24);
        if (e.function == 0xB || e.function == 0x1F) e.edx = apic;
    }
    if (auto r = vcpu.set_cpuid(c); !r) return r;

    auto sr = vcpu.get_sregs();
    if (!sr) return sr.error();
    kvm_sregs s = *sr;
    s.cr0 = arch::x86::X86_CR0_PE | arch::x86::X86_CR0_MP | arch::x86::X86_CR0_ET | arch::x86::X86_CR0_NE | arch::x86::X86_CR0_WP |
            arch::x86::X86_CR0_AM | arch::x86::X86_CR0_PG;
    s.cr3 = t.cr3;
    s.cr4 = arch::x86::X86_CR4_PAE | arch::x86::X86_CR4_OSFXSR | arch::x86::X86_CR4_OSXMMEXCPT |
            (t.xcr0 ? arch::x86::X86_CR4_OSXSAVE : 0);
    s.efer = arch::x86::EFER_SCE | arch::x86::EFER_LME | arch::x86::EFER_LMA | arch::x86::EFER_NXE;
    set_user_segments(s);
    kvm_segment uds = to_kvm(arch::x86::user_data_segment());
    s.ds = s.es = s.fs = s.gs = uds;
    s.fs.selector = s.gs.selector = 0;
    s.ds.selector = s.es.selector = 0;
    s.tr = to_kvm(arch::x86::tss_segment(memory::layout::kTssGpa));
    s.ldt = kvm_segment{};
    s.ldt.unusable = 1;
    s.gdt.base = memory::layout::kGdtGpa;
    s.gdt.limit = arch::x86::GDT_ENTRIES * 8 - 1;
    s.idt.base = memory::layout::kIdtGpa;
    s.idt.limit = shim::kVectors * 16 - 1;
    if (auto r = vcpu.set_sregs(s); !r) return r;

    // syscall: STAR[47:32] = kernel CS (ring-0 entry on VT-x), [63:48] = the
    // sysret base (unused: the VMM returns to user mode itself).
    const std::pair<uint32_t, uint64_t> msrs[] = {
        {arch::x86::MSR_STAR, (uint64_t{arch::x86::__USER32_CS} << 48) | (uint64_t{arch::x86::__KERNEL_CS} << 32)},
        {arch::x86::MSR_LSTAR, memory::layout::kStubGpa + shim::kSyscallEntryOffset},
        {arch::x86::MSR_CSTAR, memory::layout::kStubGpa + shim::kSyscallEntryOffset},
        {arch::x86::MSR_SYSCALL_MASK, arch::x86::X86_EFLAGS_TF | arch::x86::X86_EFLAGS_DF | arch::x86::X86_EFLAGS_IF |
                                    arch::x86::X86_EFLAGS_IOPL | arch::x86::X86_EFLAGS_NT | arch::x86::X86_EFLAGS_AC},
        {arch::x86::MSR_KERNEL_GS_BASE, 0},
        {arch::x86::MSR_IA32_CR_PAT, 0x0007040600070406ull},
    };
    std::vector<kvm_msr_entry> m;
    for (auto [index, data] : msrs) m.push_back(kvm_msr_entry{index, 0, data});
    if (auto r = vcpu.set_msrs(m); !r) return r;

    if (t.xcr0) {
        kvm_xcrs x{};
        x.nr_xcrs = 1;
        x.xcrs[0].xcr = 0;
        x.xcrs[0].value = t.xcr0;
        if (auto r = vcpu.set_xcrs(x); !r) return r;
    }
    kvm_fpu f{};
    f.fcw = 0x37F;
    f.mxcsr = 0x1F80;
    if (auto r = vcpu.set_fpu(f); !r) return r;
    vcpu.enable_sync_regs(kSyncRegsMask);
    return {};
}

}  // namespace spanvm::platform::kvm
