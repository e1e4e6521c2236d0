// seccomp filters as pure logic (vmm/process/seccomp/seccomp_filter.hpp):
// the kernel's acceptance rules, the classic BPF interpreter over a
// seccomp_data, and the precedence of a chain's actions.
#include <doctest/doctest.h>

#include <cstddef>
#include <memory>
#include <vector>

#include "vmm/process/seccomp/seccomp_filter.hpp"

using namespace spanvm::process::seccomp;

namespace {
using Prog = std::vector<SockFilter>;
SockFilter stmt(std::uint16_t code, std::uint32_t k) { return {code, 0, 0, k}; }
SockFilter jump(std::uint16_t code, std::uint32_t k, std::uint8_t jt, std::uint8_t jf) { return {code, jt, jf, k}; }
const SockFilter kLoadNr = stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(SeccompData, nr));
const SockFilter kAllow = stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);

SeccompData call(int nr, std::uint64_t a0 = 0) {
    SeccompData d;
    d.nr = nr;
    d.arch = AUDIT_ARCH_X86_64;
    d.instruction_pointer = 0x401000;
    d.args[0] = a0;
    return d;
}

// ld nr; jeq NR ? RET : ALLOW
std::vector<SockFilter> on_nr(int nr, std::uint32_t ret) {
    return {kLoadNr, jump(BPF_JMP | BPF_JEQ | BPF_K, static_cast<std::uint32_t>(nr), 0, 1),
            stmt(BPF_RET | BPF_K, ret), kAllow};
}

std::shared_ptr<const Filter> filter(std::vector<SockFilter> prog, std::shared_ptr<const Filter> prev = nullptr) {
    auto f = std::make_shared<Filter>();
    f->prog = std::move(prog);
    f->prev = std::move(prev);
    return f;
}
}  // namespace

TEST_CASE("seccomp: the kernel accepts a typical filter and the interpreter follows it") {
    const auto prog = on_nr(63, SECCOMP_RET_ERRNO | 1);
    CHECK_FALSE(check(prog).has_value());
    CHECK(run(prog, call(63)) == (SECCOMP_RET_ERRNO | 1));
    CHECK(run(prog, call(0)) == SECCOMP_RET_ALLOW);
}

TEST_CASE("seccomp: programs the kernel refuses") {
    CHECK(check(Prog{}).has_value());
    CHECK(check(std::vector<SockFilter>(BPF_MAXINSNS + 1, kAllow)).has_value());
    CHECK_FALSE(check(std::vector<SockFilter>(BPF_MAXINSNS, kAllow)).has_value());
    // Opcodes outside seccomp's list: an indirect load, a modulo, a byte load.
    CHECK(check(Prog{stmt(BPF_LD | BPF_W | BPF_IND, 0), kAllow}).has_value());
    CHECK(check(Prog{stmt(BPF_ALU | BPF_MOD | BPF_K, 3), kAllow}).has_value());
    CHECK(check(Prog{stmt(BPF_LD | BPF_B | BPF_ABS, 0), kAllow}).has_value());
    // Loads: aligned words inside seccomp_data only.
    CHECK(check(Prog{stmt(BPF_LD | BPF_W | BPF_ABS, 2), kAllow}).has_value());
    CHECK(check(Prog{stmt(BPF_LD | BPF_W | BPF_ABS, 64), kAllow}).has_value());
    CHECK_FALSE(check(Prog{stmt(BPF_LD | BPF_W | BPF_ABS, 60), kAllow}).has_value());
    // Jumps inside the program.
    CHECK(check(Prog{stmt(BPF_JMP | BPF_JA, 1), kAllow}).has_value());
    CHECK_FALSE(check(Prog{stmt(BPF_JMP | BPF_JA, 0), kAllow}).has_value());
    CHECK(check(Prog{jump(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1), kAllow}).has_value());
    CHECK(check(Prog{jump(BPF_JMP | BPF_JGT | BPF_X, 0, 1, 0), kAllow}).has_value());
    // Constant division by 0, shifts by 32, scratch words past 15.
    CHECK(check(Prog{stmt(BPF_ALU | BPF_DIV | BPF_K, 0), kAllow}).has_value());
    CHECK(check(Prog{stmt(BPF_ALU | BPF_LSH | BPF_K, 32), kAllow}).has_value());
    CHECK_FALSE(check(Prog{stmt(BPF_ALU | BPF_RSH | BPF_K, 31), kAllow}).has_value());
    CHECK(check(Prog{stmt(BPF_ST, 16), kAllow}).has_value());
    // A return at the end.
    CHECK(check(Prog{kLoadNr}).has_value());
    CHECK(check(Prog{kAllow, kLoadNr}).has_value());
}

TEST_CASE("seccomp: scratch words must be written on every path before a read") {
    // st M[0]; ld M[0]: fine.
    CHECK_FALSE(check(Prog{stmt(BPF_ST, 0), stmt(BPF_LD | BPF_MEM, 0), stmt(BPF_RET | BPF_A, 0)}).has_value());
    // Read with no write at all.
    CHECK(check(Prog{stmt(BPF_LDX | BPF_MEM, 5), kAllow}).has_value());
    // Written on one branch only, read where both meet.
    const std::vector<SockFilter> one_branch = {
        kLoadNr,
        jump(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 1),
        stmt(BPF_ST, 2),             // only when nr == 1
        stmt(BPF_LD | BPF_MEM, 2),   // both paths
        stmt(BPF_RET | BPF_A, 0),
    };
    CHECK(check(one_branch).has_value());
    // Written before the branch: fine on both.
    const std::vector<SockFilter> before = {
        kLoadNr, stmt(BPF_ST, 2), jump(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 1), stmt(BPF_LD | BPF_IMM, 7),
        stmt(BPF_LD | BPF_MEM, 2), stmt(BPF_RET | BPF_A, 0),
    };
    CHECK_FALSE(check(before).has_value());
}

TEST_CASE("seccomp: the interpreter's loads, arithmetic, scratch and jumps") {
    SeccompData d = call(9, 0x1122334455667788ull);
    // Argument halves: low word at offset 16, high word at 20.
    CHECK(run(std::vector<SockFilter>{stmt(BPF_LD | BPF_W | BPF_ABS, 16), stmt(BPF_RET | BPF_A, 0)}, d) == 0x55667788u);
    CHECK(run(std::vector<SockFilter>{stmt(BPF_LD | BPF_W | BPF_ABS, 20), stmt(BPF_RET | BPF_A, 0)}, d) == 0x11223344u);
    CHECK(run(std::vector<SockFilter>{stmt(BPF_LD | BPF_W | BPF_ABS, 4), stmt(BPF_RET | BPF_A, 0)}, d) == AUDIT_ARCH_X86_64);
    CHECK(run(std::vector<SockFilter>{stmt(BPF_LD | BPF_W | BPF_ABS, 8), stmt(BPF_RET | BPF_A, 0)}, d) == 0x401000u);
    CHECK(run(std::vector<SockFilter>{stmt(BPF_LD | BPF_W | BPF_LEN, 0), stmt(BPF_RET | BPF_A, 0)}, d) == 64u);
    // ((nr + 3) * 4 - 2) / 5 ^ 1, << 2, >> 1, & 0xff | 0x100, then -A.
    const std::vector<SockFilter> alu = {
        kLoadNr,
        stmt(BPF_ALU | BPF_ADD | BPF_K, 3), stmt(BPF_ALU | BPF_MUL | BPF_K, 4), stmt(BPF_ALU | BPF_SUB | BPF_K, 2),
        stmt(BPF_ALU | BPF_DIV | BPF_K, 5), stmt(BPF_ALU | BPF_XOR | BPF_K, 1), stmt(BPF_ALU | BPF_LSH | BPF_K, 2),
        stmt(BPF_ALU | BPF_RSH | BPF_K, 1), stmt(BPF_ALU | BPF_AND | BPF_K, 0xff), stmt(BPF_ALU | BPF_OR | BPF_K, 0x100),
        stmt(BPF_RET | BPF_A, 0),
    };
    CHECK_FALSE(check(alu).has_value());
    CHECK(run(alu, d) == (((((9u + 3) * 4 - 2) / 5 ^ 1) << 2 >> 1 & 0xff) | 0x100));
    const std::vector<SockFilter> neg = {kLoadNr, stmt(BPF_ALU | BPF_NEG, 0), stmt(BPF_RET | BPF_A, 0)};
    CHECK(run(neg, d) == static_cast<std::uint32_t>(-9));
    // X: TAX, TXA, scratch through X; X arithmetic and jumps.
    const std::vector<SockFilter> x = {
        kLoadNr, stmt(BPF_MISC | BPF_TAX, 0), stmt(BPF_STX, 3), stmt(BPF_LD | BPF_IMM, 4),
        stmt(BPF_ALU | BPF_ADD | BPF_X, 0),             // A = 4 + 9
        stmt(BPF_LDX | BPF_MEM, 3),                     // X = 9
        jump(BPF_JMP | BPF_JGT | BPF_X, 0, 0, 1),       // 13 > 9
        stmt(BPF_MISC | BPF_TXA, 0), stmt(BPF_RET | BPF_A, 0),
    };
    CHECK_FALSE(check(x).has_value());
    CHECK(run(x, d) == 9u);
    // Division by X == 0 returns 0 (SECCOMP_RET_KILL_THREAD).
    const std::vector<SockFilter> div0 = {stmt(BPF_LDX | BPF_IMM, 0), stmt(BPF_LD | BPF_IMM, 5),
                                          stmt(BPF_ALU | BPF_DIV | BPF_X, 0), kAllow};
    CHECK(run(div0, d) == SECCOMP_RET_KILL_THREAD);
    // JSET, JGE, JA.
    const std::vector<SockFilter> j = {
        kLoadNr,
        jump(BPF_JMP | BPF_JSET | BPF_K, 8, 1, 0),  // 9 & 8: taken
        stmt(BPF_RET | BPF_K, 1),
        jump(BPF_JMP | BPF_JGE | BPF_K, 10, 0, 1),  // 9 >= 10: not taken
        stmt(BPF_RET | BPF_K, 2),
        stmt(BPF_JMP | BPF_JA, 1),
        stmt(BPF_RET | BPF_K, 3),
        stmt(BPF_RET | BPF_K, 4),
    };
    CHECK_FALSE(check(j).has_value());
    CHECK(run(j, d) == 4u);
}

TEST_CASE("seccomp: a chain's verdict is the action that takes precedence, newest data among equals") {
    CHECK(evaluate(nullptr, call(1)) == SECCOMP_RET_ALLOW);
    auto older = filter(on_nr(63, SECCOMP_RET_ERRNO | 1));
    auto newer = filter(on_nr(63, SECCOMP_RET_ERRNO | 13), older);
    CHECK(evaluate(newer.get(), call(63)) == (SECCOMP_RET_ERRNO | 13));
    CHECK(evaluate(newer.get(), call(2)) == SECCOMP_RET_ALLOW);
    // TRAP beats ERRNO whichever filter says it; KILL_PROCESS beats all.
    auto trap = filter(on_nr(63, SECCOMP_RET_TRAP | 5), newer);
    CHECK(evaluate(trap.get(), call(63)) == (SECCOMP_RET_TRAP | 5));
    auto older_trap = filter(on_nr(63, SECCOMP_RET_TRAP | 6));
    auto newer_errno = filter(on_nr(63, SECCOMP_RET_ERRNO | 7), older_trap);
    CHECK(evaluate(newer_errno.get(), call(63)) == (SECCOMP_RET_TRAP | 6));
    auto kill = filter(on_nr(63, SECCOMP_RET_KILL_PROCESS), trap);
    CHECK(evaluate(kill.get(), call(63)) == SECCOMP_RET_KILL_PROCESS);
    auto log = filter(on_nr(63, SECCOMP_RET_LOG));
    CHECK(evaluate(log.get(), call(63)) == SECCOMP_RET_LOG);
    CHECK(newer->path_insns() == 2 * (4 + 4));
}

TEST_CASE("seccomp: the actions the kernel knows") {
    for (std::uint32_t a : {SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_KILL_THREAD, SECCOMP_RET_TRAP, SECCOMP_RET_ERRNO,
                            SECCOMP_RET_USER_NOTIF, SECCOMP_RET_TRACE, SECCOMP_RET_LOG, SECCOMP_RET_ALLOW})
        CHECK(action_known(a));
    CHECK_FALSE(action_known(0x12340000u));
    CHECK_FALSE(action_known(SECCOMP_RET_ERRNO | 1));
}
