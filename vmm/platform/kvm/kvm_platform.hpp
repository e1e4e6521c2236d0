#pragma once
// The KVM platform: one KVM VM over one GuestMemory, with the process-mode
// system area (GDT, IDT, TSS, shim, exception stack, page tables) written
// once. vCPUs (KvmVcpu) are created on demand, one per guest thread.
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

#include "vmm/arch/x86/page_tables.hpp"
#include "vmm/base/result.hpp"
#include "vmm/kvm_ioctls/system.hpp"
#include "vmm/kvm_ioctls/vcpu.hpp"
#include "vmm/kvm_ioctls/vm.hpp"
#include "vmm/memory/guest_memory.hpp"
#include "vmm/memory/layout.hpp"
#include "vmm/platform/kvm/guest_cpu.hpp"
#include "vmm/platform/platform.hpp"

namespace spanvm::platform::kvm {

class KvmPlatform final : public Platform {
public:
    static Result<std::unique_ptr<KvmPlatform>> create(uint64_t ram_size,
                                                       RamBacking backing = RamBacking::all_at_start);
    // Creates a small throw-away VM and runs one instruction of guest code
    // in it (the syscall stub's exit): "a vCPU runs" for choose_platform.
    static Result<void> probe_vcpu();

    PlatformKind kind() const override { return PlatformKind::kvm; }
    memory::GuestMemory& memory() override { return mem_; }
    const CpuFeatures& cpu() const override { return features_; }
    Result<std::unique_ptr<Vcpu>> create_vcpu(unsigned long id) override;
    unsigned max_vcpus() const override { return static_cast<unsigned>(max_vcpus_); }
    int host_prot() const override;
    void install_signal_handlers(HostFaultHandler on_host_fault) override;
    // on_demand backing: registers memory slot g for each GiB g of the range
    // not yet registered, then stores its PDPT entry, so the guest sees the
    // GiB only once KVM can back it. A GiB without a slot is absent from the
    // guest page tables: an access is #PF -> SIGSEGV, never an MMIO exit.
    Result<void> make_present(uint64_t gpa, uint64_t len) override;
    // A new VM in the child of a fork, with a slot for every GiB present in
    // the parent (the system area and page tables are in guest RAM already).
    Result<void> after_fork_child() override;

    const CpuTemplate& cpu_template() const { return cpu_; }
    const kvm_ioctls::SystemFd& system() const { return sys_; }
    // A configured raw vCPU (for bench-exit, which drives KVM directly).
    Result<kvm_ioctls::VcpuFd> create_raw_vcpu(unsigned long id);

    // Whether the syscall stub was observed running in ring 0 (VT-x/AMD-V),
    // in which case user CS/SS must be restored on each return. -1 = unknown.
    std::atomic<int> stub_ring0{-1};

private:
    KvmPlatform(kvm_ioctls::SystemFd sys, kvm_ioctls::VmFd vm, memory::GuestMemory mem)
        : sys_(std::move(sys)), vm_(std::move(vm)), mem_(std::move(mem)) {}
    kvm_ioctls::SystemFd sys_;
    kvm_ioctls::VmFd vm_;
    memory::GuestMemory mem_;
    CpuTemplate cpu_;
    CpuFeatures features_;
    int max_vcpus_ = 1;
    std::mutex vcpu_mu_;

    // on_demand backing. Slot g is GiB g of guest RAM; GiB 0 (the system
    // area) is registered at creation. present_ bit g: slot g is registered
    // and its PDPT entry stored (set under slots_mu_, read without it).
    static constexpr uint64_t kSlotSize = 1ull << 30;
    static constexpr uint64_t kMaxSlots = memory::layout::kMaxRamSize / kSlotSize;
    bool on_demand_ = false;
    arch::x86::PageTableLayout tables_{};
    std::array<std::atomic<uint64_t>, (kMaxSlots + 63) / 64> present_{};
    std::mutex slots_mu_;  // leaf: held for one KVM_SET_USER_MEMORY_REGION
};

}  // namespace spanvm::platform::kvm
