// Run requests of the DSM protocol (vmm/dsm/protocol_runs.cpp): optional
// requests the home starts on idle pages and refuses otherwise.
#include <doctest/doctest.h>

#include "tests/unit/dsm_test_helpers.hpp"
#include "vmm/dsm/home_table.hpp"

using namespace spanvm::dsm;
using namespace spanvm::dsm::testing;

namespace {
Send ahead(Protocol& p, PageIndex page, Access a) {
    Actions out;
    auto r = p.request_ahead(page, a, out);
    REQUIRE_MESSAGE(r.has_value(), r.error().message);
    REQUIRE(*r);
    return only_send(out);
}
// Feeds node `self`'s messages to itself back in (as the executor does) and
// returns every other action, in order.
Actions settle(Protocol& p, NodeId self, Actions a) {
    Actions rest;
    for (std::size_t i = 0; i < a.size(); ++i) {
        auto* s = std::get_if<Send>(&a[i]);
        if (s && s->to == self) {
            Actions more = deliver(p, self, s->msg);
            a.insert(a.end(), more.begin(), more.end());
        } else {
            rest.push_back(a[i]);
        }
    }
    return rest;
}
Protocol homed(NodeId self, HomeTable& t) {
    ProtocolConfig c;
    c.self = self;
    c.num_nodes = 3;
    c.num_pages = 4;
    c.page_size = kTestPageSize;
    c.home = HomePolicy::single(0, 3);
    c.homes = &t;
    auto p = Protocol::create(c);
    REQUIRE(p.has_value());
    return std::move(*p);
}
}  // namespace

SCENARIO("a run request on an idle page is an ordinary request") {
    GIVEN("two nodes, every page homed on node 0, node 0 owns page 2") {
        Protocol n0 = make_node(0, 2, 0, "node:0"), n1 = make_node(1, 2, 0, "node:0");
        settle(n0, 0, fault(n0, 2, Access::Write));
        REQUIRE(n0.local_state(2) == LocalState::Modified);
        WHEN("node 1 asks for page 2 for writing as part of a run") {
            Send req = ahead(n1, 2, Access::Write);
            THEN("it sends RunWriteReq and waits in InvalidToModified") {
                CHECK(req.to == 0);
                CHECK(req.msg.type == MsgType::RunWriteReq);
                CHECK(n1.local_state(2) == LocalState::InvalidToModified);
            }
            AND_WHEN("the home gets it") {
                Actions a = deliver(n0, 1, req.msg);
                THEN("the owner is asked to hand the page over, as for a WriteReq") {
                    Send fwd = only_send(a);
                    CHECK(fwd.msg.type == MsgType::FwdWrite);
                    CHECK(n0.directory(2).state == DirState::Modified);
                    CHECK(n0.directory(2).owner == 1);
                    CHECK(n0.directory(2).busy);
                }
            }
        }
        WHEN("node 1 already has a request in flight for the page") {
            fault(n1, 2, Access::Read);
            THEN("no run request is made for it") {
                Actions out;
                auto r = n1.request_ahead(2, Access::Write, out);
                REQUIRE(r.has_value());
                CHECK_FALSE(*r);
                CHECK(out.empty());
            }
        }
    }
}

SCENARIO("a run request on a busy page is refused and leaves no trace") {
    GIVEN("three nodes homed on node 0; node 1 owns page 1; node 2's read of it is being forwarded") {
        Protocol n0 = make_node(0, 3, 0, "node:0"), n1 = make_node(1, 3, 0, "node:0"),
                 n2 = make_node(2, 3, 0, "node:0");
        deliver(n1, 0, only_send(deliver(n0, 1, only_send(fault(n1, 1, Access::Write)).msg)).msg);
        Send fwd = only_send(deliver(n0, 2, only_send(fault(n2, 1, Access::Read)).msg));
        REQUIRE(n0.directory(1).busy);
        WHEN("node 0 (the home itself) asks for page 1 as part of a write run") {
            Send req = ahead(n0, 1, Access::Write);
            Actions a = deliver(n0, 0, req.msg);
            THEN("it is refused: the directory and its queue are unchanged") {
                Send ref = only_send(a);
                CHECK(ref.msg.type == MsgType::Refuse);
                CHECK(ref.to == 0);
                CHECK(n0.directory(1).queued == 0);
                CHECK(n0.directory(1).sharers == 0b110);
                AND_WHEN("the refusal arrives") {
                    Actions b = deliver(n0, 0, ref.msg);
                    THEN("the page is Invalid again and waiting threads retry") {
                        CHECK(n0.local_state(1) == LocalState::Invalid);
                        REQUIRE(b.size() == 1);
                        CHECK(std::get<ResumeFaults>(b[0]).page == 1);
                    }
                }
            }
        }
    }
}

SCENARIO("a refused upgrade returns the copy it still has, and not one it lost meanwhile") {
    GIVEN("two nodes homed on node 0, both sharing page 0; node 0's write of it in progress") {
        Protocol n0 = make_node(0, 2, 0, "node:0"), n1 = make_node(1, 2, 0, "node:0");
        settle(n0, 0, fault(n0, 0, Access::Read));
        deliver(n1, 0, only_send(deliver(n0, 1, only_send(fault(n1, 0, Access::Read)).msg)).msg);
        REQUIRE(n0.directory(0).sharers == 0b11);
        Actions w = deliver(n0, 0, only_send(fault(n0, 0, Access::Write)).msg);
        auto sends = all_of<Send>(w);
        REQUIRE(sends.size() == 2);  // GrantModified(None, 1) to self, Invalidate to node 1
        REQUIRE(sends[1].msg.type == MsgType::Invalidate);
        CHECK(n0.directory(0).busy);
        WHEN("node 1 asks to upgrade page 0 as part of a run before the Invalidate reaches it") {
            Send req = ahead(n1, 0, Access::Write);
            Send ref = only_send(deliver(n0, 1, req.msg));
            REQUIRE(ref.msg.type == MsgType::Refuse);
            Actions inv = deliver(n1, 0, sends[1].msg);
            CHECK(std::holds_alternative<Drop>(inv[0]));
            CHECK(n1.local_state(0) == LocalState::InvalidToModified);
            deliver(n1, 0, ref.msg);
            THEN("the refusal leaves node 1 Invalid, as the directory says") {
                CHECK(n1.local_state(0) == LocalState::Invalid);
                deliver(n0, 0, sends[0].msg);
                settle(n0, 0, deliver(n0, 1, only_send(inv).msg));
                CHECK(n0.local_state(0) == LocalState::Modified);
                CHECK(n0.quiescent());
                CHECK(n1.quiescent());
            }
        }
    }
}

SCENARIO("run messages are checked") {
    Protocol n0 = make_node(0, 2, 0, "node:0"), n1 = make_node(1, 2, 0, "node:0");
    Actions out;
    THEN("a Refuse with no request outstanding is a violation") {
        CHECK_FALSE(n1.on_message(0, msg(MsgType::Refuse, 1), 0, out).has_value());
    }
    THEN("a Refuse from a node that is not the home is rejected") {
        ahead(n1, 1, Access::Read);
        CHECK_FALSE(n1.on_message(1, msg(MsgType::Refuse, 1), 0, out).has_value());
    }
    THEN("a multi-page run request must be split by the executor") {
        Message m = msg(MsgType::RunWriteReq, 1);
        m.acks = 1;
        CHECK_FALSE(n0.on_message(1, m, 0, out).has_value());
    }
    THEN("the codec bounds a run at 64 pages") {
        Message m = msg(MsgType::RunReadReq, 1);
        m.acks = 63;
        CHECK(decode_message(encode_message(m)).has_value());
        m.acks = 64;
        CHECK_FALSE(validate_message(m).has_value());
    }
}

SCENARIO("with dynamic homes a run page on a stale route is refused") {
    GIVEN("three nodes with home tables, page 1 homed on node 0") {
        HomeTable t0(4), t1(4), t2(4);
        Protocol n0 = homed(0, t0), n2 = homed(2, t2);
        WHEN("node 0 froze page 1 to hand it over and a run request for it arrives") {
            n0.freeze(1);
            Send req = ahead(n2, 1, Access::Read);
            REQUIRE(req.to == 0);
            Actions a = deliver(n0, 2, req.msg);
            THEN("it is refused like a busy page and nothing is queued") {
                Send ref = only_send(a);
                CHECK(ref.to == 2);
                CHECK(ref.msg.type == MsgType::Refuse);
                CHECK(n0.directory(1).busy == false);
                CHECK(n0.directory(1).queued == 0);
            }
            AND_WHEN("the requester learnt the new home before the Refuse arrived") {
                t2.set(1, 1, false);
                Actions r = deliver(n2, 0, only_send(a).msg);
                THEN("the former home's Refuse is accepted and the page is Invalid again") {
                    CHECK(n2.local_state(1) == LocalState::Invalid);
                    CHECK(n2.quiescent());
                }
            }
        }
        WHEN("a run request reaches a node that is not (yet) the page's home") {
            Protocol n1 = homed(1, t1);
            Send req = ahead(n2, 1, Access::Write);
            Actions a = deliver(n1, 2, req.msg);
            THEN("it is refused, not parked") {
                Send ref = only_send(a);
                CHECK(ref.msg.type == MsgType::Refuse);
                CHECK(n1.directory(1).queued == 0);
            }
        }
    }
}
