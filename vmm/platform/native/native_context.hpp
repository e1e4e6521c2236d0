#pragma once
// The per-vCPU block shared between the native platform's C++ and its
// assembly (native_switch.S). Offsets are ABI between the two: the
// static_asserts below and the #defines in native_switch.S must agree.
//
// Invariants:
//  * in_guest == 1 from the moment native_enter() commits to entering the
//    guest until a signal handler (or the abort path) takes the thread back.
//    While it is 1 the FS base may be the guest's, so the signal entry
//    switches FS to host_fs before any C++ runs.
//  * The signal entry finds this block through the sigaltstack: the page
//    below uc_stack.ss_sp holds {NativeContext*, kAltStackMagic}.
//  * xsave holds the guest's FPU image in the kernel's signal-frame format
//    (XSAVE standard format, fpx_sw_bytes with FP_XSTATE_MAGIC1, MAGIC2 after
//    the image), 64-byte aligned, as XRSTOR and rt_sigreturn require,
//    unless fpu_live is 1 (below).
//  * fpu_live == 1 ("lite" FPU state, set only by a patched site's direct
//    entry, spanvm_native_syscall_entry, where fpu_lite != 0): the guest's
//    FPU state is split. Its vector registers (XMM0-15, and the upper YMM
//    halves with AVX) and MXCSR are in `lite`; everything else of it (the
//    x87 registers, FCW/FSW/FTW, PKRU) is still live in the CPU of the vCPU
//    thread, and `xsave` is stale. This holds because a patched syscall
//    leaves the guest at a point where Linux preserves every register, and
//    spanvm's own code, from that exit to the next entry, is SysV C/C++ that
//    may clobber only the vector registers and MXCSR status bits: it runs
//    no x87 instruction (no long double on a vCPU thread; the x87 users in
//    the binary are cluster threads), and no wrpkru. XSAVE+XRSTOR cost
//    0.45 us here (AMD EPYC, virtualised), 16 YMM moves and LDMXCSR 0.07 us.
//    Whoever needs the image on the vCPU thread (save_fpu, restore_fpu, a
//    rt_sigreturn entry) first merges it: XSAVE of the live x87 part plus
//    `lite` (NativeVcpu::materialize_fpu). A signal whose handler leaves
//    without sigreturn resets the CPU's FPU, so the signal entry merges
//    from the kernel's frame instead (spanvm_native_on_guest_signal).
//    An exit through a signal (SIGSYS trap, fault, kick) sets fpu_live 0.
//  * passthrough (bit nr, nr < kPassthroughNrLimit): syscalls that a patched
//    site's entry runs itself, from spanvm's text, with the guest's argument
//    registers, FS base and FPU untouched, and returns to the guest without
//    leaving spanvm_native_enter (native_switch.S, "fast path"). Set only by
//    NativeVcpu::set_passthrough_syscalls on the attached thread, cleared by
//    attach_thread/detach_thread; whenever a bit is set, passthrough_count
//    points at a live counter that the fast path increments once per call
//    (`lock incq`, before the call: each call counted exactly once).
#include <cstddef>
#include <cstdint>

#include "vmm/platform/regs.hpp"

namespace spanvm::platform::native {

inline constexpr uint64_t kAltStackSize = 0x40000;           // 256 KiB, the first page holds the header
inline constexpr uint64_t kAltStackMagic = 0x5350414e414c5453;  // "STLANAPS", checked by the signal entry
inline constexpr uint64_t kXsaveBytes = 16384;        // every x86 component, AMX included

// How native_enter() loads the guest state.
enum EnterMode : uint32_t {
    kEnterFast = 0,  // RCX == RIP and R11 == RFLAGS (a syscall return): XRSTOR, POPFQ, JMP
    kEnterFull = 1,  // anything else: rt_sigreturn from the frame in `frame`
};

// exit_code of a syscall that came through a patched site's direct entry
// (spanvm_native_syscall_entry) rather than a SIGSYS (SYS_USER_DISPATCH = 2).
inline constexpr int kPatchedSiteCode = 0x1002;

// exit_code of a patched site's fast path that a kick stopped after the
// pass-through call ran: RAX holds its result, RIP is past the `syscall`;
// not to be run again. run() reports it as `interrupted`.
inline constexpr int kPassthroughDoneCode = 0x1003;

// Syscall numbers below this may be pass-through (the bitmap's bits).
inline constexpr uint64_t kPassthroughNrLimit = 128;

// Return values of native_enter() (the exit cause).
enum EnterResult : int {
    kEnterAborted = -1,  // a kick was pending or landed before the guest ran
    kEntryNested = -2,   // (signal entry only) a signal nested in the entry itself
    // otherwise: the host signal number that took the thread out of the guest
};

struct alignas(64) NativeContext {
    uint64_t host_rsp = 0;       // 0: native_enter's stack after its pushes
    uint64_t host_fs = 0;        // 8
    uint64_t guest_fs = 0;       // 16
    uint32_t in_guest = 0;       // 24
    uint32_t kick_pending = 0;   // 28
    uint64_t frame_uc = 0;       // 32: kEnterFull: address of the ucontext to rt_sigreturn from
    uint64_t tramp_lo = 0;       // 40: [tramp_lo, tramp_hi) = native_enter's code
    uint64_t tramp_hi = 0;       // 48
    uint32_t wrfsbase = 0;       // 56: 1: switch FS with WRFSBASE (FSGSBASE, self-tested), 0: arch_prctl
    uint32_t fpu_lite = 0;       // 60: lite saves at a patched site: 0 off (XSAVEOPT), 1 XMM, 2 YMM
    Regs regs;                   // 64: the guest's registers while it is out of the guest
    // Set by the signal entry for the C++ side.
    int exit_signo = 0;
    int exit_code = 0;
    uint64_t exit_addr = 0;
    uint64_t exit_trapno = 0;
    uint64_t exit_err = 0;
    uint64_t exit_cr2 = 0;
    NativeContext* self = this;  // 248: read through the GS base by spanvm_native_syscall_entry
    alignas(64) uint8_t xsave[kXsaveBytes];
    alignas(64) uint8_t frame[1024];  // kEnterFull: rt_sigframe built by the C++ side
    uint32_t fpu_live = 0;       // 17664: 1: the guest's vector registers and MXCSR are in `lite`
    uint32_t lite_mxcsr = 0;     // 17668
    uint32_t avx_offset = 0;     // 17672: YMM_Hi128 in the XSAVE standard format (CPUID 0xD.2 EBX)
    alignas(64) uint8_t lite[16 * 32];  // 17728: register i at i*32 (XMMi, then with AVX its upper half)
    uint64_t passthrough[2] = {0, 0};    // 18240: pass-through syscalls, bit nr (see above)
    uint64_t* passthrough_count = nullptr;  // 18256: +1 per pass-through call (a std::atomic<uint64_t>)
};

static_assert(offsetof(NativeContext, host_rsp) == 0);
static_assert(offsetof(NativeContext, host_fs) == 8);
static_assert(offsetof(NativeContext, guest_fs) == 16);
static_assert(offsetof(NativeContext, in_guest) == 24);
static_assert(offsetof(NativeContext, kick_pending) == 28);
static_assert(offsetof(NativeContext, frame_uc) == 32);
static_assert(offsetof(NativeContext, wrfsbase) == 56);
static_assert(offsetof(NativeContext, regs) == 64);
static_assert(offsetof(NativeContext, exit_code) == 212);
static_assert(offsetof(NativeContext, self) == 248);
static_assert(offsetof(NativeContext, xsave) == 256);
static_assert(offsetof(NativeContext, fpu_lite) == 60);
static_assert(offsetof(NativeContext, fpu_live) == 17664);
static_assert(offsetof(NativeContext, lite_mxcsr) == 17668);
static_assert(offsetof(NativeContext, lite) == 17728);
static_assert(offsetof(NativeContext, passthrough) == 18240);
static_assert(offsetof(NativeContext, passthrough_count) == 18256);
static_assert(kPassthroughNrLimit == 64 * 2);

}  // namespace spanvm::platform::native

extern "C" {
// Enters the guest on the calling thread and returns when it leaves (see
// EnterResult). Callee-saved registers are preserved as for a normal call.
int spanvm_native_enter(spanvm::platform::native::NativeContext* ctx, uint32_t mode);
// The SA_SIGINFO handler for every signal the native platform takes.
void spanvm_native_signal_entry(int sig, void* info, void* uc);
// Whether a WRFSBASE value survives the thread being switched out: writes
// `probe` to the FS base, sleeps twice (each a context switch), reads it
// back and restores the original. 1 if it survived. Only where AT_HWCAP2
// has HWCAP2_FSGSBASE (else WRFSBASE is #UD), with every signal blocked
// (the FS base is not the thread's TLS meanwhile).
int spanvm_native_fsgsbase_selftest(uint64_t probe);
// XSAVE (standard format, every XCR0 component) of the calling thread's FPU
// state into `image` (64-byte aligned); bytes 464..511 stay as they are.
void spanvm_native_xsave(void* image);
// Labels bounding native_enter's code (for the "kick in the entry window" check).
extern const char spanvm_native_enter_begin[];
extern const char spanvm_native_enter_end[];
extern const char spanvm_native_signal_entry_end[];
// The direct entry of patched syscall sites (site_patcher.hpp); jumped to
// by a stub, never called.
void spanvm_native_syscall_entry();
extern const char spanvm_native_syscall_entry_end[];
// The fast path's commit window [window, window_end) inside the direct
// entry, and where a kick that lands in it sends the thread (native_switch.S).
extern const char spanvm_native_fast_window[];
extern const char spanvm_native_fast_window_end[];
extern const char spanvm_native_fast_abort[];
}
