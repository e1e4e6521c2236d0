// Dynamic homes: the table, the handover messages, the initiator's moves and
// the protocol's freeze / notice / hand-over / import steps, and migration.
#include <doctest/doctest.h>

#include "tests/unit/dsm_test_helpers.hpp"
#include "vmm/dsm/home_table.hpp"

using namespace spanvm::dsm;
using namespace spanvm::dsm::testing;

namespace {

Protocol homed_node(NodeId self, NodeId nodes, HomeTable& t, unsigned migrate = 0) {
    ProtocolConfig c;
    c.self = self;
    c.num_nodes = nodes;
    c.num_pages = 4;
    c.page_size = kTestPageSize;
    c.home = HomePolicy::single(0, nodes);
    c.homes = &t;
    c.migrate.threshold = migrate;
    auto p = Protocol::create(c);
    REQUIRE(p.has_value());
    return std::move(*p);
}

}  // namespace

SCENARIO("the home table overrides the static policy page by page") {
    HomeTable t(10000);
    const HomePolicy policy = HomePolicy::single(0, 3);
    CHECK(t.home_of(5000, policy) == 0);
    CHECK_FALSE(t.frozen(5000));
    t.set(5000, 2, true);
    CHECK(t.home_of(5000, policy) == 2);
    CHECK(t.frozen(5000));
    t.set(5000, 2, false);
    CHECK_FALSE(t.frozen(5000));
    t.set(4, 63, false);
    CHECK(t.home_of(4, policy) == 63);
    CHECK(t.home_of(4999, policy) == 0);
    CHECK(t.explicit_pages() == 2);
    CHECK(t.home_of(20000, policy) == 0);  // beyond the table: the policy
}

SCENARIO("sorted pages become runs") {
    std::vector<PageIndex> pages{1, 2, 3, 7, 9, 10};
    CHECK(to_runs(pages) == std::vector<PageRun>{{1, 3}, {7, 1}, {9, 2}});
    CHECK(to_runs(std::vector<PageIndex>{}).empty());
}

SCENARIO("home messages round-trip and reject damage") {
    HomeMsg st{HomeMsg::Kind::State, 3, (std::uint64_t{2} << 56) | 7, {{100, 16384}, {20000, 1}}, {}, {}};
    MovedDir e;
    e.page = 20000;
    e.sharers = 0b101;
    e.wait_write = 0b10;
    e.state = 1;
    e.owner = 2;
    e.moves = 3;
    st.entries.push_back(e);
    auto b = encode_home(st);
    auto d = decode_home(b);
    REQUIRE(d.has_value());
    CHECK(*d == st);
    for (std::size_t n = 0; n < b.size(); ++n) CHECK_FALSE(decode_home(std::span(b.data(), n)).has_value());
    b.push_back(std::byte{0});
    CHECK_FALSE(decode_home(b).has_value());
    HomeMsg answer{HomeMsg::Kind::Answer, 0, 9, {}, {}, {1, 0, 1}};
    auto a = decode_home(encode_home(answer));
    REQUIRE(a.has_value());
    CHECK(a->untouched == std::vector<std::uint8_t>{1, 0, 1});
    HomeMsg notice{HomeMsg::Kind::Notice, 1, 9, {}, {}, {}};
    CHECK_FALSE(decode_home(encode_home(notice)).has_value());  // a notice names pages
    for (auto k : {HomeMsg::Kind::Query, HomeMsg::Kind::DiscardQuery}) {
        HomeMsg q{k, 0, 0, {{192, 32}}, {}, {}};
        auto dq = decode_home(encode_home(q));
        REQUIRE(dq.has_value());
        CHECK(*dq == q);  // a discard's query stays one: its home reclaims first
    }
}

SCENARIO("a move finishes with its last ack, once") {
    HomeMoves m(1);
    HomeMoves::Move mv{m.next_id(), 2, {{5, 1}}, 2};
    CHECK((mv.id >> 56) == 1);
    CHECK_FALSE(m.begin(mv, false).has_value());
    auto r1 = m.on_ack(mv.id);
    REQUIRE(r1.has_value());
    CHECK_FALSE(r1->has_value());
    auto r2 = m.on_ack(mv.id);
    REQUIRE(r2.has_value());
    REQUIRE(r2->has_value());
    CHECK((*r2)->to == 2);
    CHECK(m.idle());
    CHECK_FALSE(m.on_ack(mv.id).has_value());  // no such move any more
    AND_THEN("the planted bug finishes at once and drops the acks") {
        HomeMoves::Move early{m.next_id(), 2, {{6, 1}}, 1};
        CHECK(m.begin(early, true).has_value());
        auto r = m.on_ack(early.id);
        REQUIRE(r.has_value());
        CHECK_FALSE(r->has_value());
    }
}

SCENARIO("a fresh page handed from node 0 to node 1: node 1's first touch is local") {
    HomeTable t0(4), t1(4), t2(4);
    Protocol n0 = homed_node(0, 3, t0), n1 = homed_node(1, 3, t1), n2 = homed_node(2, 3, t2);
    REQUIRE(n0.can_move(2));
    REQUIRE(n0.pristine(2));
    n0.freeze(2);
    WHEN("node 2's request was on its way to node 0 before it heard of the move") {
        Send stale = only_send(fault(n2, 2, Access::Read));
        CHECK(stale.to == 0);
        n1.apply_notice(2, 1);
        n2.apply_notice(2, 1);
        CHECK(deliver(n0, 2, stale.msg).empty());  // frozen: queued, nothing started
        THEN("node 1 queues its own first touch until the state arrives") {
            Send own = only_send(fault(n1, 2, Access::Write));
            CHECK(own.to == 1);
            CHECK(deliver(n1, 1, own.msg).empty());
            auto moved = n0.finish_move(2, 1);
            REQUIRE(moved.has_value());
            REQUIRE(moved->has_value());  // it carries node 2's queued request
            CHECK((*moved)->wait_read == 0b100);
            CHECK(n0.home_of(2) == 1);
            Actions acts;
            REQUIRE(n1.import_moved(2, &**moved, acts).has_value());
            CHECK_FALSE(n1.frozen(2));
            auto sends = all_of<Send>(acts);
            // Both requests are served by node 1, round robin: its own write
            // (a zero grant to itself), then node 2's read forwarded to the
            // new owner, node 1 itself.
            REQUIRE(sends.size() == 2);
            CHECK(sends[0].to == 1);
            CHECK(sends[0].msg.type == MsgType::GrantModified);
            CHECK(sends[0].msg.data_kind == DataKind::Zero);
            CHECK(sends[1].to == 1);
            CHECK(sends[1].msg.type == MsgType::FwdRead);
            CHECK(sends[1].msg.requester == 2);
        }
    }
    WHEN("nothing was queued") {
        n1.apply_notice(2, 1);
        n2.apply_notice(2, 1);
        auto moved = n0.finish_move(2, 1);
        REQUIRE(moved.has_value());
        CHECK_FALSE(moved->has_value());  // pristine: nothing to hand over
        Actions acts;
        REQUIRE(n1.import_moved(2, nullptr, acts).has_value());
        THEN("node 1's write is granted by itself, with no message to another node") {
            Send req = only_send(fault(n1, 2, Access::Write));
            CHECK(req.to == 1);
            Send grant = only_send(deliver(n1, 1, req.msg));
            CHECK(grant.to == 1);
            CHECK(grant.msg.data_kind == DataKind::Zero);
        }
    }
}

SCENARIO("a request reaching the next home before its notice waits there") {
    HomeTable t0(4), t1(4), t2(4);
    Protocol n0 = homed_node(0, 3, t0), n1 = homed_node(1, 3, t1), n2 = homed_node(2, 3, t2);
    n0.freeze(3);
    n2.apply_notice(3, 1);
    Send req = only_send(fault(n2, 3, Access::Write));
    CHECK(req.to == 1);
    CHECK(deliver(n1, 2, req.msg).empty());  // parked: node 1 does not know yet
    n1.apply_notice(3, 1);
    auto moved = n0.finish_move(3, 1);
    REQUIRE(moved.has_value());
    Actions acts;
    REQUIRE(n1.import_moved(3, moved->has_value() ? &**moved : nullptr, acts).has_value());
    Send grant = only_send(acts);
    CHECK(grant.to == 2);
    CHECK(grant.msg.type == MsgType::GrantModified);
}

SCENARIO("a streak of requests from one node moves the home there") {
    HomeTable t0(4), t1(4);
    Protocol n0 = homed_node(0, 2, t0, 2), n1 = homed_node(1, 2, t1, 2);
    // Node 1 reads page 1 (granted Zero), then upgrades: the second request in a row.
    Send r = only_send(fault(n1, 1, Access::Read));
    deliver(n1, 0, only_send(deliver(n0, 1, r.msg)).msg);
    Send w = only_send(fault(n1, 1, Access::Write));
    Actions acts = deliver(n0, 1, w.msg);
    auto moves = all_of<StartMove>(acts);
    REQUIRE(moves.size() == 1);
    CHECK(moves[0].to == 1);
    CHECK(n0.frozen(1));
    n1.apply_notice(1, 1);
    auto moved = n0.finish_move(1, 1);
    REQUIRE(moved.has_value());
    REQUIRE(moved->has_value());
    CHECK((*moved)->moves == 1);
    Actions served;
    REQUIRE(n1.import_moved(1, &**moved, served).has_value());
    // Node 1, now the home, grants its own upgrade: no message leaves it.
    Send up = only_send(served);
    CHECK(up.to == 1);
    CHECK(up.msg.type == MsgType::GrantModified);
    CHECK(up.msg.data_kind == DataKind::None);
}

SCENARIO("a page held only at its home is made pristine again for a fresh range") {
    HomeTable t0(4);
    Protocol n0 = homed_node(0, 2, t0);
    Send w = only_send(fault(n0, 2, Access::Write));
    deliver(n0, 0, only_send(deliver(n0, 0, w.msg)).msg);
    REQUIRE(n0.local_state(2) == LocalState::Modified);
    Actions acts;
    CHECK(n0.reclaim_zero(2, acts));
    CHECK(all_of<Drop>(acts).size() == 1);
    CHECK(n0.pristine(2));
}
