// NodeMapWindow: the anonymous mappings a node makes by itself
// (vmm/cluster/node_map_window.hpp, docs/dsm-protocol.md F9).
#include <doctest/doctest.h>
#include <sys/mman.h>

#include "vmm/cluster/node_map_window.hpp"

using spanvm::cluster::MapWindow;
using spanvm::cluster::NodeMapWindow;
using spanvm::cluster::OwedMap;

namespace {
constexpr std::uint64_t kRW = PROT_READ | PROT_WRITE;
constexpr std::uint64_t kAnon = MAP_PRIVATE | MAP_ANONYMOUS;
constexpr std::uint64_t kNoFd = static_cast<std::uint64_t>(-1);
}  // namespace

TEST_CASE("node_map_window: without a window every mmap is forwarded") {
    NodeMapWindow m;
    CHECK_FALSE(m.answer(0, 8192, kRW, kAnon, kNoFd, 0));
    m.resumed(std::nullopt);
    CHECK_FALSE(m.answer(0, 8192, kRW, kAnon, kNoFd, 0));
    CHECK(m.take_owed().empty());
    CHECK(m.answered() == 0);
}

TEST_CASE("node_map_window: mappings are placed top-down, opened and owed in order") {
    NodeMapWindow m;
    m.resumed(MapWindow{0x7f0000000000, 0x7f0000100000});
    auto a = m.answer(0, 8192, kRW, kAnon, kNoFd, 0);
    REQUIRE(a);
    CHECK(a->ret == 0x7f00000fe000);
    CHECK(a->open_from == 0x7f00000fe000);
    CHECK(a->open_to == 0x7f0000100000);
    CHECK(a->prot == kRW);
    auto b = m.answer(0, 5000, PROT_READ, kAnon | MAP_NORESERVE, kNoFd, 0);  // unaligned: a whole page more
    REQUIRE(b);
    CHECK(b->ret == 0x7f00000fc000);
    CHECK(b->open_to - b->open_from == 8192);
    auto c = m.answer(0, 4096, PROT_NONE, kAnon | MAP_STACK, kNoFd, 0);  // a reservation opens nothing more
    REQUIRE(c);
    CHECK(c->prot == PROT_NONE);
    const auto owed = m.take_owed();
    REQUIRE(owed.size() == 3);
    CHECK(owed[0] == OwedMap{0x7f00000fe000, 8192, static_cast<std::uint32_t>(kRW), static_cast<std::uint32_t>(kAnon)});
    CHECK(owed[1].len == 5000);  // as asked: the origin rounds it as Linux does
    CHECK(owed[2].flags == (kAnon | MAP_STACK));
    CHECK(m.take_owed().empty());
    CHECK(m.answered() == 3);
}

TEST_CASE("node_map_window: what is not a fresh private anonymous mapping, or does not fit, is forwarded") {
    NodeMapWindow m;
    m.resumed(MapWindow{0x10000000, 0x10010000});  // 64 KiB
    CHECK_FALSE(m.answer(0x20000000, 4096, kRW, kAnon, kNoFd, 0));              // a hint
    CHECK_FALSE(m.answer(0, 4096, kRW, kAnon | MAP_FIXED, kNoFd, 0));          // fixed
    CHECK_FALSE(m.answer(0, 4096, kRW, kAnon | MAP_FIXED_NOREPLACE, kNoFd, 0));
    CHECK_FALSE(m.answer(0, 4096, kRW, MAP_SHARED | MAP_ANONYMOUS, kNoFd, 0));  // shared
    CHECK_FALSE(m.answer(0, 4096, kRW, MAP_PRIVATE, 3, 0));                     // a file
    CHECK_FALSE(m.answer(0, 4096, kRW | PROT_EXEC, kAnon, kNoFd, 0));            // executable
    CHECK_FALSE(m.answer(0, 4096, kRW, kAnon | MAP_POPULATE, kNoFd, 0));
    CHECK_FALSE(m.answer(0, 4096, kRW, kAnon | MAP_GROWSDOWN, kNoFd, 0));
    CHECK_FALSE(m.answer(0, 4096, kRW, kAnon, 3, 0));      // an fd with MAP_ANONYMOUS
    CHECK_FALSE(m.answer(0, 4096, kRW, kAnon, kNoFd, 4096));  // an offset
    CHECK_FALSE(m.answer(0, 0, kRW, kAnon, kNoFd, 0));         // EINVAL is the origin's
    CHECK_FALSE(m.answer(0, ~0ull - 100, kRW, kAnon, kNoFd, 0));  // rounds past 2^64
    CHECK_FALSE(m.answer(0, 0x10001, kRW, kAnon, kNoFd, 0));  // more than the window
    auto all = m.answer(0, 0x10000, kRW, kAnon, kNoFd, 0);    // exactly the window
    REQUIRE(all);
    CHECK(all->ret == 0x10000000);
    CHECK_FALSE(m.answer(0, 4096, kRW, kAnon, kNoFd, 0));  // nothing left
    CHECK(m.take_owed().size() == 1);
}

TEST_CASE("node_map_window: each Resume replaces the window; a bad one is dropped") {
    NodeMapWindow m;
    m.resumed(MapWindow{0x10000000, 0x10100000});
    REQUIRE(m.answer(0, 4096, kRW, kAnon, kNoFd, 0));
    m.resumed(std::nullopt);  // revoked: what was owed stays owed for the Trap
    CHECK_FALSE(m.has_window());
    CHECK_FALSE(m.answer(0, 4096, kRW, kAnon, kNoFd, 0));
    CHECK(m.take_owed().size() == 1);
    m.resumed(MapWindow{0x10001000, 0x10000000});  // empty
    CHECK_FALSE(m.has_window());
    m.resumed(MapWindow{0x10000800, 0x10002000});  // unaligned
    CHECK_FALSE(m.has_window());
    m.resumed(MapWindow{0x20000000, 0x20002000});
    auto a = m.answer(0, 4096, kRW, kAnon, kNoFd, 0);
    REQUIRE(a);
    CHECK(a->ret == 0x20001000);  // from the new window's top
}

TEST_CASE("node_map_window: at most kMaxOwed mappings are owed; the next one is forwarded") {
    NodeMapWindow m;
    m.resumed(MapWindow{0x10000000, 0x20000000});
    for (std::size_t i = 0; i < NodeMapWindow::kMaxOwed; ++i) REQUIRE(m.answer(0, 4096, kRW, kAnon, kNoFd, 0));
    CHECK_FALSE(m.answer(0, 4096, kRW, kAnon, kNoFd, 0));
    CHECK(m.take_owed().size() == NodeMapWindow::kMaxOwed);
    CHECK(m.answer(0, 4096, kRW, kAnon, kNoFd, 0));  // the Trap took them
}
