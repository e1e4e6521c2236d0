#include "vmm/platform/native/native_platform.hpp"

#include <asm/hwcap2.h>
#include <cpuid.h>
#include <signal.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <ucontext.h>

#include <cstdlib>
#include <cstring>
#include <string_view>

#include "vmm/base/log.hpp"
#include "vmm/memory/layout.hpp"
#include "vmm/platform/native/native_vcpu.hpp"

namespace spanvm::platform::native {

namespace {

constexpr size_t kSwBytesOffset = 464;  // fpx_sw_bytes in the FXSAVE area
constexpr uint32_t kFpXstateMagic1 = 0x46505853;

// The kernel's own signal-frame FPU image, captured once from a real signal:
// its size and XSAVE feature set are exactly what rt_sigreturn accepts.
std::vector<uint8_t> g_captured;

void capture_handler(int, siginfo_t*, void* ucv) {
    auto* uc = static_cast<ucontext_t*>(ucv);
    const auto* fp = reinterpret_cast<const uint8_t*>(uc->uc_mcontext.fpregs);
    if (!fp) return;
    uint32_t sw[2];
    std::memcpy(sw, fp + kSwBytesOffset, sizeof sw);
    const uint32_t n = sw[0] == kFpXstateMagic1 ? sw[1] : 512;
    if (n <= kXsaveBytes) g_captured.assign(fp, fp + n);
}

}  // namespace

Result<std::unique_ptr<NativePlatform>> NativePlatform::create(uint64_t ram_size) {
    auto mem = memory::GuestMemory::create_at_guest_address(ram_size, PROT_READ | PROT_WRITE | PROT_EXEC);
    if (!mem) return mem.error();
    // The system area is KVM's (GDT, IDT, shim); nothing of the guest's here.
    ::mprotect(reinterpret_cast<void*>(memory::layout::kNullGuardEnd), memory::layout::kUserBase - memory::layout::kNullGuardEnd, PROT_NONE);
    std::unique_ptr<NativePlatform> p(new NativePlatform(std::move(*mem)));
    if (auto r = p->capture_fpu_template(); !r) return r.error();
    p->wrfsbase_ = use_wrfsbase();
    if (SitePatcher::wanted())
        if (auto r = p->patcher_.init(p->guest_end(), reinterpret_cast<uint64_t>(&spanvm_native_syscall_entry)); !r)
            log::warn("syscall sites stay trapped (no patching): {}", r.error().message);
    return p;
}

bool NativePlatform::passthrough_wanted() {
    static const bool wanted = [] {
        const char* v = std::getenv("SPANVM_NATIVE_PASSTHROUGH");
        return !(v && std::string_view(v) == "off");
    }();
    return wanted;
}

bool NativePlatform::use_wrfsbase() {
    if (const char* fs = std::getenv("SPANVM_NATIVE_FS"); fs && std::string_view(fs) == "arch_prctl") return false;
    if (!(::getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE)) return false;
    // Every signal blocked: the FS base is not this thread's TLS meanwhile.
    sigset_t all, old;
    sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &old);
    static const uint64_t probe_target = 0;
    const int ok = spanvm_native_fsgsbase_selftest(reinterpret_cast<uint64_t>(&probe_target));
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    return ok == 1;
}

int NativePlatform::host_prot() const { return PROT_READ | PROT_WRITE | PROT_EXEC; }

Result<void> NativePlatform::capture_fpu_template() {
    // SIGUSR2 is free at start-up (no handler yet); raise it synchronously.
    struct sigaction sa {}, old {};
    sa.sa_sigaction = capture_handler;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    if (::sigaction(SIGUSR2, &sa, &old) != 0) return errno_error("sigaction(SIGUSR2)");
    g_captured.clear();
    ::raise(SIGUSR2);
    ::sigaction(SIGUSR2, &old, nullptr);
    if (g_captured.size() < 512) return make_error(ENOTSUP, "could not read the kernel's signal-frame FPU image");
    init_fpu_ = g_captured;
    fpstate_bytes_ = static_cast<uint32_t>(init_fpu_.size());
    uint32_t magic1 = 0;
    std::memcpy(&magic1, init_fpu_.data() + kSwBytesOffset, 4);
    const bool xsave = magic1 == kFpXstateMagic1;
    // The initial state a new thread gets: x87 control word 0x37f, MXCSR
    // 0x1f80, every register zero, and with XSAVE every component in its
    // init state (XSTATE_BV = 0).
    std::memset(init_fpu_.data(), 0, 24);
    const uint16_t fcw = 0x37f;
    std::memcpy(init_fpu_.data(), &fcw, 2);
    const uint32_t mxcsr = 0x1f80;
    std::memcpy(init_fpu_.data() + 24, &mxcsr, 4);
    std::memset(init_fpu_.data() + 32, 0, 8 * 16 + 16 * 16);
    if (xsave) {
        std::memset(init_fpu_.data() + 512, 0, 64);  // XSAVE header
        uint64_t xfeatures = 0;
        std::memcpy(&xfeatures, init_fpu_.data() + kSwBytesOffset + 8, 8);
        cpu_.xcr0 = xfeatures;
        std::memcpy(&cpu_.xstate_size, init_fpu_.data() + kSwBytesOffset + 16, 4);  // fpx_sw_bytes.xstate_size
    } else {
        cpu_.xcr0 = 0;
        cpu_.xstate_size = 512;
    }
    unsigned a, b, c, d;
    if (__get_cpuid(1, &a, &b, &c, &d)) cpu_.hwcap = d;
    return {};
}

Result<std::unique_ptr<Vcpu>> NativePlatform::create_vcpu(unsigned long id) {
    return std::unique_ptr<Vcpu>(new NativeVcpu(*this, id));
}

void NativePlatform::install_signal_handlers(HostFaultHandler on_host_fault) {
    set_host_fault_handler(on_host_fault);
    struct sigaction sa {};
    sa.sa_sigaction = reinterpret_cast<void (*)(int, siginfo_t*, void*)>(spanvm_native_signal_entry);
    // SA_NODEFER: the entry leaves the handler without sigreturn, so nothing
    // may stay blocked. No SA_RESTART: a kicked blocking host call returns
    // EINTR. SA_ONSTACK: the guest's stack is never touched.
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGSYS, SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, Platform::kick_signal()})
        ::sigaction(sig, &sa, nullptr);
    ::signal(SIGPIPE, SIG_IGN);
}

}  // namespace spanvm::platform::native
