// The run's process table (vmm/process/process_registry.hpp): its slots
// start as the shared mapping's zero bytes, never constructed.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstring>
#include <new>

#include "vmm/process/process_registry.hpp"

using namespace spanvm::process;

namespace {

template <typename T>
bool zero_bytes(const T& v) {
    unsigned char z[sizeof(T)] = {};
    return std::memcmp(&v, z, sizeof(T)) == 0;
}

}  // namespace

TEST_CASE("a default ProcessSlot is all zero bytes: the registry's fresh mapping holds free slots") {
    // Built over 0xff bytes, so that every field the constructor leaves
    // non-zero shows.
    alignas(ProcessSlot) unsigned char buf[sizeof(ProcessSlot)];
    std::memset(buf, 0xff, sizeof buf);
    auto* s = new (buf) ProcessSlot;
    CHECK(zero_bytes(s->pid));
    CHECK(zero_bytes(s->ppid));
    CHECK(zero_bytes(s->state));
    CHECK(s->state.load() == ProcessSlot::kFree);
    CHECK(zero_bytes(s->status));
    CHECK(zero_bytes(s->threads));
    CHECK(zero_bytes(s->threads_total));
    CHECK(zero_bytes(s->node));
    CHECK(zero_bytes(s->node_pages_fetched));
    CHECK(zero_bytes(s->node_pages_filled));
    CHECK(zero_bytes(s->node_syscalls_local));
    CHECK(zero_bytes(s->node_syscalls_forwarded));
    CHECK(zero_bytes(s->layout_round_trips));
    CHECK(zero_bytes(s->layouts_ridden));
    CHECK(zero_bytes(s->program));
    s->~ProcessSlot();
}

TEST_CASE("a fresh registry: claims take slots in order, the report lists them and no more") {
    ProcessRegistry* r = ProcessRegistry::create();
    REQUIRE(r != nullptr);
    CHECK(r->report(false).empty());
    ProcessSlot* a = r->claim(100, 1, "/bin/a");
    ProcessSlot* b = r->claim(101, 100, "/bin/b");
    REQUIRE(a != nullptr);
    REQUIRE(b != nullptr);
    CHECK(b == a + 1);
    a->state.store(ProcessSlot::kExited);
    const auto rows = r->report(false);
    REQUIRE(rows.size() == 2);
    CHECK(rows[0].pid == 100);
    CHECK(rows[0].ppid == 1);
    CHECK(rows[1].pid == 101);
    CHECK(rows[1].ppid == 100);
}

TEST_CASE("a full registry: a claim past the last slot gets none, the report lists every slot once") {
    ProcessRegistry* r = ProcessRegistry::create();
    REQUIRE(r != nullptr);
    for (std::size_t i = 0; i < ProcessRegistry::kSlots; ++i)
        REQUIRE(r->claim(static_cast<int>(1000 + i), 1, "p") != nullptr);
    CHECK(r->claim(99999, 1, "late") == nullptr);
    CHECK(r->claim(99998, 1, "later") == nullptr);
    const auto rows = r->report(true);
    REQUIRE(rows.size() == ProcessRegistry::kSlots);
    CHECK(rows.front().pid == 1000);
    CHECK(rows.back().pid == static_cast<int>(1000 + ProcessRegistry::kSlots - 1));
}
