#include "vmm/arch/x86/memory_operand.hpp"

#include <cstring>

namespace spanvm::arch::x86 {

namespace {

enum : unsigned { RAX = 0, RCX, RDX, RBX, RSP, RBP, RSI, RDI };

// One-byte map (SDM Vol. 2, Table A-2): opcodes followed by a ModRM byte.
// 0x62, 0xC4 and 0xC5 are EVEX/VEX escapes in 64-bit mode, handled before.
bool map0_has_modrm(uint8_t op) {
    if (op < 0x40) return (op & 7) < 4;  // ALU ops r/m forms
    if (op >= 0x80 && op <= 0x8F) return true;
    if (op >= 0xD0 && op <= 0xD3) return true;
    if (op >= 0xD8 && op <= 0xDF) return true;  // x87
    switch (op) {
        case 0x63: case 0x69: case 0x6B: case 0xC0: case 0xC1: case 0xC6: case 0xC7:
        case 0xF6: case 0xF7: case 0xFE: case 0xFF:
            return true;
        default:
            return false;
    }
}

// Immediate bytes after the ModRM operand of a one-byte-map opcode.
unsigned map0_immediate(uint8_t op, unsigned reg, bool opsize16) {
    const unsigned iz = opsize16 ? 2 : 4;
    switch (op) {
        case 0x80: case 0x83: case 0x6B: case 0xC0: case 0xC1: case 0xC6: return 1;
        case 0x81: case 0x69: case 0xC7: return iz;
        case 0xF6: return reg < 2 ? 1 : 0;  // test r/m8, imm8
        case 0xF7: return reg < 2 ? iz : 0;
        default: return 0;
    }
}

// Two-byte map (0F xx, Table A-3): opcodes with no ModRM byte.
bool map1_has_modrm(uint8_t op) {
    if (op >= 0x30 && op <= 0x37) return false;  // wrmsr, rdtsc, rdmsr, rdpmc, sysenter, ...
    if (op >= 0x80 && op <= 0x8F) return false;  // jcc rel32
    if (op >= 0xC8 && op <= 0xCF) return false;  // bswap
    switch (op) {
        case 0x05: case 0x06: case 0x07: case 0x08: case 0x09: case 0x0B: case 0x0E:
        case 0x77: case 0xA0: case 0xA1: case 0xA2: case 0xA8: case 0xA9: case 0xAA:
            return false;
        default:
            return true;
    }
}

unsigned map1_immediate(uint8_t op) {
    switch (op) {
        case 0x0F:  // 3DNow! suffix byte
        case 0x70: case 0x71: case 0x72: case 0x73: case 0xA4: case 0xAC: case 0xBA:
        case 0xC2: case 0xC4: case 0xC5: case 0xC6:
            return 1;
        default:
            return 0;
    }
}

int64_t read_signed(std::span<const uint8_t> b, size_t at, unsigned n) {
    if (n == 1) return static_cast<int8_t>(b[at]);
    int32_t v;
    std::memcpy(&v, b.data() + at, 4);
    return v;
}

}  // namespace

std::optional<MemoryOperands> memory_operands(std::span<const uint8_t> insn, const DecodeRegs& r) {
    if (insn.size() > kMaxInstructionLength) insn = insn.first(kMaxInstructionLength);
    size_t p = 0;
    auto have = [&](size_t n) { return p + n <= insn.size(); };

    // Legacy prefixes (Group 1-4). CS/DS/ES/SS overrides are flat in 64-bit mode.
    bool opsize16 = false, addr32 = false;
    uint64_t seg = 0;
    for (bool more = true; more && have(1);) {
        switch (insn[p]) {
            case 0x66: opsize16 = true; break;
            case 0x67: addr32 = true; break;
            case 0x64: seg = r.fs_base; break;
            case 0x65: seg = r.gs_base; break;
            case 0x26: case 0x2E: case 0x36: case 0x3E: case 0xF0: case 0xF2: case 0xF3: break;
            default: more = false; continue;
        }
        ++p;
    }
    unsigned rex_x = 0, rex_b = 0;
    if (have(1) && (insn[p] & 0xF0) == 0x40) {
        rex_x = (insn[p] >> 1) & 1;
        rex_b = insn[p] & 1;
        ++p;
    }
    if (!have(1)) return std::nullopt;
    uint8_t op = insn[p++];
    unsigned map = 0;
    bool evex = false;
    if (op == 0xC5) {  // two-byte VEX: map 0F, no X/B
        if (!have(2)) return std::nullopt;
        ++p;
        map = 1;
        op = insn[p++];
    } else if (op == 0xC4 || op == 0x62) {  // three-byte VEX, or EVEX (3 payload bytes)
        const size_t payload = op == 0xC4 ? 2 : 3;
        if (!have(payload + 1)) return std::nullopt;
        const uint8_t b1 = insn[p];
        rex_x = ((b1 >> 6) & 1) ^ 1;
        rex_b = ((b1 >> 5) & 1) ^ 1;
        evex = op == 0x62;
        map = evex ? (b1 & 7) : (b1 & 0x1F);
        if (map < 1 || map > 3) return std::nullopt;
        p += payload;
        op = insn[p++];
        // VEX map 2 opcodes 0x90-0x93 are gathers: the index is a vector register.
        if (map == 2 && op >= 0x90 && op <= 0x93) return std::nullopt;
    } else if (op == 0x0F) {
        if (!have(1)) return std::nullopt;
        op = insn[p++];
        map = 1;
        if (op == 0x38 || op == 0x3A) {
            map = op == 0x38 ? 2 : 3;
            if (!have(1)) return std::nullopt;
            op = insn[p++];
        }
    }

    MemoryOperands out;
    auto add = [&](uint64_t a) { out.addr[out.count++] = a; };
    // The address-size prefix truncates rsi/rdi/rbx-based addresses, not the stack.
    auto a32 = [&](uint64_t a) { return addr32 ? a & 0xFFFFFFFFull : a; };
    const uint64_t rsp = r.gpr[RSP];
    const uint64_t push_at = rsp - (opsize16 ? 2 : 8);

    if (map == 0 && !map0_has_modrm(op)) {
        if (op >= 0x50 && op <= 0x57) add(push_at);        // push reg
        else if (op >= 0x58 && op <= 0x5F) add(rsp);       // pop reg
        else if (op == 0x68 || op == 0x6A || op == 0x9C || op == 0xE8 || op == 0xC8) add(push_at);  // push imm, pushf, call, enter
        else if (op == 0x9D || op == 0xC2 || op == 0xC3 || op == 0xCA || op == 0xCB || op == 0xCF) add(rsp);  // popf, ret, lret, iret
        else if (op == 0xC9) add(r.gpr[RBP]);              // leave: mov rsp, rbp; pop rbp
        else if (op == 0xA4 || op == 0xA5 || op == 0xA6 || op == 0xA7) {  // movs, cmps
            add(seg + a32(r.gpr[RSI]));
            add(a32(r.gpr[RDI]));
        } else if (op == 0xAA || op == 0xAB || op == 0xAE || op == 0xAF) add(a32(r.gpr[RDI]));  // stos, scas
        else if (op == 0xAC || op == 0xAD) add(seg + a32(r.gpr[RSI]));                           // lods
        else if (op == 0xD7) add(seg + a32(r.gpr[RBX] + (r.gpr[RAX] & 0xFF)));                  // xlat
        else if (op >= 0xA0 && op <= 0xA3) {  // mov al/ax, moffs (absolute address)
            const unsigned n = addr32 ? 4 : 8;
            if (!have(n)) return std::nullopt;
            uint64_t a = 0;
            std::memcpy(&a, insn.data() + p, n);
            add(seg + a);
        } else
            return std::nullopt;
        return out;
    }
    if (map == 1 && !map1_has_modrm(op)) {
        if (op == 0xA0 || op == 0xA8) add(push_at);  // push fs/gs
        else if (op == 0xA1 || op == 0xA9) add(rsp);  // pop fs/gs
        else return std::nullopt;
        return out;
    }
    if (map == 0 && op == 0x8D) return std::nullopt;                          // lea
    if (map == 1 && (op == 0x0D || (op >= 0x18 && op <= 0x1F))) return std::nullopt;  // prefetch, hint nops

    if (!have(1)) return std::nullopt;
    const uint8_t modrm = insn[p++];
    const unsigned mod = modrm >> 6, reg = (modrm >> 3) & 7, rm = modrm & 7;
    const bool stack_push = map == 0 && op == 0xFF && (reg == 2 || reg == 3 || reg == 6);  // call, far call, push r/m
    const bool stack_pop = map == 0 && op == 0x8F;                                      // pop r/m
    if (mod == 3) {  // register operand: only the stack is touched
        if (stack_push) add(push_at);
        else if (stack_pop) add(rsp);
        else return std::nullopt;
        return out;
    }

    uint64_t ea = 0;
    bool rip_relative = false;
    unsigned disp_size = mod == 1 ? 1 : mod == 2 ? 4 : 0;
    if (rm == 4) {  // SIB
        if (!have(1)) return std::nullopt;
        const uint8_t sib = insn[p++];
        const unsigned index = ((sib >> 3) & 7) | (rex_x << 3);
        const unsigned base = (sib & 7) | (rex_b << 3);
        if (index != RSP) ea += r.gpr[index] << (sib >> 6);
        if ((base & 7) == RBP && mod == 0) disp_size = 4;  // no base, disp32
        else ea += r.gpr[base];
    } else if (rm == 5 && mod == 0) {
        rip_relative = true;
        disp_size = 4;
    } else {
        ea += r.gpr[rm | (rex_b << 3)];
    }
    if (evex && mod == 1) return std::nullopt;  // disp8*N needs the tuple type
    if (disp_size) {
        if (!have(disp_size)) return std::nullopt;
        ea += static_cast<uint64_t>(read_signed(insn, p, disp_size));
        p += disp_size;
    }
    unsigned imm = 0;
    if (map == 0) imm = map0_immediate(op, reg, opsize16);
    else if (map == 1) imm = map1_immediate(op);
    else if (map == 3) imm = 1;
    p += imm;
    if (p > kMaxInstructionLength) return std::nullopt;
    if (rip_relative) ea += r.rip + p;  // relative to the next instruction
    if (addr32) ea &= 0xFFFFFFFFull;
    ea += seg;

    if (stack_pop) add(rsp);
    add(ea);
    if (stack_push) add(push_at);
    return out;
}

}  // namespace spanvm::arch::x86
