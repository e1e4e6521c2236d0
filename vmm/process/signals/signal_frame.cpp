#include "vmm/process/signals/signal_frame.hpp"

#include <cerrno>
#include <cstring>

namespace spanvm::process {

namespace {

using namespace sigframe;

template <typename T>
void put(std::vector<uint8_t>& b, uint64_t off, T v) {
    std::memcpy(b.data() + off, &v, sizeof v);
}
template <typename T>
T get(std::span<const uint8_t> b, uint64_t off) {
    T v;
    std::memcpy(&v, b.data() + off, sizeof v);
    return v;
}

constexpr uint64_t kEflagsCF = 1u << 0, kEflagsPF = 1u << 2, kEflagsAF = 1u << 4, kEflagsZF = 1u << 6,
                   kEflagsSF = 1u << 7, kEflagsTF = 1u << 8, kEflagsDF = 1u << 10, kEflagsOF = 1u << 11,
                   kEflagsRF = 1u << 16, kEflagsAC = 1u << 18;
// The flags sigreturn takes from the frame (kernel FIX_EFLAGS).
constexpr uint64_t kFixEflags =
    kEflagsAC | kEflagsOF | kEflagsDF | kEflagsTF | kEflagsSF | kEflagsZF | kEflagsAF | kEflagsPF | kEflagsCF | kEflagsRF;
constexpr uint64_t kSaOnstack = 0x08000000;
constexpr int32_t kSsOnstack = 1, kSsDisable = 2;

bool on_altstack(const AltStack& s, uint64_t sp) { return sp > s.sp && sp - s.sp <= s.size; }

}  // namespace

std::array<uint8_t, kSiginfoSize> encode_siginfo(int sig, const SigInfoFields& info) {
    std::array<uint8_t, kSiginfoSize> b{};
    auto at = [&b](uint64_t off, auto v) { std::memcpy(b.data() + off, &v, sizeof v); };
    at(0, static_cast<int32_t>(sig));
    at(8, info.code);
    if (info.timer) {
        at(16, info.timer_id);  // si_timerid
        at(20, info.overrun);   // si_overrun
        at(24, info.value);     // si_value
    } else if (info.sys) {
        at(4, info.sys_errno);
        at(16, info.addr);     // si_call_addr
        at(24, info.syscall);  // si_syscall
        at(28, info.arch);     // si_arch
    } else if (info.fault) {
        at(16, info.addr);  // si_addr (the union's first member)
    } else if (info.child) {
        at(16, info.pid);
        at(20, info.uid);
        at(24, info.status);  // si_status
        at(32, info.utime);   // si_utime
        at(40, info.stime);   // si_stime
    } else {
        at(16, info.pid);
        at(20, info.uid);
        at(24, info.value);  // si_value of a sigqueue (_rt); 0 for kill
    }
    return b;
}

std::array<uint8_t, kSignalfdSiginfoSize> encode_signalfd_siginfo(int sig, const SigInfoFields& info) {
    std::array<uint8_t, kSignalfdSiginfoSize> b{};
    auto at = [&b](uint64_t off, auto v) { std::memcpy(b.data() + off, &v, sizeof v); };
    at(0, static_cast<uint32_t>(sig));
    at(8, info.code);
    if (info.timer) {
        at(24, static_cast<uint32_t>(info.timer_id));  // ssi_tid
        at(32, static_cast<uint32_t>(info.overrun));   // ssi_overrun
        at(44, static_cast<int32_t>(info.value));      // ssi_int
        at(48, info.value);                            // ssi_ptr
    } else if (info.sys) {
        at(4, info.sys_errno);
        at(84, info.syscall);  // ssi_syscall
        at(88, info.addr);     // ssi_call_addr
        at(96, info.arch);     // ssi_arch
    } else if (info.fault) {
        at(72, info.addr);  // ssi_addr
    } else if (info.child) {
        at(12, static_cast<uint32_t>(info.pid));
        at(16, info.uid);
        at(40, info.status);                       // ssi_status
        at(56, static_cast<uint64_t>(info.utime));  // ssi_utime
        at(64, static_cast<uint64_t>(info.stime));  // ssi_stime
    } else {
        at(12, static_cast<uint32_t>(info.pid));
        at(16, info.uid);
        at(44, static_cast<int32_t>(info.value));  // ssi_int
        at(48, info.value);                        // ssi_ptr
    }
    return b;
}

int64_t checked_altstack(const AltStack& want, AltStack& out) {
    const int32_t mode = want.flags & ~kSsAutodisarm;
    if (mode != 0 && mode != kSsDisable && mode != kSsOnstack) return -EINVAL;
    if (mode == kSsDisable) {
        out = AltStack{};
        return 0;
    }
    if (want.size < sigframe::kMinSigStackSize) return -ENOMEM;
    out = AltStack{want.sp, want.size, want.flags & kSsAutodisarm};
    return 0;
}

std::optional<FrameImage> build_signal_frame(const FrameInput& in) {
    const uint64_t xsize = in.xsave.size();
    uint64_t sp = in.regs.rsp;
    const bool alt_usable = !(in.altstack.flags & kSsDisable) && in.altstack.size != 0;
    const bool on_alt = alt_usable && on_altstack(in.altstack, sp);
    const bool to_alt = (in.flags & kSaOnstack) && alt_usable && !on_alt;
    if (to_alt)
        sp = in.altstack.sp + in.altstack.size;
    else if (sp < kRedZone)
        return std::nullopt;
    else
        sp -= kRedZone;
    // A 512-byte image is the FXSAVE format (no XSAVE): no magic words.
    const bool xstate = xsize > 512;
    const uint64_t math = xstate ? xsize + 4 : xsize;
    if (sp < math + kFrameSize + 64) return std::nullopt;
    const uint64_t fp = (sp - math) & ~uint64_t{63};
    const uint64_t frame = ((fp - kFrameSize) & ~uint64_t{15}) - 8;
    // On the alternate stack the whole frame must lie on it.
    if ((to_alt || on_alt) && !on_altstack(in.altstack, frame)) return std::nullopt;

    FrameImage img;
    img.base = frame;
    img.bytes.assign(fp + math - frame, 0);
    put<uint64_t>(img.bytes, 0, in.restorer);  // pretcode
    const uint64_t uc = kUcontextOffset;
    put<uint64_t>(img.bytes, uc + 0, (xstate ? kUcFpXstate : 0) | kUcSigcontextSs | kUcStrictRestoreSs);
    put<uint64_t>(img.bytes, uc + 8, 0);  // uc_link
    put<uint64_t>(img.bytes, uc + 16, in.altstack.sp);
    put<int32_t>(img.bytes, uc + 24,
                 (alt_usable ? (on_alt ? kSsOnstack : 0) : kSsDisable) | (in.altstack.flags & kSsAutodisarm));
    put<uint64_t>(img.bytes, uc + 32, in.altstack.size);
    const uint64_t mc = uc + kMcontextOffset;
    std::memcpy(img.bytes.data() + mc, &in.regs, sizeof in.regs);
    put<uint16_t>(img.bytes, mc + 144, kUserCs);
    put<uint16_t>(img.bytes, mc + 150, kUserSs);
    // err, trapno, cr2 stay 0 (not a fault); oldmask is the old mask's low word.
    put<uint64_t>(img.bytes, mc + 168, in.saved_mask);
    put<uint64_t>(img.bytes, mc + kFpstatePtrOffset, xsize ? fp : 0);
    put<uint64_t>(img.bytes, uc + kSigmaskOffset, in.saved_mask);
    const auto si = encode_siginfo(in.sig, in.info);
    std::memcpy(img.bytes.data() + kSiginfoOffset, si.data(), si.size());
    if (xsize) {
        const uint64_t f = fp - frame;
        std::memcpy(img.bytes.data() + f, in.xsave.data(), xsize);
        if (xstate) {
            put<uint32_t>(img.bytes, f + kSwBytesOffset, kFpXstateMagic1);
            put<uint32_t>(img.bytes, f + kSwBytesOffset + 4, static_cast<uint32_t>(xsize + 4));
            put<uint64_t>(img.bytes, f + kSwBytesOffset + 8, in.xfeatures);
            put<uint32_t>(img.bytes, f + kSwBytesOffset + 16, static_cast<uint32_t>(xsize));
            std::memset(img.bytes.data() + f + kSwBytesOffset + 20, 0, 28);
            put<uint32_t>(img.bytes, f + xsize, kFpXstateMagic2);
        }
    }
    img.entry = in.regs;
    img.entry.rip = in.handler;
    img.entry.rsp = frame;
    img.entry.rdi = static_cast<uint64_t>(in.sig);
    img.entry.rsi = frame + kSiginfoOffset;
    img.entry.rdx = frame + kUcontextOffset;
    img.entry.rax = 0;
    img.entry.eflags = in.regs.eflags & ~(kEflagsDF | kEflagsRF | kEflagsTF);
    return img;
}

std::optional<SigreturnState> parse_ucontext(std::span<const uint8_t> uc, uint64_t cur_eflags) {
    if (uc.size() < kUcontextSize) return std::nullopt;
    SigreturnState s;
    s.uc_flags = get<uint64_t>(uc, 0);
    s.uc_stack.sp = get<uint64_t>(uc, 16);
    s.uc_stack.flags = get<int32_t>(uc, 24);
    s.uc_stack.size = get<uint64_t>(uc, 32);
    std::memcpy(&s.regs, uc.data() + kMcontextOffset, sizeof s.regs);
    s.regs.eflags = (cur_eflags & ~kFixEflags) | (s.regs.eflags & kFixEflags);
    s.fpstate = get<uint64_t>(uc, kMcontextOffset + kFpstatePtrOffset);
    s.mask = get<uint64_t>(uc, kSigmaskOffset);
    return s;
}

bool fpstate_has_magic(std::span<const uint8_t> fx512, uint32_t xstate_size) {
    if (fx512.size() < 512) return false;
    return get<uint32_t>(fx512, kSwBytesOffset) == kFpXstateMagic1 &&
           get<uint32_t>(fx512, kSwBytesOffset + 16) == xstate_size;
}

}  // namespace spanvm::process
