// `spanvm bench-exit`: the baseline a syscall round trip is judged against.
// A ring-3 loop of `out` instructions, each one a KVM exit that the VMM
// resumes at once, and the same loop with `syscall` + the VMM's return-to-
// user-mode (what every guest syscall costs before its handler runs).
#include <algorithm>
#include <chrono>
#include <cstdio>

#include "guest-shim/shim.hpp"
#include "vmm/base/log.hpp"
#include "vmm/base/stats.hpp"
#include "vmm/cli/bench_report.hpp"
#include "vmm/cli/commands.hpp"
#include "vmm/memory/layout.hpp"
#include "vmm/platform/kvm/guest_cpu.hpp"
#include "vmm/platform/kvm/kvm_platform.hpp"

namespace spanvm::cli {

namespace {

// mov $n, %rcx ; 1: out %al, $0xE0 ; dec %rcx ; jnz 1b ; ud2
void emit_out_loop(std::vector<uint8_t>& c, uint32_t n) {
    c = {0x48, 0xC7, 0xC1};
    for (int i = 0; i < 4; ++i) c.push_back(static_cast<uint8_t>(n >> (8 * i)));
    c.insert(c.end(), {0xE6, static_cast<uint8_t>(shim::kSyscallPort), 0x48, 0xFF, 0xC9, 0x75, 0xF9, 0x0F, 0x0B});
}
// mov $n, %rbx ; 1: mov $39, %eax ; syscall ; dec %rbx ; jnz 1b ; ud2
void emit_syscall_loop(std::vector<uint8_t>& c, uint32_t n) {
    c = {0x48, 0xC7, 0xC3};
    for (int i = 0; i < 4; ++i) c.push_back(static_cast<uint8_t>(n >> (8 * i)));
    c.insert(c.end(), {0xB8, 39, 0, 0, 0, 0x0F, 0x05, 0x48, 0xFF, 0xCB, 0x75, 0xF4, 0x0F, 0x0B});
}

enum class Resume { as_is, write_rax, syscall_return };

Result<double> time_loop(platform::kvm::KvmPlatform& m, kvm_ioctls::VcpuFd& v, const std::vector<uint8_t>& code, uint32_t n,
                         Resume resume) {
    const uint64_t at = memory::layout::kUserBase;
    m.memory().write(at, code.data(), code.size());
    kvm_regs r{};
    r.rip = at;
    r.rsp = at + 0x100000;
    r.rflags = 2;
    v.run_data()->kvm_dirty_regs = 0;
    if (auto e = v.set_regs(r); !e) return e.error();
    // Every round must start in ring 3: the previous round ended in the
    // exception stub (ring 0), and PVM emulates ring 0, whose exits have a
    // different cost from a user-mode guest's.
    auto sr = v.get_sregs();
    if (!sr) return sr.error();
    platform::kvm::set_user_segments(*sr);
    if (auto e = v.set_sregs(*sr); !e) return e.error();
    uint32_t exits = 0;
    auto t0 = std::chrono::steady_clock::now();
    for (;;) {
        if (auto e = v.run(); !e) {
            if (e.error().code == EINTR) continue;
            return e.error();
        }
        kvm_run* run = v.run_data();
        if (run->exit_reason != KVM_EXIT_IO) return make_error(EIO, "unexpected exit {}", run->exit_reason);
        if (run->io.port != shim::kSyscallPort) break;  // the ud2 at the end
        ++exits;
        kvm_regs& s = v.sync_regs();
        if (resume == Resume::write_rax) {
            s.rax = 1;
            v.mark_regs_dirty();
        } else if (resume == Resume::syscall_return) {
            s.rax = 1;
            s.rip = s.rcx;
            s.rflags = s.r11;
            v.mark_regs_dirty();
        }
    }
    auto t1 = std::chrono::steady_clock::now();
    if (exits != n) return make_error(EIO, "expected {} exits, saw {}", n, exits);
    return std::chrono::duration<double, std::nano>(t1 - t0).count() / n;
}

}  // namespace

int bench_exit_command(const BenchExitOptions& o) {
    auto m = platform::kvm::KvmPlatform::create(64ull << 20);
    if (!m) {
        log::error("{}", m.error().message);
        return 1;
    }
    auto v = (*m)->create_raw_vcpu(0);
    if (!v) {
        log::error("{}", v.error().message);
        return 1;
    }
    // Interleave the two loops in rounds so both see the same machine load,
    // after a warm-up round (first-touch and shadow-page-table costs).
    std::vector<uint8_t> out_code, sys_code;
    const uint32_t rounds = 5, per_round = std::max(1u, o.iterations / rounds);
    emit_out_loop(out_code, per_round);
    emit_syscall_loop(sys_code, per_round);
    Result<double> bare = 0.0, dirty = 0.0, sys = 0.0;
    std::vector<double> bares, dirties, syss;
    for (uint32_t i = 0; i <= rounds && bare && dirty && sys; ++i) {
        bare = time_loop(**m, *v, out_code, per_round, Resume::as_is);
        dirty = time_loop(**m, *v, out_code, per_round, Resume::write_rax);
        sys = time_loop(**m, *v, sys_code, per_round, Resume::syscall_return);
        if (i > 0 && bare && dirty && sys) {
            bares.push_back(*bare);
            dirties.push_back(*dirty);
            syss.push_back(*sys);
        }
    }
    if (!bare || !dirty || !sys) {
        log::error("bench-exit: {}", (!bare ? bare.error() : !dirty ? dirty.error() : sys.error()).message);
        return 1;
    }
    // exit_roundtrip_ns: `out` exit resumed as is. exit_setregs_roundtrip_ns:
    // the same plus writing RAX back through sync regs (what any syscall
    // result costs). syscall_stub_roundtrip_ns: `syscall` -> LSTAR stub ->
    // `out` exit -> VMM return to user mode, with no handler: the floor of
    // every guest syscall; its excess over the set-regs loop is the
    // platform's own `syscall` redirect.
    const BenchFigures figures{{"exit_roundtrip_ns", stats::median(bares)},
                               {"exit_setregs_roundtrip_ns", stats::median(dirties)},
                               {"syscall_stub_roundtrip_ns", stats::median(syss)}};
    return report_bench_figures(figures, per_round * rounds, o.json);
}

}  // namespace spanvm::cli
