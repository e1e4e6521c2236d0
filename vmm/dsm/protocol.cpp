#include "vmm/dsm/protocol.hpp"

#include <cerrno>

namespace spanvm::dsm {

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
    return t == MsgType::ReadReq || t == MsgType::WriteReq || t == MsgType::FwdData || t == MsgType::InvAck;
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
    return Protocol(cfg);
}

Protocol::LocalEntry& Protocol::local(PageIndex page) {
    auto [it, inserted] = local_.try_emplace(page);
    if (inserted && cfg_.initial_owner == cfg_.self) it->second.state = LocalState::Modified;
    return it->second;
}

Protocol::DirEntry& Protocol::dir(PageIndex page) {
    auto [it, inserted] = dir_.try_emplace(page);
    if (inserted && cfg_.initial_owner) {
        it->second.state = DirState::Modified;
        it->second.owner = *cfg_.initial_owner;
        it->second.copy_kind = DataKind::None;
    }
    return it->second;
}

LocalState Protocol::local_state(PageIndex page) const {
    if (auto it = local_.find(page); it != local_.end()) return it->second.state;
    return cfg_.initial_owner == cfg_.self ? LocalState::Modified : LocalState::Invalid;
}

DirectoryView Protocol::directory(PageIndex page) const {
    DirectoryView v;
    if (auto it = dir_.find(page); it != dir_.end()) {
        const DirEntry& d = it->second;
        v.state = d.state;
        v.owner = d.owner;
        v.sharers = d.sharers;
        v.busy = d.txn.has_value();
        v.queued = d.queue.size();
    } else if (cfg_.initial_owner) {
        v.state = DirState::Modified;
        v.owner = *cfg_.initial_owner;
    }
    return v;
}

bool Protocol::quiescent() const {
    for (const auto& [page, d] : dir_)
        if (d.txn || !d.queue.empty()) return false;
    for (const auto& [page, e] : local_) {
        if (e.deferred) return false;
        if (e.state != LocalState::Invalid && e.state != LocalState::Shared && e.state != LocalState::Modified)
            return false;
    }
    return true;
}

void Protocol::send(Actions& out, NodeId to, MsgType t, PageIndex page, DataKind k, std::vector<std::byte> data,
                    bool attach) {
    out.push_back(Send{to, Message{t, page, k, std::move(data)}, attach});
}

// ---------------------------------------------------------------- cache role

Result<void> Protocol::on_fault(PageIndex page, Access access, TimeNs /*now*/, Actions& out) {
    if (page >= cfg_.num_pages)
        return make_error(EINVAL, "dsm: fault on page {} beyond {} pages", page, cfg_.num_pages);
    LocalEntry& e = local(page);
    if (allows(e.state, access)) {
        out.push_back(ResumeFaults{page});
        return {};
    }
    NodeId home = cfg_.home.home_of(page);
    switch (e.state) {
        case LocalState::Invalid:
            if (access == Access::Read) {
                e.state = LocalState::InvalidToShared;
                send(out, home, MsgType::ReadReq, page);
            } else {
                e.state = LocalState::InvalidToModified;
                send(out, home, MsgType::WriteReq, page);
            }
            break;
        case LocalState::Shared:  // access == Write
            e.state = LocalState::SharedToModified;
            send(out, home, MsgType::WriteReq, page);
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
    if (from >= cfg_.num_nodes)
        return make_error(EINVAL, "dsm: message from unknown node {}", from);
    if (msg.page >= cfg_.num_pages)
        return make_error(EINVAL, "dsm: {} from node {} for page {} beyond {} pages", to_string(msg.type), from,
                          msg.page, cfg_.num_pages);
    if (auto v = validate_message(msg); !v) return v.error();
    if (msg.data_kind == DataKind::Bytes && msg.data.size() != cfg_.page_size)
        return make_error(EINVAL, "dsm: {} from node {} carries {} bytes, page size is {}", to_string(msg.type),
                          from, msg.data.size(), cfg_.page_size);
    if (is_home_bound(msg.type)) {
        if (!is_home(msg.page))
            return make_error(EINVAL, "dsm: {} from node {} for page {} whose home is node {}", to_string(msg.type),
                              from, msg.page, cfg_.home.home_of(msg.page));
        if (msg.type == MsgType::ReadReq) return home_request(from, msg.page, Access::Read, out);
        if (msg.type == MsgType::WriteReq) return home_request(from, msg.page, Access::Write, out);
        return home_reply(from, msg, out);
    }
    if (from != cfg_.home.home_of(msg.page))
        return make_error(EINVAL, "dsm: {} for page {} from node {}, not its home {}", to_string(msg.type), msg.page,
                          from, cfg_.home.home_of(msg.page));
    return cache_message(from, msg, now, out);
}

Result<void> Protocol::cache_message(NodeId from, const Message& msg, TimeNs now, Actions& out) {
    PageIndex page = msg.page;
    LocalEntry& e = local(page);
    switch (msg.type) {
        case MsgType::GrantShared:
            if (e.state != LocalState::InvalidToShared)
                return make_error(EPROTO, "dsm: GrantShared for page {} in state {}", page, to_string(e.state));
            out.push_back(InstallPage{page, Access::Read, msg.data_kind, msg.data});
            e.state = LocalState::Shared;
            e.acquired_at = now;
            out.push_back(ResumeFaults{page});
            return {};
        case MsgType::GrantModified:
            if (e.state == LocalState::SharedToModified && msg.data_kind == DataKind::None) {
                out.push_back(Upgrade{page});
            } else if (e.state == LocalState::InvalidToModified && msg.data_kind != DataKind::None) {
                out.push_back(InstallPage{page, Access::Write, msg.data_kind, msg.data});
            } else {
                return make_error(EPROTO, "dsm: GrantModified({}) for page {} in state {}", to_string(msg.data_kind),
                                  page, to_string(e.state));
            }
            e.state = LocalState::Modified;
            e.acquired_at = now;
            out.push_back(ResumeFaults{page});
            return {};
        case MsgType::Invalidate:
        case MsgType::Forward:
            if (e.deferred)
                return make_error(EPROTO, "dsm: {} for page {} while another is deferred", to_string(msg.type), page);
            if (msg.type == MsgType::Forward && e.state != LocalState::Modified)
                return make_error(EPROTO, "dsm: Forward for page {} in state {}", page, to_string(e.state));
            if (cfg_.hold_ns != 0 && has_copy(e.state) && now < e.acquired_at + cfg_.hold_ns) {
                // Minimum hold: the home's transaction waits for our answer;
                // it is the only message for this page we can receive now.
                e.deferred = Deferred{from, msg};
                deferred_pages_.insert(page);
                out.push_back(WakeAt{e.acquired_at + cfg_.hold_ns});
                return {};
            }
            return cache_release(page, e, msg, out);
        default:
            return make_error(EPROTO, "dsm: {} is not a cache message", to_string(msg.type));
    }
}

// Invalidate or Forward, after any hold time. Order matters: the copy is
// write-protected before it is read out and unmapped before the ack leaves,
// so once the home counts our ack we can no longer read or write the page.
Result<void> Protocol::cache_release(PageIndex page, LocalEntry& e, const Message& msg, Actions& out) {
    NodeId home = cfg_.home.home_of(page);
    if (msg.type == MsgType::Forward) {
        if (e.state != LocalState::Modified)
            return make_error(EPROTO, "dsm: Forward for page {} in state {}", page, to_string(e.state));
        out.push_back(Downgrade{page});
        send(out, home, MsgType::FwdData, page, DataKind::None, {}, /*attach=*/true);
        e.state = LocalState::Shared;
        return {};
    }
    bool ack = cfg_.inject != FaultInjection::SkipInvalidateAck;
    switch (e.state) {
        case LocalState::Modified:
            out.push_back(Downgrade{page});
            if (ack) send(out, home, MsgType::InvAck, page, DataKind::None, {}, /*attach=*/true);
            out.push_back(Drop{page});
            e.state = LocalState::Invalid;
            break;
        case LocalState::Shared:
        case LocalState::SharedToModified:
            if (cfg_.inject != FaultInjection::AckWithoutDrop) out.push_back(Drop{page});
            if (ack) send(out, home, MsgType::InvAck, page);
            // A lost upgrade race: the WriteReq stays outstanding and the
            // home will answer it with data since we are no longer a sharer.
            e.state = e.state == LocalState::Shared ? LocalState::Invalid : LocalState::InvalidToModified;
            break;
        default:
            // No copy (I/IS/IM). The FIFO argument in protocol.hpp says the
            // home never invalidates such a node; ack anyway so a
            // misbehaving home cannot wedge its transaction on us.
            if (ack) send(out, home, MsgType::InvAck, page);
            break;
    }
    return {};
}

Result<void> Protocol::on_tick(TimeNs now, Actions& out) {
    Result<void> first_error;
    for (auto it = deferred_pages_.begin(); it != deferred_pages_.end();) {
        LocalEntry& e = local(*it);
        if (!e.deferred) {
            it = deferred_pages_.erase(it);
            continue;
        }
        if (now < e.acquired_at + cfg_.hold_ns) {
            ++it;
            continue;
        }
        Deferred d = std::move(*e.deferred);
        e.deferred.reset();
        auto r = cache_release(*it, e, d.msg, out);
        if (!r && first_error) first_error = r;
        it = deferred_pages_.erase(it);
    }
    return first_error;
}

// ----------------------------------------------------------------- home role

Result<void> Protocol::home_request(NodeId from, PageIndex page, Access access, Actions& out) {
    DirEntry& d = dir(page);
    if (d.txn && d.txn->req.from == from)
        return make_error(EPROTO, "dsm: node {} sent a second request for page {}", from, page);
    for (const Request& q : d.queue)
        if (q.from == from) return make_error(EPROTO, "dsm: node {} sent a second request for page {}", from, page);
    if (d.txn) {
        d.queue.push_back(Request{from, access});
        return {};
    }
    Result<void> first_error = start(page, d, Request{from, access}, out);
    if (!d.txn) finish(page, d, out, first_error);
    return first_error;
}

// Starts a transaction; leaves d.txn empty if it completed at once.
Result<void> Protocol::start(PageIndex page, DirEntry& d, Request req, Actions& out) {
    NodeId r = req.from;
    if (d.state == DirState::Modified && d.owner == r)
        return make_error(EPROTO, "dsm: node {} requests page {} it owns", r, page);
    if (req.access == Access::Read) {
        if (d.state == DirState::Modified) {
            send(out, d.owner, MsgType::Forward, page);
            d.txn = Txn{req, bit(d.owner), false};
            return {};
        }
        send(out, r, MsgType::GrantShared, page, d.copy_kind, d.copy);
        d.state = DirState::Shared;
        d.sharers |= bit(r);
        return {};
    }
    std::uint64_t others = 0;
    if (d.state == DirState::Shared) others = d.sharers & ~bit(r);
    if (d.state == DirState::Modified) others = bit(d.owner);
    d.txn = Txn{req, others, d.state == DirState::Shared && (d.sharers & bit(r)) != 0};
    for (NodeId n = 0; n < cfg_.num_nodes; ++n)
        if (others & bit(n)) send(out, n, MsgType::Invalidate, page);
    if (others == 0) {
        grant_modified(page, d, out);
        d.txn.reset();
    }
    return {};
}

void Protocol::grant_modified(PageIndex page, DirEntry& d, Actions& out) {
    NodeId r = d.txn->req.from;
    if (d.txn->requester_had_copy)
        send(out, r, MsgType::GrantModified, page);
    else
        send(out, r, MsgType::GrantModified, page, d.copy_kind, d.copy);
    d.state = DirState::Modified;
    d.owner = r;
    d.sharers = 0;
    if (cfg_.inject == FaultInjection::LoseWriteback) return;  // keeps serving the pre-write copy
    d.copy_kind = DataKind::None;  // stale from now on
    d.copy.clear();
    d.copy.shrink_to_fit();
}

Result<void> Protocol::home_reply(NodeId from, const Message& msg, Actions& out) {
    PageIndex page = msg.page;
    DirEntry& d = dir(page);
    if (!d.txn || (d.txn->pending & bit(from)) == 0)
        return make_error(EPROTO, "dsm: unexpected {} for page {} from node {}", to_string(msg.type), page, from);
    Txn& t = *d.txn;
    bool from_owner = d.state == DirState::Modified && d.owner == from;
    if (msg.type == MsgType::FwdData) {
        if (t.req.access != Access::Read || !from_owner)
            return make_error(EPROTO, "dsm: FwdData for page {} from node {} outside a forwarded read", page, from);
        d.copy_kind = DataKind::Bytes;
        d.copy = msg.data;
        d.state = DirState::Shared;
        d.sharers = bit(from) | bit(t.req.from);
        send(out, t.req.from, MsgType::GrantShared, page, DataKind::Bytes, d.copy);
        d.txn.reset();
    } else {  // InvAck
        if (t.req.access != Access::Write)
            return make_error(EPROTO, "dsm: InvAck for page {} from node {} during a read", page, from);
        if (from_owner != (msg.data_kind == DataKind::Bytes))
            return make_error(EPROTO, "dsm: InvAck for page {} from node {} with data {} (owner: {})", page, from,
                              to_string(msg.data_kind), from_owner);
        if (from_owner && cfg_.inject != FaultInjection::LoseWriteback) {
            d.copy_kind = DataKind::Bytes;
            d.copy = msg.data;
        }
        t.pending &= ~bit(from);
        d.sharers &= ~bit(from);
        if (t.pending != 0) return {};
        grant_modified(page, d, out);
        d.txn.reset();
    }
    Result<void> first_error;
    finish(page, d, out, first_error);
    return first_error;
}

// Starts queued requests until one stays in progress or the queue is empty.
void Protocol::finish(PageIndex page, DirEntry& d, Actions& out, Result<void>& first_error) {
    while (!d.txn && !d.queue.empty()) {
        Request next = d.queue.front();
        d.queue.pop_front();
        auto r = start(page, d, next, out);
        if (!r && first_error) first_error = r;
    }
}

}  // namespace spanvm::dsm
