// DsmEngine, dynamic homes: range homes for fresh memory (rehome), home
// migration (StartMove), the handover messages, and the touched-pages query
// for discards. The handover's argument is in vmm/dsm/home_table.hpp.
#include <algorithm>
#include <map>

#include "vmm/base/latency_trace.hpp"
#include "vmm/base/log.hpp"
#include "vmm/dsm/dsm_engine.hpp"

namespace spanvm::dsm {

namespace {

net::ByteView as_view(const std::vector<std::byte>& v) {
    return {reinterpret_cast<const std::uint8_t*>(v.data()), v.size()};
}

constexpr std::chrono::seconds kMoveTimeout{10};

}  // namespace

std::array<std::unique_lock<std::mutex>, DsmEngine::kShards> DsmEngine::lock_all_shards() {
    std::array<std::unique_lock<std::mutex>, kShards> locks;
    for (std::size_t i = 0; i < kShards; ++i) locks[i] = std::unique_lock(shards_[i]->mu);
    return locks;
}

void DsmEngine::count_first_touch_request(Shard& sh, NodeId from, const Message& m) {
    if (from == self_ || (m.type != MsgType::ReadReq && m.type != MsgType::WriteReq)) return;
    if (sh.protocol.home_of(m.page) != self_) return;
    if (sh.protocol.directory(m.page).state == DirState::Uncached) count_first_touch(from, m.page, "dsm.first_touch.req");
}

Result<std::uint64_t> DsmEngine::rehome(PageIndex first, PageIndex count, NodeId to) {
    if (!homes_ || to == self_ || to >= num_nodes() || first >= page_count()) return std::uint64_t{0};
    count = std::min<PageIndex>(count, page_count() - first);
    std::vector<PageIndex> pages;
    HomeMoves::Move move;
    {
        auto locks = lock_all_shards();
        for (PageIndex p = first; p < first + count; ++p) {
            if (node_local(p)) continue;
            Shard& sh = shard(p);
            Actions acts;
            // The caller guarantees zero content: a copy only this node holds
            // (zero-filled ahead, or zeroed by an earlier discard) is dropped.
            if (sh.protocol.reclaim_zero(p, acts)) run_actions(sh, acts, self_);
            if (!sh.protocol.pristine(p) || !sh.protocol.can_move(p)) continue;
            sh.protocol.freeze(p);
            pages.push_back(p);
        }
        if (pages.empty()) return std::uint64_t{0};
        move.to = to;
        move.runs = to_runs(pages);
        move.acks_due = num_nodes() - 1;
        std::lock_guard mk(moves_mu_);
        move.id = moves_.next_id();
        (void)moves_.begin(move, false);  // at least one ack is due: to != self
    }
    HomeMsg notice{HomeMsg::Kind::Notice, to, move.id, move.runs, {}};
    const auto bytes = encode_home(notice);
    for (NodeId n = 0; n < num_nodes(); ++n)
        if (n != self_)
            if (auto r = transport_->send(static_cast<net::NodeId>(n), kDsmHomeType, as_view(bytes)); !r)
                send_failed(n, r.error());
    std::unique_lock mk(moves_mu_);
    auto done = [&] {
        return std::find(finished_moves_.begin(), finished_moves_.end(), move.id) != finished_moves_.end();
    };
    if (!moves_cv_.wait_for(mk, kMoveTimeout, done))
        fail(fmt::format("{}: moving {} pages' home to node {}: no acknowledgement within {} s",
                         cluster_.describe(static_cast<net::NodeId>(self_)), pages.size(), to, kMoveTimeout.count()));
    finished_moves_.erase(std::find(finished_moves_.begin(), finished_moves_.end(), move.id));
    stats_->add(DsmStats::Counter::pages_rehomed, pages.size());
    return std::uint64_t{pages.size()};
}

void DsmEngine::start_move(const StartMove& sm) {
    HomeMoves::Move move;
    move.to = sm.to;
    move.runs = {PageRun{sm.page, 1}};
    if (sm.claim) {
        // A claim (dsm_engine_claims.cpp): every other never-used page of the
        // aligned chunk goes with the claimed one. serve_claim holds every
        // shard mutex, so no event on them interleaves with their freeze.
        if (!claim_locks_held_)
            fail(fmt::format("{}: a claim outside serve_claim", cluster_.describe(static_cast<net::NodeId>(self_))));
        const PageIndex first = sm.page / options_.claim_chunk * options_.claim_chunk;
        const PageIndex end = std::min<PageIndex>(page_count(), first + options_.claim_chunk);
        std::vector<PageIndex> pages;
        for (PageIndex q = first; q < end; ++q)
            if (q == sm.page ? !sm.chunk_only : !node_local(q) && shard(q).protocol.claim(q, sm.to))
                pages.push_back(q);
        if (pages.empty()) return;  // nothing never-used left in the chunk
        move.runs = to_runs(pages);
        stats_->add(DsmStats::Counter::claims);
        stats_->add(DsmStats::Counter::pages_claimed, pages.size());
        trace::mark("dsm.claim", (sm.page << 16) | pages.size());
    } else {
        stats_->add(DsmStats::Counter::home_migrations);
    }
    move.acks_due = num_nodes() - 1;
    {
        std::lock_guard mk(moves_mu_);
        move.id = moves_.next_id();
        (void)moves_.begin(move, false);
    }
    const auto bytes = encode_home(HomeMsg{HomeMsg::Kind::Notice, sm.to, move.id, move.runs, {}});
    for (NodeId n = 0; n < num_nodes(); ++n)
        if (n != self_)
            if (auto r = transport_->send(static_cast<net::NodeId>(n), kDsmHomeType, as_view(bytes)); !r)
                send_failed(n, r.error());
}

void DsmEngine::finish_move(const HomeMoves::Move& m) {
    HomeMsg state{HomeMsg::Kind::State, m.to, m.id, m.runs, {}};
    {
        auto locks = lock_all_shards();
        for (const auto& run : m.runs)
            for (PageIndex p = run.first; p < run.first + run.count; ++p) {
                auto e = shard(p).protocol.finish_move(p, m.to);
                if (!e) fail(fmt::format("{}: {}", cluster_.describe(static_cast<net::NodeId>(self_)), e.error().message));
                if (*e) state.entries.push_back(**e);
            }
        // Sent under the locks: nothing this node sends later for these
        // pages (it now routes to m.to) can precede the state on the wire.
        const auto bytes = encode_home(state);
        if (auto r = transport_->send(static_cast<net::NodeId>(m.to), kDsmHomeType, as_view(bytes)); !r)
            send_failed(m.to, r.error());
    }
    {
        std::lock_guard mk(moves_mu_);
        finished_moves_.push_back(m.id);
    }
    moves_cv_.notify_all();
}

void DsmEngine::on_home_message(NodeId from, std::uint64_t request_id, net::ByteView payload) {
    auto msg = decode_home({reinterpret_cast<const std::byte*>(payload.data()), payload.size()});
    if (!msg) fail(cluster_.describe_failure(from, "protocol violation: " + msg.error().message));
    stats_->add(DsmStats::Counter::bytes_received, payload.size());
    if (!homes_) fail(cluster_.describe_failure(from, "protocol violation: a home move, but homes are static here"));
    for (const auto& run : msg->runs)
        if (run.first >= page_count() || run.count > page_count() - run.first)
            fail(cluster_.describe_failure(from, fmt::format("protocol violation: home move of pages [{}, +{})",
                                                             run.first, run.count)));
    switch (msg->kind) {
        case HomeMsg::Kind::Notice: {
            if (msg->to >= num_nodes() || msg->to == from)
                fail(cluster_.describe_failure(from, "protocol violation: HomeNotice to node " + std::to_string(msg->to)));
            {
                auto locks = lock_all_shards();
                for (const auto& run : msg->runs)
                    for (PageIndex p = run.first; p < run.first + run.count; ++p) shard(p).protocol.apply_notice(p, msg->to);
            }
            const auto bytes = encode_home(HomeMsg{HomeMsg::Kind::Ack, 0, msg->move_id, {}, {}});
            stats_->add(DsmStats::Counter::bytes_sent, bytes.size());
            if (auto r = transport_->send(static_cast<net::NodeId>(from), kDsmHomeType, as_view(bytes)); !r)
                send_failed(from, r.error());
            return;
        }
        case HomeMsg::Kind::Ack: {
            std::optional<HomeMoves::Move> done;
            {
                std::lock_guard mk(moves_mu_);
                auto r = moves_.on_ack(msg->move_id);
                if (!r) fail(cluster_.describe_failure(from, "protocol violation: " + r.error().message));
                done = std::move(*r);
            }
            if (done) finish_move(*done);
            return;
        }
        case HomeMsg::Kind::State: {
            std::map<PageIndex, const MovedDir*> entries;
            for (const auto& e : msg->entries) entries[e.page] = &e;
            auto locks = lock_all_shards();
            for (const auto& run : msg->runs)
                for (PageIndex p = run.first; p < run.first + run.count; ++p) {
                    Shard& sh = shard(p);
                    auto it = entries.find(p);
                    Actions acts;
                    auto r = sh.protocol.import_moved(p, it == entries.end() ? nullptr : it->second, acts);
                    run_actions(sh, acts, from);
                    if (!r) fail(cluster_.describe_failure(from, "protocol violation: " + r.error().message));
                }
            return;
        }
        case HomeMsg::Kind::Query:
        case HomeMsg::Kind::DiscardQuery: {
            // A discard at `from` (discard_range): first, as a discard here
            // would, every page of the query that only this node, its home,
            // holds becomes pristine (reclaim_runs, "Discards"); it then
            // answers untouched and `from` need not fetch it to zero it. A
            // plain Query (a file fill, a fork's gather) changes nothing.
            if (msg->kind == HomeMsg::Kind::DiscardQuery) (void)reclaim_runs(msg->runs);
            HomeMsg answer{HomeMsg::Kind::Answer, 0, msg->move_id, {}, {}};
            for (const auto& run : msg->runs)
                for (PageIndex p = run.first; p < run.first + run.count; ++p) {
                    Shard& sh = shard(p);
                    std::lock_guard lk(sh.mu);
                    answer.untouched.push_back(untouched_at_home_locked(sh, p) ? 1 : 0);
                }
            const auto bytes = encode_home(answer);
            stats_->add(DsmStats::Counter::bytes_sent, bytes.size());
            if (auto r = transport_->respond(static_cast<net::NodeId>(from), kDsmHomeType, request_id, as_view(bytes)); !r)
                send_failed(from, r.error());
            return;
        }
        case HomeMsg::Kind::Answer: break;  // answers go to the request's waiter, not here
    }
    fail(cluster_.describe_failure(from, "protocol violation: unexpected home message"));
}

Result<std::vector<bool>> DsmEngine::untouched_range(PageIndex first, PageIndex count, bool discard) {
    if (first >= page_count()) return std::vector<bool>{};
    count = std::min<PageIndex>(count, page_count() - first);
    std::vector<bool> out(count, false);
    // Pages homed here answer at once; runs homed elsewhere are asked of
    // their home, one request per run.
    std::map<NodeId, std::vector<PageIndex>> remote;
    for (PageIndex i = 0; i < count; ++i) {
        const PageIndex p = first + i;
        Shard& sh = shard(p);
        std::lock_guard lk(sh.mu);
        const NodeId h = sh.protocol.home_of(p);
        if (h == self_)
            out[i] = !sh.protocol.frozen(p) && sh.protocol.directory(p).state == DirState::Uncached &&
                     sh.protocol.local_state(p) == LocalState::Invalid;
        else
            remote[h].push_back(p);
    }
    for (auto& [home, pages] : remote) {
        HomeMsg q{discard ? HomeMsg::Kind::DiscardQuery : HomeMsg::Kind::Query, 0, 0, to_runs(pages), {}};
        const auto bytes = encode_home(q);
        auto fut = transport_->request(static_cast<net::NodeId>(home), kDsmHomeType, as_view(bytes),
                                       std::chrono::duration_cast<std::chrono::milliseconds>(kMoveTimeout));
        auto reply = fut.get();
        if (!reply) return reply.error();
        auto a = decode_home({reinterpret_cast<const std::byte*>(reply->payload.data()), reply->payload.size()});
        if (!a || a->kind != HomeMsg::Kind::Answer || a->untouched.size() != pages.size())
            return make_error(EPROTO, "{}: bad answer to a touched-pages query", cluster_.describe(static_cast<net::NodeId>(home)));
        for (std::size_t k = 0; k < pages.size(); ++k) out[pages[k] - first] = a->untouched[k] != 0;
    }
    return out;
}

}  // namespace spanvm::dsm
