#include <doctest/doctest.h>

#include <sys/mman.h>

#include <climits>
#include <cstring>
#include <vector>

#include "vmm/memory/arg_memory.hpp"
#include "vmm/process/mm/guest_access.hpp"

using spanvm::process::GuestAccess;

namespace {

constexpr uint64_t kLo = 0x10000;
constexpr uint64_t kHi = 0x40000;

struct FakeRam {
    std::vector<uint8_t> ram = std::vector<uint8_t>(kHi, 0);
    GuestAccess mem{ram.data(), kLo, kHi};

    void put_iov(uint64_t at, uint64_t base, uint64_t len) {
        std::memcpy(ram.data() + at, &base, 8);
        std::memcpy(ram.data() + at + 8, &len, 8);
    }
};

}  // namespace

SCENARIO("guest pointers are bounds-checked against the user window") {
    GIVEN("guest RAM whose user window is [0x10000, 0x40000)") {
        FakeRam g;
        WHEN("a range lies inside the window") {
            THEN("its host address is host_base + gva") {
                CHECK(g.mem.ptr(kLo, 16) == g.ram.data() + kLo);
                CHECK(g.mem.ptr(kHi - 16, 16) == g.ram.data() + kHi - 16);
                CHECK(g.mem.ptr(kLo, kHi - kLo) == g.ram.data() + kLo);
            }
        }
        WHEN("a range starts below the window or ends past it") {
            THEN("ptr is null (EFAULT)") {
                CHECK(g.mem.ptr(0, 1) == nullptr);
                CHECK(g.mem.ptr(kLo - 1, 2) == nullptr);
                CHECK(g.mem.ptr(kHi - 8, 9) == nullptr);
                CHECK(g.mem.ptr(kHi, 1) == nullptr);
                CHECK_FALSE(g.mem.valid(kLo - 1, 1));
            }
        }
        WHEN("gva + len overflows 64 bits") {
            THEN("ptr is null rather than wrapping into the window") {
                CHECK(g.mem.ptr(kLo, ~0ull) == nullptr);
                CHECK(g.mem.ptr(~0ull - 3, 16) == nullptr);
                CHECK(g.mem.ptr(kLo + 8, ~0ull - 4) == nullptr);
            }
        }
        WHEN("the length is zero") {
            THEN("any address is valid and the pointer stays inside the window") {
                CHECK(g.mem.ptr(kLo + 5, 0) == g.ram.data() + kLo + 5);
                uint8_t* p = g.mem.ptr(0xdead'0000'0000ull, 0);
                REQUIRE(p != nullptr);
                CHECK(p >= g.ram.data() + kLo);
                CHECK(p <= g.ram.data() + kHi);
            }
        }
    }
}

SCENARIO("guest C strings are read with a maximum length") {
    GIVEN("guest RAM holding strings") {
        FakeRam g;
        std::memcpy(g.ram.data() + kLo + 0x100, "hello", 6);
        WHEN("a NUL-terminated string is read") {
            auto s = g.mem.cstring(kLo + 0x100, 4096);
            THEN("the view excludes the NUL") {
                REQUIRE(s.has_value());
                CHECK(*s == "hello");
            }
        }
        WHEN("the string has exactly max_len - 1 characters") {
            auto s = g.mem.cstring(kLo + 0x100, 6);
            THEN("it is accepted") {
                REQUIRE(s.has_value());
                CHECK(*s == "hello");
            }
        }
        WHEN("the string has max_len characters or more") {
            auto s = g.mem.cstring(kLo + 0x100, 5);
            THEN("ENAMETOOLONG") {
                REQUIRE_FALSE(s.has_value());
                CHECK(s.error().code == ENAMETOOLONG);
            }
        }
        WHEN("the string runs off the end of the window without a NUL") {
            std::memset(g.ram.data() + kHi - 8, 'x', 8);
            auto s = g.mem.cstring(kHi - 8, 4096);
            THEN("EFAULT") {
                REQUIRE_FALSE(s.has_value());
                CHECK(s.error().code == EFAULT);
            }
        }
        WHEN("the string starts outside the window") {
            auto s = g.mem.cstring(kLo - 1, 4096);
            auto t = g.mem.cstring(kHi, 4096);
            THEN("EFAULT") {
                REQUIRE_FALSE(s.has_value());
                CHECK(s.error().code == EFAULT);
                REQUIRE_FALSE(t.has_value());
                CHECK(t.error().code == EFAULT);
            }
        }
        WHEN("the string is empty") {
            auto s = g.mem.cstring(kLo + 0x200, 16);
            THEN("an empty view is returned") {
                REQUIRE(s.has_value());
                CHECK(s->empty());
            }
        }
    }
}

SCENARIO("typed reads and writes of guest memory") {
    GIVEN("guest RAM") {
        FakeRam g;
        WHEN("a value is written at an unaligned address and read back") {
            REQUIRE(g.mem.write<uint64_t>(kLo + 3, 0x1122334455667788ull));
            auto v = g.mem.read<uint64_t>(kLo + 3);
            THEN("the same value comes back and the bytes are little-endian in RAM") {
                REQUIRE(v.has_value());
                CHECK(*v == 0x1122334455667788ull);
                CHECK(g.ram[kLo + 3] == 0x88);
            }
        }
        WHEN("the value would straddle the end of the window") {
            THEN("write fails and read is EFAULT") {
                CHECK_FALSE(g.mem.write<uint64_t>(kHi - 4, 1));
                auto v = g.mem.read<uint32_t>(kHi - 2);
                REQUIRE_FALSE(v.has_value());
                CHECK(v.error().code == EFAULT);
            }
        }
    }
}

SCENARIO("guest iovec arrays are translated to host iovecs") {
    GIVEN("a guest iovec array of two in-window buffers") {
        FakeRam g;
        const uint64_t arr = kLo + 0x1000;
        g.put_iov(arr, kLo + 0x2000, 10);
        g.put_iov(arr + 16, kLo + 0x3000, 20);
        WHEN("it is translated") {
            auto v = g.mem.iovecs(arr, 2);
            THEN("each entry points at host_base + base with the same length") {
                REQUIRE(v.has_value());
                REQUIRE(v->size() == 2);
                CHECK((*v)[0].iov_base == g.ram.data() + kLo + 0x2000);
                CHECK((*v)[0].iov_len == 10);
                CHECK((*v)[1].iov_base == g.ram.data() + kLo + 0x3000);
                CHECK((*v)[1].iov_len == 20);
            }
        }
        WHEN("one buffer lies outside the window") {
            g.put_iov(arr + 16, kHi - 4, 20);
            auto v = g.mem.iovecs(arr, 2);
            THEN("EFAULT") {
                REQUIRE_FALSE(v.has_value());
                CHECK(v.error().code == EFAULT);
            }
        }
        WHEN("an out-of-window buffer has length zero") {
            g.put_iov(arr + 16, 0x5, 0);
            auto v = g.mem.iovecs(arr, 2);
            THEN("it is accepted, as in Linux") {
                REQUIRE(v.has_value());
                CHECK((*v)[1].iov_len == 0);
            }
        }
        WHEN("a length exceeds SSIZE_MAX") {
            g.put_iov(arr + 16, kLo, static_cast<uint64_t>(SSIZE_MAX) + 1);
            auto v = g.mem.iovecs(arr, 2);
            THEN("EINVAL") {
                REQUIRE_FALSE(v.has_value());
                CHECK(v.error().code == EINVAL);
            }
        }
        WHEN("the count exceeds IOV_MAX") {
            auto v = g.mem.iovecs(arr, IOV_MAX + 1);
            THEN("EINVAL") {
                REQUIRE_FALSE(v.has_value());
                CHECK(v.error().code == EINVAL);
            }
        }
        WHEN("the array itself runs off the window") {
            auto v = g.mem.iovecs(kHi - 16, 2);
            THEN("EFAULT") {
                REQUIRE_FALSE(v.has_value());
                CHECK(v.error().code == EFAULT);
            }
        }
        WHEN("the count is zero") {
            auto v = g.mem.iovecs(0, 0);
            THEN("an empty vector is returned") {
                REQUIRE(v.has_value());
                CHECK(v->empty());
            }
        }
    }
}

SCENARIO("a forwarded call's input snapshot answers reads of what it covers") {
    using spanvm::memory::ArgRange;
    using spanvm::memory::ArgMemory;
    using spanvm::memory::ArgMemoryScope;
    GIVEN("guest RAM holding \"/old\" at 0x20000 and a snapshot holding \"/new\" and 8 buffer bytes") {
        FakeRam g;
        std::memcpy(g.ram.data() + 0x20000, "/old", 5);
        ArgMemory s;
        s.ranges.push_back({0x20000, ArgRange::Kind::string, {'/', 'n', 'e', 'w', 0}});
        s.ranges.push_back({0x30000, ArgRange::Kind::buffer, {1, 2, 3, 4, 5, 6, 7, 8}});
        WHEN("no snapshot is current on the thread") {
            THEN("reads see guest RAM") {
                CHECK(*g.mem.cstring(0x20000, 4096) == "/old");
                CHECK(g.mem.ptr(0x30000, 8) == g.ram.data() + 0x30000);
            }
        }
        WHEN("the snapshot is current") {
            ArgMemoryScope scope(&s);
            THEN("the string and reads inside the buffer come from the copy") {
                CHECK(*g.mem.cstring(0x20000, 4096) == "/new");
                CHECK(g.mem.ptr(0x30002, 4)[0] == 3);
            }
            THEN("anything not wholly inside a range still reads guest RAM") {
                CHECK(*g.mem.cstring(0x20001, 4096) == "old");
                CHECK(g.mem.ptr(0x30004, 8) == g.ram.data() + 0x30004);
                CHECK(g.mem.ptr(0x20000, 4) == g.ram.data() + 0x20000);  // strings are never buffers
            }
            THEN("a copied string longer than the caller's limit is ENAMETOOLONG") {
                auto r = g.mem.cstring(0x20000, 4);
                REQUIRE_FALSE(r);
                CHECK(r.error().code == ENAMETOOLONG);
            }
            THEN("the window check still comes first") { CHECK(g.mem.ptr(kHi, 1) == nullptr); }
        }
        WHEN("an output range is current and a call writes inside it") {
            s.ranges.push_back({0x34000, ArgRange::Kind::output, std::vector<uint8_t>(16)});
            {
                ArgMemoryScope scope(&s);
                uint8_t* p = g.mem.ptr(0x34004, 4);
                REQUIRE(p != nullptr);
                std::memset(p, 0x5a, 4);
            }
            THEN("the bytes land in the range, not in guest RAM") {
                CHECK(s.ranges.back().bytes[4] == 0x5a);
                CHECK(g.ram[0x34004] == 0);
            }
        }
        WHEN("the scope ends") {
            { ArgMemoryScope scope(&s); }
            THEN("reads see guest RAM again") { CHECK(*g.mem.cstring(0x20000, 4096) == "/old"); }
        }
    }
}

SCENARIO("the VMM writes guest memory only where the guest may write") {
    GIVEN("an access map with a read/write page, a read-only page and a PROT_NONE page") {
        FakeRam g;
        spanvm::memory::PageAccessMap map(kHi);
        map.set(0x20000, 0x1000, PROT_READ | PROT_WRITE);
        map.set(0x21000, 0x1000, PROT_READ);
        g.mem.set_access_map(&map);
        THEN("reads work in both mapped pages, writes only in the read/write one") {
            CHECK(g.mem.ptr(0x21000, 8) != nullptr);
            CHECK(g.mem.wptr(0x20ff8, 8) != nullptr);
            CHECK(g.mem.wptr(0x21000, 8) == nullptr);
            CHECK(g.mem.wptr(0x20ffc, 8) == nullptr);  // straddles into the read-only page
            CHECK(g.mem.write(0x20010, uint32_t{7}));
            CHECK_FALSE(g.mem.write(0x21010, uint32_t{7}));
            CHECK(g.ram[0x21010] == 0);
            CHECK(g.mem.ptr(0x22000, 1) == nullptr);
            CHECK(g.mem.wptr(0x22000, 1) == nullptr);
            CHECK(g.mem.wptr(0x21000, 0) != nullptr);  // zero length: never dereferenced
        }
    }
}
