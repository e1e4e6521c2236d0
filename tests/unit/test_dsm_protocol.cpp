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

SCENARIO("a read of a Modified page is served by the owner straight to the requester") {
    GIVEN("three nodes; node 1 owns page 0 (home node 0) after a write") {
        Protocol n0 = make_node(0, 3), n1 = make_node(1, 3), n2 = make_node(2, 3);
        Send w = only_send(fault(n1, 0, Access::Write));
        CHECK(w.msg.type == MsgType::WriteReq);
        Send g = only_send(deliver(n0, 1, w.msg));
        CHECK(g.msg.type == MsgType::GrantModified);
        CHECK(g.msg.data_kind == DataKind::Zero);
        CHECK_FALSE(n0.directory(0).busy);  // the home's own zero grant, no acks: no Done
        Actions inst = deliver(n1, 0, g.msg);
        CHECK(std::get<InstallPage>(inst[0]).access == Access::Write);
        CHECK(all_of<Send>(inst).empty());
        CHECK(n1.local_state(0) == LocalState::Modified);
        WHEN("node 2 reads page 0") {
            Send r = only_send(fault(n2, 0, Access::Read));
            Send fwd = only_send(deliver(n0, 2, r.msg));
            THEN("the home forwards to the owner naming the requester and waits for Done") {
                CHECK(fwd.to == 1);
                CHECK(fwd.msg.type == MsgType::FwdRead);
                CHECK(fwd.msg.requester == 2);
                CHECK(n0.directory(0).busy);
                CHECK(n0.directory(0).state == DirState::Shared);
                CHECK(n0.directory(0).sharers == 0b110);
            }
            AND_WHEN("the owner handles the forward") {
                Actions a = deliver(n1, 0, fwd.msg);
                THEN("it write-protects first, then sends its page to the requester, and is Shared") {
                    REQUIRE(a.size() == 2);
                    CHECK(std::get<Downgrade>(a[0]).page == 0);
                    CHECK(std::get<Downgrade>(a[0]).for_read);  // the executor may downgrade ahead
                    auto s = std::get<Send>(a[1]);
                    CHECK(s.to == 2);
                    CHECK(s.msg.type == MsgType::GrantShared);
                    CHECK(s.attach_page);
                    CHECK(n1.local_state(0) == LocalState::Shared);
                }
                AND_WHEN("the requester installs it") {
                    Actions b = deliver(n2, 1, attached(std::get<Send>(a[1]), 0x42));
                    THEN("it resumes its threads, then tells the home it is done (3 messages on the path)") {
                        REQUIRE(b.size() == 3);
                        CHECK(std::ranges::equal(std::get<InstallPage>(b[0]).data, page_bytes(0x42)));
                        CHECK(std::holds_alternative<ResumeFaults>(b[1]));
                        Send done = std::get<Send>(b[2]);
                        CHECK(done.to == 0);
                        CHECK(done.msg.type == MsgType::Done);
                        CHECK(deliver(n0, 2, done.msg).empty());
                        CHECK_FALSE(n0.directory(0).busy);
                        CHECK(n0.quiescent());
                        CHECK(n1.quiescent());
                        CHECK(n2.quiescent());
                    }
                }
            }
        }
    }
}

SCENARIO("a write collects InvAcks at the requester, in any order with its grant") {
    GIVEN("three nodes; nodes 1 and 2 share page 0 with node 1 supplying data (home node 0)") {
        Protocol n0 = make_node(0, 3), n1 = make_node(1, 3), n2 = make_node(2, 3);
        deliver(n1, 0, only_send(deliver(n0, 1, only_send(fault(n1, 0, Access::Write)).msg)).msg);
        Send fwd = only_send(deliver(n0, 2, only_send(fault(n2, 0, Access::Read)).msg));
        Actions served = deliver(n1, 0, fwd.msg);
        Actions got = deliver(n2, 1, attached(std::get<Send>(served[1]), 0x11));
        deliver(n0, 2, std::get<Send>(got[2]).msg);
        REQUIRE(n0.directory(0).owner == 1);
        WHEN("the home (node 0) writes page 0") {
            Actions start = deliver(n0, 0, only_send(fault(n0, 0, Access::Write)).msg);
            auto s = all_of<Send>(start);
            THEN("the data holder gets FwdWrite with the ack count and the other sharer an Invalidate") {
                REQUIRE(s.size() == 2);
                CHECK(s[0].to == 1);
                CHECK(s[0].msg.type == MsgType::FwdWrite);
                CHECK(s[0].msg.requester == 0);
                CHECK(s[0].msg.acks == 1);
                CHECK(s[1].to == 2);
                CHECK(s[1].msg.type == MsgType::Invalidate);
                CHECK(n0.directory(0).state == DirState::Modified);
                CHECK(n0.directory(0).busy);
            }
            REQUIRE(s.size() == 2);
            AND_WHEN("the InvAck arrives before the data") {
                Actions inv = deliver(n2, 0, s[1].msg);
                CHECK(std::holds_alternative<Drop>(inv[0]));
                Send ack = std::get<Send>(inv[1]);
                CHECK(ack.to == 0);
                CHECK(ack.msg.type == MsgType::InvAck);
                CHECK(deliver(n0, 2, ack.msg).empty());
                CHECK(n0.local_state(0) == LocalState::InvalidToModified);
                Actions d1 = deliver(n1, 0, s[0].msg);
                THEN("the holder sends the page and unmaps it; the grant then completes the write") {
                    REQUIRE(d1.size() == 2);
                    CHECK(std::get<Send>(d1[0]).msg.type == MsgType::GrantModified);
                    CHECK(std::get<Send>(d1[0]).msg.acks == 1);
                    CHECK(std::holds_alternative<Drop>(d1[1]));
                    Actions fin = deliver(n0, 1, attached(std::get<Send>(d1[0]), 0x22));
                    CHECK(std::get<InstallPage>(fin[0]).access == Access::Write);
                    CHECK(n0.local_state(0) == LocalState::Modified);
                    CHECK(std::get<Send>(fin.back()).msg.type == MsgType::Done);
                }
            }
            AND_WHEN("the data arrives before the InvAck") {
                Actions d1 = deliver(n1, 0, s[0].msg);
                Actions early = deliver(n0, 1, attached(std::get<Send>(d1[0]), 0x22));
                THEN("the page is mapped read-only and the write waits for the ack") {
                    REQUIRE(early.size() == 1);
                    CHECK(std::get<InstallPage>(early[0]).access == Access::Read);
                    CHECK(n0.local_state(0) == LocalState::SharedToModified);
                    Actions inv = deliver(n2, 0, s[1].msg);
                    Actions fin = deliver(n0, 2, std::get<Send>(inv[1]).msg);
                    REQUIRE(fin.size() == 3);
                    CHECK(std::holds_alternative<Upgrade>(fin[0]));
                    CHECK(std::holds_alternative<ResumeFaults>(fin[1]));
                    CHECK(std::get<Send>(fin[2]).msg.type == MsgType::Done);
                    CHECK(n0.local_state(0) == LocalState::Modified);
                    CHECK(deliver(n0, 0, std::get<Send>(fin[2]).msg).empty());
                    CHECK(n0.quiescent());
                }
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

SCENARIO("two sharers upgrade at once: the loser's upgrade becomes a forwarded write") {
    GIVEN("three nodes; nodes 1 and 2 share the zero page 0 (home node 0)") {
        Protocol n0 = make_node(0, 3), n1 = make_node(1, 3), n2 = make_node(2, 3);
        for (Protocol* p : {&n1, &n2}) {
            NodeId id = p->config().self;
            deliver(*p, 0, only_send(deliver(n0, id, only_send(fault(*p, 0, Access::Read)).msg)).msg);
        }
        WHEN("both write-fault and node 1's WriteReq reaches the home first") {
            Send w1 = only_send(fault(n1, 0, Access::Write));
            Send w2 = only_send(fault(n2, 0, Access::Write));
            auto s = all_of<Send>(deliver(n0, 1, w1.msg));
            REQUIRE(s.size() == 2);
            CHECK(s[0].to == 1);
            CHECK(s[0].msg.type == MsgType::GrantModified);
            CHECK(s[0].msg.data_kind == DataKind::None);  // upgrade in place
            CHECK(s[0].msg.acks == 1);
            CHECK(s[1].to == 2);
            CHECK(s[1].msg.type == MsgType::Invalidate);
            CHECK(deliver(n0, 2, w2.msg).empty());  // waits behind node 1's transaction
            CHECK(n0.directory(0).queued == 1);
            Actions d2 = deliver(n2, 0, s[1].msg);
            THEN("node 2 drops its copy, acks node 1, and keeps waiting without a copy") {
                CHECK(std::holds_alternative<Drop>(d2[0]));
                CHECK(std::get<Send>(d2[1]).to == 1);
                CHECK(n2.local_state(0) == LocalState::InvalidToModified);
            }
            CHECK(deliver(n1, 0, s[0].msg).empty());  // granted, one ack due
            Actions up = deliver(n1, 2, std::get<Send>(d2[1]).msg);
            REQUIRE(up.size() == 3);
            CHECK(std::holds_alternative<Upgrade>(up[0]));
            CHECK(n1.local_state(0) == LocalState::Modified);
            AND_WHEN("node 1's Done reaches the home") {
                Send fw = only_send(deliver(n0, 1, std::get<Send>(up[2]).msg));
                THEN("node 2's waiting write is forwarded to the new owner, which sends its data") {
                    CHECK(fw.to == 1);
                    CHECK(fw.msg.type == MsgType::FwdWrite);
                    CHECK(fw.msg.requester == 2);
                    Actions d1 = deliver(n1, 0, fw.msg);
                    REQUIRE(d1.size() == 3);
                    CHECK(std::holds_alternative<Downgrade>(d1[0]));
                    CHECK(std::get<Send>(d1[1]).attach_page);
                    CHECK(std::holds_alternative<Drop>(d1[2]));
                    Actions a = deliver(n2, 1, attached(std::get<Send>(d1[1]), 0x77));
                    auto inst = std::get<InstallPage>(a[0]);
                    CHECK(inst.access == Access::Write);
                    CHECK(std::ranges::equal(inst.data, page_bytes(0x77)));
                    CHECK(deliver(n0, 2, std::get<Send>(a.back()).msg).empty());
                    CHECK(n0.quiescent());
                    CHECK(n0.directory(0).owner == 2);
                }
            }
        }
    }
}

SCENARIO("requests arriving while forwarded data is on its way wait at the home for Done") {
    GIVEN("three nodes; node 1 owns page 0; node 2's read was forwarded to node 1") {
        Protocol n0 = make_node(0, 3), n1 = make_node(1, 3), n2 = make_node(2, 3);
        deliver(n1, 0, only_send(deliver(n0, 1, only_send(fault(n1, 0, Access::Write)).msg)).msg);
        Send fwd = only_send(deliver(n0, 2, only_send(fault(n2, 0, Access::Read)).msg));
        Actions served = deliver(n1, 0, fwd.msg);
        WHEN("the home's own WriteReq arrives before node 2 has the data") {
            CHECK(deliver(n0, 0, only_send(fault(n0, 0, Access::Write)).msg).empty());
            THEN("it waits; node 2's Done starts it, and only then is node 2 invalidated") {
                Actions b = deliver(n2, 1, attached(std::get<Send>(served[1]), 0x5a));
                CHECK(n2.local_state(0) == LocalState::Shared);
                auto s = all_of<Send>(deliver(n0, 2, std::get<Send>(b.back()).msg));
                REQUIRE(s.size() == 2);
                CHECK(s[0].msg.type == MsgType::FwdWrite);
                CHECK(s[0].to == 1);
                CHECK(s[1].msg.type == MsgType::Invalidate);
                CHECK(s[1].to == 2);
                Actions d2 = deliver(n2, 0, s[1].msg);
                CHECK(std::holds_alternative<Drop>(d2[0]));
                CHECK(n2.local_state(0) == LocalState::Invalid);
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
            CHECK(inv.msg.type == MsgType::FwdWrite);
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
                    CHECK(std::get<Send>(due[1]).msg.type == MsgType::GrantModified);
                    CHECK(std::get<Send>(due[1]).to == 1);
                    CHECK(std::holds_alternative<Drop>(due[2]));
                    CHECK(n0.local_state(1) == LocalState::Invalid);
                    CHECK(n0.quiescent());
                }
            }
        }
        WHEN("a read is forwarded to the owner inside its hold time") {
            Send fwd = only_send(deliver(n1, 1, only_send(fault(n1, 1, Access::Read, 300)).msg, 300));
            Actions a = deliver(n0, 1, fwd.msg, 300);
            THEN("the forward is deferred too, and served by the tick") {
                REQUIRE(a.size() == 1);
                CHECK(std::get<WakeAt>(a[0]).at_ns == 1100);
                Actions due;
                CHECK(n0.on_tick(1500, due).has_value());
                REQUIRE(due.size() == 2);
                CHECK(std::holds_alternative<Downgrade>(due[0]));
                CHECK(std::get<Send>(due[1]).msg.type == MsgType::GrantShared);
                CHECK(n0.local_state(1) == LocalState::Shared);
            }
        }
        WHEN("a forwarded write arrives after the hold expired") {
            Message fw = msg(MsgType::FwdWrite, 1);
            fw.requester = 1;
            Actions a = deliver(n0, 1, fw, 1200);
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
                CHECK(fwd.msg.type == MsgType::FwdRead);
                CHECK(fwd.msg.requester == 1);
            }
        }
    }
}

SCENARIO("protocol violations are rejected with an error and change nothing") {
    GIVEN("two nodes") {
        Protocol n0 = make_node(0, 2), n1 = make_node(1, 2);
        Actions out;
        THEN("an InvAck or a Done with no transaction is an error") {
            auto r = n1.on_message(0, msg(MsgType::InvAck, 1), 0, out);
            REQUIRE_FALSE(r.has_value());
            CHECK(r.error().message.find("InvAck for page 1") != std::string::npos);
            auto d = n1.on_message(0, msg(MsgType::Done, 1), 0, out);
            REQUIRE_FALSE(d.has_value());
            CHECK(d.error().message.find("unexpected Done") != std::string::npos);
        }
        THEN("a request sent to a node that is not the page's home is an error") {
            CHECK_FALSE(n0.on_message(1, msg(MsgType::ReadReq, 1), 0, out).has_value());
        }
        THEN("a zero grant or a forward from a node that is not the home is an error") {
            CHECK_FALSE(n1.on_message(0, msg(MsgType::GrantShared, 1, DataKind::Zero), 0, out).has_value());
            CHECK_FALSE(n1.on_message(0, msg(MsgType::FwdRead, 1), 0, out).has_value());
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
        THEN("an Invalidate overtaking data still on its way (no copy yet) is an error") {
            CHECK(n0.on_fault(1, Access::Read, 0, out).has_value());  // IS: fetch outstanding
            Actions a;
            auto r = n0.on_message(1, msg(MsgType::Invalidate, 1), 0, a);
            REQUIRE_FALSE(r.has_value());
            CHECK(r.error().message.find("no copy") != std::string::npos);
            CHECK(a.empty());
            CHECK(n0.local_state(1) == LocalState::InvalidToShared);
        }
        THEN("a second request from the same node for the same page is an error") {
            CHECK(n1.on_message(0, msg(MsgType::ReadReq, 1), 0, out).has_value());
            CHECK(n1.on_message(1, msg(MsgType::WriteReq, 1), 0, out).has_value());  // invalidates node 0: busy
            CHECK(n1.directory(1).busy);
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
