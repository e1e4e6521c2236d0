// DsmEngine's side of runs (docs/dsm-protocol.md "Runs"): the requester
// turns a detected trend into run requests, the home splits them into
// pages; and the batched discard at the home (discard_range, "Discards"). Part of DsmEngine (dsm_engine.hpp); apart from dsm_engine.cpp so
// the per-page engine stays one file's job.
//
// Ordering. request_run sends a run's request after releasing the shard
// mutexes of its pages. That only delays the request: until the home has it,
// nothing of this node's is outstanding for those pages at the home (the
// pages were Invalid or Shared here, so no Done of ours is due), and a home
// message that reaches a page meanwhile (an Invalidate of our Shared copy)
// is handled as for a request still on the wire. The grants, Invalidates and
// Refuses the home produces for a run leave the I/O thread in one gathered
// write per peer (net::Transport batches every send of a handler).
//
// Batches. request_run, serve_run, serve_frame and discard_range run under every shard
// mutex (lock_all, index order; zero_fill_ahead is the only other holder of
// more than one, in the same order) with batch_ set. execute() then hands
// four kinds of action to the batch instead of performing them (divert):
// installs, drops, wake-ups (ResumeFaults) and sends (a Send{attach_page}
// reads its page right away, after the Downgrade before it). end_batch
// performs them in this order: installs (one UFFDIO_COPY per contiguous
// stretch of equal access), drops (one madvise per stretch), wake-ups, then
// sends (one RunFrame per run of messages to a peer, and self-messages fed
// back through their shard's queue). Per page that keeps the protocol's
// order: an install precedes the page's wake-up and its Done, a drop
// precedes the InvAck or grant that announces it, and a page's data is read
// before it is dropped. Across pages the order changes, which the protocol
// allows (every rule is per page). No other thread can act on a page of the
// batch meanwhile (it would need that page's shard mutex), and nothing is
// sent for a page before the batch's own messages for it, since they leave
// before the mutexes are released.
#include <algorithm>
#include <cstring>

#include "fmt/format.h"
#include "net/wire_frame.hpp"
#include "vmm/base/latency_trace.hpp"
#include "vmm/dsm/dsm_engine.hpp"

namespace spanvm::dsm {

struct DsmEngine::Batch {
    struct Install {
        PageIndex page;
        bool writable;
        DataKind kind;
        std::size_t data_at;  // offset into `data` when kind == Bytes
    };
    std::vector<Install> installs;
    std::vector<std::byte> data;  // page bytes of the Bytes installs (copied: sources may be self-messages)
    std::vector<PageIndex> drops;
    std::vector<PageIndex> wakes;
    std::vector<Send> sends;
};

std::array<std::unique_lock<std::mutex>, 16> DsmEngine::lock_all() {
    static_assert(kShards == 16);
    std::array<std::unique_lock<std::mutex>, 16> locks;
    for (std::size_t i = 0; i < kShards; ++i) locks[i] = std::unique_lock(shards_[i]->mu);
    return locks;
}

bool DsmEngine::divert(Action& a) {
    Batch& b = *batch_;
    if (auto* ip = std::get_if<InstallPage>(&a)) {
        if (ip->data_kind == DataKind::None) return false;
        std::size_t at = b.data.size();
        if (ip->data_kind == DataKind::Bytes) b.data.insert(b.data.end(), ip->data.begin(), ip->data.end());
        b.installs.push_back({ip->page, ip->access == Access::Write, ip->data_kind, at});
        if (ip->data_kind == DataKind::Zero) stats_->record_zero_page_grant(ip->page);
        if (ip->access == Access::Write) stats_->record_writer(ip->page, self_);
        return true;
    }
    if (auto* dr = std::get_if<Drop>(&a)) {
        b.drops.push_back(dr->page);
        return true;
    }
    if (auto* rf = std::get_if<ResumeFaults>(&a)) {
        b.wakes.push_back(rf->page);
        return true;
    }
    if (auto* s = std::get_if<Send>(&a)) {
        if (s->attach_page) {
            // After the Downgrade before it: present and write-protected.
            s->msg.data.resize(UffdRegion::kPageSize);
            check(region_->downgrade(s->msg.page, s->msg.data.data()), "read page for send");
            s->msg.data_kind = DataKind::Bytes;
            s->attach_page = false;
        }
        if (s->msg.type == MsgType::Invalidate) stats_->record_invalidation_sent(s->msg.page);
        b.sends.push_back(std::move(*s));
        return true;
    }
    // Upgrade, Downgrade, WakeAt: at once. Neither can meet a page whose
    // install or drop is still in the batch: the protocol emits nothing
    // for a page after its Drop, and an Upgrade follows an install only
    // in the same action list as the completing grant, never diverted.
    return false;
}

void DsmEngine::end_batch() {
    Batch& b = *batch_;
    // Installs: contiguous stretches of equal access and kind.
    std::sort(b.installs.begin(), b.installs.end(), [](auto& x, auto& y) { return x.page < y.page; });
    std::vector<std::byte> staging;
    std::vector<PageIndex> installed;
    for (std::size_t i = 0; i < b.installs.size();) {
        const auto& h = b.installs[i];
        std::size_t j = i + 1;
        while (j < b.installs.size() && j - i < UffdRegion::kStripes && b.installs[j].page == b.installs[j - 1].page + 1 &&
               b.installs[j].writable == h.writable && b.installs[j].kind == h.kind)
            ++j;
        const std::size_t n = j - i;
        if (h.kind == DataKind::Zero && h.writable) {
            install_initial_run(h.page, n, "run install", options_.populate_zero);  // the pages' fillers (page_filler.hpp)
        } else if (h.kind == DataKind::Zero) {
            for (std::size_t k = i; k < j; ++k) check(install_initial(b.installs[k].page, false), "install");
        } else {
            staging.resize(n * UffdRegion::kPageSize);
            for (std::size_t k = i; k < j; ++k)
                std::memcpy(staging.data() + (k - i) * UffdRegion::kPageSize, b.data.data() + b.installs[k].data_at,
                            UffdRegion::kPageSize);
            check(region_->install_run(h.page, n, staging.data(), h.writable), "run install");
        }
        if (n > 1) {
            stats_->add(DsmStats::Counter::run_installs);
            stats_->add(DsmStats::Counter::run_installed_pages, n);
        }
        for (std::size_t k = i; k < j; ++k) installed.push_back(b.installs[k].page);
        i = j;
    }
    // Drops: contiguous stretches.
    std::sort(b.drops.begin(), b.drops.end());
    for (std::size_t i = 0; i < b.drops.size();) {
        std::size_t j = i + 1;
        while (j < b.drops.size() && j - i < UffdRegion::kStripes && b.drops[j] == b.drops[j - 1] + 1) ++j;
        check(j - i == 1 ? region_->invalidate(b.drops[i], nullptr) : region_->invalidate_run(b.drops[i], j - i),
              "invalidate");
        i = j;
    }
    // Wake-ups (an install woke its page already) and fault latencies.
    std::sort(installed.begin(), installed.end());
    const std::uint64_t now = now_ns();
    for (PageIndex p : b.wakes) {
        if (!std::binary_search(installed.begin(), installed.end(), p)) check(region_->wake(p), "wake");
        claim_settled(p);
        Shard& sh = shard(p);
        if (auto it = sh.pending_faults.find(p); it != sh.pending_faults.end()) {
            stats_->record_fault_latency(it->second.write ? DsmStats::Latency::write_fault : DsmStats::Latency::read_fault,
                                         now > it->second.start_ns ? now - it->second.start_ns : 0);
            sh.pending_faults.erase(it);
        }
    }
    // Sends: runs of messages to one peer in one frame; self-messages queued.
    // Grouped by peer, in order within each peer (FIFO is per pair of nodes).
    std::vector<Send> sends = std::move(b.sends);
    std::stable_sort(sends.begin(), sends.end(), [](const Send& x, const Send& y) { return x.to < y.to; });
    batch_ = nullptr;
    std::vector<std::byte> buf;
    for (std::size_t i = 0; i < sends.size();) {
        Send& s = sends[i];
        if (s.to == self_) {
            shard(s.msg.page).self_queue.push_back(std::move(s.msg));
            ++i;
            continue;
        }
        // A frame of pages fits one transport payload (net::MAX_PAYLOAD_SIZE:
        // 15 pages and the header); data-less frames up to kMaxRunPages.
        const std::size_t cap = s.msg.data_kind == DataKind::Bytes
                                    ? (net::MAX_PAYLOAD_SIZE - kMessageHeaderBytes) / UffdRegion::kPageSize
                                    : kMaxRunPages;
        std::size_t j = i + 1;
        while (j < sends.size() && j - i < cap && sends[j].to == s.to && run_continues(sends[j - 1].msg, sends[j].msg))
            ++j;
        buf.clear();
        if (j - i == 1) {
            encode_message(s.msg, buf);
        } else {
            std::vector<Message> msgs;
            msgs.reserve(j - i);
            for (std::size_t k = i; k < j; ++k) msgs.push_back(std::move(sends[k].msg));
            encode_run_frame(msgs, buf);
            stats_->add(DsmStats::Counter::run_frames_sent);
            stats_->add(DsmStats::Counter::run_frame_messages, j - i);
        }
        if (sends[i].msg.data_kind == DataKind::Bytes || (j - i > 1 && s.msg.data_kind == DataKind::Bytes))
            stats_->record_page_sent(sends[i].msg.page, buf.size());
        else
            stats_->add(DsmStats::Counter::bytes_sent, buf.size());
        auto r = transport_->send(static_cast<net::NodeId>(s.to), kDsmProtocolType,
                                  net::ByteView(reinterpret_cast<const std::uint8_t*>(buf.data()), buf.size()));
        if (!r) send_failed(s.to, r.error());
        i = j;
    }
    // Self-messages, now that every install and drop is done: as a batch of
    // their own (a home's forwards to itself answer with grants that leave
    // as frames). Each round handles messages the last one produced; the
    // protocol's chains of self-messages are short (request, grant, Done).
    bool queued = false;
    for (auto& sh : shards_) queued = queued || !sh->self_queue.empty();
    if (!queued) return;
    Batch next;
    batch_ = &next;
    for (auto& sh : shards_) {
        std::deque<Message> q = std::move(sh->self_queue);
        sh->self_queue.clear();
        for (Message& m : q) {
            Actions acts;
            check(sh->protocol.on_message(self_, m, now_ns(), acts), "local message");
            execute(*sh, acts, self_);
        }
    }
    end_batch();
}

void DsmEngine::request_run(RunDetector::Range r, bool write) {
    if (r.empty()) return;
    const Access access = write ? Access::Write : Access::Read;
    net::Transport::Cork cork(*transport_);
    auto locks = lock_all();
    Batch batch;
    batch_ = &batch;
    PageIndex first = 0, count = 0;
    NodeId home = 0;
    std::uint64_t local_pages = 0;
    auto flush = [&] {
        if (count == 0) return;
        Message m;
        m.type = write ? MsgType::RunWriteReq : MsgType::RunReadReq;
        m.page = first;
        m.acks = static_cast<std::uint8_t>(count - 1);
        std::vector<std::byte> buf;
        encode_message(m, buf);
        stats_->add(DsmStats::Counter::bytes_sent, buf.size());
        stats_->add(DsmStats::Counter::run_requests);
        stats_->add(DsmStats::Counter::run_pages, count);
        trace::mark("dsm.run_request", (first << 8) | count);
        auto s = transport_->send(static_cast<net::NodeId>(home), kDsmProtocolType, net::ByteView(reinterpret_cast<const std::uint8_t*>(buf.data()), buf.size()));
        if (!s) send_failed(home, s.error());
        count = 0;
    };
    PageIndex wp_first = 0, wp_count = 0;
    auto flush_writable = [&] {
        if (wp_count == 0) return;
        auto n = region_->make_writable_run(wp_first, wp_count);
        if (!n) check(n.error(), "run made writable");
        stats_->add(DsmStats::Counter::run_made_writable, *n);
        wp_count = 0;
    };
    for (PageIndex q = r.first; q < r.end; ++q) {
        if (node_local(q)) {
            flush();
            continue;
        }
        Shard& qs = shard(q);
        Actions acts;
        // Claims (dsm_engine_claims.cpp): a chunk whose claim is out is
        // skipped; the first page into a chunk not yet claimed claims it
        // (an ordinary request plus the chunk, no thread waiting).
        if (const ClaimStep step = claim_step(qs, q, /*thread_waits=*/false); step != ClaimStep::None) {
            flush();
            if (step == ClaimStep::Claim) {
                check(qs.protocol.on_fault(q, access, now_ns(), acts, /*claim=*/true), "run claim");
                run_actions(qs, acts, self_);
            }
            continue;
        }
        auto asked = qs.protocol.request_ahead(q, access, acts);
        if (!asked) check(asked.error(), "run request");
        if (!*asked) {
            // Modified here but write-protected by downgrade-ahead: made
            // writable below with its neighbours, no message.
            if (write && qs.protocol.local_state(q) == LocalState::Modified &&
                region_->presence(q) == UffdRegion::Presence::read_only) {
                if (wp_count != 0 && q != wp_first + wp_count) flush_writable();
                if (wp_count++ == 0) wp_first = q;
            }
            flush();
            continue;
        }
        // The home as this node routes the page now (HomeTable with dynamic
        // homes, read under the page's shard mutex): a run request names
        // only pages of one home, so a change of home splits the run.
        const NodeId h = qs.protocol.home_of(q);
        if (h == self_) {  // the request is a local call: no message to merge
            run_actions(qs, acts, self_);
            ++local_pages;
            continue;
        }
        if (count != 0 && (h != home || q != first + count || count == kMaxRunPages)) flush();
        if (count == 0) {
            first = q;
            home = h;
        }
        ++count;
    }
    flush();
    flush_writable();
    end_batch();
    if (local_pages) {
        stats_->add(DsmStats::Counter::run_requests);
        stats_->add(DsmStats::Counter::run_pages, local_pages);
    }
    if (write) stats_->add(DsmStats::Counter::written_ahead, local_pages);
}

void DsmEngine::serve_run(NodeId from, const Message& msg, std::size_t wire_bytes) {
    stats_->add(DsmStats::Counter::bytes_received, wire_bytes);
    if (msg.page + msg.acks >= page_count())
        fail(cluster_.describe_failure(
            from, fmt::format("protocol violation: {} of pages {}..{} beyond {} pages", to_string(msg.type), msg.page,
                              msg.page + msg.acks, page_count())));
    auto locks = lock_all();
    Batch batch;
    batch_ = &batch;
    for (PageIndex q = msg.page; q <= msg.page + msg.acks; ++q) {
        Message m;
        m.type = msg.type;
        m.page = q;
        Shard& sh = shard(q);
        // A run page this home starts for a page no node had: a per-page
        // first touch over the network, as count_first_touch_request counts.
        const DirectoryView d = sh.protocol.directory(q);
        if (from != self_ && sh.protocol.home_of(q) == self_ && !sh.protocol.frozen(q) &&
            d.state == DirState::Uncached && !d.busy && d.queued == 0)
            count_first_touch(from, q, "dsm.first_touch.run");
        Actions acts;
        auto r = sh.protocol.on_message(from, m, now_ns(), acts);
        run_actions(sh, acts, from);
        if (!r) fail(cluster_.describe_failure(from, "protocol violation: " + r.error().message));
    }
    end_batch();
}

void DsmEngine::serve_frame(NodeId from, net::ByteView payload) {
    auto f = decode_run_frame({reinterpret_cast<const std::byte*>(payload.data()), payload.size()},
                              UffdRegion::kPageSize);
    if (!f) fail(cluster_.describe_failure(from, "protocol violation: " + f.error().message));
    if (f->head.page + f->count > page_count())
        fail(cluster_.describe_failure(from, fmt::format("protocol violation: run frame of pages {}..{} beyond {} pages",
                                                         f->head.page, f->head.page + f->count - 1, page_count())));
    stats_->add(DsmStats::Counter::run_frames_received);
    const bool grant = f->head.type == MsgType::GrantShared || f->head.type == MsgType::GrantModified;
    auto locks = lock_all();
    // Every shard mutex is held, as in serve_claim: a frame may carry claim
    // requests (a batch coalesces a node's requests to one home), and
    // start_move's claim freezes the chunk under exactly this guarantee.
    claim_locks_held_ = true;
    Batch batch;
    batch_ = &batch;
    for (std::size_t i = 0; i < f->count; ++i) {
        Message m = f->message(i, UffdRegion::kPageSize);
        if (grant && m.data_kind == DataKind::Bytes)
            stats_->record_remote_fetch(m.page, UffdRegion::kPageSize);
        if (m.type == MsgType::Invalidate) stats_->record_invalidation_received(m.page);
        if (m.type == MsgType::Refuse) stats_->add(DsmStats::Counter::run_pages_refused);
        Shard& sh = shard(m.page);
        Actions acts;
        auto r = sh.protocol.on_message(from, m, now_ns(), acts);
        run_actions(sh, acts, from);
        if (!r) fail(cluster_.describe_failure(from, "protocol violation: " + r.error().message));
    }
    stats_->add(DsmStats::Counter::bytes_received, f->head.data_kind == DataKind::Bytes ? 0 : payload.size());
    end_batch();
    claim_locks_held_ = false;
}

std::uint64_t DsmEngine::reclaim_runs(const std::vector<PageRun>& runs) {
    if (!homes_ || !options_.reclaim) return 0;
    // docs/dsm-protocol.md "Discards". Under every shard mutex, as a batch:
    // the drops leave as one madvise per contiguous stretch (end_batch), and
    // no event on these pages interleaves.
    std::uint64_t reclaimed = 0;
    auto locks = lock_all();
    Batch batch;
    batch_ = &batch;
    for (const auto& run : runs)
        for (PageIndex p = run.first; p < std::min<PageIndex>(run.first + run.count, page_count()); ++p) {
            if (node_local(p)) continue;
            Shard& sh = shard(p);
            Actions acts;
            if (!sh.protocol.reclaim_zero(p, acts)) continue;
            run_actions(sh, acts, self_);
            ++reclaimed;
        }
    end_batch();
    if (reclaimed) stats_->add(DsmStats::Counter::pages_reclaimed, reclaimed);
    return reclaimed;
}

Result<std::vector<bool>> DsmEngine::discard_range(PageIndex first, PageIndex count, std::uint64_t& reclaimed) {
    reclaimed = 0;
    if (first >= page_count()) return std::vector<bool>{};
    count = std::min<PageIndex>(count, page_count() - first);
    reclaimed = reclaim_runs({PageRun{first, count}});
    // Pages homed elsewhere: their home reclaims what only it holds before
    // it answers (the DiscardQuery, dsm_engine_homes.cpp).
    return untouched_range(first, count, /*discard=*/true);
}

}  // namespace spanvm::dsm
