#pragma once
// The platform seam: one vCPU, i.e. guest code running on one host thread
// until something needs the VMM. gVisor's platform split (KVM, systrap,
// ptrace behind one interface) is the model; the process layer above
// (syscall gate, signals, clone, exec, thread table) sees only this.
//
// Contract of run():
//  * Returns on a guest `syscall` with regs().rip already past the `syscall`
//    instruction (RIP = RCX on KVM, where the shim's stub exited) and
//    RAX = the syscall number. The caller writes the result into RAX and
//    calls run() again; every other register stays the guest's.
//  * Returns on a CPU exception in guest code with the signal Linux would
//    raise (signo, si_code, fault_addr) and regs() as they were at the faulting
//    instruction, so a guest handler can be entered from them.
//  * Returns `interrupted` after a kick (kick_host_thread) or any other host
//    signal. A kick that lands while the host thread runs VMM code makes the
//    next run() return `interrupted` at once: no kick is lost.
//  * Never throws; a broken vCPU is an `error` exit with a one-line reason.
// Threading: a Vcpu is driven by one host thread at a time. attach_thread()
// binds it to the calling host thread (kick target, per-thread trap set-up);
// it must be called before the first run() on that thread.
#include <array>
#include <atomic>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "vmm/base/result.hpp"
#include "vmm/platform/regs.hpp"

namespace spanvm::platform {

struct VcpuExit {
    enum class Kind { syscall, exception, interrupted, error };
    Kind kind = Kind::error;
    // exception: the signal Linux delivers for it.
    int signo = 0;
    int si_code = 0;
    uint64_t fault_addr = 0;
    std::string what;  // e.g. "page fault at address 0x0 (read)"; also the error text
    // interrupted: true when the guest was in its own code (signals may be
    // delivered); false inside spanvm's entry stubs (KVM only).
    bool in_guest = true;
    // syscall: it came through a patched site's direct entry (native; no
    // site to offer for patching).
    bool patched_site = false;
};

class Vcpu {
public:
    virtual ~Vcpu() = default;
    virtual unsigned long id() const = 0;

    virtual Result<void> attach_thread() = 0;
    // Unbinds it from the calling host thread, which goes on living without
    // it (a thread migrated to another node): no kick reaches the vCPU
    // through this thread any more, and the thread keeps no per-vCPU trap
    // set-up (native: the vCPU's signal stack). Another thread may attach it.
    virtual void detach_thread() {}
    // Full register state of a thread that has not run yet (or after exec).
    virtual Result<void> set_initial_state(const Regs& regs, uint64_t fs_base, uint64_t gs_base) = 0;
    virtual VcpuExit run() = 0;

    // The register file; write through it, then mark_regs_dirty().
    virtual Regs& regs() = 0;
    virtual void mark_regs_dirty() = 0;

    virtual Result<uint64_t> fs_base() = 0;
    virtual Result<void> set_fs_base(uint64_t v) = 0;
    virtual Result<uint64_t> gs_base() = 0;
    virtual Result<void> set_gs_base(uint64_t v) = 0;

    // The FPU/SSE/AVX image for a signal frame: XSAVE standard format of
    // `xstate_size` bytes (legacy area + header + components of XCR0), or a
    // 512-byte FXSAVE image where the platform cannot read the rest.
    virtual Result<std::vector<uint8_t>> save_fpu() = 0;
    // Loads an image written by save_fpu() (possibly edited by the guest).
    // Fails (EINVAL) on an image the CPU would reject.
    virtual Result<void> restore_fpu(std::span<const uint8_t> image) = 0;

    // Pass-through syscalls (bit nr of `mask`, nr < 128): the caller vouches
    // that for each, the guest-visible result is exactly what the host
    // kernel returns when this host thread makes the call with the guest's
    // integer arguments, that it takes no pointer, cannot block or return
    // EINTR, and needs none of spanvm's state. The platform may then run
    // such a call itself without leaving run() (native: from a patched
    // site, without switching FS), adding 1 to *count for each; every
    // other guarantee of run() holds (a kick still makes it return).
    // attach_thread() and detach_thread() clear it; set it after attaching.
    // The default (KVM, remote vCPUs) ignores it: every call exits.
    virtual void set_passthrough_syscalls(std::array<uint64_t, 2> mask, std::atomic<uint64_t>* count) {
        (void)mask;
        (void)count;
    }
};

}  // namespace spanvm::platform
