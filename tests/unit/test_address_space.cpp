// Unit tests for process::AddressSpace (pure VMA bookkeeping).
#include <doctest/doctest.h>

#include <cerrno>
#include <random>
#include <string>
#include <vector>

#include "vmm/process/mm/address_space.hpp"

// The randomized scenario reuses the fuzz target's engine (page-array
// reference model + simulated guest RAM) so both check the same semantics.
#include "tests/fuzz/fuzz_address_space.cpp"

using spanvm::Result;
using spanvm::memory::layout::kPageSize;
using spanvm::memory::layout::kUserBase;
using spanvm::process::AddressSpace;
using spanvm::process::FileRef;
using spanvm::process::Range;
using spanvm::process::Vma;
using spanvm::process::VmaKind;

namespace {

constexpr uint64_t P = kPageSize;
constexpr uint64_t MiB = 1ull << 20;
constexpr int RW = PROT_READ | PROT_WRITE;
constexpr int kAnon = MAP_PRIVATE | MAP_ANONYMOUS;

template <typename T>
T must(Result<T> r) {
    INFO((r.has_value() ? std::string("ok") : r.error().message));
    REQUIRE(r.has_value());
    return std::move(r).value();
}

void must_void(const Result<void>& r) {
    INFO((r.has_value() ? std::string("ok") : r.error().message));
    REQUIRE(r.has_value());
}

template <typename T>
int err(const Result<T>& r) {
    return r.has_value() ? 0 : r.error().code;
}

void check_ok(const AddressSpace& as) {
    const auto r = as.check_invariants();
    INFO((r.has_value() ? std::string("ok") : r.error().message));
    CHECK(r.has_value());
}

AddressSpace make(uint64_t hi = 64 * MiB) { return must(AddressSpace::create(kUserBase, hi)); }

uint64_t map_anon(AddressSpace& as, uint64_t hint, uint64_t len, int extra = 0, int prot = RW) {
    return must(as.map(hint, len, prot, kAnon | extra)).addr;
}

}  // namespace

SCENARIO("creating an address space validates the window") {
    CHECK(err(AddressSpace::create(0, 16 * MiB)) == EINVAL);
    CHECK(err(AddressSpace::create(kUserBase + 1, 16 * MiB)) == EINVAL);
    CHECK(err(AddressSpace::create(16 * MiB, 16 * MiB)) == EINVAL);
    CHECK(err(AddressSpace::create(kUserBase, spanvm::process::kTaskSize + P)) == EINVAL);
    CHECK(err(AddressSpace::create(kUserBase, 16 * MiB, 123)) == EINVAL);
    auto as = make(16 * MiB);
    CHECK(as.lo() == kUserBase);
    CHECK(as.hi() == 16 * MiB);
    CHECK(as.mmap_base() == 16 * MiB);
    CHECK(as.mapped_bytes() == 0);
    check_ok(as);
}

SCENARIO("mprotect with PROT_GROWSDOWN reaches down to the start of the stack") {
    GIVEN("a 64 MiB guest with an 8 MiB stack") {
        auto as = make();
        const Range stack = must(as.reserve_stack(8 * MiB));
        WHEN("ld.so makes the page at the stack's top executable with PROT_GROWSDOWN") {
            must_void(as.protect(stack.end() - P, P, PROT_READ | PROT_WRITE | PROT_EXEC | PROT_GROWSDOWN));
            THEN("the whole stack mapping is executable, as on Linux") {
                CHECK(as.find(stack.start)->prot == (PROT_READ | PROT_WRITE | PROT_EXEC));
                CHECK(as.find(stack.end() - 1)->prot == (PROT_READ | PROT_WRITE | PROT_EXEC));
                CHECK(as.find(stack.start)->end == stack.end());
                check_ok(as);
            }
        }
    }
}

SCENARIO("mmap places mappings top-down below the stack guard gap") {
    GIVEN("a 64 MiB guest with an 8 MiB stack") {
        auto as = make();
        const Range stack = must(as.reserve_stack(8 * MiB));
        CHECK(stack == Range{56 * MiB, 8 * MiB});
        CHECK(as.mmap_base() == 55 * MiB);
        CHECK(as.find(64 * MiB - 1)->kind == VmaKind::stack);
        CHECK(err(as.reserve_stack(P)) == EEXIST);

        WHEN("two anonymous mappings are made without hints") {
            const uint64_t a = map_anon(as, 0, 3 * P);
            const uint64_t b = map_anon(as, 0, 5000);  // rounded up to two pages
            THEN("they stack downwards from mmap_base and merge into one VMA") {
                CHECK(a == 55 * MiB - 3 * P);
                CHECK(b == a - 2 * P);
                CHECK(as.vma_count() == 2);
                CHECK(as.find(b)->end == 55 * MiB);
                CHECK(as.mapped_bytes() == 8 * MiB + 5 * P);
                CHECK(as.is_free(55 * MiB, 56 * MiB));
                check_ok(as);
            }
        }
        WHEN("the mappings differ in protection") {
            const uint64_t a = map_anon(as, 0, P, 0, PROT_READ);
            const uint64_t b = map_anon(as, 0, P, 0, RW);
            THEN("they stay separate VMAs") {
                CHECK(b == a - P);
                CHECK(as.vma_count() == 3);
                CHECK(as.find(a)->prot == PROT_READ);
                CHECK(as.find(b)->prot == RW);
                check_ok(as);
            }
        }
    }
}

SCENARIO("mmap hints are used when free and inside the window") {
    auto as = make();
    WHEN("the hint is free") {
        THEN("the mapping lands there, an unaligned hint rounded up") {
            CHECK(map_anon(as, 8 * MiB, P) == 8 * MiB);
            CHECK(map_anon(as, 10 * MiB + 1, P) == 10 * MiB + P);
        }
    }
    WHEN("the hint is taken, outside the window or zero") {
        map_anon(as, 8 * MiB, 2 * P);
        const uint64_t clash = map_anon(as, 8 * MiB + P, P);
        const uint64_t beyond = map_anon(as, 1ull << 40, P);
        const uint64_t low = map_anon(as, 0x1000, P);
        THEN("top-down placement is used instead") {
            CHECK(clash == 64 * MiB - P);
            CHECK(beyond == 64 * MiB - 2 * P);
            CHECK(low == 64 * MiB - 3 * P);
            check_ok(as);
        }
    }
    WHEN("MAP_32BIT is asked for in a 4 GiB guest") {
        auto big = make(4096 * MiB);
        const uint64_t a = map_anon(big, 0, P, MAP_32BIT);
        THEN("the mapping ends below 2 GiB") { CHECK(a + P <= spanvm::process::kMap32BitLimit); }
    }
}

SCENARIO("MAP_FIXED replaces exactly the overlapped ranges") {
    GIVEN("a file mapping A of 4 pages and an anonymous mapping B of 2 pages with a gap") {
        auto as = make();
        const uint64_t x = 8 * MiB;
        const FileRef file{5, 0x10000, "/lib/libc.so"};
        REQUIRE(must(as.map(x, 4 * P, PROT_READ, MAP_PRIVATE | MAP_FIXED, file)).addr == x);
        REQUIRE(map_anon(as, x + 6 * P, 2 * P, MAP_FIXED) == x + 6 * P);
        WHEN("[x+2p, x+7p) is mapped MAP_FIXED") {
            const auto r = must(as.map(x + 2 * P, 5 * P, RW, kAnon | MAP_FIXED));
            THEN("the released ranges are the replaced parts of A and B only") {
                CHECK(r.addr == x + 2 * P);
                REQUIRE(r.released.size() == 2);
                CHECK(r.released[0] == Range{x + 2 * P, 2 * P});
                CHECK(r.released[1] == Range{x + 6 * P, P});
            }
            THEN("A is trimmed, B keeps its tail, the new VMA merges with B's tail") {
                const auto vmas = as.vmas();
                REQUIRE(vmas.size() == 2);
                CHECK(vmas[0].start == x);
                CHECK(vmas[0].end == x + 2 * P);
                CHECK(vmas[0].file->offset == 0x10000);
                CHECK(vmas[1].start == x + 2 * P);
                CHECK(vmas[1].end == x + 8 * P);
                CHECK(as.mapped_bytes() == 8 * P);
                check_ok(as);
            }
        }
        WHEN("the middle of A is replaced by another file mapping") {
            const auto r = must(as.map(x + P, P, PROT_READ, MAP_PRIVATE | MAP_FIXED, FileRef{6, 0, "/data"}));
            THEN("A's right part keeps its file offset") {
                CHECK(r.released == std::vector<Range>{{x + P, P}});
                CHECK(as.find(x + 2 * P)->file->offset == 0x10000 + 2 * P);
                CHECK(as.find(x + P)->file->path == "/data");
                CHECK(*as.find(x + 3 * P)->file_offset_at(x + 3 * P) == 0x10000 + 3 * P);
                CHECK(as.vma_count() == 4);
                check_ok(as);
            }
        }
    }
    GIVEN("invalid fixed requests") {
        auto as = make(16 * MiB);
        THEN("they fail with Linux's errnos and change nothing") {
            CHECK(err(as.map(8 * MiB + 1, P, RW, kAnon | MAP_FIXED)) == EINVAL);
            CHECK(err(as.map(0x10000, P, RW, kAnon | MAP_FIXED)) == EPERM);
            CHECK(err(as.map(16 * MiB - P, 2 * P, RW, kAnon | MAP_FIXED)) == ENOMEM);
            CHECK(err(as.map(0, 0, RW, kAnon)) == EINVAL);
            CHECK(err(as.map(0, P, RW, MAP_ANONYMOUS)) == EINVAL);
            CHECK(err(as.map(0, P, RW, MAP_PRIVATE)) == EBADF);
            CHECK(err(as.map(0, P, RW, MAP_PRIVATE, FileRef{3, 5, "/x"})) == EINVAL);
            CHECK(err(as.map(0, P, RW, MAP_SHARED_VALIDATE | MAP_ANONYMOUS | MAP_SYNC)) == EOPNOTSUPP);
            CHECK(as.vma_count() == 0);
        }
    }
}

SCENARIO("MAP_FIXED_NOREPLACE refuses to overlap") {
    auto as = make();
    map_anon(as, 8 * MiB, 2 * P, MAP_FIXED);
    CHECK(err(as.map(8 * MiB + P, 2 * P, RW, kAnon | MAP_FIXED_NOREPLACE)) == EEXIST);
    CHECK(as.mapped_bytes() == 2 * P);
    CHECK(map_anon(as, 8 * MiB + 2 * P, P, MAP_FIXED_NOREPLACE) == 8 * MiB + 2 * P);
    CHECK(as.vma_count() == 1);
    check_ok(as);
}

SCENARIO("partial munmap splits a VMA") {
    GIVEN("an 8-page mapping") {
        auto as = make();
        const uint64_t a = map_anon(as, 8 * MiB, 8 * P, MAP_FIXED);
        WHEN("two middle pages are unmapped") {
            const auto released = must(as.unmap(a + 3 * P, 2 * P - 100));
            THEN("exactly they are released and two VMAs remain") {
                CHECK(released == std::vector<Range>{{a + 3 * P, 2 * P}});
                CHECK(as.vma_count() == 2);
                CHECK(as.find(a + 2 * P)->end == a + 3 * P);
                CHECK(as.find(a + 5 * P)->start == a + 5 * P);
                CHECK_FALSE(as.find(a + 4 * P).has_value());
                check_ok(as);
            }
            AND_WHEN("a range spanning the hole is unmapped") {
                const auto again = must(as.unmap(a + 2 * P, 4 * P));
                THEN("only the mapped parts are released") {
                    CHECK(again == std::vector<Range>{{a + 2 * P, P}, {a + 5 * P, P}});
                    CHECK(as.mapped_bytes() == 4 * P);
                }
            }
        }
        THEN("bad arguments are EINVAL, unmapping nothing is fine") {
            CHECK(err(as.unmap(a + 1, P)) == EINVAL);
            CHECK(err(as.unmap(a, 0)) == EINVAL);
            CHECK(err(as.unmap(spanvm::process::kTaskSize, 2 * P)) == EINVAL);
            CHECK(must(as.unmap(1ull << 40, P)).empty());
            CHECK(as.mapped_bytes() == 8 * P);
        }
    }
}

SCENARIO("mprotect splits and re-merges VMAs") {
    GIVEN("a 6-page RW mapping") {
        auto as = make();
        const uint64_t a = map_anon(as, 8 * MiB, 6 * P, MAP_FIXED);
        WHEN("the middle two pages become read-only") {
            must_void(as.protect(a + 2 * P, 2 * P, PROT_READ));
            THEN("there are three VMAs") {
                CHECK(as.vma_count() == 3);
                CHECK(as.find(a + 2 * P)->prot == PROT_READ);
                CHECK(as.find(a + 4 * P)->prot == RW);
                CHECK(as.covers(a, 6 * P, PROT_READ));
                CHECK_FALSE(as.covers(a, 6 * P, PROT_WRITE));
                check_ok(as);
            }
            AND_WHEN("they are made RW again") {
                CHECK(err(as.protect(a + 2 * P, 2 * P, RW | PROT_GROWSDOWN)) == EINVAL);  // not a grows-down mapping
                must_void(as.protect(a + 2 * P, 2 * P, RW));
                THEN("the VMAs merge back into one") {
                    CHECK(as.vma_count() == 1);
                    check_ok(as);
                }
            }
        }
        WHEN("the range runs past the mapping") {
            const auto r = as.protect(a + 4 * P, 4 * P, PROT_NONE);
            THEN("ENOMEM and nothing changed (all-or-nothing)") {
                CHECK(err(r) == ENOMEM);
                CHECK(as.vma_count() == 1);
                CHECK(as.find(a + 5 * P)->prot == RW);
            }
        }
        THEN("invalid requests are EINVAL, a zero length is a no-op") {
            CHECK(err(as.protect(a + 1, P, PROT_READ)) == EINVAL);
            CHECK(err(as.protect(a, P, 0x100)) == EINVAL);
            CHECK(err(as.protect(a, P, PROT_GROWSDOWN | PROT_GROWSUP)) == EINVAL);
            CHECK(as.protect(a, 0, PROT_READ).has_value());
        }
    }
}

SCENARIO("brk grows and shrinks the heap") {
    GIVEN("a program image ending at 4 MiB") {
        auto as = make();
        const uint64_t base = 4 * MiB;
        must_void(as.set_brk_base(base));
        CHECK(as.brk(0).brk == base);
        WHEN("the break grows by 10000 bytes") {
            const auto r = as.brk(base + 10000);
            THEN("a 3-page RW heap VMA exists and the exact break is returned") {
                CHECK(r.brk == base + 10000);
                CHECK(r.released.empty());
                const auto heap = as.find(base);
                REQUIRE(heap.has_value());
                CHECK(heap->kind == VmaKind::heap);
                CHECK(heap->end == base + 3 * P);
                CHECK(heap->prot == RW);
                CHECK(err(as.set_brk_base(8 * MiB)) == EBUSY);
                CHECK(as.format_maps().find("[heap]") != std::string::npos);
                check_ok(as);
            }
            AND_WHEN("it shrinks to base + 1 page") {
                const auto s = as.brk(base + P);
                THEN("the two top pages are released") {
                    CHECK(s.brk == base + P);
                    CHECK(s.released == std::vector<Range>{{base + P, 2 * P}});
                    CHECK(as.find(base)->end == base + P);
                }
            }
            AND_WHEN("it is asked to go below the base") {
                THEN("the break is unchanged") { CHECK(as.brk(base - 1).brk == base + 10000); }
            }
        }
        WHEN("a mapping sits above the heap") {
            map_anon(as, base + 4 * P, P, MAP_FIXED);
            THEN("growth into it fails, returning the old break; growth up to it works") {
                CHECK(as.brk(base + 5 * P).brk == base);
                CHECK(as.brk(base + 4 * P).brk == base + 4 * P);
                CHECK(as.find(base + 3 * P)->kind == VmaKind::heap);
                CHECK(as.find(base + 4 * P)->kind == VmaKind::anonymous);
                check_ok(as);
            }
        }
        WHEN("growth would pass the end of guest memory") {
            THEN("the break is unchanged") { CHECK(as.brk(65 * MiB).brk == base); }
        }
    }
    THEN("a bad brk base is EINVAL") {
        auto as = make();
        CHECK(err(as.set_brk_base(4 * MiB + 1)) == EINVAL);
        CHECK(err(as.set_brk_base(0x1000)) == EINVAL);
    }
}

SCENARIO("mremap grows in place when it can, otherwise moves") {
    GIVEN("a 2-page mapping with free space above") {
        auto as = make();
        const uint64_t a = map_anon(as, 8 * MiB, 2 * P, MAP_FIXED);
        WHEN("it grows to 4 pages") {
            const auto plan = must(as.remap(a, 2 * P, 4 * P, 0));
            THEN("it grows in place: no copy, no release, the tail is reported") {
                CHECK(plan.new_addr == a);
                CHECK_FALSE(plan.copy.has_value());
                CHECK(plan.released.empty());
                CHECK(plan.grown == Range{a + 2 * P, 2 * P});
                CHECK(as.find(a)->end == a + 4 * P);
                check_ok(as);
            }
        }
        WHEN("it shrinks to 1 page") {
            const auto plan = must(as.remap(a, 2 * P, P, 0));
            THEN("the tail is released") {
                CHECK(plan.new_addr == a);
                CHECK(plan.released == std::vector<Range>{{a + P, P}});
                CHECK(as.mapped_bytes() == P);
            }
        }
        AND_WHEN("a mapping sits right above it") {
            map_anon(as, a + 2 * P, P, MAP_FIXED, PROT_READ);
            THEN("growth without MREMAP_MAYMOVE is ENOMEM and changes nothing") {
                CHECK(err(as.remap(a, 2 * P, 4 * P, 0)) == ENOMEM);
                CHECK(as.find(a)->end == a + 2 * P);
            }
            WHEN("growth may move") {
                const auto plan = must(as.remap(a, 2 * P, 4 * P, MREMAP_MAYMOVE));
                THEN("the data is copied to a top-down range and the old range released") {
                    CHECK(plan.new_addr == 64 * MiB - 4 * P);
                    REQUIRE(plan.copy.has_value());
                    CHECK(plan.copy->from == a);
                    CHECK(plan.copy->to == plan.new_addr);
                    CHECK(plan.copy->len == 2 * P);
                    CHECK(plan.released == std::vector<Range>{{a, 2 * P}});
                    CHECK(plan.grown == Range{plan.new_addr + 2 * P, 2 * P});
                    CHECK_FALSE(as.find(a).has_value());
                    CHECK(as.find(plan.new_addr)->len() == 4 * P);
                    check_ok(as);
                }
            }
        }
        WHEN("it is moved with MREMAP_FIXED onto another mapping") {
            const uint64_t d = map_anon(as, 16 * MiB, 4 * P, MAP_FIXED, PROT_READ);
            const auto plan = must(as.remap(a, 2 * P, 3 * P, MREMAP_MAYMOVE | MREMAP_FIXED, d + P));
            THEN("released excludes the copy target but covers the rest of the replaced range and the source") {
                CHECK(plan.new_addr == d + P);
                CHECK(plan.copy->to == d + P);
                CHECK(plan.released == std::vector<Range>{{a, 2 * P}, {d + 3 * P, P}});
                CHECK(as.find(d)->end == d + P);
                CHECK(as.find(d + P)->prot == RW);
                CHECK(as.find(d + 3 * P)->prot == RW);
                CHECK_FALSE(as.find(d + 4 * P).has_value());
                check_ok(as);
            }
        }
        THEN("invalid mremap requests fail like Linux") {
            CHECK(err(as.remap(a, 2 * P, 4 * P, MREMAP_FIXED, 16 * MiB)) == EINVAL);
            CHECK(err(as.remap(a, 2 * P, 4 * P, MREMAP_MAYMOVE | MREMAP_FIXED, a + P)) == EINVAL);
            CHECK(err(as.remap(a + 1, P, P, 0)) == EINVAL);
            CHECK(err(as.remap(a, P, 0, 0)) == EINVAL);
            CHECK(err(as.remap(a, 0, P, MREMAP_MAYMOVE)) == EINVAL);
            CHECK(err(as.remap(a, 3 * P, 4 * P, MREMAP_MAYMOVE)) == EFAULT);
            CHECK(err(as.remap(a - P, P, 2 * P, MREMAP_MAYMOVE)) == EFAULT);
            CHECK(err(as.remap(a, 2 * P, 3 * P, MREMAP_MAYMOVE | MREMAP_DONTUNMAP)) == EINVAL);
        }
    }
    GIVEN("a file-backed mapping that must move") {
        auto as = make();
        const uint64_t a = must(as.map(8 * MiB, 2 * P, PROT_READ, MAP_PRIVATE | MAP_FIXED, FileRef{4, 3 * P, "/f"})).addr;
        map_anon(as, a + 2 * P, P, MAP_FIXED);
        const auto plan = must(as.remap(a + P, P, 2 * P, MREMAP_MAYMOVE));
        THEN("the moved VMA keeps the file offset of its source page") {
            const auto v = as.find(plan.new_addr);
            REQUIRE(v.has_value());
            CHECK(v->file->offset == 4 * P);
            CHECK(plan.grown == Range{plan.new_addr + P, P});
            CHECK(*v->file_offset_at(plan.grown->start) == 5 * P);
            check_ok(as);
        }
    }
    GIVEN("MREMAP_DONTUNMAP on private anonymous memory") {
        auto as = make();
        const uint64_t a = map_anon(as, 8 * MiB, 2 * P, MAP_FIXED);
        const auto plan = must(as.remap(a, 2 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_DONTUNMAP));
        THEN("the source stays mapped but its contents are released") {
            CHECK(plan.new_addr != a);
            CHECK(plan.released == std::vector<Range>{{a, 2 * P}});
            CHECK(as.find(a).has_value());
            CHECK(as.mapped_bytes() == 4 * P);
        }
    }
}

SCENARIO("madvise(MADV_DONTNEED) discards private pages") {
    auto as = make();
    const uint64_t a = map_anon(as, 8 * MiB, 2 * P, MAP_FIXED);
    must(as.map(a + 2 * P, P, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED));
    must(as.map(a + 3 * P, P, PROT_READ, MAP_PRIVATE | MAP_FIXED, FileRef{3, 0, "/f"}));
    const auto ranges = must(as.madvise_dontneed(a + P, 3 * P));
    CHECK(ranges == std::vector<Range>{{a + P, P}, {a + 3 * P, P}});
    CHECK(as.find(a + 3 * P)->file.has_value());  // the caller refills this one
    CHECK(err(as.madvise_dontneed(a, 5 * P)) == ENOMEM);
    CHECK(err(as.madvise_dontneed(a + 1, P)) == EINVAL);
    CHECK(must(as.madvise_dontneed(a, 0)).empty());
}

SCENARIO("a guest exhausting memory gets ENOMEM") {
    GIVEN("a 16 MiB guest with a 1 MiB stack") {
        auto as = make(16 * MiB);
        must(as.reserve_stack(MiB));
        const uint64_t free_bytes = 16 * MiB - kUserBase - MiB;
        WHEN("1 MiB mappings are made until one fails") {
            int made = 0;
            Result<spanvm::process::MapResult> r = spanvm::Error{};
            while ((r = as.map(0, MiB, RW, MAP_PRIVATE | MAP_ANONYMOUS)).has_value()) ++made;
            THEN("the whole window was used, including the guard gap, then ENOMEM") {
                CHECK(made == static_cast<int>(free_bytes / MiB));
                CHECK(err(r) == ENOMEM);
                CHECK(r.error().message.find("no free range") != std::string::npos);
                CHECK(as.mapped_bytes() == 16 * MiB - kUserBase);
                CHECK(err(as.map(0, P, RW, kAnon)) == ENOMEM);
                CHECK(as.brk(as.brk_base() + P).brk == as.brk_base());
                check_ok(as);
            }
            AND_WHEN("one page is unmapped") {
                must(as.unmap(8 * MiB, P));
                THEN("a one-page mapping fits exactly there") { CHECK(map_anon(as, 0, P) == 8 * MiB); }
            }
        }
        THEN("a mapping larger than the window is ENOMEM at once") {
            CHECK(err(as.map(0, 16 * MiB, RW, kAnon)) == ENOMEM);
            CHECK(err(as.map(0, ~0ull, RW, kAnon)) == ENOMEM);
        }
    }
}

SCENARIO("the maps dump names files, heap and stack") {
    auto as = make();
    must(as.reserve_stack(MiB));
    must_void(as.set_brk_base(4 * MiB));
    (void)as.brk(4 * MiB + P);
    must(as.map(kUserBase, P, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_FIXED, FileRef{3, 0, "/bin/prog"}));
    const std::string maps = as.format_maps();
    CHECK(maps.find("00200000-00201000 r-xp 00000000 00:00 0  /bin/prog\n") != std::string::npos);
    CHECK(maps.find("00400000-00401000 rw-p 00000000 00:00 0  [heap]\n") != std::string::npos);
    CHECK(maps.find("03f00000-04000000 rw-p 00000000 00:00 0  [stack]\n") != std::string::npos);
}

SCENARIO("randomized operation sequences match the page-array reference model") {
    GIVEN("200 seeded random sequences") {
        for (uint32_t seed = 1; seed <= 200; ++seed) {
            std::mt19937 rng(seed);
            std::vector<uint8_t> bytes(3000);
            for (auto& b : bytes) b = static_cast<uint8_t>(rng());
            aspace_model::Input in(bytes.data(), bytes.size());
            const auto failure = aspace_model::run(in);
            INFO("seed " << seed << ": " << failure.value_or("ok"));
            CHECK_FALSE(failure.has_value());
        }
    }
}

TEST_CASE("address space: same_private_file sees ld.so's segment over its reservation, and nothing else") {
    auto as = make();
    const uint64_t base = 8 * MiB;
    FileRef lib{5, 0, "/lib/x.so", 7, 42};
    // The library's whole span, read-only, at offset 0 (ld.so's first mmap).
    must(as.map(base, 16 * P, PROT_READ, MAP_PRIVATE | MAP_FIXED, lib));
    // Its text at offset 2 pages, where the span already holds it.
    FileRef text = lib;
    text.offset = 2 * P;
    CHECK(as.same_private_file(base + 2 * P, 4 * P, text));
    // The same range at another offset (a data segment whose vaddr and
    // offset differ), another file, or an unknown one: not the same bytes.
    FileRef shifted = text;
    shifted.offset = 3 * P;
    CHECK_FALSE(as.same_private_file(base + 2 * P, 4 * P, shifted));
    FileRef other = text;
    other.ino = 43;
    CHECK_FALSE(as.same_private_file(base + 2 * P, 4 * P, other));
    FileRef unknown = text;
    unknown.dev = unknown.ino = 0;
    CHECK_FALSE(as.same_private_file(base + 2 * P, 4 * P, unknown));
    // Past the span's end: a hole.
    FileRef tail = lib;
    tail.offset = 14 * P;
    CHECK_FALSE(as.same_private_file(base + 14 * P, 4 * P, tail));
    // After the text segment is mapped over it (R-X, same bytes), still the same file there.
    must(as.map(base + 2 * P, 4 * P, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_FIXED, text));
    CHECK(as.same_private_file(base, 16 * P, lib));
    // Once any part was writable, its pages may hold the guest's writes.
    REQUIRE(as.protect(base + 8 * P, P, PROT_READ | PROT_WRITE));
    FileRef at8 = lib;
    at8.offset = 8 * P;
    CHECK_FALSE(as.same_private_file(base + 8 * P, P, at8));
    FileRef at9 = lib;
    at9.offset = 9 * P;
    CHECK(as.same_private_file(base + 9 * P, P, at9));
    // Read-only again, it merges with its neighbours as on Linux, and the
    // merged mapping counts as once writable (conservative).
    REQUIRE(as.protect(base + 8 * P, P, PROT_READ));
    CHECK_FALSE(as.same_private_file(base + 8 * P, P, at8));
    CHECK_FALSE(as.same_private_file(base + 9 * P, P, at9));
    check_ok(as);
    // A writable mapping from the start, and a shared one: never the same.
    FileRef data{6, 0, "/lib/y.so", 7, 44};
    must(as.map(base + 32 * P, 2 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, data));
    CHECK_FALSE(as.same_private_file(base + 32 * P, 2 * P, data));
    must(as.map(base + 40 * P, 2 * P, PROT_READ, MAP_SHARED | MAP_FIXED, data));
    CHECK_FALSE(as.same_private_file(base + 40 * P, 2 * P, data));
}
