#include "vmm/cluster/layout_rides.hpp"

#include <algorithm>

namespace spanvm::cluster {

namespace {
constexpr unsigned kRideNode = 1;  // rides exist in a cluster of two only
}

LayoutRides::LayoutRides(std::size_t nodes, bool enabled)
    : enabled_(enabled && nodes == 2),
      acked_(nodes, 0),
      rides_(nodes),
      sent_(nodes, 0),
      absorbed_(nodes),
      carried_(nodes, 0),
      spawned_(nodes, false) {}

std::size_t LayoutRides::threads_on(unsigned node) const {
    std::size_t n = 0;
    for (const auto& [tid, k] : thread_nodes_) n += k == node;
    return n;
}

void LayoutRides::acked(unsigned node, std::uint64_t seq) { acked_.at(node) = std::max(acked_.at(node), seq); }

bool LayoutRides::acked_by_all(std::uint64_t seq) const {
    for (std::size_t k = 1; k < acked_.size(); ++k)
        if (acked_[k] < seq) return false;
    return true;
}

bool LayoutRides::hold(const LayoutMsg& m, std::optional<RideCaller> caller) {
    // docs/dsm-protocol.md "Fillers", F6. Node 1 of a cluster of two may
    // follow this change later than the call returns:
    // (a) protection only (runs), when its only guest thread is the caller,
    //     blocked in this call until its Resume, which carries the change
    //     and is applied first: the host protection there matters only to
    //     that thread's accesses (the engine's installs and copy-outs work
    //     on any protection). Fills do not ride here: a request the node's
    //     engine sent before the Trap (read-ahead, a run) may reach the
    //     home after it was asked which pages are pristine, and would
    //     install the old filler (F2; the planted bug ride-in-flight);
    // (b) runs and fills, when no thread was ever spawned there: it holds
    //     no page and has asked for none, and the first Spawn sends the
    //     change first (settle), so F2 holds as if sent now.
    // A second thread registered for node 1 stops (a) before its Spawn;
    // every Layout sent meanwhile carries what is held, in order.
    if (!enabled_ || !m.files.empty()) return false;
    constexpr unsigned k = kRideNode;
    Ride& r = rides_[k];
    int owner = 0;  // (b)
    if (spawned_[k]) {
        if (!m.fills.empty() || !caller || caller->node != k || threads_on(k) != 1) return false;
        auto it = thread_nodes_.find(caller->tid);
        if (it == thread_nodes_.end() || it->second != k) return false;
        owner = caller->tid;  // (a)
    }
    if (r.held && r.tid != owner) return false;  // the next Layout carries r first
    r.held = true;
    r.tid = owner;
    r.msg.runs.insert(r.msg.runs.end(), m.runs.begin(), m.runs.end());
    r.msg.fills.insert(r.msg.fills.end(), m.fills.begin(), m.fills.end());
    return true;
}

std::optional<AckWait> LayoutRides::resume_wait(unsigned node, int tid) const {
    // This thread's changes carried by another caller's Layout (absorbed):
    // node k applies that one on its I/O thread, so the thread continues
    // only once k has acked it; and before any change held since, which
    // the Resume carries and k applies after it.
    if (node >= absorbed_.size() || tid == 0) return std::nullopt;
    const Absorbed& a = absorbed_[node];
    if (a.tid != tid || acked_[node] >= a.seq) return std::nullopt;
    return AckWait{node, a.seq};
}

std::optional<LayoutMsg> LayoutRides::take(unsigned node, int tid) {
    if (node >= rides_.size()) return std::nullopt;
    if (tid != 0 && absorbed_[node].tid == tid) absorbed_[node] = Absorbed{};
    Ride& r = rides_[node];
    if (!r.held || r.tid != tid || tid == 0) return std::nullopt;
    LayoutMsg m = std::move(r.msg);
    r = Ride{};
    m.seq = next_seq();
    sent_[node] = m.seq;
    return m;
}

bool LayoutRides::settle(unsigned node) {
    if (node == 0 || node >= rides_.size()) return false;
    spawned_[node] = true;  // from here (b) of hold() no longer holds
    return rides_[node].held || acked_[node] < sent_[node];
}

std::optional<AckWait> LayoutRides::spawn_wait(unsigned node) const {
    if (node >= carried_.size() || acked_[node] >= carried_[node]) return std::nullopt;
    return AckWait{node, carried_[node]};
}

std::optional<AckWait> LayoutRides::in_flight() const {
    // A ride taken by a Resume travels on its thread's channel: a Layout
    // on the control link could overtake it, so none goes before its ack.
    for (unsigned k = 1; k < sent_.size(); ++k)
        if (acked_[k] < sent_[k]) return AckWait{k, sent_[k]};
    return std::nullopt;
}

std::vector<int> LayoutRides::absorb(LayoutMsg& m) {
    // What a ride holds goes first: runs and fills are separate tables,
    // each applied in order.
    std::vector<int> owners(rides_.size(), kNothing);
    for (std::size_t k = 1; k < rides_.size(); ++k) {
        Ride& r = rides_[k];
        if (!r.held) continue;
        m.runs.insert(m.runs.begin(), r.msg.runs.begin(), r.msg.runs.end());
        m.fills.insert(m.fills.begin(), r.msg.fills.begin(), r.msg.fills.end());
        owners[k] = r.tid;
        r = Ride{};
    }
    return owners;
}

std::uint64_t LayoutRides::seal(LayoutMsg& m, const std::vector<int>& owners) {
    if (m.runs.empty() && m.files.empty() && m.fills.empty()) return 0;
    m.seq = next_seq();
    for (std::size_t k = 1; k < owners.size(); ++k) {
        if (owners[k] == kNothing) continue;
        carried_[k] = m.seq;                                             // a Spawn waits for this ack
        if (owners[k] != 0) absorbed_[k] = Absorbed{owners[k], m.seq};  // the owner's Resume too
    }
    return m.seq;
}

bool LayoutRides::fills_unacked(const LayoutMsg& m) const {
    // F7: fillers only, after node 1's first Spawn, and no held fills
    // (they go first, so their order is kept). Held runs stay held.
    if (!enabled_ || !m.files.empty() || !m.runs.empty() || m.fills.empty()) return false;
    constexpr unsigned k = kRideNode;
    return spawned_[k] && !(rides_[k].held && !rides_[k].msg.fills.empty());
}

}  // namespace spanvm::cluster
