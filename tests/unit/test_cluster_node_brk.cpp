// NodeBrk: the program break a node grows by itself (vmm/cluster/node_brk.hpp).
#include <doctest/doctest.h>

#include "vmm/cluster/node_brk.hpp"

using spanvm::cluster::BrkWindow;
using spanvm::cluster::NodeBrk;

TEST_CASE("node_brk: without a window every brk is forwarded") {
    NodeBrk b;
    CHECK_FALSE(b.answer(0));
    CHECK_FALSE(b.answer(0x10000));
    b.resumed(std::nullopt);
    CHECK_FALSE(b.answer(0));
    CHECK_FALSE(b.take_owed());
}

TEST_CASE("node_brk: growth inside the window is answered, opened and owed") {
    NodeBrk b;
    b.resumed(BrkWindow{0x401234, 0x500000});
    auto q = b.answer(0);
    REQUIRE(q);
    CHECK(q->ret == 0x401234);
    CHECK(q->open_from == q->open_to);  // a query opens nothing
    CHECK_FALSE(b.take_owed());         // nor is owed
    auto g = b.answer(0x422000);
    REQUIRE(g);
    CHECK(g->ret == 0x422000);
    CHECK(g->open_from == 0x402000);  // from the old break's page end
    CHECK(g->open_to == 0x422000);
    auto g2 = b.answer(0x422010);  // inside the next page: that page opens
    REQUIRE(g2);
    CHECK(g2->open_from == 0x422000);
    CHECK(g2->open_to == 0x423000);
    CHECK(b.answer(0)->ret == 0x422010);
    CHECK(b.take_owed() == 0x422010);  // the last break, once
    CHECK_FALSE(b.take_owed());
    CHECK(b.answered() == 4);
}

TEST_CASE("node_brk: the limit, shrinks and wrap-around are forwarded") {
    NodeBrk b;
    b.resumed(BrkWindow{0x400000, 0x500000});
    CHECK(b.answer(0x500000));             // up to the limit exactly
    CHECK_FALSE(b.answer(0x500001));       // a page past it
    CHECK_FALSE(b.answer(0x480000));       // a shrink discards pages: the origin's (F3)
    CHECK_FALSE(b.answer(~0ull - 5));      // page_up wraps
    CHECK(b.take_owed() == 0x500000);      // still owed for the forwarded call's Trap
}

TEST_CASE("node_brk: a Resume without a window revokes it") {
    NodeBrk b;
    b.resumed(BrkWindow{0x400000, 0x500000});
    CHECK(b.answer(0x410000));
    CHECK(b.take_owed() == 0x410000);
    b.resumed(std::nullopt);
    CHECK_FALSE(b.has_window());
    CHECK_FALSE(b.answer(0x420000));
    // A window whose limit is below the break's page is none.
    b.resumed(BrkWindow{0x401000 + 1, 0x401000});
    CHECK_FALSE(b.has_window());
}
