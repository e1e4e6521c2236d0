#pragma once
// The x86-64 Linux signal frame (struct rt_sigframe), built and parsed as
// pure logic: arch/x86/kernel/signal_64.c, asm/sigframe.h and the uapi
// sigcontext.h / ucontext.h / siginfo.h layouts.
//
// Frame placement follows the kernel's get_sigframe():
//   sp = rsp - 128 (red zone), or the top of the alternate stack for an
//   SA_ONSTACK handler when one is set and not already in use;
//   fpstate = round_down(sp - (xstate_size + 4), 64)  (+4: FP_XSTATE_MAGIC2);
//   frame   = round_down(fpstate - sizeof(rt_sigframe), 16) - 8,
// so RSP at handler entry is 8 mod 16, as after a call.
// The fpstate is the XSAVE image (standard format) with the kernel's
// software-reserved bytes (_fpx_sw_bytes, FP_XSTATE_MAGIC1) at offset 464 and
// FP_XSTATE_MAGIC2 right after the image, so glibc/libgcc and debuggers see
// what they see under Linux. A 512-byte image is taken as the FXSAVE
// format (a CPU without XSAVE): no magic words, no UC_FP_XSTATE.
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "vmm/arch/x86/fxsave.hpp"

namespace spanvm::process {

// The general registers in struct sigcontext order (r8 ... rip, eflags).
struct SigRegs {
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
    uint64_t rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags;
};
static_assert(sizeof(SigRegs) == 18 * 8);

// What a pending signal carries into siginfo (kill/tkill/kernel senders).
struct SigInfoFields {
    int32_t code = 0;   // SI_USER, SI_TKILL, SI_KERNEL, or a fault's code (SEGV_MAPERR, ...)
    int32_t pid = 0;
    uint32_t uid = 0;
    bool fault = false;  // a CPU exception: siginfo carries si_addr instead of pid/uid
    uint64_t addr = 0;   // si_addr of a fault; si_call_addr of a seccomp SIGSYS
    // A seccomp SECCOMP_RET_TRAP (code SYS_SECCOMP): siginfo's _sigsys.
    bool sys = false;
    int32_t sys_errno = 0;  // si_errno: the filter's SECCOMP_RET_DATA
    int32_t syscall = 0;    // si_syscall
    uint32_t arch = 0;      // si_arch (AUDIT_ARCH_X86_64)
    // A POSIX timer's expiry (code SI_TIMER): siginfo's _timer.
    bool timer = false;
    int32_t timer_id = 0;   // si_timerid
    int32_t overrun = 0;    // si_overrun
    uint64_t value = 0;     // si_value: sigev_value, or a sigqueue's (code SI_QUEUE)
    // A child's state change (SIGCHLD with a CLD_* code): siginfo's
    // _sigchld after si_pid and si_uid.
    bool child = false;
    int32_t status = 0;   // si_status: the exit code, or the signal
    int64_t utime = 0;    // si_utime, si_stime: the child's CPU time in clock ticks
    int64_t stime = 0;
};

// The siginfo_t Linux gives for `sig` with `info` (128 bytes: si_signo,
// si_errno, si_code, then si_addr for a fault, else si_pid and si_uid), as
// a handler's frame and rt_sigtimedwait(2) write it.
inline constexpr uint64_t kSiginfoSize = 128;
std::array<uint8_t, kSiginfoSize> encode_siginfo(int sig, const SigInfoFields& info);
// The struct signalfd_siginfo a signalfd read gives for the same signal
// (128 bytes: ssi_signo, ssi_errno, ssi_code, ssi_pid, ssi_uid, ...,
// ssi_addr at 72 for a fault).
inline constexpr uint64_t kSignalfdSiginfoSize = 128;
std::array<uint8_t, kSignalfdSiginfoSize> encode_signalfd_siginfo(int sig, const SigInfoFields& info);

struct AltStack {
    uint64_t sp = 0;
    uint64_t size = 0;
    int32_t flags = 2;  // SS_DISABLE, or 0; either with SS_AUTODISARM
};
// sigaltstack's SS_AUTODISARM (<linux/signal.h>): the alternate stack is
// disabled while a handler runs on it, and rt_sigreturn restores it.
inline constexpr int32_t kSsAutodisarm = static_cast<int32_t>(1u << 31);

namespace sigframe {
inline constexpr uint64_t kRedZone = 128;
inline constexpr uint64_t kFrameSize = 440;  // sizeof(struct rt_sigframe)
inline constexpr uint64_t kUcontextOffset = 8;
inline constexpr uint64_t kSiginfoOffset = 312;
inline constexpr uint64_t kUcontextSize = 304;
inline constexpr uint64_t kMcontextOffset = 40;   // in ucontext
inline constexpr uint64_t kSigmaskOffset = 296;   // in ucontext
inline constexpr uint64_t kFpstatePtrOffset = 184;  // in sigcontext
inline constexpr uint64_t kSwBytesOffset = 464;     // in the fpstate
inline constexpr uint32_t kFpXstateMagic1 = 0x46505853;
inline constexpr uint32_t kFpXstateMagic2 = 0x46505845;
inline constexpr uint64_t kUcFpXstate = 0x1, kUcSigcontextSs = 0x2, kUcStrictRestoreSs = 0x4;
inline constexpr uint16_t kUserCs = 0x33, kUserSs = 0x2b;
// MINSIGSTKSZ of the kernel's uapi <asm/signal.h>: sigaltstack refuses a
// smaller stack with ENOMEM. (glibc's MINSIGSTKSZ macro under _GNU_SOURCE is
// sysconf(_SC_SIGSTKSZ) of the host, which is not the guest's rule.)
inline constexpr uint64_t kMinSigStackSize = 2048;

// The most bytes build_signal_frame() takes below the top of an alternate
// stack, whatever the top's alignment, for an FPU image of `xstate_size`
// bytes: the fpstate (+4 for FP_XSTATE_MAGIC2 when XSAVE) rounded down to 64
// (up to 63 bytes of padding); below that 64-aligned fpstate the frame starts
// round_up(kFrameSize, 16) + 8 bytes lower; +1 because the frame must lie
// strictly above ss_sp (on_sig_stack). Rounded up to 16, as Linux's
// init_sigframe_size() does. This is what AT_MINSIGSTKSZ reports.
constexpr uint64_t max_frame_size(uint64_t xstate_size) {
    const uint64_t math = xstate_size > 512 ? xstate_size + 4 : xstate_size;
    const uint64_t bytes = math + 63 + ((kFrameSize + 15) & ~uint64_t{15}) + 8 + 1;
    return (bytes + 15) & ~uint64_t{15};
}
}  // namespace sigframe

// sigaltstack's checks of a new alternate stack, also applied to a frame's
// uc_stack at rt_sigreturn: the mode (0, SS_ONSTACK or SS_DISABLE, with
// SS_AUTODISARM kept) and Linux's size floor (the uapi MINSIGSTKSZ, not
// AT_MINSIGSTKSZ: a stack the frame does not fit on is accepted, and
// delivery on it fails with SIGSEGV, build_signal_frame). 0 and `out` set,
// or -EINVAL / -ENOMEM.
int64_t checked_altstack(const AltStack& want, AltStack& out);

struct FrameInput {
    SigRegs regs{};               // the interrupted user state (what sigreturn restores)
    uint64_t saved_mask = 0;      // uc_sigmask
    int sig = 0;
    SigInfoFields info{};
    uint64_t handler = 0;
    uint64_t flags = 0;           // sa_flags
    uint64_t restorer = 0;        // sa_restorer (the return address)
    AltStack altstack{};
    std::span<const uint8_t> xsave;  // the XSAVE image, exactly xstate_size bytes
    uint64_t xfeatures = 0;          // XCR0
};

struct FrameImage {
    uint64_t base = 0;           // guest address of bytes[0] == the new RSP
    std::vector<uint8_t> bytes;  // frame + fpstate, to copy to the guest
    SigRegs entry{};             // registers at handler entry
};

// Fails (nullopt) when the frame would wrap below address 0, or when it is
// placed on the alternate stack and does not fit there (Linux's
// get_sigframe(): the caller then forces SIGSEGV).
std::optional<FrameImage> build_signal_frame(const FrameInput& in);

struct SigreturnState {
    SigRegs regs{};
    uint64_t mask = 0;
    uint64_t fpstate = 0;      // guest address of the XSAVE image, 0 = none
    uint64_t uc_flags = 0;
    AltStack uc_stack{};
};

// Parses the ucontext that starts at `uc` (kUcontextSize bytes: the guest
// RSP at rt_sigreturn entry points at it). `cur_eflags` supplies the bits a
// signal handler may not change (kernel FIX_EFLAGS).
std::optional<SigreturnState> parse_ucontext(std::span<const uint8_t> uc, uint64_t cur_eflags);

// True when the fpstate's software bytes carry FP_XSTATE_MAGIC1 and the
// given size; sigreturn then restores `xstate_size` bytes of XSAVE image.
bool fpstate_has_magic(std::span<const uint8_t> fx512, uint32_t xstate_size);

// The FXSAVE image codec lives in vmm/arch/x86/fxsave.hpp.
using arch::x86::FxsaveFields;
using arch::x86::fxsave_image;
using arch::x86::parse_fxsave;

}  // namespace spanvm::process
