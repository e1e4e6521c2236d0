// FileFiller (vmm/cluster/file_filler.hpp): a node keeps a file only if it
// is the origin's (identity equal), fills pages from it with zeros past its
// end, and refuses a fill naming a file it does not keep.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <string>
#include <vector>

#include "vmm/cluster/file_filler.hpp"

using namespace spanvm::cluster;
using spanvm::memory::FillRun;

namespace {
constexpr std::uint64_t P = 0x1000;
constexpr std::uint64_t kBase = 0x10000;

struct TempFile {
    std::string path;
    int fd = -1;
    explicit TempFile(std::size_t bytes) {
        char tmpl[] = "/tmp/spanvm-fill-XXXXXX";
        fd = ::mkstemp(tmpl);
        path = tmpl;
        std::vector<std::uint8_t> b(bytes);
        for (std::size_t i = 0; i < bytes; ++i) b[i] = static_cast<std::uint8_t>(i * 7 + i / P);
        REQUIRE(::write(fd, b.data(), b.size()) == static_cast<ssize_t>(b.size()));
    }
    ~TempFile() {
        ::close(fd);
        ::unlink(path.c_str());
    }
};
}  // namespace

SCENARIO("a node fills pages only from the origin's own file") {
    TempFile f(2 * P + 100);
    auto id = file_identity(f.fd);
    REQUIRE(id.has_value());
    CHECK(id->size == 2 * P + 100);
    GIVEN("a node told of the file with its identity") {
        FileFiller node(kBase);
        REQUIRE(node.open_declared({4, f.path, *id}));
        WHEN("pages [3, 6) are filled from it at offset 0") {
            REQUIRE(node.apply({FillRun{kBase + 3 * P, kBase + 6 * P, 4, 0}}).has_value());
            THEN("each page holds its file bytes, zero past the file's end") {
                CHECK_FALSE(node.filled(2));
                CHECK(node.filled(3));
                CHECK(node.filled(5));
                CHECK_FALSE(node.filled(6));
                std::array<std::byte, P> page{};
                REQUIRE(node.fill(4, page.data()));
                for (std::size_t i = 0; i < P; i += 511)
                    CHECK(page[i] == static_cast<std::byte>(static_cast<std::uint8_t>((P + i) * 7 + 1)));
                REQUIRE(node.fill(5, page.data()));
                CHECK(page[99] == static_cast<std::byte>(static_cast<std::uint8_t>((2 * P + 99) * 7 + 2)));
                CHECK(page[100] == std::byte{0});
                CHECK(page[P - 1] == std::byte{0});
                CHECK_FALSE(node.fill(6, page.data()));
                CHECK(node.any_in(kBase + 5 * P, kBase + 9 * P));
            }
            AND_WHEN("the range is reset to zero") {
                REQUIRE(node.apply({FillRun{kBase, kBase + 10 * P, spanvm::memory::kZeroFile, 0}}).has_value());
                THEN("nothing is filled") {
                    CHECK_FALSE(node.filled(4));
                    CHECK_FALSE(node.any_in(kBase, kBase + 10 * P));
                }
            }
        }
    }
    GIVEN("a node whose file is not the origin's") {
        FileFiller node(kBase);
        FileIdentity other = *id;
        other.mtime_ns += 1;  // written since
        THEN("it refuses it, and a fill naming it") {
            CHECK_FALSE(node.open_declared({4, f.path, other}));
            FileIdentity moved = *id;
            moved.ino += 1;  // replaced by another file at the same path
            CHECK_FALSE(node.open_declared({4, f.path, moved}));
            CHECK_FALSE(node.open_declared({4, "/nonexistent/spanvm-fill", *id}));
            CHECK_FALSE(node.apply({FillRun{kBase, kBase + P, 4, 0}}).has_value());
            CHECK_FALSE(node.filled(0));
        }
    }
    GIVEN("the test knob SPANVM_FILL_REFUSE naming the path") {
        ::setenv("SPANVM_FILL_REFUSE", "spanvm-fill-", 1);
        FileFiller node(kBase);
        THEN("the same file is refused") { CHECK_FALSE(node.open_declared({4, f.path, *id})); }
        ::unsetenv("SPANVM_FILL_REFUSE");
    }
    GIVEN("the origin adopting its open file") {
        FileFiller origin(kBase);
        REQUIRE(origin.adopt(9, f.fd).has_value());
        REQUIRE(origin.apply({FillRun{kBase, kBase + P, 9, P}}).has_value());
        THEN("it fills from it") {
            std::array<std::byte, P> page{};
            REQUIRE(origin.fill(0, page.data()));
            CHECK(page[1] == static_cast<std::byte>(static_cast<std::uint8_t>((P + 1) * 7 + 1)));
        }
    }
}

TEST_CASE("fill_run gives each page what fill gives it: file stretches, a gap, another offset, zeros past the end") {
    TempFile f(6 * P + 100);
    auto id = file_identity(f.fd);
    REQUIRE(id.has_value());
    FileFiller node(kBase);
    REQUIRE(node.open_declared({4, f.path, *id}));
    // Pages 2..5 from offset 0 (page 5 continues it), page 6 unfilled, pages
    // 7..9 from offset 5P (the file ends inside page 7's successor).
    REQUIRE(node.apply({FillRun{kBase + 2 * P, kBase + 6 * P, 4, 0}, FillRun{kBase + 7 * P, kBase + 10 * P, 4, 5 * P}})
                .has_value());
    constexpr std::size_t kFirst = 1, kCount = 10;
    std::vector<std::byte> run(kCount * P, std::byte{0xAA});
    node.fill_run(kFirst, kCount, run.data());
    for (std::size_t k = 0; k < kCount; ++k) {
        std::array<std::byte, P> page{};
        page.fill(std::byte{0x55});
        if (!node.fill(kFirst + k, page.data())) page.fill(std::byte{0});
        INFO("page " << kFirst + k);
        CHECK(std::equal(page.begin(), page.end(), run.begin() + static_cast<std::ptrdiff_t>(k * P)));
    }
}
