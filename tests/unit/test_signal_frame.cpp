#include <doctest/doctest.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <vector>

#include "vmm/process/signals/signal_frame.hpp"

using namespace spanvm::process;

namespace {
template <typename T>
T at(const std::vector<uint8_t>& b, uint64_t off) {
    T v;
    std::memcpy(&v, b.data() + off, sizeof v);
    return v;
}
FrameInput sample(std::vector<uint8_t>& xsave) {
    FrameInput in;
    in.regs = SigRegs{8, 9, 10, 11, 12, 13, 14, 15, 0xd1, 0x51, 0xb9, 0xb8, 0xd8, 0xa8, 0xc8, 0x7fff1003, 0x401000,
                      0x246 | (1u << 10)};
    in.saved_mask = 0x1234;
    in.sig = SIGUSR1;
    in.info = {-6, 42, 1000};
    in.handler = 0x402000;
    in.flags = 0x04000000 | 4;  // SA_RESTORER | SA_SIGINFO
    in.restorer = 0x403000;
    xsave.assign(2432, 0xAB);
    in.xsave = xsave;
    in.xfeatures = 0xe7;
    return in;
}
}  // namespace

SCENARIO("the rt_sigframe is laid out as the x86-64 kernel lays it out") {
    GIVEN("a thread interrupted at an odd RSP with a 2432-byte XSAVE image") {
        std::vector<uint8_t> xs;
        FrameInput in = sample(xs);
        auto img = build_signal_frame(in);
        REQUIRE(img);
        const uint64_t frame = img->base;
        THEN("the frame sits below the red zone, and RSP at entry is 8 mod 16") {
            CHECK(frame + img->bytes.size() <= in.regs.rsp - sigframe::kRedZone);
            CHECK(frame % 16 == 8);
        }
        THEN("the handler gets sig, &siginfo, &ucontext and RAX = 0, with DF cleared") {
            CHECK(img->entry.rip == in.handler);
            CHECK(img->entry.rsp == frame);
            CHECK(img->entry.rdi == static_cast<uint64_t>(SIGUSR1));
            CHECK(img->entry.rsi == frame + 312);
            CHECK(img->entry.rdx == frame + 8);
            CHECK(img->entry.rax == 0);
            CHECK((img->entry.eflags & (1u << 10)) == 0);
            CHECK(img->entry.r12 == 12);
        }
        THEN("pretcode, siginfo and the sigcontext registers are where glibc looks") {
            const auto& b = img->bytes;
            CHECK(at<uint64_t>(b, 0) == in.restorer);
            CHECK(at<int32_t>(b, 312) == SIGUSR1);
            CHECK(at<int32_t>(b, 312 + 8) == -6);
            CHECK(at<int32_t>(b, 312 + 16) == 42);
            CHECK(at<uint32_t>(b, 312 + 20) == 1000u);
            const uint64_t mc = 8 + 40;
            CHECK(at<uint64_t>(b, mc + 0) == 8);           // r8
            CHECK(at<uint64_t>(b, mc + 15 * 8) == in.regs.rsp);
            CHECK(at<uint64_t>(b, mc + 16 * 8) == in.regs.rip);
            CHECK(at<uint16_t>(b, mc + 144) == 0x33);      // cs
            CHECK(at<uint16_t>(b, mc + 150) == 0x2b);      // ss
            CHECK(at<uint64_t>(b, 8 + 296) == 0x1234u);    // uc_sigmask
            CHECK(at<int32_t>(b, 8 + 24) == 2);            // uc_stack.ss_flags = SS_DISABLE
        }
        THEN("the fpstate is 64-byte aligned and carries both magic words") {
            const uint64_t fp = at<uint64_t>(img->bytes, 8 + 40 + 184);
            CHECK(fp % 64 == 0);
            CHECK(fp > frame);
            const uint64_t off = fp - frame;
            CHECK(at<uint32_t>(img->bytes, off + 464) == sigframe::kFpXstateMagic1);
            CHECK(at<uint32_t>(img->bytes, off + 468) == 2432u + 4);
            CHECK(at<uint64_t>(img->bytes, off + 472) == 0xe7u);
            CHECK(at<uint32_t>(img->bytes, off + 2432) == sigframe::kFpXstateMagic2);
            CHECK(img->bytes[off] == 0xAB);
            CHECK(fpstate_has_magic(std::span<const uint8_t>(img->bytes.data() + off, 512), 2432));
            CHECK(at<uint64_t>(img->bytes, 8) == (sigframe::kUcFpXstate | sigframe::kUcSigcontextSs |
                                                  sigframe::kUcStrictRestoreSs));
        }
        WHEN("rt_sigreturn parses the ucontext back") {
            std::vector<uint8_t> uc(img->bytes.begin() + 8, img->bytes.begin() + 8 + sigframe::kUcontextSize);
            auto st = parse_ucontext(uc, 0x202);
            REQUIRE(st);
            THEN("registers, mask and flags come back; only FIX_EFLAGS bits come from the frame") {
                CHECK(std::memcmp(&st->regs, &in.regs, 16 * 8 + 8) == 0);
                CHECK(st->mask == 0x1234u);
                CHECK(st->regs.eflags == (0x202 | 0x44 | (1u << 10)));
                CHECK(st->fpstate == at<uint64_t>(img->bytes, 8 + 40 + 184));
            }
        }
    }
    GIVEN("an SA_ONSTACK handler and an alternate stack") {
        std::vector<uint8_t> xs;
        FrameInput in = sample(xs);
        in.flags |= 0x08000000;
        in.altstack = AltStack{0x600000, 0x10000, 0};
        auto img = build_signal_frame(in);
        REQUIRE(img);
        THEN("the frame is on the alternate stack and uc_stack records it") {
            CHECK(img->base > 0x600000);
            CHECK(img->base + img->bytes.size() <= 0x610000);
            CHECK(at<uint64_t>(img->bytes, 8 + 16) == 0x600000u);
            CHECK(at<int32_t>(img->bytes, 8 + 24) == 0);
        }
    }
    GIVEN("an alternate stack of exactly max_frame_size() bytes (AT_MINSIGSTKSZ)") {
        for (uint64_t xsize : {512u, 832u, 2432u, 2696u}) {
            std::vector<uint8_t> xs;
            FrameInput in = sample(xs);
            xs.assign(xsize, 0xAB);
            in.xsave = xs;
            in.flags |= 0x08000000;
            const uint64_t size = sigframe::max_frame_size(xsize);
            CAPTURE(xsize);
            THEN("the frame fits on it at every alignment of the stack's top") {
                for (uint64_t misalign = 0; misalign < 64; ++misalign) {
                    in.altstack = AltStack{0x600000 + misalign, size, 0};
                    auto img = build_signal_frame(in);
                    CAPTURE(misalign);
                    REQUIRE(img);
                    CHECK(img->base > in.altstack.sp);
                    CHECK(img->base + img->bytes.size() <= in.altstack.sp + size);
                }
            }
            THEN("16 bytes less does not fit at some alignment, so the bound is tight") {
                bool refused = false;
                for (uint64_t misalign = 0; misalign < 64; ++misalign) {
                    in.altstack = AltStack{0x600000 + misalign, size - 16, 0};
                    refused = refused || !build_signal_frame(in);
                }
                CHECK(refused);
            }
        }
    }
    GIVEN("an alternate stack too small for the frame") {
        std::vector<uint8_t> xs;
        FrameInput in = sample(xs);
        in.flags |= 0x08000000;
        in.altstack = AltStack{0x600000, sigframe::kMinSigStackSize, 0};
        THEN("no frame is built (Linux forces SIGSEGV), rather than one below the stack") {
            CHECK_FALSE(build_signal_frame(in));
        }
    }
    GIVEN("an FXSAVE-only image (512 bytes)") {
        std::vector<uint8_t> xs;
        FrameInput in = sample(xs);
        FxsaveFields f{};
        f.fcw = 0x37f;
        f.mxcsr = 0x1f80;
        f.xmm[8][0] = 0x42;
        xs = fxsave_image(f);
        in.xsave = xs;
        auto img = build_signal_frame(in);
        REQUIRE(img);
        THEN("no magic words and no UC_FP_XSTATE; the image round-trips") {
            CHECK((at<uint64_t>(img->bytes, 8) & sigframe::kUcFpXstate) == 0);
            const uint64_t off = at<uint64_t>(img->bytes, 8 + 40 + 184) - img->base;
            CHECK(at<uint32_t>(img->bytes, off + 464) != sigframe::kFpXstateMagic1);
            auto back = parse_fxsave(std::span<const uint8_t>(img->bytes.data() + off, 512));
            CHECK(back.fcw == 0x37f);
            CHECK(back.mxcsr == 0x1f80u);
            CHECK(back.xmm[8][0] == 0x42);
        }
    }
    GIVEN("a stack pointer too low for a frame") {
        std::vector<uint8_t> xs;
        FrameInput in = sample(xs);
        in.regs.rsp = 0x100;
        THEN("no frame is built") { CHECK_FALSE(build_signal_frame(in)); }
    }
}

TEST_CASE("checked_altstack: sigaltstack's modes, SS_AUTODISARM kept, Linux's size floor") {
    using spanvm::process::AltStack;
    using spanvm::process::checked_altstack;
    using spanvm::process::kSsAutodisarm;
    AltStack out{1, 1, 0};
    CHECK(checked_altstack(AltStack{0x1000, 8192, SS_DISABLE}, out) == 0);
    CHECK((out.flags & SS_DISABLE) != 0);
    CHECK(checked_altstack(AltStack{0x1000, 8192, SS_ONSTACK | kSsAutodisarm}, out) == 0);
    CHECK((out.sp == 0x1000 && out.size == 8192 && out.flags == kSsAutodisarm));
    CHECK(checked_altstack(AltStack{0x1000, 8192, 0}, out) == 0);
    CHECK(out.flags == 0);
    CHECK(checked_altstack(AltStack{0x1000, 1024, 0}, out) == -ENOMEM);
    CHECK(checked_altstack(AltStack{0x1000, 8192, 4}, out) == -EINVAL);
}
