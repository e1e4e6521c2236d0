// First-use claims of the DSM protocol (Protocol::claim, home_request's
// claim path; docs/dsm-protocol.md "Claims"): a home hands a never-used page
// to its claimant with the claimant's request, and never a page any node had.
#include <doctest/doctest.h>

#include "tests/unit/dsm_test_helpers.hpp"
#include "vmm/dsm/home_table.hpp"

using namespace spanvm::dsm;
using namespace spanvm::dsm::testing;

namespace {
Protocol claiming(NodeId self, HomeTable& t, FaultInjection bug = FaultInjection::None) {
    ProtocolConfig c;
    c.self = self;
    c.num_nodes = 3;
    c.num_pages = 4;
    c.page_size = kTestPageSize;
    c.home = HomePolicy::single(0, 3);
    c.homes = &t;
    c.claims = true;
    c.inject = bug;
    auto p = Protocol::create(c);
    REQUIRE(p.has_value());
    return std::move(*p);
}
Send claim_fault(Protocol& p, PageIndex page, Access a) {
    Actions out;
    auto r = p.on_fault(page, a, 0, out, /*claim=*/true);
    REQUIRE_MESSAGE(r.has_value(), r.error().message);
    return only_send(out);
}
}  // namespace

SCENARIO("a node asks for a page homed elsewhere as a claim only from Invalid") {
    HomeTable t0(4), t1(4);
    Protocol n0 = claiming(0, t0), n1 = claiming(1, t1);
    THEN("a write from Invalid is a ClaimWriteReq to the home, a read a ClaimReadReq") {
        Send w = claim_fault(n1, 1, Access::Write);
        CHECK(w.to == 0);
        CHECK(w.msg.type == MsgType::ClaimWriteReq);
        CHECK(n1.local_state(1) == LocalState::InvalidToModified);
        CHECK(claim_fault(n1, 2, Access::Read).msg.type == MsgType::ClaimReadReq);
    }
    THEN("the home asks itself with an ordinary request") {
        CHECK(claim_fault(n0, 1, Access::Write).msg.type == MsgType::WriteReq);
    }
    THEN("without claims in the configuration the request is ordinary") {
        Protocol plain = make_node(1, 3, 0, "node:0");
        CHECK(claim_fault(plain, 1, Access::Write).msg.type == MsgType::WriteReq);
    }
}

SCENARIO("a claim of a never-used page hands it over with the claimant's request") {
    GIVEN("three nodes with home tables, every page homed on node 0, page 1 never used") {
        HomeTable t0(4), t1(4), t2(4);
        Protocol n0 = claiming(0, t0), n1 = claiming(1, t1), n2 = claiming(2, t2);
        REQUIRE(n0.pristine(1));
        WHEN("node 1's claim for writing reaches the home") {
            Actions a = deliver(n0, 1, claim_fault(n1, 1, Access::Write).msg);
            THEN("the home sends nothing for the page, freezes it and starts a move to node 1") {
                CHECK(all_of<Send>(a).empty());
                auto moves = all_of<StartMove>(a);
                REQUIRE(moves.size() == 1);
                CHECK(moves[0].page == 1);
                CHECK(moves[0].to == 1);
                CHECK(moves[0].claim);
                CHECK(n0.frozen(1));
                CHECK(n0.directory(1).queued == 1);
                CHECK(n0.directory(1).state == DirState::Uncached);
            }
            AND_WHEN("every node applied the notice and node 0 hands the page over") {
                n1.apply_notice(1, 1);
                n2.apply_notice(1, 1);
                auto moved = n0.finish_move(1, 1);
                REQUIRE(moved.has_value());
                REQUIRE(moved->has_value());  // it carries node 1's request
                CHECK((*moved)->wait_write == 0b10);
                Actions b;
                REQUIRE(n1.import_moved(1, &**moved, b).has_value());
                THEN("node 1, the new home, grants the zero page to itself: no message left the node") {
                    Send g = only_send(b);
                    CHECK(g.to == 1);
                    CHECK(g.msg.type == MsgType::GrantModified);
                    CHECK(g.msg.data_kind == DataKind::Zero);
                    deliver(n1, 1, g.msg);
                    CHECK(n1.local_state(1) == LocalState::Modified);
                    CHECK(n2.home_of(1) == 1);
                    CHECK(n0.home_of(1) == 1);
                }
            }
        }
        WHEN("the executor claims the chunk's other never-used pages") {
            THEN("Protocol::claim freezes them for the claimant") {
                CHECK(n0.claim(2, 1));
                CHECK(n0.frozen(2));
                CHECK_FALSE(n0.claim(2, 2));  // frozen: one move at a time
            }
            THEN("the home never claims a page for itself") { CHECK_FALSE(n0.claim(3, 0)); }
        }
    }
}

SCENARIO("a page any node had is never claimed: the claim is an ordinary request") {
    GIVEN("three nodes homed on node 0") {
        HomeTable t0(4), t1(4), t2(4);
        Protocol n0 = claiming(0, t0), n1 = claiming(1, t1), n2 = claiming(2, t2);
        WHEN("node 2 read page 1 as the zero page and node 1 claims it for writing") {
            deliver(n2, 0, only_send(deliver(n0, 2, only_send(fault(n2, 1, Access::Read)).msg)).msg);
            REQUIRE(n2.local_state(1) == LocalState::Shared);
            Actions a = deliver(n0, 1, claim_fault(n1, 1, Access::Write).msg);
            THEN("the home keeps it and grants it with an Invalidate to the reader") {
                auto moves = all_of<StartMove>(a);  // the chunk's other pages only, announced first
                REQUIRE(moves.size() == 1);
                CHECK(moves[0].chunk_only);
                CHECK(std::holds_alternative<StartMove>(a[0]));
                CHECK_FALSE(n0.frozen(1));
                auto sends = all_of<Send>(a);
                REQUIRE(sends.size() == 2);
                CHECK(sends[0].msg.type == MsgType::GrantModified);
                CHECK(sends[0].msg.acks == 1);
                CHECK(sends[1].to == 2);
                CHECK(sends[1].msg.type == MsgType::Invalidate);
            }
        }
        WHEN("the home itself holds page 3 (zero-filled ahead: Modified there)") {
            Send grant = only_send(deliver(n0, 0, only_send(fault(n0, 3, Access::Write)).msg));
            deliver(n0, 0, grant.msg);
            REQUIRE(n0.local_state(3) == LocalState::Modified);
            THEN("it is not claimable, and a claim for it is forwarded as a write") {
                CHECK_FALSE(n0.claim(3, 1));
                Actions a = deliver(n0, 1, claim_fault(n1, 3, Access::Write).msg);
                REQUIRE(all_of<StartMove>(a).size() == 1);
                CHECK(all_of<StartMove>(a)[0].chunk_only);
                CHECK(only_send(a).msg.type == MsgType::FwdWrite);
                CHECK_FALSE(n0.frozen(3));
            }
        }
    }
    GIVEN("the planted bug claim-zero-shared") {
        HomeTable t0(4), t2(4);
        Protocol n0 = claiming(0, t0, FaultInjection::ClaimZeroShared), n2 = claiming(2, t2);
        deliver(n2, 0, only_send(deliver(n0, 2, only_send(fault(n2, 1, Access::Read)).msg)).msg);
        THEN("a page read as zero is handed over with its reader forgotten") {
            CHECK(n0.claim(1, 1));
            CHECK(n0.directory(1).state == DirState::Uncached);
            CHECK(n0.directory(1).sharers == 0);
            CHECK(n2.local_state(1) == LocalState::Shared);
        }
    }
}

SCENARIO("claim messages are checked") {
    THEN("they round-trip and carry no data, requester or acks") {
        for (MsgType t : {MsgType::ClaimReadReq, MsgType::ClaimWriteReq}) {
            Message m = msg(t, 3);
            auto d = decode_message(encode_message(m));
            REQUIRE(d.has_value());
            CHECK(*d == m);
            m.acks = 1;
            CHECK_FALSE(validate_message(m).has_value());
            m.acks = 0;
            m.data_kind = DataKind::Zero;
            CHECK_FALSE(validate_message(m).has_value());
        }
    }
    THEN("a claim reaching a node that is neither the home nor its next home is a violation") {
        Protocol n2 = make_node(2, 3, 0, "node:0");
        Actions out;
        CHECK_FALSE(n2.on_message(1, msg(MsgType::ClaimWriteReq, 1), 0, out).has_value());
    }
}
