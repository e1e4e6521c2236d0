// DsmEngine's side of runs (docs/dsm-protocol.md "Runs"): the requester
// turns a detected trend into run requests, the home splits them into
// pages. Part of DsmEngine (dsm_engine.hpp); apart from dsm_engine.cpp so
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
#include "fmt/format.h"
#include "vmm/base/latency_trace.hpp"
#include "vmm/dsm/dsm_engine.hpp"

namespace spanvm::dsm {

void DsmEngine::request_run(RunDetector::Range r, bool write) {
    if (r.empty()) return;
    const Access access = write ? Access::Write : Access::Read;
    net::Transport::Cork cork(*transport_);
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
        if (!s) fail(cluster_.describe_failure(home, s.error().message));
        count = 0;
    };
    for (PageIndex q = r.first; q < r.end; ++q) {
        if (node_local(q)) {
            flush();
            continue;
        }
        Shard& qs = shard(q);
        std::lock_guard lk(qs.mu);
        Actions acts;
        auto asked = qs.protocol.request_ahead(q, access, acts);
        if (!asked) check(asked.error(), "run request");
        if (!*asked) {
            flush();
            continue;
        }
        const NodeId h = home_policy().home_of(q);
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
    for (PageIndex q = msg.page; q <= msg.page + msg.acks; ++q) {
        Message m;
        m.type = msg.type;
        m.page = q;
        Shard& sh = shard(q);
        std::lock_guard lk(sh.mu);
        Actions acts;
        auto r = sh.protocol.on_message(from, m, now_ns(), acts);
        run_actions(sh, acts, from);
        if (!r) fail(cluster_.describe_failure(from, "protocol violation: " + r.error().message));
    }
}

}  // namespace spanvm::dsm
