// The layout ride rules (vmm/cluster/layout_rides; docs/dsm-protocol.md
// "Fillers", F6 and F7): what is held, what a Resume carries or waits for,
// what a Layout carries, and the waits for rides in flight.
#include <doctest/doctest.h>

#include "vmm/cluster/layout_rides.hpp"

using namespace spanvm::cluster;
using spanvm::memory::FillRun;
using spanvm::memory::LayoutRun;

namespace {
// A protection change of one page, numbered by its start.
LayoutMsg runs_change(std::uint64_t n) { return LayoutMsg{0, {LayoutRun{n << 12, (n + 1) << 12, 3}}, {}, {}}; }
LayoutMsg fills_change(std::uint64_t n) {
    LayoutMsg m;
    m.fills.push_back(FillRun{n << 12, (n + 1) << 12, 1, 0});
    return m;
}
std::vector<std::uint64_t> starts(const LayoutMsg& m) {
    std::vector<std::uint64_t> out;
    for (const auto& r : m.runs) out.push_back(r.start >> 12);
    return out;
}
constexpr int kT = 101;   // node 1's thread
constexpr int kT2 = 102;  // a second one
}  // namespace

SCENARIO("before node 1's first Spawn, changes are held for it (F6 (b))") {
    LayoutRides r(2, true);
    CHECK(r.hold(runs_change(1), std::nullopt));
    CHECK(r.hold(fills_change(2), std::nullopt));
    CHECK(r.held(1));
    CHECK(r.held_by(1) == 0);
    WHEN("the Spawn settles") {
        CHECK(r.settle(1));  // a Layout must go first
        LayoutMsg m;
        CHECK_FALSE(r.in_flight());
        const auto seq = r.carry(m);
        THEN("the Layout carries them, and nothing waits for it but the Spawn") {
            CHECK(seq == 1);
            CHECK(starts(m) == std::vector<std::uint64_t>{1});
            CHECK(m.fills.size() == 1);
            CHECK_FALSE(r.held(1));
            CHECK_FALSE(r.resume_wait(1, kT));
        }
    }
    THEN("with rides off, in a cluster of three, or with a file named, nothing is held") {
        LayoutRides off(2, false), three(3, true);
        CHECK_FALSE(off.hold(runs_change(1), std::nullopt));
        CHECK_FALSE(three.hold(runs_change(1), std::nullopt));
        LayoutMsg named = runs_change(1);
        named.files.push_back(FileDecl{1, "/f", {}});
        CHECK_FALSE(r.hold(named, std::nullopt));
    }
}

SCENARIO("node 1's only thread's protection changes ride on its Resume (F6 (a))") {
    LayoutRides r(2, true);
    r.register_thread(kT, 1);
    CHECK_FALSE(r.settle(1));  // nothing held, nothing in flight
    const RideCaller t{1, kT};
    CHECK(r.hold(runs_change(1), t));
    CHECK(r.hold(runs_change(2), t));
    CHECK_FALSE(r.hold(fills_change(3), t));            // fills never ride (a)
    CHECK_FALSE(r.hold(runs_change(3), std::nullopt));  // an origin thread's change is broadcast
    WHEN("its Resume takes them") {
        CHECK_FALSE(r.resume_wait(1, kT));
        auto m = r.take(1, kT);
        REQUIRE(m);
        THEN("they go in order, and are in flight until acked") {
            CHECK(starts(*m) == std::vector<std::uint64_t>{1, 2});
            CHECK(m->seq == 1);
            CHECK(r.in_flight() == AckWait{1, 1});
            CHECK(r.settle(1));  // a Spawn waits for it too
            r.acked(1, 1);
            CHECK_FALSE(r.in_flight());
            CHECK_FALSE(r.take(1, kT));
        }
    }
    WHEN("a second thread is registered for node 1") {
        r.register_thread(kT2, 1);
        THEN("nothing more is held, and the Spawn's Layout carries what is") {
            CHECK_FALSE(r.hold(runs_change(3), t));
            CHECK(r.settle(1));
            LayoutMsg m;
            CHECK(r.carry(m) == 1);
            CHECK(starts(m) == std::vector<std::uint64_t>{1, 2});
        }
    }
    WHEN("another thread's Resume asks") {
        THEN("it takes nothing") { CHECK_FALSE(r.take(1, kT2)); }
    }
}

SCENARIO("a held ride that another caller's Layout carries is absorbed: its Resume waits for that ack") {
    LayoutRides r(2, true);
    r.register_thread(kT, 1);
    CHECK_FALSE(r.settle(1));
    const RideCaller t{1, kT};
    CHECK(r.hold(runs_change(1), t));
    GIVEN("an origin thread's change broadcast before the owner's Resume") {
        LayoutMsg m = runs_change(2);
        CHECK_FALSE(r.in_flight());
        const auto seq = r.carry(m);
        REQUIRE(seq == 1);
        CHECK(starts(m) == std::vector<std::uint64_t>{1, 2});
        THEN("the owner's Resume carries nothing and waits until node 1 acked it") {
            CHECK(r.resume_wait(1, kT) == AckWait{1, 1});
            CHECK_FALSE(r.resume_wait(1, kT2));
            r.acked(1, 1);
            CHECK_FALSE(r.resume_wait(1, kT));
            CHECK_FALSE(r.take(1, kT));
        }
        THEN("a change the owner holds since goes on its Resume, after the ack") {
            CHECK(r.hold(runs_change(3), t));
            CHECK(r.resume_wait(1, kT) == AckWait{1, 1});
            r.acked(1, 1);
            auto mine = r.take(1, kT);
            REQUIRE(mine);
            CHECK(starts(*mine) == std::vector<std::uint64_t>{3});
            CHECK(mine->seq == 2);
            THEN("the absorbed seq is forgotten") { CHECK_FALSE(r.resume_wait(1, kT)); }
        }
    }
}

SCENARIO("a Layout waits for a ride in flight; fillers go unacked after the first Spawn (F7)") {
    LayoutRides r(2, true);
    CHECK_FALSE(r.fills_unacked(fills_change(1)));  // before the first Spawn: held (b)
    r.register_thread(kT, 1);
    CHECK_FALSE(r.settle(1));
    CHECK(r.fills_unacked(fills_change(1)));
    CHECK_FALSE(r.fills_unacked(runs_change(1)));
    CHECK(r.hold(runs_change(1), RideCaller{1, kT}));
    CHECK(r.fills_unacked(fills_change(2)));  // held runs stay held
    auto m = r.take(1, kT);
    REQUIRE(m);
    CHECK(r.in_flight() == AckWait{1, m->seq});
    r.acked(1, m->seq);
    CHECK(r.next_seq() == m->seq + 1);
    CHECK(r.acked_by_all(m->seq));
    CHECK_FALSE(r.acked_by_all(m->seq + 1));
}

SCENARIO("a thread that left node 1 stops owning rides there") {
    LayoutRides r(2, true);
    r.register_thread(kT, 1);
    r.register_thread(kT2, 1);
    CHECK_FALSE(r.settle(1));
    CHECK_FALSE(r.hold(runs_change(1), RideCaller{1, kT}));
    r.unregister_thread(kT2);
    CHECK(r.threads_on(1) == 1);
    CHECK(r.hold(runs_change(1), RideCaller{1, kT}));
    CHECK_FALSE(r.hold(runs_change(2), RideCaller{1, kT2}));  // not registered
}

SCENARIO("a Spawn waits for the Layout that carried held changes, whoever sent it") {
    LayoutRides r(2, true);
    r.register_thread(kT, 1);
    CHECK_FALSE(r.settle(1));
    CHECK(r.hold(runs_change(1), RideCaller{1, kT}));
    LayoutMsg m = runs_change(2);
    const auto seq = r.carry(m);  // an origin thread's Layout, maybe not on the link yet
    REQUIRE(seq == 1);
    r.register_thread(kT2, 1);
    THEN("a second thread's Spawn has no Layout to send, but waits for that one's ack") {
        CHECK_FALSE(r.settle(1));
        CHECK(r.spawn_wait(1) == AckWait{1, 1});
        r.acked(1, 1);
        CHECK_FALSE(r.spawn_wait(1));
    }
    THEN("a Layout that carried nothing held is not waited for") {
        r.acked(1, 1);
        LayoutMsg plain = runs_change(3);
        CHECK(r.carry(plain) == 2);
        CHECK_FALSE(r.spawn_wait(1));
    }
}

SCENARIO("absorb and seal apart: the ride is out of the table before its Layout has a seq") {
    // The order until 2026-12-06 (broadcast_layout waited for a ride in
    // flight between the two): the owner's Resume then finds nothing to
    // carry and nothing to wait for (layout_sim's ride-absorbed-early).
    LayoutRides r(2, true);
    r.register_thread(kT, 1);
    CHECK_FALSE(r.settle(1));
    CHECK(r.hold(runs_change(1), RideCaller{1, kT}));
    auto first = r.take(1, kT);
    REQUIRE(first);
    CHECK(r.hold(runs_change(2), RideCaller{1, kT}));
    LayoutMsg m = runs_change(3);
    const auto owners = r.absorb(m);
    CHECK(r.in_flight() == AckWait{1, first->seq});
    CHECK_FALSE(r.resume_wait(1, kT));
    CHECK_FALSE(r.take(1, kT));
    r.acked(1, first->seq);
    CHECK(r.seal(m, owners) == first->seq + 1);
    CHECK(r.resume_wait(1, kT) == AckWait{1, first->seq + 1});
}
