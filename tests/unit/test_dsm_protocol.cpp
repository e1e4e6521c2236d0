// State-machine transitions of the DSM protocol, driven message by message.
#include <doctest/doctest.h>

#include "tests/unit/dsm_test_helpers.hpp"

using namespace spanvm::dsm;
using namespace spanvm::dsm::testing;

SCENARIO("a read fault on a never-written page gets a zero page") {
    GIVEN("two nodes, page 1 homed on node 1") {
        Protocol n0 = make_node(0, 2), n1 = make_node(1, 2);
        WHEN("node 0 read-faults page 1") {
            Send req = only_send(fault(n0, 1, Access::Read));
            THEN("it sends ReadReq to the home and waits in InvalidToShared") {
                CHECK(req.to == 1);
                CHECK(req.msg.type == MsgType::ReadReq);
                CHECK(n0.local_state(1) == LocalState::InvalidToShared);
            }
            AND_WHEN("the home answers") {
                Send grant = only_send(deliver(n1, 0, req.msg));
                THEN("it grants Shared with a zero page and records the sharer") {
                    CHECK(grant.to == 0);
                    CHECK(grant.msg.type == MsgType::GrantShared);
                    CHECK(grant.msg.data_kind == DataKind::Zero);
                    CHECK(grant.msg.data.empty());
                    DirectoryView d = n1.directory(1);
                    CHECK(d.state == DirState::Shared);
                    CHECK(d.sharers == 0b01);
                    CHECK_FALSE(d.busy);
                }
                AND_WHEN("node 0 receives the grant") {
                    Actions a = deliver(n0, 1, grant.msg, 5);
                    THEN("it installs a read-only zero page, then resumes the faulting threads") {
                        REQUIRE(a.size() == 2);
                        auto inst = std::get<InstallPage>(a[0]);
                        CHECK(inst.access == Access::Read);
                        CHECK(inst.data_kind == DataKind::Zero);
                        CHECK(std::get<ResumeFaults>(a[1]).page == 1);
                        CHECK(n0.local_state(1) == LocalState::Shared);
                        CHECK(n0.quiescent());
                        CHECK(n1.quiescent());
                    }
                }
            }
        }
    }
}

SCENARIO("a read of a Modified page is served by downgrading the owner through the home") {
    GIVEN("three nodes; node 1 owns page 0 (home node 0) after a write") {
        Protocol n0 = make_node(0, 3), n1 = make_node(1, 3), n2 = make_node(2, 3);
        Send w = only_send(fault(n1, 0, Access::Write));
        CHECK(w.msg.type == MsgType::WriteReq);
        Send g = only_send(deliver(n0, 1, w.msg));
        CHECK(g.msg.type == MsgType::GrantModified);
        CHECK(g.msg.data_kind == DataKind::Zero);
        Actions inst = deliver(n1, 0, g.msg);
        CHECK(std::get<InstallPage>(inst[0]).access == Access::Write);
        CHECK(n1.local_state(0) == LocalState::Modified);
        WHEN("node 2 reads page 0") {
            Send r = only_send(fault(n2, 0, Access::Read));
            Send fwd = only_send(deliver(n0, 2, r.msg));
            THEN("the home forwards to the owner and stays busy") {
                CHECK(fwd.to == 1);
                CHECK(fwd.msg.type == MsgType::Forward);
                CHECK(n0.directory(0).busy);
            }
            AND_WHEN("the owner handles the Forward") {
                Actions a = deliver(n1, 0, fwd.msg);
                THEN("it write-protects first, then sends its page to the home, and is Shared") {
                    REQUIRE(a.size() == 2);
                    CHECK(std::get<Downgrade>(a[0]).page == 0);
                    auto s = std::get<Send>(a[1]);
                    CHECK(s.to == 0);
                    CHECK(s.msg.type == MsgType::FwdData);
                    CHECK(s.attach_page);
                    CHECK(n1.local_state(0) == LocalState::Shared);
                }
                AND_WHEN("the home gets the data") {
                    Send gs = only_send(deliver(n0, 1, attached(std::get<Send>(a[1]), 0x42)));
                    THEN("the reader gets the owner's bytes and both are sharers") {
                        CHECK(gs.to == 2);
                        CHECK(gs.msg.type == MsgType::GrantShared);
                        CHECK(gs.msg.data == page_bytes(0x42));
                        DirectoryView d = n0.directory(0);
                        CHECK(d.state == DirState::Shared);
                        CHECK(d.sharers == 0b110);
                        CHECK_FALSE(d.busy);
                    }
                }
            }
        }
    }
}

SCENARIO("a write invalidates every other copy and is granted only after all acks") {
    GIVEN("three nodes; nodes 1 and 2 share page 0 (home node 0)") {
        Protocol n0 = make_node(0, 3), n1 = make_node(1, 3), n2 = make_node(2, 3);
        for (Protocol* p : {&n1, &n2}) {
            NodeId id = p->config().self;
            Send g = only_send(deliver(n0, id, only_send(fault(*p, 0, Access::Read)).msg));
            deliver(*p, 0, g.msg);
        }
        REQUIRE(n0.directory(0).sharers == 0b110);
        WHEN("the home node itself write-faults") {
            Send req = only_send(fault(n0, 0, Access::Write));
            CHECK(req.to == 0);  // self-send, looped back by the executor
            Actions inv = deliver(n0, 0, req.msg);
            auto sends = all_of<Send>(inv);
            THEN("Invalidate goes to both sharers and nothing is granted yet") {
                REQUIRE(sends.size() == 2);
                CHECK(sends[0].msg.type == MsgType::Invalidate);
                CHECK(sends[1].msg.type == MsgType::Invalidate);
                CHECK(sends[0].to + sends[1].to == 3);
            }
            AND_WHEN("the acks arrive in reverse order") {
                Actions d2 = deliver(n2, 0, sends[0].msg);
                THEN("a sharer unmaps before acking") {
                    REQUIRE(d2.size() == 2);
                    CHECK(std::holds_alternative<Drop>(d2[0]));
                    CHECK(std::get<Send>(d2[1]).msg.type == MsgType::InvAck);
                    CHECK(std::get<Send>(d2[1]).msg.data_kind == DataKind::None);
                    CHECK(n2.local_state(0) == LocalState::Invalid);
                }
                Actions a2 = deliver(n0, 2, std::get<Send>(d2[1]).msg);
                CHECK(all_of<Send>(a2).empty());
                CHECK(n0.directory(0).busy);
                Actions d1 = deliver(n1, 0, sends[0].msg);
                Send g = only_send(deliver(n0, 1, std::get<Send>(d1[1]).msg));
                THEN("the last ack triggers a full grant (the requester had no copy)") {
                    CHECK(g.to == 0);
                    CHECK(g.msg.type == MsgType::GrantModified);
                    CHECK(g.msg.data_kind == DataKind::Zero);
                    DirectoryView d = n0.directory(0);
                    CHECK(d.state == DirState::Modified);
                    CHECK(d.owner == 0);
                    CHECK(d.sharers == 0);
                }
            }
        }
        WHEN("sharer 1 write-faults") {
            Send req = only_send(fault(n1, 0, Access::Write));
            CHECK(n1.local_state(0) == LocalState::SharedToModified);
            Send inv = only_send(deliver(n0, 1, req.msg));
            CHECK(inv.to == 2);
            Actions d2 = deliver(n2, 0, inv.msg);
            Send g = only_send(deliver(n0, 2, std::get<Send>(d2[1]).msg));
            THEN("it is upgraded in place without data") {
                CHECK(g.msg.type == MsgType::GrantModified);
                CHECK(g.msg.data_kind == DataKind::None);
                Actions a = deliver(n1, 0, g.msg);
                CHECK(std::holds_alternative<Upgrade>(a[0]));
                CHECK(std::holds_alternative<ResumeFaults>(a[1]));
                CHECK(n1.local_state(0) == LocalState::Modified);
            }
        }
    }
}

SCENARIO("concurrent local faults on one page are coalesced into one request") {
    GIVEN("two nodes, page 1 homed on node 1") {
        Protocol n0 = make_node(0, 2), n1 = make_node(1, 2);
        WHEN("two reads and a write fault while the first read is outstanding") {
            Send req = only_send(fault(n0, 1, Access::Read));
            CHECK(fault(n0, 1, Access::Read).empty());
            CHECK(fault(n0, 1, Access::Write).empty());
            THEN("only one ReadReq left, and the grant resumes all waiters once") {
                Actions a = deliver(n0, 1, only_send(deliver(n1, 0, req.msg)).msg);
                CHECK(all_of<ResumeFaults>(a).size() == 1);
                AND_THEN("the woken writer faults again and upgrades") {
                    Send w = only_send(fault(n0, 1, Access::Write));
                    CHECK(w.msg.type == MsgType::WriteReq);
                    CHECK(n0.local_state(1) == LocalState::SharedToModified);
                }
            }
        }
        WHEN("a read faults while a write is outstanding") {
            Send req = only_send(fault(n0, 1, Access::Write));
            CHECK(fault(n0, 1, Access::Read).empty());
            Actions a = deliver(n0, 1, only_send(deliver(n1, 0, req.msg)).msg);
            THEN("the write grant satisfies the reader as well") {
                CHECK(all_of<ResumeFaults>(a).size() == 1);
                CHECK(n0.local_state(1) == LocalState::Modified);
                Actions again = fault(n0, 1, Access::Read);
                REQUIRE(again.size() == 1);
                CHECK(std::holds_alternative<ResumeFaults>(again[0]));
            }
        }
    }
}

SCENARIO("two sharers upgrade at once: the loser's upgrade becomes a full write") {
    GIVEN("three nodes; nodes 1 and 2 share page 0 (home node 0)") {
        Protocol n0 = make_node(0, 3), n1 = make_node(1, 3), n2 = make_node(2, 3);
        for (Protocol* p : {&n1, &n2}) {
            NodeId id = p->config().self;
            deliver(*p, 0, only_send(deliver(n0, id, only_send(fault(*p, 0, Access::Read)).msg)).msg);
        }
        WHEN("both write-fault and node 1's WriteReq reaches the home first") {
            Send w1 = only_send(fault(n1, 0, Access::Write));
            Send w2 = only_send(fault(n2, 0, Access::Write));
            Send inv2 = only_send(deliver(n0, 1, w1.msg));
            CHECK(deliver(n0, 2, w2.msg).empty());  // queued behind node 1's transaction
            CHECK(n0.directory(0).queued == 1);
            Actions d2 = deliver(n2, 0, inv2.msg);
            THEN("node 2 drops its copy, acks, and keeps waiting without a copy") {
                CHECK(std::holds_alternative<Drop>(d2[0]));
                CHECK(n2.local_state(0) == LocalState::InvalidToModified);
            }
            auto after = all_of<Send>(deliver(n0, 2, std::get<Send>(d2[1]).msg));
            THEN("the last ack grants node 1 an upgrade and starts node 2's queued write at once") {
                REQUIRE(after.size() == 2);
                CHECK(after[0].to == 1);
                CHECK(after[0].msg.type == MsgType::GrantModified);
                CHECK(after[0].msg.data_kind == DataKind::None);
                CHECK(after[1].to == 1);
                CHECK(after[1].msg.type == MsgType::Invalidate);
            }
            REQUIRE(after.size() == 2);
            deliver(n1, 0, after[0].msg);
            AND_WHEN("node 1 (now owner) is invalidated for node 2") {
                DirectoryView d = n0.directory(0);
                CHECK(d.busy);
                CHECK(d.owner == 1);
                Actions d1 = deliver(n1, 0, after[1].msg);
                THEN("the owner write-protects, sends its data, then unmaps") {
                    REQUIRE(d1.size() == 3);
                    CHECK(std::holds_alternative<Downgrade>(d1[0]));
                    CHECK(std::get<Send>(d1[1]).attach_page);
                    CHECK(std::holds_alternative<Drop>(d1[2]));
                }
                Send g2 = only_send(deliver(n0, 1, attached(std::get<Send>(d1[1]), 0x77)));
                THEN("node 2 gets a full grant with node 1's data, not an upgrade") {
                    CHECK(g2.to == 2);
                    CHECK(g2.msg.type == MsgType::GrantModified);
                    CHECK(g2.msg.data == page_bytes(0x77));
                    Actions a = deliver(n2, 0, g2.msg);
                    auto inst = std::get<InstallPage>(a[0]);
                    CHECK(inst.access == Access::Write);
                    CHECK(inst.data == page_bytes(0x77));
                    CHECK(n0.quiescent());
                }
            }
        }
    }
}

SCENARIO("requests arriving while the owner serves a forwarded read wait at the home") {
    GIVEN("three nodes; node 1 owns page 0; node 2's read was forwarded to node 1") {
        Protocol n0 = make_node(0, 3), n1 = make_node(1, 3), n2 = make_node(2, 3);
        deliver(n1, 0, only_send(deliver(n0, 1, only_send(fault(n1, 0, Access::Write)).msg)).msg);
        Send fwd = only_send(deliver(n0, 2, only_send(fault(n2, 0, Access::Read)).msg));
        Actions served = deliver(n1, 0, fwd.msg);
        WHEN("the home's own WriteReq overtakes node 1's FwdData (different pairs)") {
            CHECK(deliver(n0, 0, only_send(fault(n0, 0, Access::Write)).msg).empty());
            THEN("it is queued until the read completes, then invalidates both sharers") {
                Actions a = deliver(n0, 1, attached(std::get<Send>(served[1]), 0x5a));
                auto s = all_of<Send>(a);
                REQUIRE(s.size() == 3);
                CHECK(s[0].msg.type == MsgType::GrantShared);
                CHECK(s[0].to == 2);
                CHECK(s[1].msg.type == MsgType::Invalidate);
                CHECK(s[2].msg.type == MsgType::Invalidate);
                CHECK(s[1].to + s[2].to == 3);
                AND_THEN("node 2 sees its grant before the Invalidate (same pair, FIFO) and acks it") {
                    deliver(n2, 0, s[0].msg);
                    Actions d2 = deliver(n2, 0, s[1].to == 2 ? s[1].msg : s[2].msg);
                    CHECK(std::holds_alternative<Drop>(d2[0]));
                    CHECK(n2.local_state(0) == LocalState::Invalid);
                }
            }
        }
    }
}

SCENARIO("minimum hold time defers giving a page up") {
    GIVEN("two nodes with hold 1000 ns; node 0 acquires page 1 Modified at t=100") {
        Protocol n0 = make_node(0, 2, 1000), n1 = make_node(1, 2, 1000);
        Send g = only_send(deliver(n1, 0, only_send(fault(n0, 1, Access::Write, 90)).msg, 95));
        deliver(n0, 1, g.msg, 100);
        WHEN("node 1 wants it back at t=200") {
            Send inv = only_send(deliver(n1, 1, only_send(fault(n1, 1, Access::Write, 200)).msg, 200));
            Actions a = deliver(n0, 1, inv.msg, 210);
            THEN("node 0 keeps the page and asks to be woken at 1100") {
                REQUIRE(a.size() == 1);
                CHECK(std::get<WakeAt>(a[0]).at_ns == 1100);
                CHECK(n0.local_state(1) == LocalState::Modified);
                CHECK_FALSE(n0.quiescent());
            }
            AND_WHEN("ticks arrive before and at the deadline") {
                Actions early;
                CHECK(n0.on_tick(700, early).has_value());
                Actions due;
                CHECK(n0.on_tick(1100, due).has_value());
                THEN("only the tick at the deadline releases the page") {
                    CHECK(early.empty());
                    REQUIRE(due.size() == 3);
                    CHECK(std::holds_alternative<Downgrade>(due[0]));
                    CHECK(std::get<Send>(due[1]).msg.type == MsgType::InvAck);
                    CHECK(std::holds_alternative<Drop>(due[2]));
                    CHECK(n0.local_state(1) == LocalState::Invalid);
                    CHECK(n0.quiescent());
                }
            }
        }
        WHEN("a read is forwarded to the owner inside its hold time") {
            Send fwd = only_send(deliver(n1, 1, only_send(fault(n1, 1, Access::Read, 300)).msg, 300));
            Actions a = deliver(n0, 1, fwd.msg, 300);
            THEN("the Forward is deferred too, and served by the tick") {
                REQUIRE(a.size() == 1);
                CHECK(std::get<WakeAt>(a[0]).at_ns == 1100);
                Actions due;
                CHECK(n0.on_tick(1500, due).has_value());
                REQUIRE(due.size() == 2);
                CHECK(std::holds_alternative<Downgrade>(due[0]));
                CHECK(std::get<Send>(due[1]).msg.type == MsgType::FwdData);
                CHECK(n0.local_state(1) == LocalState::Shared);
            }
        }
        WHEN("the Invalidate arrives after the hold expired") {
            Actions a = deliver(n0, 1, msg(MsgType::Invalidate, 1), 1200);
            THEN("it is handled at once") { CHECK(all_of<Drop>(a).size() == 1); }
        }
    }
}

SCENARIO("a page can start owned by the loader node") {
    GIVEN("three nodes with initial owner node 0") {
        Protocol n0 = make_node(0, 3, 0, "interleave", 0), n1 = make_node(1, 3, 0, "interleave", 0);
        THEN("node 0 holds every page Modified and homes record it") {
            CHECK(n0.local_state(1) == LocalState::Modified);
            CHECK(n1.local_state(1) == LocalState::Invalid);
            CHECK(n1.directory(1).state == DirState::Modified);
            CHECK(n1.directory(1).owner == 0);
        }
        WHEN("node 1 reads page 1 it homes") {
            Send fwd = only_send(deliver(n1, 1, only_send(fault(n1, 1, Access::Read)).msg));
            THEN("the read is forwarded to node 0") {
                CHECK(fwd.to == 0);
                CHECK(fwd.msg.type == MsgType::Forward);
            }
        }
    }
}

SCENARIO("protocol violations are rejected with an error and change nothing") {
    GIVEN("two nodes") {
        Protocol n0 = make_node(0, 2), n1 = make_node(1, 2);
        Actions out;
        THEN("an InvAck with no transaction is an error") {
            auto r = n1.on_message(0, msg(MsgType::InvAck, 1), 0, out);
            REQUIRE_FALSE(r.has_value());
            CHECK(r.error().message.find("unexpected InvAck") != std::string::npos);
        }
        THEN("a request sent to a node that is not the page's home is an error") {
            CHECK_FALSE(n0.on_message(1, msg(MsgType::ReadReq, 1), 0, out).has_value());
        }
        THEN("a grant from a node that is not the home is an error") {
            CHECK_FALSE(n1.on_message(0, msg(MsgType::GrantShared, 1, DataKind::Zero), 0, out).has_value());
        }
        THEN("an unsolicited grant is an error") {
            CHECK_FALSE(n0.on_message(1, msg(MsgType::GrantShared, 1, DataKind::Zero), 0, out).has_value());
            CHECK(n0.local_state(1) == LocalState::Invalid);
        }
        THEN("a page beyond the region, a wrong data size and an unknown sender are errors") {
            CHECK_FALSE(n1.on_message(0, msg(MsgType::ReadReq, 9), 0, out).has_value());
            CHECK_FALSE(n0.on_message(1, msg(MsgType::GrantShared, 1, DataKind::Bytes,
                                             std::vector<std::byte>(3)), 0, out).has_value());
            CHECK_FALSE(n0.on_message(7, msg(MsgType::ReadReq, 0), 0, out).has_value());
            CHECK_FALSE(n0.on_fault(4, Access::Read, 0, out).has_value());
        }
        THEN("an Invalidate reaching a node without a copy is acked without touching memory") {
            CHECK(n0.on_fault(1, Access::Read, 0, out).has_value());  // IS: fetch outstanding
            Actions a;
            CHECK(n0.on_message(1, msg(MsgType::Invalidate, 1), 0, a).has_value());
            REQUIRE(a.size() == 1);
            CHECK(std::get<Send>(a[0]).msg.type == MsgType::InvAck);
            CHECK(n0.local_state(1) == LocalState::InvalidToShared);
        }
        THEN("a second request from the same node for the same page is an error") {
            CHECK(n1.on_message(0, msg(MsgType::ReadReq, 1), 0, out).has_value());
            CHECK(n1.on_message(1, msg(MsgType::WriteReq, 1), 0, out).has_value());  // starts: invalidates node 0
            CHECK_FALSE(n1.on_message(1, msg(MsgType::WriteReq, 1), 0, out).has_value());
        }
    }
    GIVEN("bad configurations") {
        ProtocolConfig c;
        c.num_nodes = 2;
        c.self = 2;
        c.home = HomePolicy::interleaved(2);
        THEN("create() refuses them") {
            CHECK_FALSE(Protocol::create(c).has_value());
            c.self = 0;
            c.page_size = 0;
            CHECK_FALSE(Protocol::create(c).has_value());
            c.page_size = 4096;
            c.home = HomePolicy::interleaved(3);
            CHECK_FALSE(Protocol::create(c).has_value());
            c.home = HomePolicy::interleaved(2);
            CHECK(Protocol::create(c).has_value());
        }
    }
}
