#include <doctest/doctest.h>
#include <elf.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "vmm/process/loader/elf_file.hpp"
#include "vmm/process/loader/initial_stack.hpp"

using namespace spanvm;
using namespace spanvm::process;

namespace {

// Reads the stack image back the way a libc start routine would, using only
// guest addresses found in the image itself.
struct ParsedStack {
    uint64_t argc = 0;
    std::vector<std::string> argv, envp;
    std::vector<AuxEntry> auxv;  // up to and excluding AT_NULL
    uint64_t after_auxv = 0;     // guest address just past the AT_NULL pair
    bool terminated = false;
};

uint64_t load_u64(const InitialStack& s, uint64_t addr) {
    REQUIRE(addr >= s.rsp);
    REQUIRE(addr + 8 <= s.rsp + s.bytes.size());
    uint64_t v;
    std::memcpy(&v, s.bytes.data() + (addr - s.rsp), 8);
    return v;
}

std::string load_string(const InitialStack& s, uint64_t addr) {
    REQUIRE(addr >= s.rsp);
    REQUIRE(addr < s.rsp + s.bytes.size());
    const char* p = reinterpret_cast<const char*>(s.bytes.data() + (addr - s.rsp));
    const size_t room = s.bytes.size() - (addr - s.rsp);
    const size_t len = ::strnlen(p, room);
    REQUIRE(len < room);  // NUL-terminated inside the image
    return std::string(p, len);
}

ParsedStack parse_back(const InitialStack& s) {
    ParsedStack p;
    uint64_t a = s.rsp;
    p.argc = load_u64(s, a);
    a += 8;
    for (uint64_t i = 0; i < p.argc; ++i, a += 8) p.argv.push_back(load_string(s, load_u64(s, a)));
    REQUIRE(load_u64(s, a) == 0);
    a += 8;
    for (uint64_t v; (v = load_u64(s, a)) != 0; a += 8) p.envp.push_back(load_string(s, v));
    a += 8;
    for (;; a += 16) {
        AuxEntry e{load_u64(s, a), load_u64(s, a + 8)};
        if (e.type == AT_NULL) {
            p.terminated = true;
            break;
        }
        p.auxv.push_back(e);
    }
    p.after_auxv = a + 16;
    return p;
}

std::map<uint64_t, uint64_t> aux_map(const ParsedStack& p) {
    std::map<uint64_t, uint64_t> m;
    for (const AuxEntry& e : p.auxv) m[e.type] = e.value;
    return m;
}

InitialStackInput sample_input() {
    InitialStackInput in;
    in.stack_top = 0x7ff000000;
    in.argv = {"/usr/bin/prog", "-v", "", "last arg"};
    in.envp = {"PATH=/usr/bin:/bin", "HOME=/root", "EMPTY="};
    in.auxv = {{AT_PAGESZ, 4096}, {AT_ENTRY, 0x401000}, {AT_PHNUM, 13}};
    for (int i = 0; i < 16; ++i) in.random[i] = static_cast<uint8_t>(0xA0 + i);
    in.execfn = "/usr/bin/prog";
    in.max_size = 1 << 20;
    return in;
}

}  // namespace

SCENARIO("building the SysV initial stack") {
    GIVEN("argv, envp, caller auxv and random bytes") {
        InitialStackInput in = sample_input();
        auto r = build_initial_stack(in);
        REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
        const InitialStack& s = *r;
        ParsedStack p = parse_back(s);
        auto aux = aux_map(p);

        THEN("rsp is 16-byte aligned and the image spans [rsp, stack_top)") {
            CHECK(s.rsp % 16 == 0);
            CHECK(s.rsp + s.bytes.size() == in.stack_top);
            // The topmost 8 bytes are the zero end marker.
            for (size_t i = s.bytes.size() - 8; i < s.bytes.size(); ++i) CHECK(s.bytes[i] == 0);
        }
        THEN("argc, argv and envp read back exactly") {
            CHECK(p.argc == 4);
            CHECK(p.argv == in.argv);
            CHECK(p.envp == in.envp);
            CHECK(s.argv_addr == s.rsp + 8);
            CHECK(s.envp_addr == s.rsp + 8 + 5 * 8);
            CHECK(load_string(s, load_u64(s, s.argv_addr)) == "/usr/bin/prog");
        }
        THEN("the caller's auxv comes first, then AT_RANDOM, AT_PLATFORM, AT_EXECFN, then AT_NULL") {
            REQUIRE(p.terminated);
            REQUIRE(p.auxv.size() == 6);
            CHECK(p.auxv[0] == AuxEntry{AT_PAGESZ, 4096});
            CHECK(p.auxv[1] == AuxEntry{AT_ENTRY, 0x401000});
            CHECK(p.auxv[2] == AuxEntry{AT_PHNUM, 13});
            CHECK(p.auxv[3].type == AT_RANDOM);
            CHECK(p.auxv[4].type == AT_PLATFORM);
            CHECK(p.auxv[5].type == AT_EXECFN);
            CHECK(s.auxv_addr == s.envp_addr + 4 * 8);
            CHECK(s.auxv_bytes == 7 * 16);
            CHECK(p.after_auxv == s.auxv_addr + s.auxv_bytes);
        }
        THEN("AT_RANDOM points to the 16 random bytes inside the image") {
            const uint64_t addr = aux.at(AT_RANDOM);
            CHECK(addr == s.random_addr);
            REQUIRE(addr >= p.after_auxv);
            REQUIRE(addr + 16 <= in.stack_top);
            CHECK(std::memcmp(s.bytes.data() + (addr - s.rsp), in.random.data(), 16) == 0);
        }
        THEN("AT_PLATFORM and AT_EXECFN name strings in the string area") {
            CHECK(load_string(s, aux.at(AT_PLATFORM)) == "x86_64");
            CHECK(load_string(s, aux.at(AT_EXECFN)) == "/usr/bin/prog");
            CHECK(aux.at(AT_EXECFN) > aux.at(AT_PLATFORM));
        }
        THEN("all strings lie above the pointer tables, with exact arg/env ranges") {
            CHECK(s.arg_start >= p.after_auxv);
            uint64_t arg_len = 0, env_len = 0;
            for (auto& a : in.argv) arg_len += a.size() + 1;
            for (auto& e : in.envp) env_len += e.size() + 1;
            CHECK(s.arg_end - s.arg_start == arg_len);
            CHECK(s.env_end - s.env_start == env_len);
            CHECK(s.arg_end == s.env_start);
            CHECK(load_u64(s, s.argv_addr) == s.arg_start);
            CHECK(load_u64(s, s.envp_addr) == s.env_start);
            // The padding between AT_NULL and the strings is under 16 bytes.
            CHECK(s.random_addr - p.after_auxv < 16);
        }
    }
    GIVEN("every small combination of argc, envc, auxv count and stack_top alignment") {
        THEN("rsp is always 16-aligned and the image parses back") {
            for (int argc = 0; argc < 4; ++argc)
                for (int envc = 0; envc < 3; ++envc)
                    for (int auxc = 0; auxc < 3; ++auxc)
                        for (uint64_t mis = 0; mis < 16; mis += 3) {
                            InitialStackInput in;
                            in.stack_top = 0x100000 - mis;
                            for (int i = 0; i < argc; ++i) in.argv.push_back(std::string(i + 1, 'a'));
                            for (int i = 0; i < envc; ++i) in.envp.push_back("E" + std::string(i, 'x') + "=1");
                            for (int i = 0; i < auxc; ++i) in.auxv.push_back({AT_UID, uint64_t(i)});
                            in.execfn = "p";
                            in.max_size = 4096;
                            auto r = build_initial_stack(in);
                            REQUIRE(r);
                            CHECK(r->rsp % 16 == 0);
                            CHECK(r->rsp + r->bytes.size() == in.stack_top);
                            ParsedStack p = parse_back(*r);
                            CHECK(p.argv == in.argv);
                            CHECK(p.envp == in.envp);
                            CHECK(p.auxv.size() == size_t(auxc) + 3);
                        }
        }
    }
    GIVEN("inputs that cannot be built") {
        InitialStackInput in = sample_input();
        WHEN("the image exceeds max_size") {
            in.argv.push_back(std::string(5000, 'z'));
            in.max_size = 4096;
            auto r = build_initial_stack(in);
            THEN("the error gives the size and the limit") {
                REQUIRE_FALSE(r);
                CHECK(r.error().message.find("more than the limit of 4096") != std::string::npos);
                CHECK(r.error().code == E2BIG);
            }
        }
        WHEN("an argument contains a NUL byte") {
            in.argv[1] = std::string("a\0b", 3);
            auto r = build_initial_stack(in);
            THEN("it is refused") {
                REQUIRE_FALSE(r);
                CHECK(r.error().message == "initial stack: argv[1] contains a NUL byte");
            }
        }
        WHEN("the caller passes AT_RANDOM itself") {
            in.auxv.push_back({AT_RANDOM, 0x1234});
            auto r = build_initial_stack(in);
            THEN("it is refused") {
                REQUIRE_FALSE(r);
                CHECK(r.error().message ==
                      "initial stack: caller auxv must not contain AT_RANDOM; the builder adds it");
            }
        }
        WHEN("the caller passes AT_NULL, which would cut the vector short") {
            in.auxv.insert(in.auxv.begin(), AuxEntry{AT_NULL, 0});
            THEN("it is refused") { CHECK_FALSE(build_initial_stack(in)); }
        }
        WHEN("stack_top is too close to address 0") {
            in.stack_top = 64;
            auto r = build_initial_stack(in);
            THEN("it is refused") {
                REQUIRE_FALSE(r);
                CHECK(r.error().message.find("too low") != std::string::npos);
            }
        }
    }
}

SCENARIO("the standard auxv for a real program") {
    GIVEN("/bin/true loaded at a bias with ld.so at another") {
        auto bytes = read_whole_file("/bin/true");
        REQUIRE(bytes);
        auto elf = ElfFile::parse(*bytes, "/bin/true");
        REQUIRE(elf);
        const uint64_t bias = 0x555555554000, interp_base = 0x7ffff7fc3000;
        StandardAuxvParams prm;
        prm.phdr = elf->phdr_address(bias).value();
        prm.phnum = elf->phnum();
        prm.interp_base = interp_base;
        prm.entry = elf->entry() + bias;
        prm.uid = 1000;
        prm.euid = 1001;
        prm.gid = 1002;
        prm.egid = 1003;
        prm.hwcap = 0x178bfbff;
        WHEN("the standard auxv is built") {
            auto v = standard_auxv(prm);
            std::map<uint64_t, uint64_t> m;
            for (auto& e : v) {
                CHECK(m.count(e.type) == 0);  // no duplicates
                m[e.type] = e.value;
            }
            THEN("it carries every entry the loader and libc need") {
                CHECK(m.at(AT_PHDR) == bias + *elf->phdr_vaddr());
                CHECK(m.at(AT_PHENT) == sizeof(Elf64_Phdr));
                CHECK(m.at(AT_PHNUM) == elf->phnum());
                CHECK(m.at(AT_PAGESZ) == 4096);
                CHECK(m.at(AT_BASE) == interp_base);
                CHECK(m.at(AT_FLAGS) == 0);
                CHECK(m.at(AT_ENTRY) == bias + elf->entry());
                CHECK(m.at(AT_UID) == 1000);
                CHECK(m.at(AT_EUID) == 1001);
                CHECK(m.at(AT_GID) == 1002);
                CHECK(m.at(AT_EGID) == 1003);
                CHECK(m.at(AT_SECURE) == 0);
                CHECK(m.at(AT_HWCAP) == 0x178bfbff);
                CHECK(m.at(AT_CLKTCK) == 100);
                CHECK(m.at(AT_MINSIGSTKSZ) == 2048);
                CHECK(m.count(AT_HWCAP2) == 0);  // zero hwcap2 is omitted
                CHECK(m.count(AT_NULL) == 0);
            }
            AND_WHEN("it is passed to the stack builder") {
                InitialStackInput in = sample_input();
                in.auxv = v;
                auto s = build_initial_stack(in);
                REQUIRE(s);
                THEN("it reads back unchanged, followed by the builder's entries") {
                    ParsedStack p = parse_back(*s);
                    REQUIRE(p.auxv.size() == v.size() + 3);
                    for (size_t i = 0; i < v.size(); ++i) CHECK(p.auxv[i] == v[i]);
                }
            }
        }
        WHEN("hwcap2 is set") {
            prm.hwcap2 = 2;
            auto v = standard_auxv(prm);
            THEN("AT_HWCAP2 is present") { CHECK(v.back() == AuxEntry{AT_HWCAP2, 2}); }
        }
    }
}
