#include "vmm/process/loader/initial_stack.hpp"

#include <elf.h>

#include <cstring>

namespace spanvm::process {

namespace {

void put_u64(std::vector<uint8_t>& b, uint64_t index, uint64_t v) { std::memcpy(b.data() + index, &v, sizeof v); }

Result<void> check_string(const std::string& s, const char* what, size_t i) {
    if (s.find('\0') != std::string::npos)
        return make_error(EINVAL, "initial stack: {}[{}] contains a NUL byte", what, i);
    return {};
}

const char* reserved_name(uint64_t type) {
    switch (type) {
        case AT_NULL: return "AT_NULL";
        case AT_RANDOM: return "AT_RANDOM";
        case AT_PLATFORM: return "AT_PLATFORM";
        case AT_EXECFN: return "AT_EXECFN";
        default: return nullptr;
    }
}

}  // namespace

Result<InitialStack> build_initial_stack(const InitialStackInput& in) {
    for (size_t i = 0; i < in.argv.size(); ++i)
        if (auto r = check_string(in.argv[i], "argv", i); !r) return r.error();
    for (size_t i = 0; i < in.envp.size(); ++i)
        if (auto r = check_string(in.envp[i], "envp", i); !r) return r.error();
    if (auto r = check_string(in.platform, "platform", 0); !r) return r.error();
    if (auto r = check_string(in.execfn, "execfn", 0); !r) return r.error();
    for (const AuxEntry& a : in.auxv)
        if (const char* name = reserved_name(a.type))
            return make_error(EINVAL, "initial stack: caller auxv must not contain {}; the builder adds it", name);

    // Sizes as offsets below stack_top. The inputs live in host memory, so
    // these sums cannot overflow 64 bits.
    uint64_t arg_bytes = 0, env_bytes = 0;
    for (const std::string& s : in.argv) arg_bytes += s.size() + 1;
    for (const std::string& s : in.envp) env_bytes += s.size() + 1;
    const uint64_t execfn_bytes = in.execfn.size() + 1;
    const uint64_t platform_bytes = in.platform.size() + 1;
    const uint64_t strings_bytes = 8 + execfn_bytes + env_bytes + arg_bytes + platform_bytes + in.random.size();
    const uint64_t aux_pairs = in.auxv.size() + 4;  // + AT_RANDOM, AT_PLATFORM, AT_EXECFN, AT_NULL
    const uint64_t table_words = 1 + (in.argv.size() + 1) + (in.envp.size() + 1) + 2 * aux_pairs;
    const uint64_t unpadded = strings_bytes + table_words * 8;
    if (in.stack_top < unpadded)
        return make_error(ENOMEM, "initial stack needs {} bytes below stack top {:#x}, which is too low", unpadded,
                          in.stack_top);
    const uint64_t rsp = (in.stack_top - unpadded) & ~uint64_t{15};
    const uint64_t total = in.stack_top - rsp;
    if (total > in.max_size)
        return make_error(E2BIG, "initial stack needs {} bytes (argv, envp and auxv), more than the limit of {}",
                          total, in.max_size);

    InitialStack out;
    out.rsp = rsp;
    out.bytes.assign(total, 0);
    auto idx = [&](uint64_t addr) { return addr - rsp; };
    auto put_string = [&](uint64_t addr, const std::string& s) {
        std::memcpy(out.bytes.data() + idx(addr), s.data(), s.size());
        out.bytes[idx(addr) + s.size()] = 0;
        return addr + s.size() + 1;
    };

    // String area, from the top down (the topmost 8 bytes stay zero).
    out.execfn_addr = in.stack_top - 8 - execfn_bytes;
    put_string(out.execfn_addr, in.execfn);
    out.env_start = out.execfn_addr - env_bytes;
    out.env_end = out.execfn_addr;
    out.arg_start = out.env_start - arg_bytes;
    out.arg_end = out.env_start;
    out.platform_addr = out.arg_start - platform_bytes;
    put_string(out.platform_addr, in.platform);
    out.random_addr = out.platform_addr - in.random.size();
    std::memcpy(out.bytes.data() + idx(out.random_addr), in.random.data(), in.random.size());

    // Pointer tables, from rsp up.
    uint64_t w = rsp;
    auto push = [&](uint64_t v) {
        put_u64(out.bytes, idx(w), v);
        w += 8;
    };
    push(in.argv.size());
    out.argv_addr = w;
    uint64_t s = out.arg_start;
    for (const std::string& a : in.argv) {
        push(s);
        s = put_string(s, a);
    }
    push(0);
    out.envp_addr = w;
    s = out.env_start;
    for (const std::string& e : in.envp) {
        push(s);
        s = put_string(s, e);
    }
    push(0);
    out.auxv_addr = w;
    for (const AuxEntry& a : in.auxv) {
        push(a.type);
        push(a.value);
    }
    push(AT_RANDOM);
    push(out.random_addr);
    push(AT_PLATFORM);
    push(out.platform_addr);
    push(AT_EXECFN);
    push(out.execfn_addr);
    push(AT_NULL);
    push(0);
    out.auxv_bytes = w - out.auxv_addr;
    return out;
}

std::vector<AuxEntry> standard_auxv(const StandardAuxvParams& p) {
    std::vector<AuxEntry> v = {
        {AT_MINSIGSTKSZ, p.minsigstksz},
        {AT_HWCAP, p.hwcap},
        {AT_PAGESZ, p.page_size},
        {AT_CLKTCK, p.clock_ticks},
        {AT_PHDR, p.phdr},
        {AT_PHENT, p.phent},
        {AT_PHNUM, p.phnum},
        {AT_BASE, p.interp_base},
        {AT_FLAGS, p.flags},
        {AT_ENTRY, p.entry},
        {AT_UID, p.uid},
        {AT_EUID, p.euid},
        {AT_GID, p.gid},
        {AT_EGID, p.egid},
        {AT_SECURE, 0},
    };
    if (p.hwcap2) v.push_back({AT_HWCAP2, p.hwcap2});
    if (p.sysinfo_ehdr) v.insert(v.begin(), AuxEntry{AT_SYSINFO_EHDR, p.sysinfo_ehdr});
    return v;
}

}  // namespace spanvm::process
