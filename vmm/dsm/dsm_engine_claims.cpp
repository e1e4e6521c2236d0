// DsmEngine's side of first-use claims (docs/dsm-protocol.md "Claims"):
// which request of this node is a claim, faults that wait for a claim of
// their chunk, and the home's hand-over of a chunk's never-used pages. Part
// of DsmEngine (dsm_engine.hpp).
//
// Requester. The first request of this node for a page of an aligned chunk
// (claim_chunk pages) that is homed elsewhere goes as ClaimReadReq /
// ClaimWriteReq. While it is out, a fault on another page of the chunk that
// this node holds Invalid and routes elsewhere is not sent: it waits
// (claim_waiters_) and is woken when the claim settles, i.e. when the
// claimed page's grant is installed (claim_settled, on its ResumeFaults).
// By then the hand-over, if any, is complete here (HomeNotice, then
// HomeState before the grant the new home, this node, gives itself), so the
// retried fault finds the page homed here and never used: a local zero
// grant with zero-fill-ahead, no message. If the claim was not granted (the
// page was used), the chunk is marked no_claim_ and its pages are asked for
// as before. Run requests stop at a chunk whose claim is out, and the first
// page of a run into a chunk not yet claimed becomes that chunk's claim.
// Waiting is only a delay: a fault not sent is not in the protocol at all.
//
// Home. A claim arrives on the I/O thread and is handled under every shard
// mutex (serve_claim): the protocol decides for the claimed page
// (Protocol::claim: home here, may move, no node ever had it) and emits
// StartMove{claim}; start_move then claims every other never-used page of the
// chunk the same way and hands them all over in one move (HomeNotice to
// every other node, HomeAcks, HomeState: dsm_engine_homes.cpp). The
// claimant's request travels in the claimed page's directory entry, so the
// new home serves it itself. A page any node had is never claimed: it stays
// with its home and its directory (the planted bug claim-zero-shared hands
// over a page read as zero as if it were unused; tests/sim and
// tests/model/dsm.pml catch it).
#include "vmm/base/latency_trace.hpp"
#include "vmm/dsm/dsm_engine.hpp"

namespace spanvm::dsm {

DsmEngine::ClaimStep DsmEngine::claim_step(Shard& sh, PageIndex page, bool thread_waits) {
    if (!claims_on()) return ClaimStep::None;
    if (sh.protocol.local_state(page) != LocalState::Invalid || sh.protocol.home_of(page) == self_) return ClaimStep::None;
    const std::uint64_t chunk = page / options_.claim_chunk;
    std::lock_guard lk(claims_mu_);
    if (auto it = claims_out_.find(chunk); it != claims_out_.end()) {
        if (it->second == page) return ClaimStep::None;  // not Invalid then; defensive
        if (!thread_waits) return ClaimStep::Skip;
        claim_waiters_[chunk].push_back(page);
        return ClaimStep::Wait;
    }
    if (no_claim_[chunk]) return ClaimStep::None;
    claims_out_.emplace(chunk, page);
    claims_open_.fetch_add(1, std::memory_order_relaxed);
    stats_->add(DsmStats::Counter::claim_requests);
    trace::mark("dsm.claim_request", page);
    return ClaimStep::Claim;
}

void DsmEngine::claim_settled(PageIndex page) {
    if (claims_open_.load(std::memory_order_relaxed) == 0) return;
    const std::uint64_t chunk = page / options_.claim_chunk;
    std::vector<PageIndex> waiters;
    {
        std::lock_guard lk(claims_mu_);
        auto it = claims_out_.find(chunk);
        if (it == claims_out_.end() || it->second != page) return;
        claims_out_.erase(it);
        claims_open_.fetch_sub(1, std::memory_order_relaxed);
        if (auto w = claim_waiters_.find(chunk); w != claim_waiters_.end()) {
            waiters = std::move(w->second);
            claim_waiters_.erase(w);
        }
        // Caller holds the page's shard mutex: the route is stable.
        if (shard(page).protocol.home_of(page) != self_) {
            no_claim_[chunk] = true;
            trace::mark("dsm.no_claim", page);
        }
    }
    trace::mark("dsm.claim_settled", page);
    for (PageIndex w : waiters) check(region_->wake(w), "wake after a claim");
}

void DsmEngine::serve_claim(NodeId from, const Message& msg, std::size_t wire_bytes) {
    stats_->add(DsmStats::Counter::bytes_received, wire_bytes);
    auto locks = lock_all();
    Shard& sh = shard(msg.page);
    // A request for a page no node had that is not claimed (frozen or busy
    // for another reason) is a per-page first touch over the network.
    const bool here = from != self_ && sh.protocol.home_of(msg.page) == self_;
    const bool fresh = here && sh.protocol.directory(msg.page).state == DirState::Uncached;
    if (here && !fresh && !sh.protocol.frozen(msg.page)) {
        // C3: the claimed page was used. The chunk is one two nodes use;
        // the claimant stops claiming it (no_claim_ there).
        std::lock_guard lk(claims_mu_);
        refused_claims_[msg.page / options_.claim_chunk] |= std::uint64_t{1} << from;
    }
    claim_locks_held_ = true;
    Actions acts;
    auto r = sh.protocol.on_message(from, msg, now_ns(), acts);
    run_actions(sh, acts, from);
    claim_locks_held_ = false;
    if (!r) fail(cluster_.describe_failure(from, "protocol violation: " + r.error().message));
    if (fresh && sh.protocol.home_of(msg.page) == self_ && !sh.protocol.frozen(msg.page))
        count_first_touch(from, msg.page, "dsm.first_touch.claim");
}

void DsmEngine::count_first_touch(NodeId from, PageIndex page, const char* point) {
    bool shared = false;
    if (claims_on()) {
        std::lock_guard lk(claims_mu_);
        const auto it = refused_claims_.find(page / options_.claim_chunk);
        shared = it != refused_claims_.end() && ((it->second >> from) & 1);
    }
    stats_->add(shared ? DsmStats::Counter::shared_chunk_first_touches : DsmStats::Counter::remote_first_touches);
    // For finding such pages one by one (latency_trace.hpp): the requester,
    // whether the chunk is shared, whether the page has a file filler.
    const bool filled = options_.filler && options_.filler->filled(page);
    trace::mark(point, (std::uint64_t{from} << 56) | (std::uint64_t{shared} << 48) | (std::uint64_t{filled} << 40) | page);
}

}  // namespace spanvm::dsm
