#pragma once
// The process-mode machine: one KVM VM over one GuestMemory, with the system
// area (GDT, IDT, TSS, shim, exception stack, page tables) written once.
// vCPUs are created on demand, one per guest thread.
#include <cstdint>
#include <memory>
#include <mutex>

#include "vmm/base/result.hpp"
#include "vmm/kvm/system.hpp"
#include "vmm/kvm/vcpu.hpp"
#include "vmm/kvm/vm.hpp"
#include "vmm/memory/guest_memory.hpp"
#include "vmm/process/guest_cpu.hpp"

namespace spanvm::process {

class Machine {
public:
    static Result<std::unique_ptr<Machine>> create(uint64_t ram_size);

    memory::GuestMemory& memory() { return mem_; }
    const memory::GuestMemory& memory() const { return mem_; }
    const CpuTemplate& cpu_template() const { return cpu_; }
    const kvm::System& system() const { return sys_; }

    // Creates and configures vCPU `id` (the APIC id). Thread-safe.
    Result<kvm::Vcpu> create_vcpu(unsigned long id);
    int max_vcpus() const { return max_vcpus_; }

private:
    Machine(kvm::System sys, kvm::Vm vm, memory::GuestMemory mem)
        : sys_(std::move(sys)), vm_(std::move(vm)), mem_(std::move(mem)) {}
    kvm::System sys_;
    kvm::Vm vm_;
    memory::GuestMemory mem_;
    CpuTemplate cpu_;
    int max_vcpus_ = 1;
    std::mutex vcpu_mu_;
};

}  // namespace spanvm::process
