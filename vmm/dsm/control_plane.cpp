#include "vmm/dsm/control_plane.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace spanvm::dsm {

namespace {

// A peer's failure line as this node prints it: printable ASCII only, and
// bounded (it comes from another host).
constexpr std::size_t kMaxReportedLine = 512;

std::string printable(const net::Bytes& data) {
    std::string out;
    for (std::uint8_t c : data) {
        if (out.size() == kMaxReportedLine) break;
        out.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?');
    }
    return out;
}

}  // namespace

ControlPlane::ControlPlane(net::ClusterConfig cluster, NodeId self, DsmStats& stats, Send send, Fail fail,
                           LastWords last_words)
    : cluster_(std::move(cluster)),
      self_(self),
      stats_(stats),
      send_(std::move(send)),
      fail_(std::move(fail)),
      last_words_(std::move(last_words)),
      bye_done_(cluster_.size(), false),
      bye_closing_(cluster_.size(), false) {}

void ControlPlane::on_message(NodeId from, net::ByteView payload) {
    auto m = decode_control(payload);
    if (!m) fail_(cluster_.describe_failure(from, "protocol violation: " + m.error().message));
    stats_.add(DsmStats::Counter::bytes_received, payload.size());
    handle(from, std::move(*m));
}

void ControlPlane::engine_stopped() {
    std::lock_guard lk(mu_);
    stopped_ = true;
}

bool ControlPlane::left_locked(NodeId node) const {
    return closing_ || stopped_ || (node < bye_closing_.size() && bye_closing_[node]);
}

bool ControlPlane::peer_left(NodeId node) {
    std::lock_guard lk(mu_);
    return left_locked(node);
}

void ControlPlane::on_peer_failed(NodeId node, const std::string& reason) {
    {
        std::lock_guard lk(mu_);
        if (left_locked(node)) {
            // Everyone finished their workload (closing_), or this peer said
            // it knows that (bye_closing_): a peer leaving now is its exit.
            bye_closing_[node] = true;
            cv_.notify_all();
            return;
        }
    }
    fail_(cluster_.describe_failure(node, reason));
}

void ControlPlane::last_words(const std::string& line) {
    if (!last_words_) return;
    net::Bytes text(line.begin(), line.end());
    if (text.size() > kMaxReportedLine) text.resize(kMaxReportedLine);
    last_words_(encode_control(ControlMessage{ControlKind::Failed, 0, 0, std::move(text)}));
}

void ControlPlane::send(NodeId to, const ControlMessage& m) {
    if (to == self_) {
        handle(self_, m);
        return;
    }
    net::Bytes b = encode_control(m);
    stats_.add(DsmStats::Counter::bytes_sent, b.size());
    if (auto r = send_(to, b); !r && !peer_left(to)) fail_(cluster_.describe_failure(to, r.error().message));
}

void ControlPlane::handle(NodeId from, ControlMessage msg) {
    std::vector<NodeId> release_to;
    std::uint64_t release_gen = 0;
    std::string reported;  // a peer's failure line that this node fails with
    {
        std::lock_guard lk(mu_);
        switch (msg.kind) {
            case ControlKind::BarrierArrive:
                if (self_ != 0)
                    fail_(cluster_.describe_failure(
                        from, "protocol violation: barrier arrival at node " + std::to_string(self_)));
                if (++arrivals_[msg.value] == cluster_.size()) {
                    arrivals_.erase(msg.value);
                    release_gen = msg.value;
                    for (NodeId n = 0; n < cluster_.size(); ++n) release_to.push_back(n);
                }
                break;
            case ControlKind::BarrierRelease: released_gen_ = std::max(released_gen_, msg.value); break;
            case ControlKind::Report: reports_[msg.tag].push_back(Report{from, std::move(msg.data)}); break;
            case ControlKind::ByeDone: bye_done_[from] = true; break;
            case ControlKind::ByeClosing: bye_closing_[from] = true; break;
            case ControlKind::Failed:
                // After the goodbye, as in on_peer_failed: the peer leaving is its exit.
                if (left_locked(from))
                    bye_closing_[from] = true;
                else if (msg.data.empty())
                    reported = cluster_.describe_failure(from, "failing, without saying why");
                else
                    reported = fmt::format("{} (reported by {})", printable(msg.data), cluster_.describe(from));
                break;
        }
    }
    cv_.notify_all();
    if (!reported.empty()) fail_(reported);
    for (NodeId n : release_to) send(n, ControlMessage{ControlKind::BarrierRelease, release_gen, 0, {}});
}

Result<void> ControlPlane::barrier(std::chrono::milliseconds timeout) {
    std::uint64_t gen;
    {
        std::lock_guard lk(mu_);
        gen = ++barrier_gen_;
    }
    send(0, ControlMessage{ControlKind::BarrierArrive, gen, 0, {}});
    std::unique_lock lk(mu_);
    if (!cv_.wait_for(lk, timeout, [&] { return released_gen_ >= gen; }))
        return make_error(ETIMEDOUT, "barrier {} not reached by every node within {} ms", gen, timeout.count());
    return {};
}

Result<void> ControlPlane::report(std::uint32_t tag, net::ByteView data) {
    send(0, ControlMessage{ControlKind::Report, 0, tag, net::Bytes(data.begin(), data.end())});
    return {};
}

Result<std::vector<ControlPlane::Report>> ControlPlane::gather(std::uint32_t tag, std::size_t count,
                                                               std::chrono::milliseconds timeout) {
    if (self_ != 0) return make_error(EINVAL, "gather: only node 0 gathers reports");
    std::unique_lock lk(mu_);
    if (!cv_.wait_for(lk, timeout, [&] { return reports_[tag].size() >= count; }))
        return make_error(ETIMEDOUT, "only {} of {} reports (tag {}) arrived within {} ms", reports_[tag].size(),
                          count, tag, timeout.count());
    std::vector<Report> out = std::move(reports_[tag]);
    reports_.erase(tag);
    std::stable_sort(out.begin(), out.end(), [](const Report& a, const Report& b) { return a.from < b.from; });
    return out;
}

bool ControlPlane::all_peers(const std::vector<bool>& v) const {
    for (NodeId n = 0; n < v.size(); ++n)
        if (n != self_ && !v[n]) return false;
    return true;
}

Result<void> ControlPlane::goodbye(std::chrono::milliseconds timeout) {
    for (NodeId n = 0; n < cluster_.size(); ++n)
        if (n != self_) send(n, ControlMessage{ControlKind::ByeDone, 0, 0, {}});
    {
        std::unique_lock lk(mu_);
        if (!cv_.wait_for(lk, timeout, [&] { return all_peers(bye_done_); }))
            return make_error(ETIMEDOUT, "goodbye: not every node finished within {} ms", timeout.count());
        closing_ = true;
    }
    for (NodeId n = 0; n < cluster_.size(); ++n)
        if (n != self_) send(n, ControlMessage{ControlKind::ByeClosing, 0, 0, {}});
    // Best effort: a peer that is gone already counts (on_peer_failed).
    std::unique_lock lk(mu_);
    cv_.wait_for(lk, timeout, [&] { return all_peers(bye_closing_); });
    return {};
}

}  // namespace spanvm::dsm
