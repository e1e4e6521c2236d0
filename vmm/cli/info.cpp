// `spanvm info` (and `spanvm run --version`): the platforms this host can
// run and the one `--platform auto` chooses, each with its reason.
#include <cstdio>

#include "vmm/cli/commands.hpp"
#include "vmm/platform/platform.hpp"

#ifndef SPANVM_VERSION
#define SPANVM_VERSION "0.3.0"
#endif

namespace spanvm::cli {

int info_command(const InfoOptions& o) {
    const platform::PlatformProbe kvm = platform::probe_kvm();
    const platform::PlatformProbe native = platform::probe_native();
    std::printf("spanvm %s\n", SPANVM_VERSION);
    std::printf("platform kvm:    %s (%s)\n", kvm.ok ? "available" : "unavailable", kvm.detail.c_str());
    std::printf("platform native: %s (%s)\n", native.ok ? "available" : "unavailable", native.detail.c_str());
    const char* pick = kvm.ok ? "kvm" : native.ok ? "native" : "none";
    std::printf("--platform auto: %s\n", pick);
    if (o.require_any && !kvm.ok && !native.ok) {
        std::fprintf(stderr, "spanvm: no platform can run here: kvm: %s; native: %s\n", kvm.detail.c_str(),
                     native.detail.c_str());
        return 1;
    }
    if (!o.require.empty()) {
        const bool ok = o.require == "kvm" ? kvm.ok : o.require == "native" ? native.ok : false;
        if (!ok) return 77;
    }
    return 0;
}

}  // namespace spanvm::cli
