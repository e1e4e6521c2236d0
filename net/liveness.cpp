#include "net/liveness.hpp"

#include <algorithm>

#include <boost/asio/post.hpp>
#include <fmt/format.h>

#include "net/link_context.hpp"
#include "net/handshake.hpp"
#include "net/peer_link.hpp"

namespace spanvm::net {

Liveness::Liveness(LinkContext& ctx, const std::vector<std::unique_ptr<PeerLink>>& peers)
    : ctx_(ctx), peers_(peers), timer_(ctx.io) {}

void Liveness::start() {
    if (ctx_.options.heartbeat_interval.count() > 0) asio::post(ctx_.io, [this] { arm(); });
}

void Liveness::stop() { timer_.cancel(); }

namespace {
std::chrono::milliseconds check_period(std::chrono::milliseconds heartbeat) {
    return std::max(heartbeat / 2, std::chrono::milliseconds(1));
}
}  // namespace

void Liveness::arm() {
    if (ctx_.stopping) return;
    timer_.expires_after(check_period(ctx_.options.heartbeat_interval));
    timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec || ctx_.stopping) return;
        check();
        arm();
    });
}

void Liveness::check() {
    const auto now = Clock::now();
    // Lateness beyond one period: time this thread did not run, which is not
    // the peers' silence (see liveness.hpp).
    const auto period = check_period(ctx_.options.heartbeat_interval);
    Clock::duration late{0};
    if (last_check_ != Clock::time_point{} && now - last_check_ > 2 * period) late = now - last_check_ - period;
    last_check_ = now;
    for (auto& p : peers_) {
        PeerLink& peer = *p;
        if (peer.id() == ctx_.self || peer.state() != PeerState::connected) continue;
        PeerClock& clock = peer.clock();
        if (late.count() > 0) clock.last_rx = std::min(now, clock.last_rx + late);
        if (clock.silence_limit.count() > 0 && now - clock.last_rx > clock.silence_limit) {
            // Unread bytes mean this I/O thread fell behind, not that the peer went quiet.
            if (peer.has_unread_bytes()) {
                clock.last_rx = now;
            } else {
                auto silent = std::chrono::duration<double>(now - clock.last_rx).count();
                peer.fail(fmt::format("no traffic for {:.1f} s", silent));
                continue;
            }
        }
        if (now - clock.last_heartbeat >= ctx_.options.heartbeat_interval) {
            clock.last_heartbeat = now;
            auto frame = make_frame(HEARTBEAT_TYPE, 0, 0, {}, ctx_.options.max_payload);
            if (frame) peer.enqueue(std::move(*frame));
        }
    }
}

}  // namespace spanvm::net
