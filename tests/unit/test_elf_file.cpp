#include <doctest/doctest.h>
#include <elf.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "vmm/process/loader/elf_file.hpp"

using namespace spanvm;
using namespace spanvm::process;

namespace {

Elf64_Phdr phdr(uint32_t type, uint32_t flags, uint64_t offset, uint64_t vaddr, uint64_t filesz, uint64_t memsz) {
    Elf64_Phdr p{};
    p.p_type = type;
    p.p_flags = flags;
    p.p_offset = offset;
    p.p_vaddr = vaddr;
    p.p_paddr = vaddr;
    p.p_filesz = filesz;
    p.p_memsz = memsz;
    p.p_align = 0x1000;
    return p;
}

// A minimal x86-64 ELF: header, program headers at offset 64, then a byte
// pattern up to file_size so copies can be checked byte by byte.
std::vector<uint8_t> make_elf(uint16_t type, uint64_t entry, const std::vector<Elf64_Phdr>& phdrs, size_t file_size) {
    std::vector<uint8_t> b(file_size);
    for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<uint8_t>((i * 7 + 1) | 1);  // never zero
    Elf64_Ehdr eh{};
    std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS64;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    eh.e_type = type;
    eh.e_machine = EM_X86_64;
    eh.e_version = EV_CURRENT;
    eh.e_entry = entry;
    eh.e_phoff = sizeof(Elf64_Ehdr);
    eh.e_ehsize = sizeof(Elf64_Ehdr);
    eh.e_phentsize = sizeof(Elf64_Phdr);
    eh.e_phnum = static_cast<uint16_t>(phdrs.size());
    REQUIRE(file_size >= sizeof eh + phdrs.size() * sizeof(Elf64_Phdr));
    std::memcpy(b.data(), &eh, sizeof eh);
    std::memcpy(b.data() + sizeof eh, phdrs.data(), phdrs.size() * sizeof(Elf64_Phdr));
    return b;
}

// A small static-like ET_EXEC: text at 0x400000 (covers the headers), data+bss
// at 0x402e10 sharing no page with the text.
std::vector<uint8_t> sample_exec() {
    return make_elf(ET_EXEC, 0x400100,
                    {phdr(PT_LOAD, PF_R | PF_X, 0, 0x400000, 0x1234, 0x1234),
                     phdr(PT_LOAD, PF_R | PF_W, 0x1e10, 0x402e10, 0x100, 0x3000),
                     phdr(PT_GNU_STACK, PF_R | PF_W, 0, 0, 0, 0)},
                    0x2000);
}

std::string parse_error(const std::vector<uint8_t>& b, const std::string& name = "x") {
    auto r = ElfFile::parse(b, name);
    REQUIRE_FALSE(r);
    return r.error().message;
}

void set_u16(std::vector<uint8_t>& b, size_t off, uint16_t v) { std::memcpy(b.data() + off, &v, 2); }

void set_phdr(std::vector<uint8_t>& b, size_t index, const Elf64_Phdr& p) {
    std::memcpy(b.data() + sizeof(Elf64_Ehdr) + index * sizeof(Elf64_Phdr), &p, sizeof p);
}

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

struct ReadelfLoad {
    uint64_t offset, vaddr, filesz, memsz;
    uint32_t flags;
};

// PT_LOAD lines from `readelf -lW`, or empty if readelf is unavailable.
std::vector<ReadelfLoad> readelf_loads(const std::string& path) {
    std::vector<ReadelfLoad> out;
    std::string cmd = "readelf -lW '" + path + "' 2>/dev/null";
    FILE* p = ::popen(cmd.c_str(), "r");
    if (!p) return out;
    char line[512];
    while (std::fgets(line, sizeof line, p)) {
        std::istringstream in(line);
        std::vector<std::string> tok;
        for (std::string t; in >> t;) tok.push_back(t);
        if (tok.size() < 8 || tok[0] != "LOAD") continue;
        ReadelfLoad l{};
        l.offset = std::stoull(tok[1], nullptr, 16);
        l.vaddr = std::stoull(tok[2], nullptr, 16);
        l.filesz = std::stoull(tok[4], nullptr, 16);
        l.memsz = std::stoull(tok[5], nullptr, 16);
        for (size_t i = 6; i + 1 < tok.size(); ++i)  // flags are "R E" etc., align is last
            for (char c : tok[i]) l.flags |= c == 'R' ? PF_R : c == 'W' ? PF_W : c == 'E' ? PF_X : 0;
        out.push_back(l);
    }
    ::pclose(p);
    return out;
}

// Checks the parsed segments against readelf's view and the load plan
// against the file bytes, by applying the plan into a scratch guest RAM.
void check_against_readelf_and_apply(const std::string& path, const ElfFile& elf, const std::vector<uint8_t>& bytes) {
    auto ref = readelf_loads(path);
    if (ref.empty()) {
        MESSAGE("readelf not available; skipping the cross-check for " << path);
    } else {
        REQUIRE(ref.size() == elf.load_segments().size());
        for (size_t i = 0; i < ref.size(); ++i) {
            const LoadSegment& s = elf.load_segments()[i];
            CHECK(s.offset == ref[i].offset);
            CHECK(s.vaddr == ref[i].vaddr);
            CHECK(s.filesz == ref[i].filesz);
            CHECK(s.memsz == ref[i].memsz);
            CHECK(s.flags == ref[i].flags);
        }
    }
    // ET_EXEC must stay at its link address; PIEs go to a 2 MiB-aligned bias.
    const uint64_t bias = elf.position_independent() ? 0x200000 : 0;
    LoadPlan plan = elf.plan_load(bias);
    std::vector<uint8_t> ram(plan.span.end, 0xAA);
    REQUIRE(apply_load_plan(plan, bytes, ram));
    for (const LoadSegment& s : elf.load_segments()) {
        CHECK(std::equal(bytes.begin() + s.offset, bytes.begin() + s.offset + s.filesz, ram.begin() + s.vaddr + bias));
        const uint64_t bss_end = ((s.vaddr + s.memsz + 0xfff) & ~0xfffull) + bias;
        if (&s == &elf.load_segments().back())
            CHECK(std::all_of(ram.begin() + s.vaddr + s.filesz + bias, ram.begin() + bss_end,
                              [](uint8_t v) { return v == 0; }));
    }
    // The program headers read back from guest memory equal the file's.
    auto phdr = elf.phdr_address(bias);
    REQUIRE(phdr);
    const size_t table = size_t{elf.phnum()} * elf.phentsize();
    CHECK(std::memcmp(ram.data() + *phdr, bytes.data() + elf.phoff(), table) == 0);
    CHECK(plan.entry == elf.entry() + bias);
}

// Compiles a tiny C program into /tmp with `flags`; returns the path or "".
std::string compile_test_binary(const std::string& flags, const std::string& tag) {
    const std::string dir = "/tmp/spanvm_test_elf_" + std::to_string(::getpid());
    const std::string src = dir + ".c", out = dir + "_" + tag;
    FILE* f = std::fopen(src.c_str(), "w");
    if (!f) return "";
    std::fputs("int zeroed[4096]; int main(void) { return zeroed[7]; }\n", f);
    std::fclose(f);
    const std::string cmd = "gcc " + flags + " -o '" + out + "' '" + src + "' >/dev/null 2>&1";
    const int rc = std::system(cmd.c_str());
    std::remove(src.c_str());
    return rc == 0 ? out : "";
}

}  // namespace

SCENARIO("parsing the real binaries on this machine") {
    GIVEN("/bin/true, a dynamically linked PIE") {
        auto bytes = read_whole_file("/bin/true");
        REQUIRE(bytes);
        auto elf = ElfFile::parse(*bytes, "/bin/true");
        REQUIRE_MESSAGE(elf, (elf ? "" : elf.error().message));
        THEN("it is ET_DYN with ld.so as interpreter and a PT_PHDR") {
            CHECK(elf->type() == ElfType::dyn);
            CHECK(elf->position_independent());
            REQUIRE(elf->interpreter());
            CHECK(*elf->interpreter() == "/lib64/ld-linux-x86-64.so.2");
            REQUIRE(elf->phdr_vaddr());
            CHECK(elf->phdr_address(0x10000000).value() == *elf->phdr_vaddr() + 0x10000000);
            CHECK(elf->phentsize() == sizeof(Elf64_Phdr));
            CHECK_FALSE(elf->executable_stack());
            CHECK(elf->image_span().start == 0);
            CHECK(elf->image_span().end % 0x1000 == 0);
            CHECK(std::any_of(elf->load_segments().begin(), elf->load_segments().end(),
                              [](const LoadSegment& s) { return s.executable() && !s.writable(); }));
        }
        THEN("its segments match readelf and the plan reproduces them in guest memory") {
            check_against_readelf_and_apply("/bin/true", *elf, *bytes);
        }
    }
    GIVEN("the dynamic linker itself") {
        auto bytes = read_whole_file("/lib64/ld-linux-x86-64.so.2");
        REQUIRE(bytes);
        auto elf = ElfFile::parse(*bytes, "ld.so");
        REQUIRE(elf);
        THEN("it is a position-independent ET_DYN without interpreter") {
            CHECK(elf->type() == ElfType::dyn);
            CHECK_FALSE(elf->interpreter());
            check_against_readelf_and_apply("/lib64/ld-linux-x86-64.so.2", *elf, *bytes);
        }
    }
    GIVEN("a static and a static-pie binary compiled with gcc") {
        const std::string st = compile_test_binary("-static", "static");
        const std::string spie = compile_test_binary("-static-pie", "spie");
        if (st.empty() || spie.empty()) {
            MESSAGE("gcc (with static libc) not available; crafted images below cover the same paths");
        } else {
            auto sb = read_whole_file(st);
            auto pb = read_whole_file(spie);
            REQUIRE(sb);
            REQUIRE(pb);
            auto s = ElfFile::parse(*sb, st);
            auto p = ElfFile::parse(*pb, spie);
            REQUIRE(s);
            REQUIRE(p);
            // One THEN only: doctest re-runs the GIVEN (and so gcc) for every leaf.
            THEN("the static one is ET_EXEC, the static-pie one ET_DYN, both match readelf and load") {
                CHECK(s->type() == ElfType::exec);
                CHECK_FALSE(s->position_independent());
                CHECK_FALSE(s->interpreter());
                CHECK(p->type() == ElfType::dyn);
                CHECK_FALSE(p->interpreter());
                // No PT_PHDR in a static binary: AT_PHDR comes from the PT_LOAD
                // that maps e_phoff (link address 0x400000 + 64).
                CHECK_FALSE(s->phdr_vaddr());
                CHECK(s->phdr_address(0).value() == s->load_segments().front().vaddr + s->phoff());
                // Both match readelf, and the plans place their bytes and zero the bss.
                check_against_readelf_and_apply(st, *s, *sb);
                check_against_readelf_and_apply(spie, *p, *pb);
            }
        }
        if (!st.empty()) std::remove(st.c_str());
        if (!spie.empty()) std::remove(spie.c_str());
    }
}

SCENARIO("read_whole_file reports clear errors") {
    WHEN("the file does not exist") {
        auto r = read_whole_file("/nonexistent/spanvm-x");
        REQUIRE_FALSE(r);
        THEN("the message names the file and the errno text") {
            CHECK(r.error().message == "cannot open '/nonexistent/spanvm-x': No such file or directory");
            CHECK(r.error().code == ENOENT);
        }
    }
    WHEN("the path is a directory") {
        auto r = read_whole_file("/tmp");
        REQUIRE_FALSE(r);
        THEN("it says so") { CHECK(r.error().message == "'/tmp' is a directory"); }
    }
    WHEN("the path is a character device") {
        auto r = read_whole_file("/dev/null");
        REQUIRE_FALSE(r);
        THEN("it is refused as not a regular file") {
            CHECK(r.error().message == "'/dev/null' is not a regular file");
        }
    }
}

SCENARIO("rejecting malformed or foreign ELF images") {
    GIVEN("inputs that are not ELF at all") {
        CHECK(parse_error({}) == "'x' is not an ELF file");
        CHECK(parse_error({'M', 'Z', 0x90, 0}) == "'x' is not an ELF file");
        std::vector<uint8_t> script = {'#', '!', '/', 'b', 'i', 'n', '/', 's', 'h', '\n'};
        CHECK(contains(parse_error(script), "#! script"));
    }
    GIVEN("a valid image") {
        auto good = sample_exec();
        REQUIRE(ElfFile::parse(good, "x"));
        WHEN("the header is truncated") {
            std::vector<uint8_t> t(good.begin(), good.begin() + 40);
            THEN("the error says how much is missing") {
                CHECK(parse_error(t) == "'x' is truncated: the ELF header needs 64 bytes, the file has 40");
            }
        }
        WHEN("the magic is wrong") {
            good[1] = 'X';
            THEN("it is not an ELF file") { CHECK(parse_error(good, "a.out") == "'a.out' is not an ELF file"); }
        }
        WHEN("it is a 32-bit i386 ELF") {
            good[EI_CLASS] = ELFCLASS32;
            set_u16(good, 18, EM_386);
            THEN("the machine is named") { CHECK(parse_error(good) == "'x' is an ELF for i386, not x86-64"); }
        }
        WHEN("it is 32-bit class but x86-64 machine (x32)") {
            good[EI_CLASS] = ELFCLASS32;
            THEN("the class is rejected") { CHECK(contains(parse_error(good), "32-bit (x32)")); }
        }
        WHEN("it is for AArch64") {
            set_u16(good, 18, EM_AARCH64);
            THEN("the machine is named") { CHECK(parse_error(good) == "'x' is an ELF for AArch64, not x86-64"); }
        }
        WHEN("it is for RISC-V") {
            set_u16(good, 18, EM_RISCV);
            THEN("the machine is named") { CHECK(parse_error(good) == "'x' is an ELF for RISC-V, not x86-64"); }
        }
        WHEN("it is a big-endian PowerPC64 image") {
            good[EI_DATA] = ELFDATA2MSB;
            good[18] = 0;
            good[19] = EM_PPC64;
            THEN("e_machine is read big-endian and named") {
                CHECK(parse_error(good) == "'x' is an ELF for PowerPC64, not x86-64");
            }
        }
        WHEN("it is a relocatable object") {
            set_u16(good, 16, ET_REL);
            THEN("the type is rejected") { CHECK(contains(parse_error(good), "relocatable object file (ET_REL)")); }
        }
        WHEN("the program headers run past the end of the file") {
            set_u16(good, 56, 200);  // e_phnum
            THEN("it is reported as truncated") {
                CHECK(contains(parse_error(good), "'x' is truncated: its program headers"));
            }
        }
        WHEN("e_phoff points far beyond the file") {
            uint64_t off = UINT64_MAX - 8;
            std::memcpy(good.data() + 32, &off, 8);
            THEN("the overflow is caught") { CHECK(contains(parse_error(good), "program headers")); }
        }
        WHEN("e_phentsize is wrong") {
            set_u16(good, 54, 32);
            THEN("it is rejected") { CHECK(parse_error(good) == "'x' has e_phentsize 32, expected 56"); }
        }
        WHEN("a PT_LOAD has filesz > memsz") {
            set_phdr(good, 1, phdr(PT_LOAD, PF_R | PF_W, 0x1e10, 0x401e10, 0x100, 0x80));
            THEN("it is rejected") {
                CHECK(parse_error(good) == "'x': PT_LOAD (program header 1) has p_filesz 0x100 > p_memsz 0x80");
            }
        }
        WHEN("a PT_LOAD's file bytes run past the end of the file") {
            set_phdr(good, 1, phdr(PT_LOAD, PF_R | PF_W, 0x1e10, 0x401e10, 0x1000, 0x3000));
            THEN("it is reported as truncated") { CHECK(contains(parse_error(good), "'x' is truncated: PT_LOAD")); }
        }
        WHEN("a PT_LOAD wraps the address space") {
            set_phdr(good, 1, phdr(PT_LOAD, PF_R | PF_W, 0x1e10, 0xfffffffffffffe10, 0x100, 0x3000));
            THEN("it is rejected") { CHECK(contains(parse_error(good), "wraps the address space")); }
        }
        WHEN("vaddr and offset are not congruent modulo the page size") {
            set_phdr(good, 1, phdr(PT_LOAD, PF_R | PF_W, 0x1e10, 0x402000, 0x100, 0x3000));
            THEN("it is rejected") { CHECK(contains(parse_error(good), "differ modulo the page size")); }
        }
        WHEN("the PT_LOADs are out of order") {
            set_phdr(good, 1, phdr(PT_LOAD, PF_R | PF_W, 0x1e10, 0x3fee10, 0x100, 0x100));
            THEN("it is rejected") { CHECK(contains(parse_error(good), "not sorted by address")); }
        }
        WHEN("two PT_LOADs overlap") {
            set_phdr(good, 1, phdr(PT_LOAD, PF_R | PF_W, 0x1e10, 0x400e10, 0x100, 0x100));
            THEN("it is rejected") { CHECK(contains(parse_error(good), "overlaps the previous one, which ends at 0x401234")); }
        }
        WHEN("there is no PT_LOAD") {
            set_phdr(good, 0, phdr(PT_NOTE, PF_R, 0, 0, 0, 0));
            set_phdr(good, 1, phdr(PT_NOTE, PF_R, 0, 0, 0, 0));
            THEN("it is rejected") { CHECK(parse_error(good) == "'x' has no loadable (PT_LOAD) segments"); }
        }
        WHEN("PT_INTERP is not NUL-terminated") {
            const char path[] = "/lib/ld.so";
            std::memcpy(good.data() + 0x300, path, sizeof path);
            set_phdr(good, 2, phdr(PT_INTERP, PF_R, 0x300, 0x400300, sizeof path - 1, sizeof path - 1));
            THEN("it is rejected") { CHECK(parse_error(good) == "'x': PT_INTERP is not NUL-terminated"); }
        }
        WHEN("PT_INTERP runs past the end of the file") {
            set_phdr(good, 2, phdr(PT_INTERP, PF_R, 0x1ff0, 0, 0x20, 0x20));
            THEN("it is rejected") { CHECK(contains(parse_error(good), "is truncated: PT_INTERP")); }
        }
        WHEN("PT_INTERP is well formed") {
            const char path[] = "/lib/ld.so";
            std::memcpy(good.data() + 0x300, path, sizeof path);
            set_phdr(good, 2, phdr(PT_INTERP, PF_R, 0x300, 0x400300, sizeof path, sizeof path));
            auto elf = ElfFile::parse(good, "x");
            REQUIRE(elf);
            THEN("the path is returned without its NUL") { CHECK(elf->interpreter() == std::string("/lib/ld.so")); }
        }
    }
}

SCENARIO("planning and applying a load") {
    GIVEN("an ET_EXEC with text and a data segment with bss") {
        auto bytes = sample_exec();
        auto elf = ElfFile::parse(bytes, "x");
        REQUIRE(elf);
        THEN("the accessors describe it") {
            CHECK(elf->type() == ElfType::exec);
            CHECK_FALSE(elf->position_independent());
            CHECK(elf->entry() == 0x400100);
            CHECK(elf->phnum() == 3);
            CHECK(elf->phoff() == 64);
            CHECK_FALSE(elf->executable_stack());
            CHECK(elf->image_span() == AddressRange{0x400000, 0x406000});
            REQUIRE(elf->load_segments().size() == 2);
            CHECK(elf->load_segments()[0].executable());
            CHECK(elf->load_segments()[1].writable());
            // No PT_PHDR: the first PT_LOAD maps offset 64 at 0x400040.
            CHECK(elf->phdr_address(0).value() == 0x400040);
        }
        WHEN("it is planned at bias 0") {
            LoadPlan plan = elf->plan_load(0);
            THEN("the text's last page is the file's, the data segment's first page gets the preceding file bytes, and the bss is zeroed to the page end") {
                REQUIRE(plan.copies.size() == 2);
                CHECK(plan.copies[0].file_offset == 0);
                CHECK(plan.copies[0].length == 0x2000);  // no bss: the last page whole, as Linux maps it
                CHECK(plan.copies[0].guest_addr == 0x400000);
                CHECK(plan.copies[1].file_offset == 0x1000);
                CHECK(plan.copies[1].length == 0xe10 + 0x100);
                CHECK(plan.copies[1].guest_addr == 0x402000);
                REQUIRE(plan.zeros.size() == 1);
                CHECK(plan.zeros[0].guest_addr == 0x402f10);  // bss after filesz
                CHECK(plan.zeros[0].length == 0x406000 - 0x402f10);
                REQUIRE(plan.protections.size() == 2);
                CHECK(plan.protections[0].range == AddressRange{0x400000, 0x402000});
                CHECK(plan.protections[0].flags == (kSegmentRead | kSegmentExec));
                CHECK(plan.protections[1].range == AddressRange{0x402000, 0x406000});
                CHECK(plan.protections[1].flags == (kSegmentRead | kSegmentWrite));
                CHECK(plan.entry == 0x400100);
                CHECK(plan.span == AddressRange{0x400000, 0x406000});
            }
            AND_WHEN("it is applied to guest RAM filled with garbage") {
                std::vector<uint8_t> ram(0x600000, 0xAA);
                REQUIRE(apply_load_plan(plan, bytes, ram));
                THEN("file bytes are in place and the bss reads as zero") {
                    CHECK(std::equal(bytes.begin(), bytes.begin() + 0x2000, ram.begin() + 0x400000));
                    CHECK(std::equal(bytes.begin() + 0x1000, bytes.begin() + 0x1f10, ram.begin() + 0x402000));
                    CHECK(std::all_of(ram.begin() + 0x402f10, ram.begin() + 0x406000, [](uint8_t v) { return v == 0; }));
                    CHECK(ram[0x3fffff] == 0xAA);  // nothing below the image touched
                    CHECK(ram[0x406000] == 0xAA);  // nothing above
                }
            }
            AND_WHEN("guest RAM is too small") {
                std::vector<uint8_t> ram(0x403000, 0xAA);
                auto r = apply_load_plan(plan, bytes, ram);
                THEN("the error gives both sizes and RAM is untouched") {
                    REQUIRE_FALSE(r);
                    CHECK(r.error().message ==
                          "image does not fit in guest memory (needs up to 0x406000, have 0x403000)");
                    CHECK(std::all_of(ram.begin(), ram.end(), [](uint8_t v) { return v == 0xAA; }));
                }
            }
            AND_WHEN("the file passed to apply is shorter than the parsed one") {
                std::vector<uint8_t> ram(0x600000, 0);
                auto r = apply_load_plan(plan, std::span<const uint8_t>(bytes).first(0x100), ram);
                THEN("the copy is refused") {
                    REQUIRE_FALSE(r);
                    CHECK(contains(r.error().message, "past the end of the file"));
                }
            }
        }
    }
    GIVEN("an ET_DYN linked at 0 with a PT_PHDR") {
        auto bytes = make_elf(ET_DYN, 0x1100,
                              {phdr(PT_PHDR, PF_R, 64, 64, 3 * 56, 3 * 56),
                               phdr(PT_LOAD, PF_R | PF_X, 0, 0, 0x1200, 0x1200),
                               phdr(PT_LOAD, PF_R | PF_W, 0x1800, 0x2800, 0x10, 0x2000)},
                              0x1810);
        auto elf = ElfFile::parse(bytes, "pie");
        REQUIRE(elf);
        WHEN("planned at bias 0x7f0000000000") {
            const uint64_t bias = 0x7f0000000000;
            LoadPlan plan = elf->plan_load(bias);
            THEN("every address carries the bias") {
                CHECK(elf->position_independent());
                CHECK(elf->phdr_address(bias).value() == bias + 64);
                CHECK(plan.entry == bias + 0x1100);
                CHECK(plan.span == AddressRange{bias, bias + 0x5000});
                REQUIRE(plan.copies.size() == 2);
                CHECK(plan.copies[0].guest_addr == bias);
                CHECK(plan.copies[1].guest_addr == bias + 0x2000);
                CHECK(plan.copies[1].file_offset == 0x1000);
                REQUIRE(plan.zeros.size() == 2);
                CHECK(plan.zeros[1].guest_addr == bias + 0x2810);
                CHECK(plan.zeros[1].length == 0x5000 - 0x2810);
                CHECK(plan.protections[1].range == AddressRange{bias + 0x2000, bias + 0x5000});
            }
            AND_WHEN("applied to a small RAM") {
                std::vector<uint8_t> ram(0x10000);
                auto r = apply_load_plan(plan, bytes, ram);
                THEN("it does not fit") {
                    REQUIRE_FALSE(r);
                    CHECK(r.error().message ==
                          "image does not fit in guest memory (needs up to 0x7f0000005000, have 0x10000)");
                }
            }
        }
        WHEN("planned with a bias that wraps the address space") {
            LoadPlan plan = elf->plan_load(0xfffffffffffff000);
            std::vector<uint8_t> ram(0x10000);
            THEN("the plan is flagged and refused") {
                CHECK(plan.address_overflow);
                auto r = apply_load_plan(plan, bytes, ram);
                REQUIRE_FALSE(r);
                CHECK(contains(r.error().message, "past the end of the address space"));
            }
        }
    }
    GIVEN("a bss-only PT_LOAD whose p_offset lies past the end of the file") {
        auto bytes = make_elf(ET_EXEC, 0x400000,
                              {phdr(PT_LOAD, PF_R | PF_X, 0, 0x400000, 0x200, 0x200),
                               phdr(PT_LOAD, PF_R | PF_W, 0x5123, 0x403123, 0, 0x2000)},
                              0x200);
        auto elf = ElfFile::parse(bytes, "bss");
        REQUIRE(elf);
        WHEN("it is planned") {
            LoadPlan plan = elf->plan_load(0);
            THEN("the segment reads nothing from the file and its whole pages are zeroed") {
                REQUIRE(plan.copies.size() == 1);
                REQUIRE(plan.zeros.size() == 2);
                CHECK(plan.zeros[1].guest_addr == 0x403000);
                CHECK(plan.zeros[1].length == 0x3000);
                std::vector<uint8_t> ram(0x406000, 0xAA);
                REQUIRE(apply_load_plan(plan, bytes, ram));
                CHECK(std::all_of(ram.begin() + 0x403000, ram.end(), [](uint8_t v) { return v == 0; }));
            }
        }
    }
    GIVEN("two segments that share a page, the first with bss") {
        auto bytes = make_elf(ET_EXEC, 0x400000,
                              {phdr(PT_LOAD, PF_R | PF_X, 0, 0x400000, 0x300, 0x500),
                               phdr(PT_LOAD, PF_R | PF_W, 0x600, 0x400600, 0x100, 0x100)},
                              0x800);
        auto elf = ElfFile::parse(bytes, "shared");
        REQUIRE(elf);
        WHEN("planned and applied") {
            LoadPlan plan = elf->plan_load(0);
            std::vector<uint8_t> ram(0x402000, 0xAA);
            REQUIRE(apply_load_plan(plan, bytes, ram));
            THEN("each segment keeps its own bytes; the gap goes to the second's head copy") {
                CHECK(std::all_of(ram.begin() + 0x400300, ram.begin() + 0x400500, [](uint8_t v) { return v == 0; }));
                // The second has no bss: its last page has the file's bytes
                // up to the file's end (0x800), then zeros.
                CHECK(std::equal(bytes.begin() + 0x500, bytes.begin() + 0x800, ram.begin() + 0x400500));
                CHECK(std::all_of(ram.begin() + 0x400800, ram.begin() + 0x401000, [](uint8_t v) { return v == 0; }));
                // No two ops overlap.
                std::vector<AddressRange> all;
                for (auto& c : plan.copies) all.push_back({c.guest_addr, c.guest_addr + c.length});
                for (auto& z : plan.zeros) all.push_back({z.guest_addr, z.guest_addr + z.length});
                std::sort(all.begin(), all.end(), [](auto& a, auto& b) { return a.start < b.start; });
                for (size_t i = 1; i < all.size(); ++i) CHECK(all[i].start >= all[i - 1].end);
            }
        }
    }
}
