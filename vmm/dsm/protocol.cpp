#include "vmm/dsm/protocol.hpp"

#include <bit>
#include <cerrno>

namespace spanvm::dsm {

static_assert(sizeof(Protocol::LocalEntry) <= 8, "local entry must stay within 8 bytes per page");
static_assert(sizeof(Protocol::DirEntry) <= 32, "directory entry must stay within 32 bytes per page");

namespace {

std::uint64_t bit(NodeId n) { return std::uint64_t{1} << n; }

bool has_copy(LocalState s) {
    return s == LocalState::Shared || s == LocalState::Modified || s == LocalState::SharedToModified;
}

bool allows(LocalState s, Access a) {
    if (a == Access::Read) return s == LocalState::Shared || s == LocalState::Modified;
    return s == LocalState::Modified;
}

bool is_home_bound(MsgType t) {
    return t == MsgType::ReadReq || t == MsgType::WriteReq || t == MsgType::Done || t == MsgType::RunReadReq ||
           t == MsgType::RunWriteReq || t == MsgType::ClaimReadReq || t == MsgType::ClaimWriteReq;
}

Message make(MsgType t, PageIndex page, DataKind k = DataKind::None, std::uint8_t requester = 0,
             std::uint8_t acks = 0) {
    Message m;
    m.type = t;
    m.page = page;
    m.data_kind = k;
    m.requester = requester;
    m.acks = acks;
    return m;
}

}  // namespace

Result<Protocol> Protocol::create(const ProtocolConfig& cfg) {
    if (cfg.num_nodes == 0 || cfg.num_nodes > kMaxNodes)
        return make_error(EINVAL, "dsm: {} nodes, want 1..{}", cfg.num_nodes, kMaxNodes);
    if (cfg.self >= cfg.num_nodes)
        return make_error(EINVAL, "dsm: node id {} out of range for {} nodes", cfg.self, cfg.num_nodes);
    if (cfg.page_size == 0 || cfg.page_size > kMaxPageBytes)
        return make_error(EINVAL, "dsm: page size {} out of range 1..{}", cfg.page_size, kMaxPageBytes);
    if (cfg.home.num_nodes() != cfg.num_nodes)
        return make_error(EINVAL, "dsm: home policy is for {} nodes, cluster has {}", cfg.home.num_nodes(),
                          cfg.num_nodes);
    if (cfg.home.kind() == HomePolicy::Kind::Single && cfg.home.home_of(0) >= cfg.num_nodes)
        return make_error(EINVAL, "dsm: home node {} out of range", cfg.home.home_of(0));
    if (cfg.initial_owner && *cfg.initial_owner >= cfg.num_nodes)
        return make_error(EINVAL, "dsm: initial owner {} out of range", *cfg.initial_owner);
    if (cfg.page_stride == 0 || cfg.page_offset >= cfg.page_stride)
        return make_error(EINVAL, "dsm: page offset {} / stride {} invalid", cfg.page_offset, cfg.page_stride);
    return Protocol(cfg);
}

Protocol::Protocol(const ProtocolConfig& cfg) : cfg_(cfg) {
    std::size_t slots = (cfg.num_pages + cfg.page_stride - 1) / cfg.page_stride;
    LocalEntry l;
    DirEntry d;
    if (cfg.initial_owner) {
        if (*cfg.initial_owner == cfg.self) l.state = LocalState::Modified;
        d.state = DirState::Modified;
        d.owner = static_cast<std::uint8_t>(*cfg.initial_owner);
    }
    local_ = ChunkedArray<LocalEntry>(slots, l);
    dir_ = ChunkedArray<DirEntry>(slots, d);
    acquired_at_ = ChunkedArray<TimeNs>(slots, 0);
}

Result<void> Protocol::check_page(PageIndex page, const char* what) const {
    if (page >= cfg_.num_pages)
        return make_error(EINVAL, "dsm: {} for page {} beyond {} pages", what, page, cfg_.num_pages);
    if (page % cfg_.page_stride != cfg_.page_offset)
        return make_error(EINVAL, "dsm: {} for page {} outside this shard ({} mod {})", what, page, cfg_.page_offset,
                          cfg_.page_stride);
    return {};
}

LocalState Protocol::local_state(PageIndex page) const { return local_.get(slot(page)).state; }

DirectoryView Protocol::directory(PageIndex page) const {
    DirEntry d = dir_.get(slot(page));
    DirectoryView v;
    v.state = d.state;
    v.owner = d.owner;
    v.sharers = d.sharers;
    v.busy = d.busy != kNone;
    v.queued = static_cast<std::size_t>(std::popcount(d.wait_read | d.wait_write));
    return v;
}

bool Protocol::quiescent() const {
    bool dirs = dir_.all_of([](const DirEntry& d) { return d.busy == kNone && (d.wait_read | d.wait_write) == 0; });
    bool locals = local_.all_of([](const LocalEntry& e) {
        return e.deferred == MsgType{0} && (e.state == LocalState::Invalid || e.state == LocalState::Shared ||
                                            e.state == LocalState::Modified);
    });
    return dirs && locals;
}

void Protocol::send(Actions& out, NodeId to, Message m, bool attach) { out.push_back(Send{to, std::move(m), attach}); }

// ---------------------------------------------------------------- cache role

Result<void> Protocol::on_fault(PageIndex page, Access access, TimeNs /*now*/, Actions& out, bool claim) {
    if (auto c = check_page(page, "fault"); !c) return c;
    LocalEntry& e = local(page);
    if (allows(e.state, access)) {
        out.push_back(ResumeFaults{page});
        return {};
    }
    NodeId home = home_of(page);
    switch (e.state) {
        case LocalState::Invalid: {
            e.state = access == Access::Read ? LocalState::InvalidToShared : LocalState::InvalidToModified;
            // A claim only from Invalid and to another home (docs "Claims"):
            // to the home it is the same request, plus the chunk's hand-over.
            const bool as_claim = claim && cfg_.claims && cfg_.homes && home != cfg_.self;
            MsgType t = access == Access::Read ? (as_claim ? MsgType::ClaimReadReq : MsgType::ReadReq)
                                               : (as_claim ? MsgType::ClaimWriteReq : MsgType::WriteReq);
            send(out, home, make(t, page));
            break;
        }
        case LocalState::Shared:  // access == Write
            e.state = LocalState::SharedToModified;
            send(out, home, make(MsgType::WriteReq, page));
            break;
        default:
            // IS/IM/SM: coalesce with the outstanding request. Its grant
            // resumes every waiter; a writer woken by a Shared grant faults
            // again and then upgrades.
            break;
    }
    return {};
}

Result<void> Protocol::on_message(NodeId from, const Message& msg, TimeNs now, Actions& out) {
    if (from >= cfg_.num_nodes) return make_error(EINVAL, "dsm: message from unknown node {}", from);
    if (auto c = check_page(msg.page, to_string(msg.type).data()); !c) return c;
    if (auto v = validate_message(msg); !v) return v.error();
    if (msg.data_kind == DataKind::Bytes && msg.payload().size() != cfg_.page_size)
        return make_error(EINVAL, "dsm: {} from node {} carries {} bytes, page size is {}", to_string(msg.type),
                          from, msg.payload().size(), cfg_.page_size);
    if (msg.requester >= cfg_.num_nodes || msg.acks >= cfg_.num_nodes)
        return make_error(EINVAL, "dsm: {} from node {} names node {} / {} acks in a {}-node cluster",
                          to_string(msg.type), from, msg.requester, msg.acks, cfg_.num_nodes);
    if (is_home_bound(msg.type)) {
        // Dynamic homes: a request may reach the new home before the notice
        // that makes it the home (home_table.hpp); it waits there (parked in
        // this node's directory entry) until the page arrives.
        if (!is_home(msg.page) && !(cfg_.homes && msg.type != MsgType::Done))
            return make_error(EINVAL, "dsm: {} from node {} for page {} whose home is node {}", to_string(msg.type),
                              from, msg.page, home_of(msg.page));
        if (msg.type == MsgType::Done) return home_done(from, msg.page, out);
        if (msg.type == MsgType::RunReadReq || msg.type == MsgType::RunWriteReq) {
            if (msg.acks != 0)  // the executor splits a run into pages (one shard each)
                return make_error(EINVAL, "dsm: {} for {} pages reached one page's protocol", to_string(msg.type),
                                  msg.acks + 1);
            return home_run_request(from, msg.page, msg.type == MsgType::RunReadReq ? Access::Read : Access::Write,
                                    out);
        }
        const bool claim = msg.type == MsgType::ClaimReadReq || msg.type == MsgType::ClaimWriteReq;
        const bool read = msg.type == MsgType::ReadReq || msg.type == MsgType::ClaimReadReq;
        return home_request(from, msg.page, read ? Access::Read : Access::Write, out, claim);
    }
    // Forwards and Invalidates come from the home; so do grants without data.
    // A Refuse may come from a former home (protocol_runs.cpp R5).
    bool from_home_only = msg.type == MsgType::FwdRead || msg.type == MsgType::FwdWrite ||
                          msg.type == MsgType::Invalidate || (msg.type == MsgType::Refuse && !cfg_.homes) ||
                          ((msg.type == MsgType::GrantShared || msg.type == MsgType::GrantModified) &&
                           msg.data_kind != DataKind::Bytes);
    if (from_home_only && from != home_of(msg.page))
        return make_error(EINVAL, "dsm: {}({}) for page {} from node {}, not its home {}", to_string(msg.type),
                          to_string(msg.data_kind), msg.page, from, home_of(msg.page));
    return cache_message(from, msg, now, out);
}

Result<void> Protocol::cache_message(NodeId from, const Message& msg, TimeNs now, Actions& out) {
    PageIndex page = msg.page;
    LocalEntry& e = local(page);
    switch (msg.type) {
        case MsgType::GrantShared:
            if (e.state != LocalState::InvalidToShared)
                return make_error(EPROTO, "dsm: GrantShared for page {} in state {}", page, to_string(e.state));
            out.push_back(InstallPage{page, Access::Read, msg.data_kind, msg.payload()});
            e.state = LocalState::Shared;
            if (cfg_.hold_ns != 0) acquired_at_.at(slot(page)) = now;
            out.push_back(ResumeFaults{page});
            // Forwarded data: the home waits for this before its next step.
            if (msg.data_kind == DataKind::Bytes) send(out, home_of(page), make(MsgType::Done, page));
            return {};
        case MsgType::GrantModified: return cache_grant_modified(from, msg, now, out);
        case MsgType::Refuse: return cache_refuse(page, e, out);
        case MsgType::InvAck:
            if (e.state != LocalState::InvalidToModified && e.state != LocalState::SharedToModified) {
                if (cfg_.inject == FaultInjection::IgnoreAcks && e.state == LocalState::Modified) return {};
                return make_error(EPROTO, "dsm: InvAck for page {} from node {} in state {}", page, from,
                                  to_string(e.state));
            }
            if (e.acks == -64 || (e.granted && e.acks <= 0))
                return make_error(EPROTO, "dsm: more InvAcks for page {} than granted", page);
            --e.acks;
            if (e.granted && e.acks == 0) complete_write(page, e, now, /*mapped_writable=*/false, out);
            return {};
        case MsgType::FwdRead:
        case MsgType::FwdWrite:
        case MsgType::Invalidate:
            if (e.deferred != MsgType{0})
                return make_error(EPROTO, "dsm: {} for page {} while another is deferred", to_string(msg.type), page);
            if (!has_copy(e.state))
                return make_error(EPROTO, "dsm: {} for page {} in state {} (no copy)", to_string(msg.type), page,
                                  to_string(e.state));
            if (cfg_.hold_ns != 0 && now < acquired_at_.get(slot(page)) + cfg_.hold_ns) {
                // Minimum hold: the home's transaction waits for our answer;
                // it is the only message for this page we can receive now.
                e.deferred = msg.type;
                e.deferred_from = static_cast<std::uint8_t>(from);
                e.deferred_requester = msg.requester;
                e.deferred_acks = msg.acks;
                deferred_pages_.insert(page);
                out.push_back(WakeAt{acquired_at_.get(slot(page)) + cfg_.hold_ns});
                return {};
            }
            return cache_release(page, e, msg.type, msg.requester, msg.acks, out);
        default:
            return make_error(EPROTO, "dsm: {} is not a cache message", to_string(msg.type));
    }
}

Result<void> Protocol::cache_grant_modified(NodeId from, const Message& msg, TimeNs now, Actions& out) {
    PageIndex page = msg.page;
    LocalEntry& e = local(page);
    bool upgrade = msg.data_kind == DataKind::None;
    if (e.granted || (upgrade && e.state != LocalState::SharedToModified) ||
        (!upgrade && e.state != LocalState::InvalidToModified))
        return make_error(EPROTO, "dsm: GrantModified({}) for page {} from node {} in state {}{}",
                          to_string(msg.data_kind), page, from, to_string(e.state), e.granted ? " (granted)" : "");
    e.granted = true;
    e.acks = static_cast<std::int8_t>(e.acks + msg.acks);
    e.done_due = msg.data_kind == DataKind::Bytes || msg.acks != 0;
    if (e.acks < 0) return make_error(EPROTO, "dsm: more InvAcks for page {} than granted", page);
    if (e.acks == 0 || cfg_.inject == FaultInjection::IgnoreAcks) {
        if (upgrade)
            out.push_back(Upgrade{page});
        else
            out.push_back(InstallPage{page, Access::Write, msg.data_kind, msg.payload()});
        complete_write(page, e, now, /*mapped_writable=*/true, out);
        return {};
    }
    // Acks still due: map the (current) data read-only meanwhile.
    if (!upgrade) out.push_back(InstallPage{page, Access::Read, msg.data_kind, msg.payload()});
    e.state = LocalState::SharedToModified;
    return {};
}

// Grant and all acks are in: the copy is mapped read-only (made writable
// here), or already writable when the grant completed the write at once.
void Protocol::complete_write(PageIndex page, LocalEntry& e, TimeNs now, bool mapped_writable, Actions& out) {
    if (!mapped_writable) out.push_back(Upgrade{page});
    e.state = LocalState::Modified;
    e.granted = false;
    e.acks = 0;
    if (cfg_.hold_ns != 0) acquired_at_.at(slot(page)) = now;
    out.push_back(ResumeFaults{page});
    if (e.done_due) send(out, home_of(page), make(MsgType::Done, page));
    e.done_due = false;
}

// A forward or Invalidate, after any hold time. Order matters: the copy is
// write-protected before it is read out and unmapped before the answer
// leaves, so once the requester counts our answer we can no longer read or
// write the page.
Result<void> Protocol::cache_release(PageIndex page, LocalEntry& e, MsgType type, NodeId requester,
                                     std::uint8_t acks, Actions& out) {
    if (!has_copy(e.state))
        return make_error(EPROTO, "dsm: {} for page {} in state {} (no copy)", to_string(type), page,
                          to_string(e.state));
    if (e.state == LocalState::SharedToModified && e.granted)
        return make_error(EPROTO, "dsm: {} for page {} during our own write", to_string(type), page);
    switch (type) {
        case MsgType::FwdRead:
            if (e.state == LocalState::Modified) out.push_back(Downgrade{page, /*for_read=*/true});
            send(out, requester, make(MsgType::GrantShared, page), /*attach=*/true);
            if (e.state == LocalState::Modified) e.state = LocalState::Shared;
            return {};
        case MsgType::FwdWrite:
            if (e.state == LocalState::Modified) out.push_back(Downgrade{page});
            send(out, requester, make(MsgType::GrantModified, page, DataKind::None, 0, acks), /*attach=*/true);
            out.push_back(Drop{page});
            // A lost upgrade race: our WriteReq stays queued at the home,
            // which will have the data forwarded to us.
            e.state = e.state == LocalState::SharedToModified ? LocalState::InvalidToModified : LocalState::Invalid;
            return {};
        case MsgType::Invalidate:
            if (e.state == LocalState::Modified)
                return make_error(EPROTO, "dsm: Invalidate for page {} held Modified (needs FwdWrite)", page);
            if (cfg_.inject != FaultInjection::AckWithoutDrop || e.state != LocalState::Shared)
                out.push_back(Drop{page});
            if (cfg_.inject != FaultInjection::SkipInvalidateAck) send(out, requester, make(MsgType::InvAck, page));
            e.state = e.state == LocalState::Shared ? LocalState::Invalid : LocalState::InvalidToModified;
            return {};
        default: return make_error(EPROTO, "dsm: {} is not a release", to_string(type));
    }
}

Result<void> Protocol::on_tick(TimeNs now, Actions& out) {
    Result<void> first_error;
    for (auto it = deferred_pages_.begin(); it != deferred_pages_.end();) {
        LocalEntry& e = local(*it);
        if (e.deferred == MsgType{0}) {
            it = deferred_pages_.erase(it);
            continue;
        }
        if (now < acquired_at_.get(slot(*it)) + cfg_.hold_ns) {
            ++it;
            continue;
        }
        MsgType t = e.deferred;
        e.deferred = MsgType{0};
        auto r = cache_release(*it, e, t, e.deferred_requester, e.deferred_acks, out);
        if (!r && first_error) first_error = r;
        it = deferred_pages_.erase(it);
    }
    return first_error;
}

// ----------------------------------------------------------------- home role

Result<void> Protocol::home_request(NodeId from, PageIndex page, Access access, Actions& out, bool claim) {
    DirEntry& d = dir(page);
    if (d.busy == from || ((d.wait_read | d.wait_write) & bit(from)) != 0)
        return make_error(EPROTO, "dsm: node {} sent a second request for page {}", from, page);
    if (d.state == DirState::Modified && d.owner == from)
        return make_error(EPROTO, "dsm: node {} requests page {} it owns", from, page);
    // Claims: a never-used page goes to the claimant with its request (the
    // executor adds the rest of the chunk). Dynamic homes: a frozen page
    // queues (it is being handed over), and a streak of requests from one
    // other node may hand it to that node.
    if (claim && cfg_.claims && from != cfg_.self) {
        if (this->claim(page, from)) {
            (access == Access::Read ? d.wait_read : d.wait_write) |= bit(from);
            out.push_back(StartMove{page, from, /*claim=*/true});
            return {};
        }
        // The page was used: its request is served here, and the chunk's
        // never-used pages still go to the claimant, announced before this
        // request's grant (HomeNotice first on the FIFO to the claimant).
        out.push_back(StartMove{page, from, /*claim=*/true, /*chunk_only=*/true});
    }
    if (cfg_.homes && migrate_on_request(page, d, from, access, out)) return {};
    if (d.busy != kNone || frozen(page) || !is_home(page)) {
        (access == Access::Read ? d.wait_read : d.wait_write) |= bit(from);
        return {};
    }
    start(page, d, from, access, out);
    serve_waiting(page, d, out);
    return {};
}

Result<void> Protocol::home_done(NodeId from, PageIndex page, Actions& out) {
    DirEntry& d = dir(page);
    if (d.busy != from) {
        // With the planted bug the home did not wait; the late Done is harmless.
        if (cfg_.inject == FaultInjection::SkipDoneWait) return {};
        return make_error(EPROTO, "dsm: unexpected Done for page {} from node {}", page, from);
    }
    d.busy = kNone;
    serve_waiting(page, d, out);
    return {};
}

// Starts waiting requests (round robin by node id) until one stays in progress.
void Protocol::serve_waiting(PageIndex page, DirEntry& d, Actions& out) {
    if (frozen(page)) return;  // handed over: the new home serves them
    while (d.busy == kNone && (d.wait_read | d.wait_write) != 0) {
        for (NodeId i = 1; i <= cfg_.num_nodes; ++i) {
            NodeId n = (d.next + i) % cfg_.num_nodes;
            if (((d.wait_read | d.wait_write) & bit(n)) == 0) continue;
            Access a = (d.wait_read & bit(n)) ? Access::Read : Access::Write;
            d.wait_read &= ~bit(n);
            d.wait_write &= ~bit(n);
            d.next = static_cast<std::uint8_t>(n);
            start(page, d, n, a, out);
            break;
        }
    }
}

// Emits the transaction's messages and moves the directory to its final
// state at once: nothing else is sent for the page until it ends (busy).
void Protocol::start(PageIndex page, DirEntry& d, NodeId r, Access access, Actions& out) {
    const auto rq = static_cast<std::uint8_t>(r);
    const bool zero = d.state == DirState::Uncached || (d.state == DirState::Shared && d.owner == kZeroData);
    // The sharer that supplies data: the home itself when it has a copy.
    auto holder = [&]() -> NodeId { return (d.sharers & bit(cfg_.self)) ? cfg_.self : d.owner; };
    bool wait_done = false;
    if (access == Access::Read) {
        if (zero) {
            send(out, r, make(MsgType::GrantShared, page, DataKind::Zero));
            d.owner = kZeroData;
        } else if (d.state == DirState::Shared) {
            send(out, holder(), make(MsgType::FwdRead, page, DataKind::None, rq));
            wait_done = true;
        } else {  // Modified
            send(out, d.owner, make(MsgType::FwdRead, page, DataKind::None, rq));
            d.sharers = bit(d.owner);
            wait_done = true;
        }
        d.state = DirState::Shared;
        d.sharers |= bit(r);
    } else {
        std::uint64_t others = d.state == DirState::Shared ? d.sharers & ~bit(r) : 0;
        bool had_copy = d.state == DirState::Shared && (d.sharers & bit(r)) != 0;
        if (d.state == DirState::Modified) {
            send(out, d.owner, make(MsgType::FwdWrite, page, DataKind::None, rq, 0));
            wait_done = true;
        } else if (had_copy || zero) {
            auto n = static_cast<std::uint8_t>(std::popcount(others));
            send(out, r, make(MsgType::GrantModified, page, had_copy ? DataKind::None : DataKind::Zero, 0, n));
            wait_done = n != 0;
        } else {
            NodeId h = holder();
            others &= ~bit(h);
            send(out, h,
                 make(MsgType::FwdWrite, page, DataKind::None, rq, static_cast<std::uint8_t>(std::popcount(others))));
            wait_done = true;
        }
        for (NodeId n = 0; n < cfg_.num_nodes; ++n)
            if (others & bit(n)) send(out, n, make(MsgType::Invalidate, page, DataKind::None, rq));
        d.state = DirState::Modified;
        d.owner = rq;
        d.sharers = 0;
    }
    if (wait_done && cfg_.inject != FaultInjection::SkipDoneWait) d.busy = rq;
}

}  // namespace spanvm::dsm
