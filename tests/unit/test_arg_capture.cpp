#include <doctest/doctest.h>

#include <sys/syscall.h>

#include <cstring>
#include <string>
#include <vector>

#include "vmm/cluster/arg_capture.hpp"

using spanvm::cluster::capture_arg_memory;
using spanvm::cluster::kMaxCapturedBuffer;
using spanvm::memory::ArgRange;

namespace {

constexpr std::uint64_t kLo = 0x10000;

struct Ram {
    std::vector<std::uint8_t> bytes = std::vector<std::uint8_t>(0x80000, 0);
    void put(std::uint64_t at, const std::string& s) { std::memcpy(bytes.data() + at, s.c_str(), s.size() + 1); }
    spanvm::memory::ArgMemory capture(std::int64_t nr, std::uint64_t a0 = 0, std::uint64_t a1 = 0,
                                          std::uint64_t a2 = 0, std::uint64_t a3 = 0, std::uint64_t a4 = 0,
                                          std::uint64_t a5 = 0) const {
        const std::uint64_t args[6] = {a0, a1, a2, a3, a4, a5};
        return capture_arg_memory(nr, args, bytes, kLo);
    }
};

}  // namespace

SCENARIO("a node copies the paths a forwarded call reads") {
    GIVEN("two NUL-terminated paths in guest RAM") {
        Ram r;
        r.put(0x20000, "/tmp/a");
        r.put(0x30000, "/tmp/b");
        WHEN("open(path) traps") {
            auto s = r.capture(SYS_open, 0x20000, 0, 0);
            THEN("its path is captured with the NUL") {
                REQUIRE(s.ranges.size() == 1);
                CHECK(s.ranges[0].kind == ArgRange::Kind::string);
                CHECK(std::string(s.string(0x20000)) == "/tmp/a");
            }
        }
        WHEN("symlinkat(target, dirfd, linkpath) traps") {
            auto s = r.capture(SYS_symlinkat, 0x20000, static_cast<std::uint64_t>(-100), 0x30000);
            THEN("arguments 0 and 2 are captured, not the dirfd") {
                REQUIRE(s.ranges.size() == 2);
                CHECK(std::string(s.string(0x20000)) == "/tmp/a");
                CHECK(std::string(s.string(0x30000)) == "/tmp/b");
            }
        }
        WHEN("renameat2(olddirfd, old, newdirfd, new, flags) traps") {
            auto s = r.capture(SYS_renameat2, 3, 0x20000, 4, 0x30000, 0);
            THEN("arguments 1 and 3 are captured") { CHECK(s.ranges.size() == 2); }
        }
        WHEN("a path pointer is NULL, below the user window or past RAM") {
            THEN("nothing is captured: the executor reports EFAULT itself") {
                CHECK(r.capture(SYS_mkdir, 0).empty());
                CHECK(r.capture(SYS_mkdir, kLo - 8).empty());
                CHECK(r.capture(SYS_mkdir, 0x90000).empty());
            }
        }
    }
    GIVEN("a path with no NUL within PATH_MAX bytes") {
        Ram r;
        std::memset(r.bytes.data() + 0x20000, 'x', 5000);
        WHEN("stat(path) traps") {
            THEN("nothing is captured: the executor reports ENAMETOOLONG itself") {
                CHECK(r.capture(SYS_stat, 0x20000, 0x30000).empty());
            }
        }
    }
}

SCENARIO("a node copies the data of calls that write no guest memory") {
    GIVEN("a buffer in guest RAM") {
        Ram r;
        r.put(0x20000, "hello");
        WHEN("write(fd, buf, 5) traps") {
            auto s = r.capture(SYS_write, 1, 0x20000, 5);
            THEN("the 5 bytes are captured as a buffer") {
                REQUIRE(s.ranges.size() == 1);
                CHECK(s.ranges[0].kind == ArgRange::Kind::buffer);
                REQUIRE(s.find(0x20000, 5) != nullptr);
                CHECK(std::memcmp(s.find(0x20000, 5), "hello", 5) == 0);
                CHECK(s.find(0x20000, 6) == nullptr);
            }
        }
        WHEN("sendto(fd, buf, 5, 0, addr, 16) traps") {
            auto s = r.capture(SYS_sendto, 3, 0x20000, 5, 0, 0x30000, 16);
            THEN("the data and the address are captured") { CHECK(s.ranges.size() == 2); }
        }
        WHEN("the data is larger than the cap") {
            THEN("nothing is captured: the executor reads it through the DSM") {
                CHECK(r.capture(SYS_write, 1, 0x20000, kMaxCapturedBuffer + 1).empty());
            }
        }
        WHEN("readv, which writes through an iovec array, traps") {
            THEN("nothing is captured") { CHECK(r.capture(SYS_readv, 0, 0x20000, 1).empty()); }
        }
    }
}

SCENARIO("a node declares the buffer a read-like call writes, by length only") {
    GIVEN("a buffer in guest RAM") {
        Ram r;
        WHEN("read(fd, buf, 4096) traps") {
            auto s = r.capture(SYS_read, 3, 0x20000, 4096);
            THEN("one zeroed output range of 4096 bytes stands for it") {
                REQUIRE(s.ranges.size() == 1);
                REQUIRE(s.output() != nullptr);
                CHECK(s.output()->gva == 0x20000);
                CHECK(s.output()->bytes.size() == 4096);
                CHECK(s.find(0x20000 + 100, 8) != nullptr);
            }
        }
        WHEN("recvfrom asks for the source address too") {
            THEN("nothing is captured: the address is written through the DSM") {
                CHECK(r.capture(SYS_recvfrom, 3, 0x20000, 64, 0, 0x30000, 0x30100).empty());
                CHECK(r.capture(SYS_recvfrom, 3, 0x20000, 64, 0, 0, 0).output() != nullptr);
            }
        }
        WHEN("the buffer is larger than the cap") {
            THEN("nothing is captured") { CHECK(r.capture(SYS_pread64, 3, 0x20000, kMaxCapturedBuffer + 1, 0).empty()); }
        }
    }
}

SCENARIO("a node never reads guest memory its layout makes inaccessible") {
    GIVEN("guest RAM whose pages from 0x40000 on are PROT_NONE or unmapped on this node") {
        Ram r;
        const spanvm::cluster::ArgReadable readable = [](std::uint64_t gva, std::uint64_t len) {
            return gva + len <= 0x40000;
        };
        auto capture = [&](std::int64_t nr, std::uint64_t a0, std::uint64_t a1, std::uint64_t a2) {
            const std::uint64_t args[6] = {a0, a1, a2, 0, 0, 0};
            return capture_arg_memory(nr, args, r.bytes, kLo, readable);
        };
        r.put(0x3FFE0, "/tmp/abc");             // ends before the boundary
        std::memset(r.bytes.data() + 0x3FFF8, 'x', 0x10);  // a path that runs into the PROT_NONE page
        r.bytes[0x40010] = 0;
        WHEN("a path ends inside the accessible page") {
            auto s = capture(SYS_open, 0x3FFE0, 0, 0);
            THEN("it is captured") {
                REQUIRE(s.ranges.size() == 1);
                CHECK(std::string(s.string(0x3FFE0)) == "/tmp/abc");
            }
        }
        WHEN("a path runs into the inaccessible page, or starts there") {
            THEN("nothing is captured: the executor decides (EFAULT)") {
                CHECK(capture(SYS_open, 0x3FFF8, 0, 0).empty());
                CHECK(capture(SYS_open, 0x40000, 0, 0).empty());
            }
        }
        WHEN("write's buffer or read's output lies partly in the inaccessible page") {
            THEN("nothing is captured") {
                CHECK(capture(SYS_write, 1, 0x3F000, 0x2000).empty());
                CHECK(capture(SYS_read, 0, 0x3F000, 0x2000).empty());
                CHECK_FALSE(capture(SYS_write, 1, 0x3F000, 0x1000).empty());
            }
        }
        WHEN("read's output lies in a read-only page (readable, not writable)") {
            const spanvm::cluster::ArgReadable writable = [](std::uint64_t gva, std::uint64_t len) {
                return gva >= 0x30000 && gva + len <= 0x40000;
            };
            auto capture_rw = [&](std::int64_t nr, std::uint64_t a0, std::uint64_t a1, std::uint64_t a2) {
                const std::uint64_t args[6] = {a0, a1, a2, 0, 0, 0};
                return capture_arg_memory(nr, args, r.bytes, kLo, readable, writable);
            };
            THEN("the output is not captured, but write's data from there is") {
                CHECK(capture_rw(SYS_read, 0, 0x2F000, 0x1000).empty());
                CHECK(capture_rw(SYS_read, 0, 0x2F800, 0x1000).empty());
                CHECK_FALSE(capture_rw(SYS_read, 0, 0x30000, 0x1000).empty());
                CHECK_FALSE(capture_rw(SYS_write, 1, 0x2F000, 0x1000).empty());
            }
        }
    }
}
