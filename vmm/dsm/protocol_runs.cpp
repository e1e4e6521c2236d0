// Runs: optional requests the home may refuse (docs/dsm-protocol.md "Runs").
// Part of Protocol (protocol.hpp); kept apart from the per-page core in
// protocol.cpp.
//
// Invariants (the argument is in the doc):
//  R1 The home starts a run request only on an idle page: no transaction in
//     progress and no request waiting. Started, it is an ordinary request
//     (Protocol::start): same directory move, same forwards, Invalidates to
//     every other sharer, same Done rule. So everything the per-page
//     argument says holds for it.
//  R2 Otherwise the home answers Refuse and changes nothing: no directory
//     field, no queue. A refused request leaves no trace at the home.
//  R3 The requester, on Refuse, returns the page to where the request took
//     it from, as seen after anything that arrived meanwhile: IS -> I,
//     IM -> I, SM -> S (an Invalidate or FwdWrite that reached it in SM made
//     it IM already, so the copy the directory no longer lists is gone).
//     It then wakes any thread that faulted on the page meanwhile: the
//     thread retries and faults again, which sends an ordinary request.
//  R4 Per page, at most one request of a node is outstanding, run or not: a
//     run request is made only from I (or S for a write), and a fault on a
//     page in flight coalesces with it. So the home's "second request" check
//     holds for runs too, and the Refuse is the only answer the requester
//     can get for it.
//  R5 Dynamic homes: the requester names in one run request only pages it
//     routes to one home (its HomeTable), and the home refuses a page it is
//     not home of or that is frozen in a handover, as it refuses a busy one.
//     The Refuse may then reach the requester after it learnt the new home,
//     so with dynamic homes a Refuse is accepted from any node (it changes
//     nothing at the home, and the requester checks it has a request out).
#include <cerrno>

#include "vmm/dsm/protocol.hpp"

namespace spanvm::dsm {

Result<bool> Protocol::request_ahead(PageIndex page, Access access, Actions& out) {
    if (auto c = check_page(page, "run request"); !c) return c.error();
    LocalEntry& e = local(page);
    Message m;
    m.page = page;
    m.type = access == Access::Read ? MsgType::RunReadReq : MsgType::RunWriteReq;
    if (e.state == LocalState::Invalid)
        e.state = access == Access::Read ? LocalState::InvalidToShared : LocalState::InvalidToModified;
    else if (e.state == LocalState::Shared && access == Access::Write)
        e.state = LocalState::SharedToModified;
    else
        return false;
    send(out, home_of(page), std::move(m));
    return true;
}

Result<void> Protocol::home_run_request(NodeId from, PageIndex page, Access access, Actions& out) {
    DirEntry& d = dir(page);
    // R5 (dynamic homes): a page frozen in a handover, or one this node is
    // not (or no longer, or not yet) home of, is refused like a busy one, so
    // a run request that took a stale route never starts a transaction.
    const bool routed_here = is_home(page) && !frozen(page);
    const bool idle = d.busy == kNone && (d.wait_read | d.wait_write) == 0;
    if (!routed_here || (!idle && cfg_.inject != FaultInjection::RunIgnoresBusy)) {
        // R4: a node has one request per page outstanding; its own
        // transaction in progress or queued means this one is a violation.
        if (d.busy == from || ((d.wait_read | d.wait_write) & (std::uint64_t{1} << from)) != 0)
            return make_error(EPROTO, "dsm: node {} sent a second request for page {}", from, page);
        Message m;
        m.type = MsgType::Refuse;
        m.page = page;
        send(out, from, std::move(m));
        return {};
    }
    if (d.state == DirState::Modified && d.owner == from)
        return make_error(EPROTO, "dsm: node {} requests page {} it owns", from, page);
    if (d.busy == from)  // only with RunIgnoresBusy
        return make_error(EPROTO, "dsm: node {} sent a second request for page {}", from, page);
    start(page, d, from, access, out);
    return {};
}

Result<void> Protocol::cache_refuse(PageIndex page, LocalEntry& e, Actions& out) {
    if (e.granted || e.acks != 0)
        return make_error(EPROTO, "dsm: Refuse for page {} after its grant or acks", page);
    switch (e.state) {
        case LocalState::InvalidToShared:
        case LocalState::InvalidToModified: e.state = LocalState::Invalid; break;
        case LocalState::SharedToModified: e.state = LocalState::Shared; break;
        default:
            return make_error(EPROTO, "dsm: Refuse for page {} in state {} (no request)", page, to_string(e.state));
    }
    out.push_back(ResumeFaults{page});
    return {};
}

}  // namespace spanvm::dsm
