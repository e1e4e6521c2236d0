#include <doctest/doctest.h>

#include <sys/ioctl.h>
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

namespace {

// The ranges of `s` that are not strings.
std::vector<const ArgRange*> data_ranges(const spanvm::memory::ArgMemory& s) {
    std::vector<const ArgRange*> out;
    for (const auto& r : s.ranges)
        if (r.kind != ArgRange::Kind::string) out.push_back(&r);
    return out;
}

void put_u64(Ram& r, std::uint64_t at, std::uint64_t v) { std::memcpy(r.bytes.data() + at, &v, sizeof v); }

constexpr std::uint64_t kAtFdcwd = static_cast<std::uint64_t>(-100);

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
            THEN("the path is not captured: the executor reports ENAMETOOLONG itself") {
                auto s = r.capture(SYS_stat, 0x20000, 0x30000);
                CHECK(s.string(0x20000) == nullptr);
                CHECK(data_ranges(s).size() == s.ranges.size());
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
            THEN("one zeroed output range of 4096 bytes stands for it, stored `result` bytes long") {
                REQUIRE(s.ranges.size() == 1);
                CHECK(s.ranges[0].kind == ArgRange::Kind::output);
                CHECK(s.ranges[0].store == ArgRange::Store::result_bytes);
                CHECK(s.ranges[0].gva == 0x20000);
                CHECK(s.ranges[0].bytes == std::vector<std::uint8_t>(4096));
                CHECK(s.find(0x20000 + 100, 8) != nullptr);
            }
        }
        WHEN("recvfrom asks for the source address too") {
            THEN("nothing is captured: the address is written through the DSM") {
                CHECK(r.capture(SYS_recvfrom, 3, 0x20000, 64, 0, 0x30000, 0x30100).empty());
                CHECK(r.capture(SYS_recvfrom, 3, 0x20000, 64, 0, 0, 0).ranges.size() == 1);
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


SCENARIO("a node declares the fixed-size structs a call writes, with the result that writes them") {
    GIVEN("guest RAM") {
        Ram r;
        r.put(0x20000, "/etc/passwd");
        WHEN("fstat(fd, buf) traps") {
            auto s = r.capture(SYS_fstat, 3, 0x30000);
            THEN("struct stat (144 bytes) is one zeroed output, stored whole on success") {
                REQUIRE(s.ranges.size() == 1);
                CHECK(s.ranges[0].kind == ArgRange::Kind::output);
                CHECK(s.ranges[0].store == ArgRange::Store::on_success);
                CHECK(s.ranges[0].gva == 0x30000);
                CHECK(s.ranges[0].bytes.size() == 144);
            }
        }
        WHEN("newfstatat(AT_FDCWD, path, buf, 0) or statx(dirfd, path, flags, mask, buf) traps") {
            auto st = r.capture(SYS_newfstatat, kAtFdcwd, 0x20000, 0x30000, 0);
            auto sx = r.capture(SYS_statx, 3, 0x20000, 0, 0x7ff, 0x30000);
            THEN("the path and the struct (144 or 256 bytes) are both captured") {
                REQUIRE(st.ranges.size() == 2);
                CHECK(std::string(st.string(0x20000)) == "/etc/passwd");
                REQUIRE(data_ranges(st).size() == 1);
                CHECK(data_ranges(st)[0]->bytes.size() == 144);
                REQUIRE(data_ranges(sx).size() == 1);
                CHECK(data_ranges(sx)[0]->bytes.size() == 256);
                CHECK(sx.string(0x20000) != nullptr);
            }
        }
        WHEN("newfstatat(fd, NULL, buf, AT_EMPTY_PATH) traps") {
            auto s = r.capture(SYS_newfstatat, 3, 0, 0x30000, 0x1000);
            THEN("only the struct is captured") {
                REQUIRE(s.ranges.size() == 1);
                CHECK(s.ranges[0].kind == ArgRange::Kind::output);
            }
        }
        WHEN("uname, sysinfo, getrusage, times, pipe2, socketpair and clock_getres trap") {
            THEN("each declares its struct, of the kernel's size") {
                CHECK(r.capture(SYS_uname, 0x30000).ranges.at(0).bytes.size() == 390);
                CHECK(r.capture(SYS_sysinfo, 0x30000).ranges.at(0).bytes.size() == 112);
                CHECK(r.capture(SYS_getrusage, 0, 0x30000).ranges.at(0).bytes.size() == 144);
                CHECK(r.capture(SYS_times, 0x30000).ranges.at(0).bytes.size() == 32);
                CHECK(r.capture(SYS_pipe2, 0x30000, 0).ranges.at(0).bytes.size() == 8);
                CHECK(r.capture(SYS_socketpair, 1, 1, 0, 0x30000).ranges.at(0).bytes.size() == 8);
                CHECK(r.capture(SYS_clock_getres, 1, 0x30000).ranges.at(0).bytes.size() == 16);
            }
        }
        WHEN("times(NULL) or clock_getres(clk, NULL) traps") {
            THEN("there is nothing to capture: Linux writes nothing") {
                CHECK(r.capture(SYS_times, 0).empty());
                CHECK(r.capture(SYS_clock_getres, 1, 0).empty());
            }
        }
        WHEN("ioctl(fd, request, arg) traps") {
            THEN("TCGETS declares the kernel's struct termios (36 bytes), FIONBIO copies its int, others nothing") {
                auto tc = r.capture(SYS_ioctl, 0, TCGETS, 0x30000);
                REQUIRE(tc.ranges.size() == 1);
                CHECK(tc.ranges[0].kind == ArgRange::Kind::output);
                CHECK(tc.ranges[0].bytes.size() == 36);
                CHECK(r.capture(SYS_ioctl, 0, TIOCGWINSZ, 0x30000).ranges.at(0).bytes.size() == 8);
                auto nb = r.capture(SYS_ioctl, 0, FIONBIO, 0x30000);
                REQUIRE(nb.ranges.size() == 1);
                CHECK(nb.ranges[0].kind == ArgRange::Kind::buffer);
                CHECK(r.capture(SYS_ioctl, 0, TIOCSWINSZ, 0x30000).empty());
                CHECK(r.capture(SYS_ioctl, 0, (std::uint64_t{1} << 32) | TCGETS, 0x30000).ranges.size() == 1);
            }
        }
        WHEN("wait4(pid, status, options, rusage) traps") {
            auto s = r.capture(SYS_wait4, static_cast<std::uint64_t>(-1), 0x30000, 0, 0x31000);
            THEN("status and rusage are stored only when a child was reaped (result > 0)") {
                REQUIRE(s.ranges.size() == 2);
                CHECK(s.ranges[0].bytes.size() == 4);
                CHECK(s.ranges[1].bytes.size() == 144);
                CHECK(s.ranges[0].store == ArgRange::Store::on_positive);
                CHECK(s.ranges[1].store == ArgRange::Store::on_positive);
                CHECK(r.capture(SYS_wait4, static_cast<std::uint64_t>(-1), 0x30000, 0, 0).ranges.size() == 1);
            }
        }
    }
}

SCENARIO("a node declares the buffers a call writes `result` bytes of") {
    GIVEN("guest RAM with a path") {
        Ram r;
        r.put(0x20000, "/proc/self/exe");
        WHEN("readlinkat(AT_FDCWD, path, buf, 4096) traps") {
            auto s = r.capture(SYS_readlinkat, kAtFdcwd, 0x20000, 0x30000, 4096);
            THEN("the path and a 4096-byte result_bytes output are captured") {
                REQUIRE(s.ranges.size() == 2);
                CHECK(s.string(0x20000) != nullptr);
                REQUIRE(data_ranges(s).size() == 1);
                CHECK(data_ranges(s)[0]->store == ArgRange::Store::result_bytes);
                CHECK(data_ranges(s)[0]->bytes.size() == 4096);
            }
        }
        WHEN("getdents64, getcwd, getrandom and sched_getaffinity trap") {
            THEN("their buffer (size from its argument) is a result_bytes output") {
                CHECK(r.capture(SYS_getdents64, 3, 0x30000, 32768).ranges.at(0).bytes.size() == 32768);
                CHECK(r.capture(SYS_getcwd, 0x30000, 4096).ranges.at(0).bytes.size() == 4096);
                CHECK(r.capture(SYS_getrandom, 0x30000, 16, 0).ranges.at(0).bytes.size() == 16);
                auto a = r.capture(SYS_sched_getaffinity, 0, 128, 0x30000);
                REQUIRE(a.ranges.size() == 1);
                CHECK(a.ranges[0].gva == 0x30000);
                CHECK(a.ranges[0].bytes.size() == 128);
                CHECK(a.ranges[0].store == ArgRange::Store::result_bytes);
            }
        }
        WHEN("readlink's buffer is larger than the cap") {
            auto s = r.capture(SYS_readlink, 0x20000, 0x30000, kMaxCapturedBuffer + 1);
            THEN("the path is still captured, the buffer is left to the executor") {
                REQUIRE(s.ranges.size() == 1);
                CHECK(s.ranges[0].kind == ArgRange::Kind::string);
            }
        }
    }
}

SCENARIO("a node copies the small inputs a call reads, with the old value it writes back") {
    GIVEN("a struct sigaction at 0x20000") {
        Ram r;
        for (int i = 0; i < 32; ++i) r.bytes[0x20000 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(i + 1);
        WHEN("rt_sigaction(sig, act, oldact, 8) traps with two addresses") {
            auto s = r.capture(SYS_rt_sigaction, 2, 0x20000, 0x30000, 8);
            THEN("act is copied and oldact is a zeroed output stored on success") {
                REQUIRE(s.ranges.size() == 2);
                CHECK(s.ranges[0].kind == ArgRange::Kind::buffer);
                CHECK(s.ranges[0].bytes[31] == 32);
                CHECK(s.ranges[1].kind == ArgRange::Kind::output);
                CHECK(s.ranges[1].store == ArgRange::Store::on_success);
                CHECK(s.ranges[1].bytes.size() == 32);
            }
        }
        WHEN("act and oldact are the same address") {
            auto s = r.capture(SYS_rt_sigaction, 2, 0x20000, 0x20000, 8);
            THEN("they are one inout range holding act, stored back on success") {
                REQUIRE(s.ranges.size() == 1);
                CHECK(s.ranges[0].kind == ArgRange::Kind::inout);
                CHECK(s.ranges[0].store == ArgRange::Store::on_success);
                CHECK(s.ranges[0].bytes[0] == 1);
                CHECK(s.ranges[0].bytes.size() == 32);
            }
        }
        WHEN("act and oldact overlap at different addresses") {
            THEN("nothing is captured: a write through one would be read through the other") {
                CHECK(r.capture(SYS_rt_sigaction, 2, 0x20000, 0x20010, 8).empty());
            }
        }
        WHEN("only act, or only oldact, is given") {
            THEN("only it is captured") {
                auto a = r.capture(SYS_rt_sigaction, 2, 0x20000, 0, 8);
                REQUIRE(a.ranges.size() == 1);
                CHECK(a.ranges[0].kind == ArgRange::Kind::buffer);
                auto o = r.capture(SYS_rt_sigaction, 2, 0, 0x30000, 8);
                REQUIRE(o.ranges.size() == 1);
                CHECK(o.ranges[0].kind == ArgRange::Kind::output);
            }
        }
        WHEN("rt_sigprocmask(how, set, oldset, 8) and prlimit64(0, res, new, old) trap") {
            THEN("the 8-byte set and the 16-byte rlimit are copied, the old values declared") {
                auto m = r.capture(SYS_rt_sigprocmask, 0, 0x20000, 0x30000, 8);
                REQUIRE(m.ranges.size() == 2);
                CHECK(m.ranges[0].bytes.size() == 8);
                CHECK(m.ranges[1].bytes.size() == 8);
                auto p = r.capture(SYS_prlimit64, 0, 7, 0x20000, 0x30000);
                REQUIRE(p.ranges.size() == 2);
                CHECK(p.ranges[0].kind == ArgRange::Kind::buffer);
                CHECK(p.ranges[0].bytes.size() == 16);
                CHECK(p.ranges[1].kind == ArgRange::Kind::output);
            }
        }
    }
}

SCENARIO("a node copies a writev's iovec array and the buffers it names") {
    GIVEN("an iovec array at 0x20000 naming \"hello\" and \"world!\" and an empty entry") {
        Ram r;
        r.put(0x30000, "hello");
        r.put(0x30100, "world!");
        put_u64(r, 0x20000, 0x30000);
        put_u64(r, 0x20008, 5);
        put_u64(r, 0x20010, 0x90000);  // never dereferenced: 0 bytes
        put_u64(r, 0x20018, 0);
        put_u64(r, 0x20020, 0x30100);
        put_u64(r, 0x20028, 6);
        WHEN("writev(fd, iov, 3) traps") {
            auto s = r.capture(SYS_writev, 1, 0x20000, 3);
            THEN("the 48-byte array and the two buffers are captured") {
                REQUIRE(s.ranges.size() == 3);
                CHECK(s.ranges[0].bytes.size() == 48);
                REQUIRE(s.find(0x30000, 5) != nullptr);
                CHECK(std::memcmp(s.find(0x30000, 5), "hello", 5) == 0);
                REQUIRE(s.find(0x30100, 6) != nullptr);
                CHECK(std::memcmp(s.find(0x30100, 6), "world!", 6) == 0);
            }
        }
        WHEN("an entry points outside guest RAM, or there are more than kMaxCapturedIovecs entries") {
            THEN("nothing is captured: the executor reads them through the DSM") {
                put_u64(r, 0x20020, 0x90000);
                CHECK(r.capture(SYS_writev, 1, 0x20000, 3).empty());
                CHECK(r.capture(SYS_pwritev, 1, 0x20000, spanvm::cluster::kMaxCapturedIovecs + 1, 0).empty());
            }
        }
    }
}

SCENARIO("a call's non-string ranges are captured all or none") {
    GIVEN("guest RAM whose pages from 0x40000 on are read-only on this node") {
        Ram r;
        r.put(0x20000, "/tmp/x");
        const spanvm::cluster::ArgReadable writable = [](std::uint64_t gva, std::uint64_t len) {
            return gva + len <= 0x40000;
        };
        auto capture = [&](std::int64_t nr, std::uint64_t a0, std::uint64_t a1, std::uint64_t a2, std::uint64_t a3) {
            const std::uint64_t args[6] = {a0, a1, a2, a3, 0, 0};
            return capture_arg_memory(nr, args, r.bytes, kLo, {}, writable);
        };
        WHEN("prlimit64's old value lies in the read-only page") {
            THEN("its new value is not captured either: the executor handles both through the DSM") {
                CHECK(capture(SYS_prlimit64, 0, 7, 0x20000, 0x40000).empty());
                CHECK(capture(SYS_prlimit64, 0, 7, 0x20000, 0x30000).ranges.size() == 2);
            }
        }
        WHEN("newfstatat's struct lies in the read-only page") {
            auto s = capture(SYS_newfstatat, kAtFdcwd, 0x20000, 0x40000, 0);
            THEN("the path is still captured") {
                REQUIRE(s.ranges.size() == 1);
                CHECK(s.ranges[0].kind == ArgRange::Kind::string);
            }
        }
        WHEN("gettimeofday's two outputs overlap") {
            THEN("neither is captured") {
                CHECK(capture(SYS_gettimeofday, 0x30000, 0x30008, 0, 0).empty());
                CHECK(capture(SYS_gettimeofday, 0x30000, 0x30010, 0, 0).ranges.size() == 2);
            }
        }
        WHEN("a call's ranges add up to more than the cap") {
            THEN("none is captured") {
                CHECK(capture(SYS_readlinkat, kAtFdcwd, 0x20000, 0x21000, kMaxCapturedBuffer).ranges.size() == 2);
                const std::uint64_t args[6] = {3, 0x20000, kMaxCapturedBuffer, 0, 0x30000, 16};
                CHECK(capture_arg_memory(SYS_sendto, args, r.bytes, kLo).empty());
            }
        }
    }
}

SCENARIO("the executor stores back only the bytes Linux writes for the call's result") {
    using spanvm::memory::ArgMemory;
    GIVEN("an ArgMemory with a result_bytes pair, an on_success, an on_positive range and an input") {
        ArgMemory m;
        m.ranges.push_back({0x1000, ArgRange::Kind::output, std::vector<std::uint8_t>(4, 1), ArgRange::Store::result_bytes});
        m.ranges.push_back({0x2000, ArgRange::Kind::buffer, std::vector<std::uint8_t>(8, 9)});
        m.ranges.push_back({0x3000, ArgRange::Kind::output, std::vector<std::uint8_t>(4, 2), ArgRange::Store::result_bytes});
        m.ranges.push_back({0x4000, ArgRange::Kind::inout, std::vector<std::uint8_t>(16, 3), ArgRange::Store::on_success});
        m.ranges.push_back({0x5000, ArgRange::Kind::output, std::vector<std::uint8_t>(4, 4), ArgRange::Store::on_positive});
        auto stores = [&](std::int64_t result) {
            std::vector<std::pair<std::uint64_t, std::size_t>> out;
            m.for_each_store(result, [&](std::uint64_t gva, std::span<const std::uint8_t> b) { out.emplace_back(gva, b.size()); });
            return out;
        };
        using V = std::vector<std::pair<std::uint64_t, std::size_t>>;
        WHEN("the call returns 6") {
            THEN("the result_bytes ranges take 6 bytes in order, and the others are whole") {
                CHECK(stores(6) == V{{0x1000, 4}, {0x3000, 2}, {0x4000, 16}, {0x5000, 4}});
            }
        }
        WHEN("the call returns 0") {
            THEN("only the on_success range is stored") { CHECK(stores(0) == V{{0x4000, 16}}); }
        }
        WHEN("the call returns an error, -1 to -4095") {
            THEN("nothing is stored") {
                CHECK(stores(-1).empty());
                CHECK(stores(-4095).empty());
            }
        }
        WHEN("the call returns a negative value that is no error (times' clock ticks)") {
            THEN("only the on_success range is stored") { CHECK(stores(-4096) == V{{0x4000, 16}}); }
        }
        WHEN("the result is larger than the result_bytes ranges") {
            THEN("they are stored whole, never past their end") { CHECK(stores(100).at(1) == std::make_pair(std::uint64_t{0x3000}, std::size_t{4})); }
        }
    }
}
