#include <doctest/doctest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "vmm/process/loader/elf_file.hpp"
#include "vmm/process/loader/image_file.hpp"

using namespace spanvm;
using namespace spanvm::process;

namespace {

// Scratch "guest RAM" at page-aligned host memory, filled with a pattern
// outside the image so that stray writes show. Zero inside [zero_from,
// zero_to): the loader relies on a fresh mapping reading as zero.
struct ScratchRam {
    uint8_t* base = nullptr;
    size_t size = 0;
    explicit ScratchRam(size_t n) : size(n) {
        void* p = ::mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        REQUIRE(p != MAP_FAILED);
        base = static_cast<uint8_t*>(p);
    }
    ~ScratchRam() { ::munmap(base, size); }
    std::span<uint8_t> span() { return {base, size}; }
};

}  // namespace

SCENARIO("ImageFile opens a program for exec") {
    WHEN("the file does not exist") {
        auto r = ImageFile::open("/nonexistent/spanvm-x");
        REQUIRE_FALSE(r);
        THEN("the message names the file and the errno text, with execve's errno") {
            CHECK(r.error().message == "cannot open '/nonexistent/spanvm-x': No such file or directory");
            CHECK(r.error().code == ENOENT);
        }
    }
    WHEN("the path is a directory or a device") {
        auto d = ImageFile::open("/tmp");
        auto c = ImageFile::open("/dev/null");
        REQUIRE_FALSE(d);
        REQUIRE_FALSE(c);
        THEN("each is refused with the errno execve returns") {
            CHECK(d.error().message == "'/tmp' is a directory");
            CHECK(d.error().code == EISDIR);
            CHECK(c.error().message == "'/dev/null' is not a regular file");
            CHECK(c.error().code == EACCES);
        }
    }
    GIVEN("a small script") {
        const std::string path = "/tmp/spanvm_test_image_" + std::to_string(::getpid());
        FILE* f = std::fopen(path.c_str(), "w");
        REQUIRE(f);
        std::fputs("#!/bin/sh\necho hi\n", f);
        std::fclose(f);
        auto r = ImageFile::open(path);
        std::remove(path.c_str());
        REQUIRE(r);
        THEN("its head is the whole file, and it stays readable after the unlink") {
            CHECK(r->size() == 18);
            CHECK(std::string(r->head().begin(), r->head().end()) == "#!/bin/sh\necho hi\n");
            std::vector<uint8_t> b(4);
            CHECK(r->read(10, b));
            CHECK(std::string(b.begin(), b.end()) == "echo");
            CHECK_FALSE(r->read(16, b));  // past the end: a short read
        }
        THEN("it is not an ELF file") {
            auto e = r->parse_elf("s");
            REQUIRE_FALSE(e);
            CHECK(e.error().code == ENOEXEC);
        }
    }
    GIVEN("a file longer than the prefix read at open") {
        const std::string path = "/tmp/spanvm_test_image_long_" + std::to_string(::getpid());
        std::vector<uint8_t> bytes(3 * ImageFile::kPrefixBytes + 123);
        for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 7 + i / 251);
        FILE* f = std::fopen(path.c_str(), "w");
        REQUIRE(f);
        REQUIRE(std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size());
        std::fclose(f);
        auto r = ImageFile::open(path);
        std::remove(path.c_str());
        REQUIRE(r);
        THEN("head() stays the #! buffer and every read gives the file's bytes, in the prefix, across it or past it") {
            CHECK(r->size() == bytes.size());
            CHECK(r->head().size() == ImageFile::kHeadBytes);
            CHECK(std::equal(r->head().begin(), r->head().end(), bytes.begin()));
            for (uint64_t off : {uint64_t{0}, uint64_t{100}, ImageFile::kPrefixBytes - 50, ImageFile::kPrefixBytes,
                                 2 * ImageFile::kPrefixBytes + 7}) {
                CAPTURE(off);
                std::vector<uint8_t> b(200);
                REQUIRE(r->read(off, b));
                CHECK(std::equal(b.begin(), b.end(), bytes.begin() + static_cast<std::ptrdiff_t>(off)));
            }
            std::vector<uint8_t> tail(200);
            CHECK_FALSE(r->read(bytes.size() - 100, tail));  // past the end: a short read
        }
    }
}

SCENARIO("loading a real program from its file, mapped or read") {
    for (const char* path : {"/bin/true", "/lib64/ld-linux-x86-64.so.2"}) {
        CAPTURE(path);
        auto file = ImageFile::open(path);
        REQUIRE(file);
        std::vector<uint8_t> bytes(file->size());
        REQUIRE(file->read(0, bytes));
        auto from_bytes = ElfFile::parse(bytes, path);
        auto from_file = file->parse_elf(path);
        REQUIRE(from_bytes);
        REQUIRE(from_file);
        // The reader sees what the whole file shows.
        CHECK(from_file->type() == from_bytes->type());
        CHECK(from_file->entry() == from_bytes->entry());
        CHECK(from_file->interpreter() == from_bytes->interpreter());
        CHECK(from_file->phdr_vaddr() == from_bytes->phdr_vaddr());
        REQUIRE(from_file->load_segments().size() == from_bytes->load_segments().size());

        const uint64_t bias = 0x200000;
        const LoadPlan plan = from_file->plan_load(bias);
        std::vector<uint8_t> want(plan.span.end, 0);
        REQUIRE(apply_load_plan(plan, bytes, want));

        ScratchRam read_ram(plan.span.end), mapped_ram(plan.span.end);
        auto r = load_plan_from_file(plan, *file, read_ram.span(), nullptr);
        REQUIRE(r);
        CHECK(*r == 0);
        uint64_t maps = 0;
        const PageMapper map = [&](uint64_t guest, uint64_t len, int fd, uint64_t off, uint32_t) {
            ++maps;
            CHECK(guest % 4096 == 0);
            CHECK(len % 4096 == 0);
            CHECK(off % 4096 == 0);
            return ::mmap(mapped_ram.base + guest, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fd,
                          static_cast<off_t>(off)) != MAP_FAILED;
        };
        auto m = load_plan_from_file(plan, *file, mapped_ram.span(), map);
        REQUIRE(m);
        // (Plain checks: doctest sections inside a loop would run once.)
        // Both give the bytes apply_load_plan gives; the mapped one maps all
        // but the partial first and last page of each segment.
        CHECK(std::memcmp(read_ram.base, want.data(), want.size()) == 0);
        CHECK(std::memcmp(mapped_ram.base, want.data(), want.size()) == 0);
        CHECK(maps > 0);
        uint64_t file_bytes = 0;
        for (const CopyOp& c : plan.copies) file_bytes += c.length;
        // Only a segment with bss (the data segment, one per image) ends in
        // the middle of a page that must be read: the others end on a page
        // boundary or at the file's end, whole pages that are all mapped.
        size_t read_tails = 0;
        for (const CopyOp& c : plan.copies)
            if ((c.guest_addr + c.length) % 4096 != 0 && c.file_offset + c.length < file->size()) ++read_tails;
        CHECK(read_tails <= 1);
        CHECK(*m + plan.copies.size() * 2 * 4096 >= file_bytes);
        // A mapper that refuses: everything is read instead.
        ScratchRam ram(plan.span.end);
        auto n = load_plan_from_file(plan, *file, ram.span(), [](uint64_t, uint64_t, int, uint64_t, uint32_t) { return false; });
        REQUIRE(n);
        CHECK(*n == 0);
        CHECK(std::memcmp(ram.base, want.data(), want.size()) == 0);
    }
}

SCENARIO("whole_pages of a copy") {
    CHECK(whole_pages(CopyOp{0x1000, 0x3000, 0x401000}).file_offset == 0x1000);
    CHECK(whole_pages(CopyOp{0x1000, 0x3000, 0x401000}).length == 0x3000);
    // A partial first and last page are left out.
    const CopyOp c = whole_pages(CopyOp{0x1e10, 0x2300, 0x402e10});
    CHECK(c.guest_addr == 0x403000);
    CHECK(c.file_offset == 0x2000);
    CHECK(c.length == 0x2000);
    // Within one page: nothing.
    CHECK(whole_pages(CopyOp{0x10, 0x100, 0x400010}).length == 0);
    CHECK(whole_pages(CopyOp{0x1e10, 0x1f0, 0x402e10}).length == 0);
}
