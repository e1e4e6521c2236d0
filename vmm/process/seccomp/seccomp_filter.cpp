#include "vmm/process/seccomp/seccomp_filter.hpp"

#include <cstring>

#include <fmt/format.h>

namespace spanvm::process::seccomp {

namespace {

std::uint32_t load_word(const SeccompData& d, std::uint32_t off) {
    static_assert(sizeof(SeccompData) == kSeccompDataSize);
    std::uint32_t v = 0;
    if (off <= kSeccompDataSize - sizeof v) std::memcpy(&v, reinterpret_cast<const char*>(&d) + off, sizeof v);
    return v;
}

bool seccomp_allows(std::uint16_t code) {
    switch (code) {
        case BPF_LD | BPF_W | BPF_ABS: case BPF_LD | BPF_W | BPF_LEN: case BPF_LDX | BPF_W | BPF_LEN:
        case BPF_RET | BPF_K: case BPF_RET | BPF_A:
        case BPF_ALU | BPF_ADD | BPF_K: case BPF_ALU | BPF_ADD | BPF_X:
        case BPF_ALU | BPF_SUB | BPF_K: case BPF_ALU | BPF_SUB | BPF_X:
        case BPF_ALU | BPF_MUL | BPF_K: case BPF_ALU | BPF_MUL | BPF_X:
        case BPF_ALU | BPF_DIV | BPF_K: case BPF_ALU | BPF_DIV | BPF_X:
        case BPF_ALU | BPF_AND | BPF_K: case BPF_ALU | BPF_AND | BPF_X:
        case BPF_ALU | BPF_OR | BPF_K: case BPF_ALU | BPF_OR | BPF_X:
        case BPF_ALU | BPF_XOR | BPF_K: case BPF_ALU | BPF_XOR | BPF_X:
        case BPF_ALU | BPF_LSH | BPF_K: case BPF_ALU | BPF_LSH | BPF_X:
        case BPF_ALU | BPF_RSH | BPF_K: case BPF_ALU | BPF_RSH | BPF_X:
        case BPF_ALU | BPF_NEG:
        case BPF_LD | BPF_IMM: case BPF_LDX | BPF_IMM:
        case BPF_MISC | BPF_TAX: case BPF_MISC | BPF_TXA:
        case BPF_LD | BPF_MEM: case BPF_LDX | BPF_MEM: case BPF_ST: case BPF_STX:
        case BPF_JMP | BPF_JA:
        case BPF_JMP | BPF_JEQ | BPF_K: case BPF_JMP | BPF_JEQ | BPF_X:
        case BPF_JMP | BPF_JGE | BPF_K: case BPF_JMP | BPF_JGE | BPF_X:
        case BPF_JMP | BPF_JGT | BPF_K: case BPF_JMP | BPF_JGT | BPF_X:
        case BPF_JMP | BPF_JSET | BPF_K: case BPF_JMP | BPF_JSET | BPF_X:
            return true;
        default:
            return false;
    }
}

bool is_conditional_jump(std::uint16_t code) {
    return BPF_CLASS(code) == BPF_JMP && BPF_OP(code) != BPF_JA;
}

}  // namespace

std::optional<std::string> check(std::span<const SockFilter> prog) {
    const std::size_t n = prog.size();
    if (n == 0 || n > BPF_MAXINSNS) return fmt::format("{} instructions (1 to {})", n, BPF_MAXINSNS);
    for (std::size_t pc = 0; pc < n; ++pc) {
        const SockFilter& f = prog[pc];
        if (!seccomp_allows(f.code)) return fmt::format("instruction {}: opcode {:#x} not allowed", pc, f.code);
        switch (f.code) {
            case BPF_LD | BPF_W | BPF_ABS:
                if (f.k >= kSeccompDataSize || (f.k & 3))
                    return fmt::format("instruction {}: load at offset {} of seccomp_data", pc, f.k);
                break;
            case BPF_ALU | BPF_DIV | BPF_K:
                if (f.k == 0) return fmt::format("instruction {}: division by 0", pc);
                break;
            case BPF_ALU | BPF_LSH | BPF_K: case BPF_ALU | BPF_RSH | BPF_K:
                if (f.k >= 32) return fmt::format("instruction {}: shift by {}", pc, f.k);
                break;
            case BPF_LD | BPF_MEM: case BPF_LDX | BPF_MEM: case BPF_ST: case BPF_STX:
                if (f.k >= BPF_MEMWORDS) return fmt::format("instruction {}: scratch word {}", pc, f.k);
                break;
            case BPF_JMP | BPF_JA:
                if (f.k >= n - pc - 1) return fmt::format("instruction {}: jump past the end", pc);
                break;
            default:
                if (is_conditional_jump(f.code) && (pc + f.jt + 1 >= n || pc + f.jf + 1 >= n))
                    return fmt::format("instruction {}: jump past the end", pc);
                break;
        }
    }
    if (BPF_CLASS(prog[n - 1].code) != BPF_RET) return std::string("the last instruction is not a return");
    // Scratch words are written before they are read on every path: each
    // instruction's set of valid words is the intersection over the jumps
    // into it (Linux's check_load_and_stores); jumps only go forward.
    std::vector<std::uint16_t> masks(n, 0xffff);
    std::uint16_t valid = 0;
    for (std::size_t pc = 0; pc < n; ++pc) {
        const SockFilter& f = prog[pc];
        valid &= masks[pc];
        switch (BPF_CLASS(f.code)) {
            case BPF_ST: case BPF_STX:
                valid |= static_cast<std::uint16_t>(1u << f.k);
                break;
            case BPF_LD: case BPF_LDX:
                if (BPF_MODE(f.code) == BPF_MEM && !(valid & (1u << f.k)))
                    return fmt::format("instruction {}: scratch word {} read before it is written", pc, f.k);
                break;
            case BPF_JMP:
                if (BPF_OP(f.code) == BPF_JA) {
                    masks[pc + 1 + f.k] &= valid;
                } else {
                    masks[pc + 1 + f.jt] &= valid;
                    masks[pc + 1 + f.jf] &= valid;
                }
                valid = 0xffff;
                break;
            case BPF_RET:
                valid = 0xffff;
                break;
            default:
                break;
        }
    }
    return std::nullopt;
}

std::uint32_t run(std::span<const SockFilter> prog, const SeccompData& d) {
    std::uint32_t a = 0, x = 0;
    std::uint32_t mem[BPF_MEMWORDS] = {};
    for (std::size_t pc = 0; pc < prog.size(); ++pc) {
        const SockFilter& f = prog[pc];
        const std::uint32_t src = BPF_SRC(f.code) == BPF_X ? x : f.k;
        switch (f.code) {
            case BPF_LD | BPF_W | BPF_ABS: a = load_word(d, f.k); break;
            case BPF_LD | BPF_W | BPF_LEN: a = kSeccompDataSize; break;
            case BPF_LDX | BPF_W | BPF_LEN: x = kSeccompDataSize; break;
            case BPF_LD | BPF_IMM: a = f.k; break;
            case BPF_LDX | BPF_IMM: x = f.k; break;
            case BPF_LD | BPF_MEM: a = f.k < BPF_MEMWORDS ? mem[f.k] : 0; break;
            case BPF_LDX | BPF_MEM: x = f.k < BPF_MEMWORDS ? mem[f.k] : 0; break;
            case BPF_ST: if (f.k < BPF_MEMWORDS) mem[f.k] = a; break;
            case BPF_STX: if (f.k < BPF_MEMWORDS) mem[f.k] = x; break;
            case BPF_MISC | BPF_TAX: x = a; break;
            case BPF_MISC | BPF_TXA: a = x; break;
            case BPF_ALU | BPF_ADD | BPF_K: case BPF_ALU | BPF_ADD | BPF_X: a += src; break;
            case BPF_ALU | BPF_SUB | BPF_K: case BPF_ALU | BPF_SUB | BPF_X: a -= src; break;
            case BPF_ALU | BPF_MUL | BPF_K: case BPF_ALU | BPF_MUL | BPF_X: a *= src; break;
            case BPF_ALU | BPF_DIV | BPF_K: case BPF_ALU | BPF_DIV | BPF_X:
                if (src == 0) return SECCOMP_RET_KILL_THREAD;  // classic BPF: a division by 0 returns 0
                a /= src;
                break;
            case BPF_ALU | BPF_AND | BPF_K: case BPF_ALU | BPF_AND | BPF_X: a &= src; break;
            case BPF_ALU | BPF_OR | BPF_K: case BPF_ALU | BPF_OR | BPF_X: a |= src; break;
            case BPF_ALU | BPF_XOR | BPF_K: case BPF_ALU | BPF_XOR | BPF_X: a ^= src; break;
            // The x86 shift counts modulo 32 (what the kernel's JIT does).
            case BPF_ALU | BPF_LSH | BPF_K: case BPF_ALU | BPF_LSH | BPF_X: a <<= (src & 31); break;
            case BPF_ALU | BPF_RSH | BPF_K: case BPF_ALU | BPF_RSH | BPF_X: a >>= (src & 31); break;
            case BPF_ALU | BPF_NEG: a = 0u - a; break;
            case BPF_JMP | BPF_JA: pc += f.k; break;
            case BPF_JMP | BPF_JEQ | BPF_K: case BPF_JMP | BPF_JEQ | BPF_X: pc += a == src ? f.jt : f.jf; break;
            case BPF_JMP | BPF_JGT | BPF_K: case BPF_JMP | BPF_JGT | BPF_X: pc += a > src ? f.jt : f.jf; break;
            case BPF_JMP | BPF_JGE | BPF_K: case BPF_JMP | BPF_JGE | BPF_X: pc += a >= src ? f.jt : f.jf; break;
            case BPF_JMP | BPF_JSET | BPF_K: case BPF_JMP | BPF_JSET | BPF_X: pc += (a & src) ? f.jt : f.jf; break;
            case BPF_RET | BPF_K: return f.k;
            case BPF_RET | BPF_A: return a;
            default: return SECCOMP_RET_KILL_THREAD;
        }
    }
    return SECCOMP_RET_KILL_THREAD;  // ran off the end (an unchecked program)
}

std::size_t Filter::path_insns() const {
    std::size_t total = 0;
    for (const Filter* f = this; f; f = f->prev.get()) total += f->prog.size() + 4;
    return total;
}

std::uint32_t evaluate(const Filter* chain, const SeccompData& d) {
    std::uint32_t ret = SECCOMP_RET_ALLOW;
    for (const Filter* f = chain; f; f = f->prev.get()) {
        const std::uint32_t cur = run(f->prog, d);
        // The action as a signed number: KILL_PROCESS (sign bit) is lowest.
        if (static_cast<std::int32_t>(cur & SECCOMP_RET_ACTION_FULL) <
            static_cast<std::int32_t>(ret & SECCOMP_RET_ACTION_FULL))
            ret = cur;
    }
    return ret;
}

bool action_known(std::uint32_t action) {
    switch (action) {
        case SECCOMP_RET_KILL_PROCESS: case SECCOMP_RET_KILL_THREAD: case SECCOMP_RET_TRAP:
        case SECCOMP_RET_ERRNO: case SECCOMP_RET_USER_NOTIF: case SECCOMP_RET_TRACE:
        case SECCOMP_RET_LOG: case SECCOMP_RET_ALLOW:
            return true;
        default:
            return false;
    }
}

}  // namespace spanvm::process::seccomp
