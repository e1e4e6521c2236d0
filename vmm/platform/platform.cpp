#include "vmm/platform/platform.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "vmm/base/self_pid.hpp"
#include "vmm/platform/kvm/kvm_platform.hpp"
#include "vmm/platform/native/native_platform.hpp"

#ifndef PR_SET_SYSCALL_USER_DISPATCH
#define PR_SET_SYSCALL_USER_DISPATCH 59
#define PR_SYS_DISPATCH_OFF 0
#endif

namespace spanvm::platform {

Result<PlatformKind> parse_platform_kind(const std::string& s) {
    if (s == "auto") return PlatformKind::automatic;
    if (s == "kvm") return PlatformKind::kvm;
    if (s == "native") return PlatformKind::native;
    return make_error(EINVAL, "unknown platform '{}' (expected auto, kvm or native)", s);
}

const char* platform_kind_name(PlatformKind k) {
    switch (k) {
        case PlatformKind::automatic: return "auto";
        case PlatformKind::kvm: return "kvm";
        case PlatformKind::native: return "native";
    }
    return "?";
}

int Platform::kick_signal() { return SIGRTMIN + 4; }

void Platform::kick_host_thread(int host_tid) {
    if (host_tid > 0) ::syscall(SYS_tgkill, self_pid(), host_tid, kick_signal());
}

PlatformProbe probe_kvm() {
    int fd = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0) return {false, fmt::format("/dev/kvm: {}", std::strerror(errno))};
    ::close(fd);
    auto r = kvm::KvmPlatform::probe_vcpu();
    if (!r) return {false, r.error().message};
    return {true, "/dev/kvm opened and a probe vCPU ran guest code"};
}

PlatformProbe probe_native() {
    // Syscall User Dispatch (Linux 5.11+): switching it off is harmless and
    // fails with EINVAL where the kernel lacks it.
    if (::prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_OFF, 0, 0, 0) != 0)
        return {false, fmt::format("Syscall User Dispatch unavailable: {}", std::strerror(errno))};
    const bool patch = native::SitePatcher::wanted();
    return {true, fmt::format("Syscall User Dispatch available; FS switched with {}; syscall sites {}{}",
                              native::NativePlatform::use_wrfsbase() ? "WRFSBASE" : "arch_prctl",
                              patch ? "patched (SPANVM_NATIVE_PATCH=off to trap all)"
                                    : "trapped, not patched (SPANVM_NATIVE_PATCH=off)",
                              !patch ? ""
                              : native::NativePlatform::passthrough_wanted()
                                  ? "; pass-through calls answered at the site (SPANVM_NATIVE_PASSTHROUGH=off)"
                                  : "; no pass-through calls (SPANVM_NATIVE_PASSTHROUGH=off)")};
}

Result<PlatformChoice> choose_platform(PlatformKind kind, uint64_t ram_size, RamBacking backing) {
    PlatformChoice c;
    if (kind == PlatformKind::kvm) {
        auto p = kvm::KvmPlatform::create(ram_size, backing);
        if (!p) return p.error();
        c.platform = std::move(*p);
        c.reason = "kvm: chosen with --platform kvm";
        return c;
    }
    if (kind == PlatformKind::automatic) {
        auto k = probe_kvm();
        if (k.ok) {
            auto p = kvm::KvmPlatform::create(ram_size, backing);
            if (p) {
                c.platform = std::move(*p);
                c.reason = "kvm: " + k.detail;
                return c;
            }
            k.detail = p.error().message;
        }
        auto n = probe_native();
        if (!n.ok) return make_error(ENOTSUP, "no platform can run here: kvm: {}; native: {}", k.detail, n.detail);
        auto p = native::NativePlatform::create(ram_size);
        if (!p) return p.error();
        c.platform = std::move(*p);
        c.reason = fmt::format("native: KVM unusable ({})", k.detail);
        return c;
    }
    auto n = probe_native();
    if (!n.ok) return make_error(ENOTSUP, "--platform native: {}", n.detail);
    auto p = native::NativePlatform::create(ram_size);
    if (!p) return p.error();
    c.platform = std::move(*p);
    c.reason = "native: chosen with --platform native";
    return c;
}

}  // namespace spanvm::platform
