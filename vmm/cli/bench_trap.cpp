// `spanvm bench-trap`: the baselines a native-platform syscall is judged
// against, measured in the calling process:
//   bare_trap_ns       a Syscall User Dispatch trap: `syscall` from a code page
//                      below the allowed region -> SIGSYS in the same thread
//                      -> a handler that writes RAX -> rt_sigreturn. The
//                      mechanism's floor, before any VMM work;
//   native_getppid_ns  a plain getppid() of this process (the Linux floor).
// Both loops run interleaved in rounds on one helper thread (SUD is per
// thread), and the medians are printed.
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "vmm/base/log.hpp"
#include "vmm/base/stats.hpp"
#include "vmm/cli/bench_report.hpp"
#include "vmm/cli/commands.hpp"

#ifndef PR_SET_SYSCALL_USER_DISPATCH
#define PR_SET_SYSCALL_USER_DISPATCH 59
#define PR_SYS_DISPATCH_OFF 0
#define PR_SYS_DISPATCH_ON 1
#endif

namespace spanvm::cli {

namespace {

constexpr uint64_t kCodeAt = 0x10000000;  // below spanvm's own text; guest RAM is not mapped here
constexpr uint64_t kUserTop = 1ull << 56;

void on_sigsys(int, siginfo_t*, void* ucv) {
    auto* uc = static_cast<ucontext_t*>(ucv);
    uc->uc_mcontext.gregs[REG_RAX] = 1;
}

double time_ns(auto&& f, uint32_t n) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    auto t1 = std::chrono::steady_clock::now();
    return std::chrono::duration<double, std::nano>(t1 - t0).count() / n;
}

}  // namespace

int bench_trap_command(const BenchTrapOptions& o) {
    // mov $n, %ecx ; 1: mov $110, %eax ; syscall (trapped) ; dec %ecx ... but
    // syscall clobbers RCX, so count in RBX: push rbx; mov $n,%ebx; 1: mov
    // $110,%eax; syscall; dec %ebx; jnz 1b; pop rbx; ret
    const uint32_t rounds = 5, n = std::max(1u, o.iterations / rounds);
    std::vector<uint8_t> code = {0x53, 0xBB};
    for (int i = 0; i < 4; ++i) code.push_back(static_cast<uint8_t>(n >> (8 * i)));
    code.insert(code.end(), {0xB8, 110, 0, 0, 0, 0x0F, 0x05, 0xFF, 0xCB, 0x75, 0xF5, 0x5B, 0xC3});
    void* page = ::mmap(reinterpret_cast<void*>(kCodeAt), 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (page != reinterpret_cast<void*>(kCodeAt)) {
        log::error("bench-trap: cannot map the code page at {:#x}", kCodeAt);
        return 1;
    }
    std::memcpy(page, code.data(), code.size());
    struct sigaction sa {};
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGSYS, &sa, nullptr);

    std::vector<double> traps, natives;
    bool ok = true;
    std::thread t([&] {
        const uint64_t allowed = kCodeAt + 4096;
        if (::prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON, allowed, kUserTop - allowed, 0) != 0) {
            ok = false;
            return;
        }
        auto loop = reinterpret_cast<void (*)()>(page);
        for (uint32_t r = 0; r <= rounds; ++r) {
            double a = time_ns(loop, n);
            double b = time_ns([&] { for (uint32_t i = 0; i < n; ++i) ::syscall(SYS_getppid); }, n);
            if (r > 0) traps.push_back(a), natives.push_back(b);  // round 0 warms up
        }
        ::prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_OFF, 0, 0, 0);
    });
    t.join();
    if (!ok) {
        log::error("bench-trap: Syscall User Dispatch is unavailable: {}", std::strerror(errno));
        return 1;
    }
    const BenchFigures figures{{"bare_trap_ns", stats::median(traps)}, {"native_getppid_ns", stats::median(natives)}};
    return report_bench_figures(figures, n * rounds, o.json);
}

}  // namespace spanvm::cli
