#pragma once
// The bookkeeping and decisions of layout rides (docs/dsm-protocol.md
// "Fillers", F6 and F7): which layout changes node k has not been sent,
// which Layout sequence numbers are in flight, which acks came back, and
// whom a Resume or a Layout must wait for. Pure: no I/O, no lock, no wait.
// OriginCluster holds its layout_mu_ around every call, does the waiting
// (an AckWait: "until node k has acked seq S", the caller releasing the
// lock meanwhile and asking again after) and the sends; tests/sim/layout_sim
// drives the same rules through random interleavings.
//
// Rides (a cluster of two only; node k = 1): the changes held for
//  (a) the Resume of the call that made them, when the caller is node k's
//      only registered guest thread (blocked in that call): protection only
//      (runs), never fills (F2, the planted bug ride-in-flight);
//  (b) node k's first Spawn, before it (owner tid 0): runs and fills.
// A Resume takes its thread's ride (take): from then the ride is "in
// flight" until node k acks its seq, and no Layout (nor Spawn) goes to k
// before that ack, since the Resume travels on the thread's own channel,
// not on the control link. A Layout sent while a ride is held carries it
// first (carry); an (a) ride carried so is "absorbed": node k applies that
// Layout on its I/O thread, so the owner's Resume waits for its ack
// (resume_wait; the planted bug ride-absorbed). A carry happens only once
// no ride is in flight, in the same hold of the caller's lock as the wait's
// last check: an owner whose ride was taken out of the table while the
// caller still waited would otherwise find neither a ride nor an absorbed
// seq and continue before node k follows (the planted bug
// ride-absorbed-early).
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "vmm/cluster/layout_messages.hpp"

namespace spanvm::cluster {

// Wait until node `node` has acked Layout `seq` (or the program ends).
struct AckWait {
    unsigned node = 0;
    std::uint64_t seq = 0;
    bool operator==(const AckWait&) const = default;
};

// The remote thread whose call made a change (RemoteVcpu::serving).
struct RideCaller {
    unsigned node = 0;
    int tid = 0;
};

class LayoutRides {
public:
    // `enabled`: SPANVM_LAYOUT_RIDE=0 turns rides (and F7) off.
    LayoutRides(std::size_t nodes, bool enabled);

    std::size_t nodes() const { return acked_.size(); }

    // Registered remote threads (before their Spawn: a second thread on
    // node k stops (a)), and their end.
    void register_thread(int tid, unsigned node) { thread_nodes_[tid] = node; }
    void unregister_thread(int tid) { thread_nodes_.erase(tid); }
    std::size_t threads_on(unsigned node) const;

    // LayoutAcks: node `node` applied every Layout up to `seq`.
    void acked(unsigned node, std::uint64_t seq);
    std::uint64_t acked(unsigned node) const { return acked_.at(node); }
    bool acked_by_all(std::uint64_t seq) const;

    // ride(): true when the change `m` is held (F6 (a) or (b)) instead of
    // broadcast. `caller`: the remote thread in whose call it was made.
    bool hold(const LayoutMsg& m, std::optional<RideCaller> caller);

    // take_ride(), in two steps: first wait for resume_wait (the Layout
    // that absorbed this thread's ride), then take: the thread's held ride
    // with its seq (from here in flight), if any.
    std::optional<AckWait> resume_wait(unsigned node, int tid) const;
    std::optional<LayoutMsg> take(unsigned node, int tid);

    // settle_rides(): before a Spawn to `node`: marks it spawned (ends
    // (b)); true when a Layout must go first (a ride held or in flight).
    // Then, that Layout sent and acked or not needed, the Spawn waits for
    // spawn_wait: the last Layout that carried held changes to `node` may
    // have its seq and not be on the link yet (another caller's), and the
    // Spawn, sent on the same link but not under layout_send_mu_, would
    // overtake it (the planted bug spawn-overtakes of layout_sim).
    bool settle(unsigned node);
    std::optional<AckWait> spawn_wait(unsigned node) const;

    // broadcast_layout(): wait for in_flight until it returns nothing, then
    // carry (same lock hold): the held rides go first in `m`, which gets
    // its seq; 0 when there is nothing to send. carry is absorb then seal;
    // the two halves apart, with a wait between, were the order until
    // 2026-12-06 (tests/sim/layout_sim's planted bug ride-absorbed-early).
    std::optional<AckWait> in_flight() const;
    std::uint64_t carry(LayoutMsg& m) { return seal(m, absorb(m)); }
    // By node: kNothing, or the owner of the ride carried (0 for (b)).
    static constexpr int kNothing = -1;
    std::vector<int> absorb(LayoutMsg& m);
    std::uint64_t seal(LayoutMsg& m, const std::vector<int>& owners);

    // send_fills_unacked() (F7): true when the filler-only change `m` may
    // go to node 1 unacked; then wait for in_flight and take next_seq().
    bool fills_unacked(const LayoutMsg& m) const;
    std::uint64_t next_seq() { return ++seq_; }

    // For tests: a ride held for node k, and its owner.
    bool held(unsigned node) const { return rides_.at(node).held; }
    int held_by(unsigned node) const { return rides_.at(node).tid; }

private:
    struct Ride {
        bool held = false;
        int tid = 0;  // (a): the owner; 0: (b), for the first Spawn
        LayoutMsg msg;
    };
    struct Absorbed {
        int tid = 0;            // the (a) ride's owner
        std::uint64_t seq = 0;  // the Layout that carried it
    };
    bool enabled_;
    std::uint64_t seq_ = 0;               // the last Layout seq given
    std::vector<std::uint64_t> acked_;    // by node id
    std::vector<Ride> rides_;             // by node id
    std::vector<std::uint64_t> sent_;     // by node id: seq of the last ride taken
    std::vector<Absorbed> absorbed_;      // by node id
    std::vector<std::uint64_t> carried_;  // by node id: the last Layout that carried a held ride
    std::vector<bool> spawned_;           // by node id: a Spawn went there
    std::map<int, unsigned> thread_nodes_;  // tid -> node
};

}  // namespace spanvm::cluster
