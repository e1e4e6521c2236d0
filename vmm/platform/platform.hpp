#pragma once
// A platform provides guest RAM and vCPUs (vmm/platform/vcpu.hpp). Two exist:
//   kvm     guest code runs in KVM vCPUs; syscalls exit through the shim's stub
//   native  guest code runs on host threads; syscalls are trapped with
//           Syscall User Dispatch (vmm/platform/native/native_vcpu.hpp)
// choose_platform() picks one (`--platform auto|kvm|native`) and says why.
//
// Both keep guest-virtual == guest-physical == the offset into guest RAM
// (vmm/memory/layout.hpp): on KVM through identity page tables, on native by
// mapping guest RAM at host address == guest address. So a guest pointer
// means the same on every platform and node, and the DSM's userfaultfd range
// is the memory where guest threads fault.
#include <cstdint>
#include <memory>
#include <string>

#include "vmm/base/result.hpp"
#include "vmm/memory/guest_memory.hpp"
#include "vmm/platform/vcpu.hpp"

namespace spanvm::platform {

enum class PlatformKind { automatic, kvm, native };

// Parses "auto" | "kvm" | "native".
Result<PlatformKind> parse_platform_kind(const std::string& s);
const char* platform_kind_name(PlatformKind k);

// What the guest is told about the CPU.
struct CpuFeatures {
    uint64_t hwcap = 0;  // AT_HWCAP: CPUID.1:EDX, as Linux reports it
    uint64_t xcr0 = 0;   // XSAVE components of the guest's FPU image (0 = FXSAVE only)
    uint32_t xstate_size = 512;  // bytes of that image (XSAVE standard format; 512 = FXSAVE)
};

// How guest RAM is made reachable to guest code. all_at_start: every byte
// from the start (a cluster node, whose guest threads touch whatever the
// origin mapped). on_demand: the process layer calls make_present() for the
// memory it maps; the KVM platform then registers its memory slots one GiB at
// a time, because KVM sizes its per-slot metadata by the slot, not by the
// pages touched (rmap and write-tracking arrays, zeroed at registration).
enum class RamBacking { all_at_start, on_demand };

class Platform {
public:
    virtual ~Platform() = default;
    virtual PlatformKind kind() const = 0;
    const char* name() const { return platform_kind_name(kind()); }

    virtual memory::GuestMemory& memory() = 0;
    virtual const CpuFeatures& cpu() const = 0;
    // Creates vCPU `id` (the APIC id on KVM). Thread-safe.
    virtual Result<std::unique_ptr<Vcpu>> create_vcpu(unsigned long id) = 0;
    virtual unsigned max_vcpus() const = 0;
    // Host protection for guest RAM the guest may use (PROT_READ|PROT_WRITE,
    // plus PROT_EXEC where guest code runs from the host mapping: native).
    virtual int host_prot() const = 0;
    // From now on guest code may reach guest RAM in [gpa, gpa+len): the
    // process maps memory there. Never undone. Only KVM with on_demand
    // backing has work to do; elsewhere all of RAM is reachable already.
    // Thread-safe.
    virtual Result<void> make_present(uint64_t gpa, uint64_t len) {
        (void)gpa;
        (void)len;
        return {};
    }

    // Syscall-site patching (native only: vmm/platform/native/site_patcher.hpp).
    // The process layer offers each trapped syscall's site, telling whether
    // its code is eligible (private, executable, not writable), and
    // reports every change of its mappings so that patched bytes are
    // restored before code becomes writable or is replaced. Both with the
    // address-space lock held.
    virtual bool patching_active() const { return false; }
    // Whether the syscall returning to `rip` was offered before.
    virtual bool syscall_site_known(uint64_t rip) {
        (void)rip;
        return true;
    }
    // `sole_thread`: the caller is the process's only guest thread; `regs`:
    // its registers at the trap.
    virtual void offer_syscall_site(uint64_t rip, bool eligible, bool sole_thread, const Regs& regs) {
        (void)rip;
        (void)eligible;
        (void)sole_thread;
        (void)regs;
    }
    virtual void guest_code_changed(uint64_t start, uint64_t end) {
        (void)start;
        (void)end;
    }
    // The process, which has one guest thread (the caller), is about to
    // start a second. With the address-space lock held.
    virtual void guest_before_second_thread() {}

    // Installs the host signal handlers this platform needs: the kick signal
    // (SIGRTMIN+4, without SA_RESTART so blocking host calls return EINTR),
    // and on native the trap handlers. `on_host_fault` handles SIGSEGV/SIGBUS
    // raised by VMM code. Called once, before any vCPU runs.
    // In the child of a host fork() (a guest fork, Process::fork_process),
    // before any vCPU is created there. A KVM VM belongs to the process that
    // created it (KVM refuses its ioctls from another mm), so the KVM
    // platform builds a new VM over the child's copy-on-write copy of guest
    // RAM, with the same memory slots. The parent's vCPUs copied into the
    // child must never be used or destroyed there (their kvm_run pages are
    // shared with the parent). Native has nothing to do: guest RAM is the
    // process's own memory.
    virtual Result<void> after_fork_child() { return {}; }

    using HostFaultHandler = void (*)(int sig, void* siginfo, void* ucontext);
    virtual void install_signal_handlers(HostFaultHandler on_host_fault) = 0;
    // Makes host thread `host_tid`'s vCPU leave the guest (see Vcpu::run).
    static void kick_host_thread(int host_tid);
    static int kick_signal();
};

struct PlatformChoice {
    std::unique_ptr<Platform> platform;
    std::string reason;  // one line: why this platform runs
};

// Creates the platform with guest RAM of `ram_size` bytes. `automatic` uses
// KVM when /dev/kvm opens and a probe vCPU runs, and native otherwise. An
// explicit kind that cannot run is an error (the CLI exits 125).
Result<PlatformChoice> choose_platform(PlatformKind kind, uint64_t ram_size,
                                      RamBacking backing = RamBacking::all_at_start);

// Whether each platform can run here, with the reason (for `spanvm info`).
struct PlatformProbe {
    bool ok = false;
    std::string detail;
};
PlatformProbe probe_kvm();
PlatformProbe probe_native();

}  // namespace spanvm::platform
