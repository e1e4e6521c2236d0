// fuzz-sources: vmm/process/seccomp/seccomp_filter.cpp
// libFuzzer target: a guest's seccomp program (arbitrary sock_filter words)
// and a seccomp_data. check() must never crash and must accept only what
// the interpreter can run: an accepted program returns by one of its RET
// instructions (never runs off its end), and a chain's verdict is the
// action that takes precedence over each filter's own.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "vmm/process/seccomp/seccomp_filter.hpp"

using namespace spanvm::process::seccomp;

namespace {
void require(bool ok) {
    if (!ok) std::abort();
}

// The values the program can give: its RET instructions' (RET A: any),
// and 0 for a division by X == 0.
bool may_return(const std::vector<SockFilter>& prog, std::uint32_t v) {
    for (const SockFilter& f : prog) {
        if (f.code == (BPF_RET | BPF_A) || (f.code == (BPF_RET | BPF_K) && f.k == v)) return true;
        if (f.code == (BPF_ALU | BPF_DIV | BPF_X) && v == 0) return true;
    }
    return false;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    SeccompData d;
    const size_t head = sizeof d < size ? sizeof d : size;
    std::memcpy(&d, data, head);
    data += head, size -= head;
    std::vector<SockFilter> prog(size / sizeof(SockFilter));
    if (!prog.empty()) std::memcpy(prog.data(), data, prog.size() * sizeof(SockFilter));
    const std::uint32_t r = run(prog, d);  // unchecked: must not crash either
    if (check(prog)) return 0;
    require(!prog.empty() && prog.size() <= BPF_MAXINSNS);
    require(may_return(prog, r));
    auto one = std::make_shared<Filter>();
    one->prog = prog;
    auto two = std::make_shared<Filter>();
    two->prog = {{BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ERRNO | 1}};
    two->prev = one;
    const std::uint32_t v = evaluate(two.get(), d);
    const auto action = [](std::uint32_t x) { return static_cast<std::int32_t>(x & SECCOMP_RET_ACTION_FULL); };
    require(action(v) <= action(r) && action(v) <= action(SECCOMP_RET_ERRNO));
    require(v == r || v == (SECCOMP_RET_ERRNO | 1));
    return 0;
}
