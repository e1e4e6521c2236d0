#include "vmm/platform/kvm/kvm_vcpu.hpp"

#include <linux/kvm.h>

#include <algorithm>
#include <csignal>
#include <cstddef>
#include <cstring>

#include "guest-shim/shim.hpp"
#include "vmm/arch/x86/exception_signal.hpp"
#include "vmm/arch/x86/fxsave.hpp"
#include "vmm/arch/x86/regs.hpp"
#include "vmm/base/log.hpp"
#include "vmm/memory/layout.hpp"
#include "vmm/platform/host_kick.hpp"
#include "vmm/platform/kvm/fault_address.hpp"
#include "vmm/platform/kvm/guest_cpu.hpp"
#include "vmm/platform/kvm/kvm_platform.hpp"

namespace spanvm::platform::kvm {

// Regs is handed out as a view of kvm_run's sync-regs page.
static_assert(sizeof(Regs) == sizeof(kvm_regs));
static_assert(offsetof(Regs, rax) == offsetof(kvm_regs, rax));
static_assert(offsetof(Regs, rsp) == offsetof(kvm_regs, rsp));
static_assert(offsetof(Regs, r8) == offsetof(kvm_regs, r8));
static_assert(offsetof(Regs, r15) == offsetof(kvm_regs, r15));
static_assert(offsetof(Regs, rip) == offsetof(kvm_regs, rip));
static_assert(offsetof(Regs, rflags) == offsetof(kvm_regs, rflags));

namespace {
thread_local kvm_run* tl_run = nullptr;
}  // namespace

// The kick handler (KvmPlatform::install_signal_handlers): makes the current
// or next KVM_RUN of this thread return at once.
void kvm_on_kick(int, siginfo_t*, void* uc) {
    if (tl_run) tl_run->immediate_exit = 1;
    on_host_kick(uc);  // a blocking host call about to start does not start
}

Regs& KvmVcpu::regs() { return *reinterpret_cast<Regs*>(&vcpu_.sync_regs()); }

Result<void> KvmVcpu::attach_thread() {
    tl_run = vcpu_.run_data();
    return {};
}

void KvmVcpu::detach_thread() {
    if (tl_run == vcpu_.run_data()) tl_run = nullptr;
}

Result<void> KvmVcpu::set_initial_state(const Regs& regs, uint64_t fs_base, uint64_t gs_base) {
    // Set through ioctls once; afterwards sync regs carry the GPRs.
    vcpu_.run_data()->kvm_dirty_regs = 0;
    kvm_regs k{};
    std::memcpy(&k, &regs, sizeof k);
    if (auto r = vcpu_.set_regs(k); !r) return r;
    // KVM_SET_REGS leaves the sync-regs page alone: until the next KVM_RUN
    // it still holds whatever this vCPU ran last (a pooled vCPU: another
    // thread's registers). regs() must be the thread's state before it
    // first runs too (a signal frame built right after a migration, a node
    // thread kicked before it first runs), so the view gets the same copy.
    vcpu_.sync_regs() = k;
    auto s = vcpu_.get_sregs();
    if (!s) return s.error();
    set_user_segments(*s);
    s->fs.base = fs_base;
    s->gs.base = gs_base;
    return vcpu_.set_sregs(*s);
}

Result<uint64_t> KvmVcpu::fs_base() {
    auto s = vcpu_.get_sregs();
    if (!s) return s.error();
    return s->fs.base;
}
Result<void> KvmVcpu::set_fs_base(uint64_t v) {
    auto s = vcpu_.get_sregs();
    if (!s) return s.error();
    s->fs.base = v;
    return vcpu_.set_sregs(*s);
}
Result<uint64_t> KvmVcpu::gs_base() {
    auto s = vcpu_.get_sregs();
    if (!s) return s.error();
    return s->gs.base;
}
Result<void> KvmVcpu::set_gs_base(uint64_t v) {
    auto s = vcpu_.get_sregs();
    if (!s) return s.error();
    s->gs.base = v;
    return vcpu_.set_sregs(*s);
}

VcpuExit KvmVcpu::error_exit(std::string what) {
    VcpuExit e;
    e.kind = VcpuExit::Kind::error;
    e.what = std::move(what);
    return e;
}

VcpuExit KvmVcpu::run() {
    kvm_run* run = vcpu_.run_data();
    auto r = vcpu_.run();
    if (!r) {
        if (r.error().code == EINTR || r.error().code == EAGAIN) {
            // A kick (or any host signal). Inside spanvm's entry stubs the
            // syscall path delivers on its way out instead.
            run->immediate_exit = 0;
            VcpuExit e;
            e.kind = VcpuExit::Kind::interrupted;
            e.in_guest = vcpu_.sync_regs().rip >= memory::layout::kUserBase;
            return e;
        }
        if (r.error().code == EFAULT) {
            // The guest touched guest RAM whose host mapping refuses the
            // access: PROT_NONE, or a write to a PROT_READ page
            // (Process::sync_host_protection); RIP is at the instruction.
            // The process layer picks the si_code (Process::segv_code).
            VcpuExit e;
            e.kind = VcpuExit::Kind::exception;
            e.signo = SIGSEGV;
            e.si_code = arch::x86::SEGV_ACCERR;
            auto sr = vcpu_.get_sregs();
            auto addr = sr ? efault_address(vcpu_.sync_regs(), *sr, platform_.memory()) : std::nullopt;
            e.fault_addr = addr.value_or(0);
            e.what = addr ? fmt::format("access to unmapped, PROT_NONE or read-only memory at {:#x}", *addr)
                          : std::string("access to unmapped, PROT_NONE or read-only memory");
            return e;
        }
        return error_exit(fmt::format("KVM_RUN: {}", r.error().message));
    }
    switch (run->exit_reason) {
        case KVM_EXIT_IO: {
            const uint16_t port = run->io.port;
            if (port == shim::kSyscallPort) {
                if (auto c = complete_syscall_return(); !c) return error_exit(c.error().message);
                VcpuExit e;
                e.kind = VcpuExit::Kind::syscall;
                return e;
            }
            if (port >= shim::kExceptionPortBase && port < shim::kExceptionPortBase + shim::kVectors)
                return exception_exit(port - shim::kExceptionPortBase);
            return error_exit(fmt::format("I/O to an unexpected port {:#x} at RIP {:#x}", port, vcpu_.sync_regs().rip));
        }
        case KVM_EXIT_INTR: {
            run->immediate_exit = 0;
            VcpuExit e;
            e.kind = VcpuExit::Kind::interrupted;
            e.in_guest = vcpu_.sync_regs().rip >= memory::layout::kUserBase;
            return e;
        }
        default:
            return error_exit(
                fmt::format("unexpected VM exit (KVM exit reason {}, RIP {:#x})", run->exit_reason, vcpu_.sync_regs().rip));
    }
}

// The VMM's replacement for sysret: RIP = RCX, RFLAGS = R11, and, only where
// the stub ran in ring 0 (hardware VT-x/AMD-V), user CS/SS. On PVM the
// `syscall` instruction never leaves ring 3 (platform notes), so the common
// path is a sync-regs update with no extra ioctl.
Result<void> KvmVcpu::complete_syscall_return() {
    kvm_regs& r = vcpu_.sync_regs();
    r.rip = r.rcx;
    r.rflags = (r.r11 & ~(arch::x86::X86_EFLAGS_TF | arch::x86::X86_EFLAGS_NT)) | arch::x86::X86_EFLAGS_FIXED;
    vcpu_.mark_regs_dirty();
    int ring0 = platform_.stub_ring0.load(std::memory_order_relaxed);
    if (ring0 == -1) {
        auto s = vcpu_.get_sregs();
        if (!s) return s.error();
        ring0 = needs_user_segments(*s) ? 1 : 0;
        platform_.stub_ring0.store(ring0);
    }
    if (ring0 == 1) {
        auto s = vcpu_.get_sregs();
        if (!s) return s.error();
        set_user_segments(*s);
        return vcpu_.set_sregs(*s);
    }
    return {};
}

// The shim's vector entry exited on its first instruction, so RSP still
// points at the CPU's exception frame on the IST1 stack:
//   [error code], RIP, CS, RFLAGS, RSP, SS.
// All vCPUs share that stack: the frame is read here, at once, by the vCPU's
// own thread, and a second vCPU faulting meanwhile can only overwrite it
// with its own frame after this one's exit has been read (departure: two
// simultaneous exceptions on different vCPUs may race; see ARCHITECTURE.md).
VcpuExit KvmVcpu::exception_exit(unsigned vector) {
    kvm_regs& r = vcpu_.sync_regs();
    uint64_t frame[6] = {};
    platform_.memory().read(r.rsp, frame, sizeof frame);
    const int off = arch::x86::exception_has_error_code(vector) ? 1 : 0;
    const uint64_t err = off ? frame[0] : 0;
    auto s = vcpu_.get_sregs();
    if (!s) return error_exit(s.error().message);
    const uint64_t cr2 = s->cr2;
    // Back to the faulting user state, in ring 3.
    r.rip = frame[off];
    r.rflags = frame[off + 2] | arch::x86::X86_EFLAGS_FIXED;
    r.rsp = frame[off + 3];
    vcpu_.mark_regs_dirty();
    set_user_segments(*s);
    if (auto e = vcpu_.set_sregs(*s); !e) return error_exit(e.error().message);
    const auto sig = arch::x86::signal_for_exception(vector, err, cr2, r.rip);
    VcpuExit e;
    e.kind = VcpuExit::Kind::exception;
    e.signo = sig.signo;
    e.si_code = sig.si_code;
    e.fault_addr = sig.fault_addr;
    e.what = arch::x86::describe_exception(vector, err, cr2);
    return e;
}

namespace {
// Whether KVM_GET_XSAVE2 works on this host (-1 unknown). Where it fails
// (a kernel without KVM_CAP_XSAVE2), the FPU is saved as FXSAVE through
// KVM_GET_FPU. (It once failed everywhere with EINVAL: <linux/kvm.h>'s ioctl
// number is wrong in C++; kvm_ioctls uses abi::KVM_GET_XSAVE2_C.)
std::atomic<int> g_xsave_ok{-1};

// kvm_fpu <-> the FXSAVE image (same fields, vmm/arch/x86/fxsave.hpp).
std::vector<uint8_t> fxsave_of(const kvm_fpu& k) {
    arch::x86::FxsaveFields f{};
    std::memcpy(f.fpr, k.fpr, sizeof f.fpr);
    std::memcpy(f.xmm, k.xmm, sizeof f.xmm);
    f.fcw = k.fcw, f.fsw = k.fsw, f.ftwx = k.ftwx, f.last_opcode = k.last_opcode;
    f.last_ip = k.last_ip, f.last_dp = k.last_dp, f.mxcsr = k.mxcsr;
    return arch::x86::fxsave_image(f);
}

kvm_fpu fpu_of(std::span<const uint8_t> img) {
    const arch::x86::FxsaveFields f = arch::x86::parse_fxsave(img);
    kvm_fpu k{};
    std::memcpy(k.fpr, f.fpr, sizeof f.fpr);
    std::memcpy(k.xmm, f.xmm, sizeof f.xmm);
    k.fcw = f.fcw, k.fsw = f.fsw, k.ftwx = f.ftwx, k.last_opcode = f.last_opcode;
    k.last_ip = f.last_ip, k.last_dp = f.last_dp, k.mxcsr = f.mxcsr;
    return k;
}
}  // namespace

// Whether KVM_GET_XSAVE2 works, found out by the first vCPU that asks
// (save or restore: a process whose first FPU operation is a restore, such
// as a thread migrating in, must not take the FXSAVE path for that reason).
bool KvmVcpu::xsave_works() {
    const int known = g_xsave_ok.load();
    if (known != -1) return known == 1;
    std::vector<uint8_t> buf(kvm_ioctls::VcpuFd::kXsaveBufferSize);
    if (vcpu_.get_xsave(buf)) {
        g_xsave_ok = 1;
        return true;
    }
    if (g_xsave_ok.exchange(0) == -1)
        log::debug("KVM_GET_XSAVE2 fails on this host: the FPU is saved as FXSAVE (x87/SSE; AVX upper halves are "
                   "not saved across a signal handler or a migration)");
    return false;
}

Result<std::vector<uint8_t>> KvmVcpu::save_fpu() {
    if (xsave_works()) {
        std::vector<uint8_t> buf(kvm_ioctls::VcpuFd::kXsaveBufferSize);
        if (auto r = vcpu_.get_xsave(buf); !r) return r.error();
        buf.resize(platform_.cpu().xstate_size);
        return buf;
    }
    auto f = vcpu_.get_fpu();
    if (!f) return f.error();
    return fxsave_of(*f);
}

// Loaded through KVM_SET_XSAVE wherever it works, never KVM_SET_FPU: that
// ioctl writes the legacy area of KVM's XSAVE buffer but leaves the
// header's XSTATE_BV as it was, and where the vCPU's x87 or SSE component
// was in its init state (a fresh or pooled vCPU), the next XRSTOR loads
// init values instead (xmm0-15 = 0): a thread migrated in lost its vector
// registers (pigz's deflate window got 32-128 zero bytes).
Result<void> KvmVcpu::restore_fpu(std::span<const uint8_t> image) {
    if (image.size() < 512) return make_error(EINVAL, "FPU image shorter than 512 bytes");
    if (xsave_works()) {
        std::vector<uint8_t> buf(kvm_ioctls::VcpuFd::kXsaveBufferSize);
        // Components beyond the image come back as they are now.
        if (auto r = vcpu_.get_xsave(buf); !r) return r;
        const size_t n = std::min<size_t>(image.size(), platform_.cpu().xstate_size);
        std::memcpy(buf.data(), image.data(), n);
        std::memset(buf.data() + arch::x86::kFxswBytesOffset, 0, arch::x86::kFxswBytesSize);  // software's, not the CPU's
        if (n < arch::x86::kXsaveHeaderOffset + 8) {
            // An FXSAVE image: its x87 and SSE state are live.
            uint64_t bv;
            std::memcpy(&bv, buf.data() + arch::x86::kXsaveHeaderOffset, 8);
            bv |= arch::x86::XFEATURE_MASK_FP | arch::x86::XFEATURE_MASK_SSE;
            std::memcpy(buf.data() + arch::x86::kXsaveHeaderOffset, &bv, 8);
        }
        return vcpu_.set_xsave(buf);
    }
    return vcpu_.set_fpu(fpu_of(image.first(512)));
}

}  // namespace spanvm::platform::kvm
