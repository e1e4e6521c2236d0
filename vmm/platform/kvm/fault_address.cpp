#include "vmm/platform/kvm/fault_address.hpp"

#include <sys/uio.h>
#include <unistd.h>

#include <array>

#include "vmm/arch/x86/memory_operand.hpp"
#include "vmm/base/self_pid.hpp"

namespace spanvm::platform::kvm {

namespace {

// Copies guest bytes without faulting the VMM: process_vm_readv on ourselves
// stops at the first byte whose host page is PROT_NONE. Returns bytes copied.
size_t safe_read(const memory::GuestMemory& mem, uint64_t gpa, uint8_t* out, size_t len) {
    if (gpa >= mem.size()) return 0;
    if (len > mem.size() - gpa) len = mem.size() - gpa;
    iovec local{out, len};
    iovec remote{mem.host_base() + gpa, len};
    const ssize_t n = ::process_vm_readv(self_pid(), &local, 1, &remote, 1, 0);
    return n > 0 ? static_cast<size_t>(n) : 0;
}

// Instruction bytes may end at a PROT_NONE page: read page by page.
size_t read_instruction(const memory::GuestMemory& mem, uint64_t rip, uint8_t* out, size_t len) {
    size_t got = 0;
    while (got < len) {
        const uint64_t at = rip + got;
        const size_t chunk = std::min<size_t>(len - got, 4096 - (at & 4095));
        const size_t n = safe_read(mem, at, out + got, chunk);
        got += n;
        if (n < chunk) break;
    }
    return got;
}

}  // namespace

std::optional<uint64_t> efault_address(const kvm_regs& r, const kvm_sregs& s, const memory::GuestMemory& mem) {
    std::array<uint8_t, arch::x86::kMaxInstructionLength> insn{};
    const size_t n = read_instruction(mem, r.rip, insn.data(), insn.size());
    arch::x86::DecodeRegs d;
    const uint64_t gpr[16] = {r.rax, r.rcx, r.rdx, r.rbx, r.rsp, r.rbp, r.rsi, r.rdi,
                              r.r8,  r.r9,  r.r10, r.r11, r.r12, r.r13, r.r14, r.r15};
    std::copy(std::begin(gpr), std::end(gpr), d.gpr);
    d.rip = r.rip;
    d.fs_base = s.fs.base;
    d.gs_base = s.gs.base;
    auto ops = arch::x86::memory_operands(std::span<const uint8_t>(insn.data(), n), d);
    if (!ops || ops->count == 0) return std::nullopt;
    for (unsigned i = 0; i + 1 < ops->count; ++i) {
        uint8_t probe;
        if (safe_read(mem, ops->addr[i], &probe, 1) == 0) return ops->addr[i];
    }
    return ops->addr[ops->count - 1];
}

}  // namespace spanvm::platform::kvm
