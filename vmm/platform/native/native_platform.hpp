#pragma once
// The native platform: guest RAM mapped at host address == guest address
// (so guest code runs directly on host threads), and NativeVcpus.
//
// Guest RAM is [kNullGuardEnd, ram_size) of spanvm's own address space,
// private anonymous, MADV_NOHUGEPAGE, PROT_READ|WRITE|EXEC where the guest
// has a mapping. spanvm itself is a PIE and its libraries, heap and stacks
// sit far above (0x55.../0x7f...), so the range is free when spanvm starts;
// MAP_FIXED_NOREPLACE makes a clash an error rather than a silent overlap.
#include <mutex>
#include <vector>

#include "vmm/platform/native/site_patcher.hpp"
#include "vmm/platform/platform.hpp"

namespace spanvm::platform::native {

class NativePlatform final : public Platform {
public:
    static Result<std::unique_ptr<NativePlatform>> create(uint64_t ram_size);

    PlatformKind kind() const override { return PlatformKind::native; }
    memory::GuestMemory& memory() override { return mem_; }
    const CpuFeatures& cpu() const override { return cpu_; }
    Result<std::unique_ptr<Vcpu>> create_vcpu(unsigned long id) override;
    unsigned max_vcpus() const override { return 65536; }
    int host_prot() const override;
    void install_signal_handlers(HostFaultHandler on_host_fault) override;

    uint64_t guest_end() const { return mem_.size(); }
    // Syscall-site patching (site_patcher.hpp); off with SPANVM_NATIVE_PATCH=off.
    SitePatcher& patcher() { return patcher_; }
    bool patching_active() const override { return patcher_.active(); }
    bool syscall_site_known(uint64_t rip) override { return patcher_.known(rip); }
    void offer_syscall_site(uint64_t rip, bool eligible, bool sole_thread, const Regs& regs) override {
        patcher_.offer(rip, eligible, sole_thread, regs);
    }
    void guest_code_changed(uint64_t start, uint64_t end) override { patcher_.code_changed(start, end); }
    void guest_before_second_thread() override { patcher_.before_second_thread(); }
    // The FPU image a new thread starts with (kernel signal-frame format).
    std::span<const uint8_t> initial_fpu() const { return init_fpu_; }
    // Bytes of the kernel's fpstate (XSAVE image + FP_XSTATE_MAGIC2).
    uint32_t fpstate_bytes() const { return fpstate_bytes_; }
    // Whether guest entry and exit switch FS with WRFSBASE (native_switch.S):
    // the kernel advertises FSGSBASE (AT_HWCAP2) and a WRFSBASE value
    // survived a context switch at start-up. SPANVM_NATIVE_FS=arch_prctl
    // forces the arch_prctl path (for benchmarks).
    bool wrfsbase() const { return wrfsbase_; }
    // The same decision, without a platform (spanvm info): AT_HWCAP2, the
    // start-up self-test and SPANVM_NATIVE_FS.
    static bool use_wrfsbase();
    // Whether patched sites run pass-through syscalls themselves
    // (NativeVcpu::set_passthrough_syscalls): SPANVM_NATIVE_PASSTHROUGH is
    // unset or "on" (off: "off", for benchmarks and tests of the slow path).
    static bool passthrough_wanted();

private:
    explicit NativePlatform(memory::GuestMemory mem) : mem_(std::move(mem)) {}
    Result<void> capture_fpu_template();

    memory::GuestMemory mem_;
    CpuFeatures cpu_;
    std::vector<uint8_t> init_fpu_;
    uint32_t fpstate_bytes_ = 512;
    bool wrfsbase_ = false;
    SitePatcher patcher_;
};

}  // namespace spanvm::platform::native
