#include "vmm/platform/native/native_vcpu.hpp"

#include <asm/prctl.h>
#include <cpuid.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <cstring>

#include "vmm/arch/x86/exception_signal.hpp"
#include "vmm/platform/host_kick.hpp"
#include "vmm/platform/native/native_platform.hpp"

#ifndef PR_SET_SYSCALL_USER_DISPATCH
#define PR_SET_SYSCALL_USER_DISPATCH 59
#define PR_SYS_DISPATCH_ON 1
#endif
#ifndef SYS_USER_DISPATCH
#define SYS_USER_DISPATCH 2  // si_code of a Syscall User Dispatch SIGSYS
#endif

namespace spanvm::platform::native {

namespace {

// The top of the user address space with 5-level paging; the allowed
// (untrapped) region runs from the end of guest RAM up to it.
constexpr uint64_t kUserSpaceTop = 1ull << 56;
constexpr uint64_t kPageBytes = 4096;
// fpx_sw_bytes in the FXSAVE area's software-reserved bytes (Linux ABI).
constexpr size_t kSwBytesOffset = 464;
constexpr uint32_t kFpXstateMagic1 = 0x46505853;
constexpr uint32_t kFpXstateMagic2 = 0x46505845;
constexpr size_t kMxcsrOffset = 24, kMxcsrMaskOffset = 28, kXsaveHeaderOffset = 512;

// XSAVE components (Intel SDM vol. 1 13.1) and where the lite state
// (native_context.hpp fpu_live) goes in the standard-format image.
constexpr uint64_t kXfeatureX87 = 1, kXfeatureSse = 2, kXfeatureAvx = 4, kXfeaturePkru = 1ull << 9;
constexpr size_t kXmmOffset = 160, kXstateBvOffset = 512;

// 2: lite saves of YMM0-15, 1: of XMM0-15, 0: none (XSAVEOPT), for the
// XCR0 of the guest's image. Other components (AVX-512, AMX) are not in
// the lite save, so their presence turns it off.
uint32_t fpu_lite_level(uint64_t xcr0) {
    if (!(xcr0 & kXfeatureSse) || (xcr0 & ~(kXfeatureX87 | kXfeatureSse | kXfeatureAvx | kXfeaturePkru))) return 0;
    return (xcr0 & kXfeatureAvx) ? 2 : 1;
}

uint32_t avx_state_offset() {
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid_count(0xd, 2, &a, &b, &c, &d)) return 0;
    return b;
}

// Writes the lite part of the guest's FPU state (vector registers, MXCSR)
// into the standard-format `image`, whose other components are the guest's.
void merge_lite(const NativeContext& c, uint8_t* image) {
    std::memcpy(image + kMxcsrOffset, &c.lite_mxcsr, 4);
    for (int i = 0; i < 16; ++i) {
        std::memcpy(image + kXmmOffset + 16 * i, c.lite + 32 * i, 16);
        if (c.fpu_lite == 2) std::memcpy(image + c.avx_offset + 16 * i, c.lite + 32 * i + 16, 16);
    }
    // XSTATE_BV: the components just written are not in their init state
    // for XRSTOR (or it would ignore those bytes).
    uint64_t bv = 0;
    std::memcpy(&bv, image + kXstateBvOffset, 8);
    bv |= kXfeatureSse | (c.fpu_lite == 2 ? kXfeatureAvx : 0);
    std::memcpy(image + kXstateBvOffset, &bv, 8);
}

thread_local NativeContext* tl_ctx = nullptr;
Platform::HostFaultHandler g_host_fault = nullptr;

long raw_arch_prctl(int code, uint64_t v) { return ::syscall(SYS_arch_prctl, code, v); }

}  // namespace

void set_host_fault_handler(Platform::HostFaultHandler h) { g_host_fault = h; }

// The context is default-initialized, not zeroed: its fields have their
// initializers, and its buffers (the XSAVE image, written just below; the
// sigreturn frame and the lite registers, each written before it is read)
// stay untouched, so a new vCPU faults in 2 of its 5 pages, not all 5 (a
// forked process makes one per fork: bench/results/session-2026-12-06c).
NativeVcpu::NativeVcpu(NativePlatform& p, unsigned long id)
    : platform_(p), id_(id), ctx_(std::make_unique_for_overwrite<NativeContext>()) {
    auto init = p.initial_fpu();
    std::memcpy(ctx_->xsave, init.data(), init.size());
    ctx_->tramp_lo = reinterpret_cast<uint64_t>(spanvm_native_enter_begin);
    ctx_->tramp_hi = reinterpret_cast<uint64_t>(spanvm_native_enter_end);
    ctx_->wrfsbase = p.wrfsbase() ? 1 : 0;
    static const uint32_t avx_offset = avx_state_offset();
    ctx_->fpu_lite = fpu_lite_level(p.cpu().xcr0);
    if (ctx_->fpu_lite == 2 && (avx_offset < 576 || avx_offset + 256 > p.cpu().xstate_size)) ctx_->fpu_lite = 0;
    ctx_->avx_offset = avx_offset;
}

void NativeVcpu::materialize_fpu() {
    if (!ctx_->fpu_live) return;
    // On the vCPU thread only (every caller is), whose CPU still holds the
    // guest's x87 part (native_context.hpp).
    spanvm_native_xsave(ctx_->xsave);
    merge_lite(*ctx_, ctx_->xsave);
    ctx_->fpu_live = 0;
}

NativeVcpu::~NativeVcpu() {
    if (altstack_) ::munmap(altstack_, kAltStackSize);
}

Result<void> NativeVcpu::attach_thread() {
    if (!altstack_) {
        void* a = ::mmap(nullptr, kAltStackSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (a == MAP_FAILED) return errno_error("mmap of the vCPU signal stack");
        altstack_ = static_cast<uint8_t*>(a);
        auto* hdr = reinterpret_cast<uint64_t*>(altstack_);
        hdr[0] = reinterpret_cast<uint64_t>(ctx_.get());
        hdr[1] = kAltStackMagic;
        // The header page is read-only from here on: a runaway signal frame
        // faults instead of overwriting it.
        ::mprotect(altstack_, kPageBytes, PROT_READ);
    }
    stack_t ss{};
    ss.ss_sp = altstack_ + kPageBytes;
    ss.ss_size = kAltStackSize - kPageBytes;
    if (::sigaltstack(&ss, nullptr) != 0) return errno_error("sigaltstack for a native vCPU");
    uint64_t fs = 0;
    if (::syscall(SYS_arch_prctl, ARCH_GET_FS, &fs) != 0) return errno_error("arch_prctl(ARCH_GET_FS)");
    ctx_->host_fs = fs;
    sigset_t cur;
    ::pthread_sigmask(SIG_SETMASK, nullptr, &cur);
    std::memcpy(&host_sigmask_, &cur, sizeof host_sigmask_);
    const uint64_t end = platform_.guest_end();
    if (::prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON, end, kUserSpaceTop - end, 0) != 0)
        return errno_error("prctl(PR_SET_SYSCALL_USER_DISPATCH)");
    ctx_->kick_pending = 0;
    clear_passthrough();  // the thread that attached sets it (set_passthrough_syscalls)
    tl_ctx = ctx_.get();
    // The host GS base is the guest's, or with patching on and no GS base
    // of the guest's this context (run()); either way a new host thread
    // needs it set.
    if (gs_base_ || platform_.patcher().active()) gs_dirty_ = true;
    return {};
}

void NativeVcpu::detach_thread() {
    // The host thread no longer runs guest code: off the vCPU's signal stack
    // (another thread may attach the vCPU and use it) and out of Syscall
    // User Dispatch; kicks to this thread no longer touch the context.
    if (tl_ctx != ctx_.get()) return;
    clear_passthrough();
    tl_ctx = nullptr;
    stack_t ss{};
    ss.ss_flags = SS_DISABLE;
    (void)::sigaltstack(&ss, nullptr);
    (void)::prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_OFF, 0, 0, 0);
}

void NativeVcpu::clear_passthrough() {
    ctx_->passthrough[0] = ctx_->passthrough[1] = 0;
    ctx_->passthrough_count = nullptr;
}

void NativeVcpu::set_passthrough_syscalls(std::array<uint64_t, 2> mask, std::atomic<uint64_t>* count) {
    // The fast path increments the counter with `lock incq` on its address:
    // the same object representation as a plain uint64_t.
    static_assert(sizeof(std::atomic<uint64_t>) == sizeof(uint64_t) && std::atomic<uint64_t>::is_always_lock_free);
    if (count == nullptr || !NativePlatform::passthrough_wanted()) {
        clear_passthrough();
        return;
    }
    ctx_->passthrough_count = reinterpret_cast<uint64_t*>(count);
    ctx_->passthrough[0] = mask[0];
    ctx_->passthrough[1] = mask[1];
}

Result<void> NativeVcpu::set_initial_state(const Regs& regs, uint64_t fs_base, uint64_t gs_base) {
    ctx_->regs = regs;
    ctx_->guest_fs = fs_base;
    ctx_->fpu_live = 0;
    auto init = platform_.initial_fpu();
    std::memcpy(ctx_->xsave, init.data(), init.size());
    return set_gs_base(gs_base);
}

Result<void> NativeVcpu::set_fs_base(uint64_t v) {
    ctx_->guest_fs = v;  // loaded by the next entry
    return {};
}

Result<void> NativeVcpu::set_gs_base(uint64_t v) {
    // Patched sites find spanvm's context through the GS base; a guest
    // that uses GS itself gets every site restored first (site_patcher.hpp).
    if (v && platform_.patcher().active()) platform_.patcher().disable();
    gs_base_ = v;
    gs_dirty_ = true;
    return {};
}

Result<std::vector<uint8_t>> NativeVcpu::save_fpu() {
    materialize_fpu();
    const uint32_t n = platform_.cpu().xstate_size;
    std::vector<uint8_t> out(ctx_->xsave, ctx_->xsave + n);
    if (n > kSwBytesOffset) std::memset(out.data() + kSwBytesOffset, 0, 48);
    return out;
}

// Accepts what XRSTOR accepts: standard format (XCOMP_BV 0), XSTATE_BV
// within XCR0, reserved header bytes zero, MXCSR within MXCSR_MASK. Then
// rewrites the software bytes so rt_sigreturn takes the image too.
Result<void> NativeVcpu::restore_fpu(std::span<const uint8_t> image) {
    const CpuFeatures& cpu = platform_.cpu();
    const uint32_t n = cpu.xstate_size;
    if (image.size() < 512) return make_error(EINVAL, "FPU image shorter than 512 bytes");
    materialize_fpu();
    uint32_t mxcsr = 0, mask = 0;
    std::memcpy(&mxcsr, image.data() + kMxcsrOffset, 4);
    std::memcpy(&mask, ctx_->xsave + kMxcsrMaskOffset, 4);
    if (mask == 0) mask = 0xffbf;
    if (mxcsr & ~mask) return make_error(EINVAL, "FPU image with reserved MXCSR bits {:#x}", mxcsr);
    uint8_t tmp[kXsaveBytes];
    std::memcpy(tmp, ctx_->xsave, n);
    if (image.size() >= n && n > 512) {
        uint64_t hdr[8];
        std::memcpy(hdr, image.data() + kXsaveHeaderOffset, sizeof hdr);
        if (hdr[0] & ~cpu.xcr0) return make_error(EINVAL, "FPU image with XSTATE_BV {:#x} beyond XCR0", hdr[0]);
        for (int i = 1; i < 8; ++i)
            if (hdr[i]) return make_error(EINVAL, "FPU image with a non-zero XSAVE header word {}", i);
        std::memcpy(tmp, image.data(), n);
    } else {
        // FXSAVE only: x87/SSE from the image, the rest as it was.
        std::memcpy(tmp, image.data(), 512);
        uint64_t bv = 0;
        std::memcpy(&bv, tmp + kXsaveHeaderOffset, 8);
        bv |= 3;  // x87 and SSE now come from the legacy area
        if (n > 512) std::memcpy(tmp + kXsaveHeaderOffset, &bv, 8);
    }
    std::memcpy(tmp + kMxcsrMaskOffset, &mask, 4);
    std::memcpy(tmp + kSwBytesOffset, ctx_->xsave + kSwBytesOffset, 48);  // ours, not the guest's
    std::memcpy(ctx_->xsave, tmp, n);
    return {};
}

// rt_sigreturn's view of the guest state: struct rt_sigframe minus the
// return address, i.e. a ucontext at frame_uc (Linux x86-64 ABI).
void NativeVcpu::build_sigreturn_frame() {
    materialize_fpu();
    std::memset(ctx_->frame, 0, sizeof ctx_->frame);
    auto* uc = reinterpret_cast<ucontext_t*>(ctx_->frame + 8);
    uc->uc_flags = 0x1 | 0x2 | 0x4;  // UC_FP_XSTATE | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS
    uc->uc_stack.ss_sp = altstack_ + kPageBytes;
    uc->uc_stack.ss_size = kAltStackSize - kPageBytes;
    uc->uc_stack.ss_flags = 0;
    const Regs& r = ctx_->regs;
    greg_t* g = uc->uc_mcontext.gregs;
    g[REG_R8] = static_cast<greg_t>(r.r8), g[REG_R9] = static_cast<greg_t>(r.r9);
    g[REG_R10] = static_cast<greg_t>(r.r10), g[REG_R11] = static_cast<greg_t>(r.r11);
    g[REG_R12] = static_cast<greg_t>(r.r12), g[REG_R13] = static_cast<greg_t>(r.r13);
    g[REG_R14] = static_cast<greg_t>(r.r14), g[REG_R15] = static_cast<greg_t>(r.r15);
    g[REG_RDI] = static_cast<greg_t>(r.rdi), g[REG_RSI] = static_cast<greg_t>(r.rsi);
    g[REG_RBP] = static_cast<greg_t>(r.rbp), g[REG_RBX] = static_cast<greg_t>(r.rbx);
    g[REG_RDX] = static_cast<greg_t>(r.rdx), g[REG_RAX] = static_cast<greg_t>(r.rax);
    g[REG_RCX] = static_cast<greg_t>(r.rcx), g[REG_RSP] = static_cast<greg_t>(r.rsp);
    g[REG_RIP] = static_cast<greg_t>(r.rip), g[REG_EFL] = static_cast<greg_t>(r.rflags);
    g[REG_CSGSFS] = static_cast<greg_t>(0x33ull | (0x2bull << 48));  // user CS, SS (Linux __USER_CS/__USER_DS)
    uc->uc_mcontext.fpregs = reinterpret_cast<fpregset_t>(ctx_->xsave);
    std::memcpy(&uc->uc_sigmask, &host_sigmask_, sizeof host_sigmask_);
    ctx_->frame_uc = reinterpret_cast<uint64_t>(uc);
}

VcpuExit NativeVcpu::run() {
    if (gs_dirty_) {
        const uint64_t host_gs =
            gs_base_ || !platform_.patcher().active() ? gs_base_ : reinterpret_cast<uint64_t>(ctx_.get());
        if (raw_arch_prctl(ARCH_SET_GS, host_gs) != 0) {
            VcpuExit e;
            e.kind = VcpuExit::Kind::error;
            e.what = fmt::format("arch_prctl(ARCH_SET_GS, {:#x}) failed: {}", gs_base_, std::strerror(errno));
            return e;
        }
        gs_dirty_ = false;
    }
    const Regs& r = ctx_->regs;
    uint32_t mode = kEnterFast;
    if (r.rcx != r.rip || r.r11 != r.rflags) {
        build_sigreturn_frame();
        mode = kEnterFull;
    }
    const int sig = spanvm_native_enter(ctx_.get(), mode);
    // A signal that stopped the thread inside a syscall stub: the guest
    // sees the RIP of its own code (signal frames, fault reports, re-entry).
    if (platform_.patcher().in_stubs(ctx_->regs.rip))
        if (auto g = platform_.patcher().translate(ctx_->regs.rip)) ctx_->regs.rip = *g;
    return exit_from_signal(sig);
}

VcpuExit NativeVcpu::exit_from_signal(int sig) {
    VcpuExit e;
    // kPassthroughDoneCode: a kick stopped a pass-through call's fast path
    // after the call ran; RAX holds its result, the guest is past it.
    if (sig == kEnterAborted || sig == Platform::kick_signal() ||
        (sig == SIGSYS && ctx_->exit_code == kPassthroughDoneCode)) {
        e.kind = VcpuExit::Kind::interrupted;
        return e;
    }
    if (ctx_->exit_code == -1000) {  // a fault inside the entry sequence
        e.kind = VcpuExit::Kind::error;
        e.what = fmt::format("entering the guest failed with signal {} (a guest register or FPU image the CPU "
                             "rejects?)", sig);
        return e;
    }
    if (sig == SIGSYS && (ctx_->exit_code == SYS_USER_DISPATCH || ctx_->exit_code == kPatchedSiteCode)) {
        e.kind = VcpuExit::Kind::syscall;
        e.patched_site = ctx_->exit_code == kPatchedSiteCode;
        return e;
    }
    e.kind = VcpuExit::Kind::exception;
    e.signo = sig;
    e.si_code = ctx_->exit_code;
    e.fault_addr = ctx_->exit_addr;
    e.what = arch::x86::describe_exception(static_cast<unsigned>(ctx_->exit_trapno), ctx_->exit_err, ctx_->exit_cr2);
    return e;
}

}  // namespace spanvm::platform::native

using spanvm::platform::native::NativeContext;

namespace {
// Bytes of the FPU image in a kernel signal frame (fpx_sw_bytes.magic1,
// extended_size), at most what NativeContext::xsave holds.
uint32_t fpu_image_bytes(const ucontext_t* uc) {
    const auto* fp = reinterpret_cast<const uint8_t*>(uc->uc_mcontext.fpregs);
    uint32_t sw[2];
    std::memcpy(sw, fp + 464, sizeof sw);
    uint32_t n = sw[0] == 0x46505853 ? sw[1] : 512;
    return n > spanvm::platform::native::kXsaveBytes ? spanvm::platform::native::kXsaveBytes : n;
}
}  // namespace

// Called by spanvm_native_signal_entry with the host FS base restored.
extern "C" int spanvm_native_on_guest_signal(NativeContext* c, int sig, siginfo_t* si, ucontext_t* uc) {
    const greg_t* g = uc->uc_mcontext.gregs;
    const uint64_t rip = static_cast<uint64_t>(g[REG_RIP]);
    const auto sys_lo = reinterpret_cast<uint64_t>(&spanvm_native_syscall_entry);
    const auto sys_hi = reinterpret_cast<uint64_t>(spanvm_native_syscall_entry_end);
    if (rip >= sys_lo && rip < sys_hi) {
        // Inside the direct entry of a patched site, before it cleared
        // in_guest: it goes on to return `syscall` with its own state (and
        // sets exit_code itself). A kick stays pending for the next run(),
        // which then aborts. In the fast path's commit window (after its
        // pass-through call, up to its jump back to the guest) the kick
        // also sends the thread to the abort, which exits with the call
        // done (native_switch.S: the kick invariant).
        if (sig == spanvm::platform::Platform::kick_signal()) {
            c->kick_pending = 1;
            const auto win_lo = reinterpret_cast<uint64_t>(spanvm_native_fast_window);
            const auto win_hi = reinterpret_cast<uint64_t>(spanvm_native_fast_window_end);
            if (rip >= win_lo && rip < win_hi)
                uc->uc_mcontext.gregs[REG_RIP] = reinterpret_cast<greg_t>(spanvm_native_fast_abort);
            return spanvm::platform::native::kEntryNested;
        }
        // The line names the signal, si_code, address and entry offset
        // (async-signal-safe: no formatting library here).
        char msg[160];
        size_t n = 0;
        auto put = [&](const char* s) { while (*s && n < sizeof msg - 1) msg[n++] = *s++; };
        auto hex = [&](uint64_t v) {
            char d[17];
            int k = 16;
            d[k] = 0;
            do d[--k] = "0123456789abcdef"[v & 15]; while ((v >>= 4) && k > 0);
            put("0x");
            put(d + k);
        };
        put("spanvm: internal error: fault inside the native syscall entry (signal ");
        hex(static_cast<uint64_t>(sig));
        put(", si_code ");
        hex(static_cast<uint64_t>(static_cast<uint32_t>(si->si_code)));
        put(", addr ");
        hex(reinterpret_cast<uint64_t>(si->si_addr));
        put(", entry+");
        hex(rip - sys_lo);
        put(")\n");
        (void)!::write(2, msg, n);
        ::_exit(125);
    }
    const auto entry_lo = reinterpret_cast<uint64_t>(&spanvm_native_signal_entry);
    const auto entry_hi = reinterpret_cast<uint64_t>(spanvm_native_signal_entry_end);
    if (rip >= entry_lo && rip < entry_hi) {
        // Nested inside the signal entry before it cleared in_guest: the
        // registers in `uc` are the entry's, not the guest's. Leave c->regs
        // alone; a kick stays pending for the next run().
        if (sig == spanvm::platform::Platform::kick_signal()) {
            c->kick_pending = 1;
            return spanvm::platform::native::kEntryNested;
        }
        static const char msg[] = "spanvm: internal error: fault inside the native signal entry\n";
        (void)!::write(2, msg, sizeof msg - 1);
        ::_exit(125);
    }
    // Only past the nested case: a kick nested in the entry of the signal it
    // interrupted must leave that signal's exit state to the outer entry.
    c->exit_code = si->si_code;
    if (rip >= c->tramp_lo && rip < c->tramp_hi) {
        // The entry did not reach the guest; c->regs still hold the state to
        // enter with. A kick aborts the entry; anything else is a fault of
        // the entry itself (XRSTOR or rt_sigreturn refusing the state).
        c->kick_pending = 0;
        // The entry may have loaded part of a lite state, and leaving
        // without sigreturn leaves the FPU as the kernel reset it for the
        // handler: the x87 part of a lite state is in the kernel's frame.
        if (c->fpu_live && uc->uc_mcontext.fpregs) {
            std::memcpy(c->xsave, uc->uc_mcontext.fpregs, fpu_image_bytes(uc));
            spanvm::platform::native::merge_lite(*c, c->xsave);
            c->fpu_live = 0;
        }
        if (sig == spanvm::platform::Platform::kick_signal()) return spanvm::platform::native::kEnterAborted;
        c->exit_code = -1000;
        return sig;
    }
    spanvm::platform::Regs& r = c->regs;
    r.r8 = static_cast<uint64_t>(g[REG_R8]), r.r9 = static_cast<uint64_t>(g[REG_R9]);
    r.r10 = static_cast<uint64_t>(g[REG_R10]), r.r11 = static_cast<uint64_t>(g[REG_R11]);
    r.r12 = static_cast<uint64_t>(g[REG_R12]), r.r13 = static_cast<uint64_t>(g[REG_R13]);
    r.r14 = static_cast<uint64_t>(g[REG_R14]), r.r15 = static_cast<uint64_t>(g[REG_R15]);
    r.rdi = static_cast<uint64_t>(g[REG_RDI]), r.rsi = static_cast<uint64_t>(g[REG_RSI]);
    r.rbp = static_cast<uint64_t>(g[REG_RBP]), r.rbx = static_cast<uint64_t>(g[REG_RBX]);
    r.rdx = static_cast<uint64_t>(g[REG_RDX]), r.rax = static_cast<uint64_t>(g[REG_RAX]);
    r.rcx = static_cast<uint64_t>(g[REG_RCX]), r.rsp = static_cast<uint64_t>(g[REG_RSP]);
    r.rip = rip, r.rflags = static_cast<uint64_t>(g[REG_EFL]);
    if (uc->uc_mcontext.fpregs) std::memcpy(c->xsave, uc->uc_mcontext.fpregs, fpu_image_bytes(uc));
    c->fpu_live = 0;  // the guest ran: the kernel's frame has all of its FPU state
    c->exit_addr = reinterpret_cast<uint64_t>(si->si_addr);
    c->exit_trapno = static_cast<uint64_t>(g[REG_TRAPNO]);
    c->exit_err = static_cast<uint64_t>(g[REG_ERR]);
    c->exit_cr2 = static_cast<uint64_t>(g[REG_CR2]);
    if (sig == spanvm::platform::Platform::kick_signal()) c->kick_pending = 0;
    return sig;
}

// Signals that reach VMM code (in_guest == 0, so the FS base is the host's).
extern "C" void spanvm_native_on_host_signal(int sig, siginfo_t* si, void* uc) {
    using namespace spanvm::platform::native;
    if (sig == spanvm::platform::Platform::kick_signal()) {
        if (tl_ctx) tl_ctx->kick_pending = 1;  // the next entry returns `interrupted`
        spanvm::platform::on_host_kick(uc);    // and a blocking host call about to start does not
        return;
    }
    if ((sig == SIGSEGV || sig == SIGBUS) && g_host_fault) {
        g_host_fault(sig, si, uc);
        return;
    }
    static const char msg[] = "spanvm: internal error: unexpected host signal in VMM code\n";
    (void)!::write(2, msg, sizeof msg - 1);
    ::signal(sig, SIG_DFL);
    ::raise(sig);
}
