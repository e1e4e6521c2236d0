#include "net/dialer.hpp"

#include <algorithm>

#include <stdexcept>

#include <boost/asio.hpp>
#include <fmt/format.h>

#include "net/handshake.hpp"
#include "net/peer_link.hpp"
#include "vmm/base/log.hpp"

namespace spanvm::net {

namespace {
constexpr std::size_t READ_CHUNK = 64 * 1024;
}  // namespace

Dialer::Inbound::Inbound(asio::io_context& io, tcp::socket s, std::uint32_t max_payload)
    : socket(std::move(s)),
      decoder(max_payload),
      read_buf(std::make_unique_for_overwrite<std::uint8_t[]>(READ_CHUNK)),
      timer(io) {}

Dialer::Dialer(LinkContext& ctx, const std::vector<std::unique_ptr<PeerLink>>& peers)
    : ctx_(ctx), peers_(peers), acceptor_(ctx.io) {}

std::uint16_t Dialer::listen() {
    const NodeAddress& me = ctx_.config.node(ctx_.self);
    const std::string& listen = ctx_.options.listen_address.empty() ? me.address : ctx_.options.listen_address;
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(listen, ec);
    if (ec)
        throw std::runtime_error(
            fmt::format("{}: bad listen address '{}'", ctx_.config.describe(ctx_.self), listen));
    tcp::endpoint ep(addr, me.port);
    if (ctx_.options.listen_fd >= 0) {
        acceptor_.assign(ep.protocol(), ctx_.options.listen_fd, ec);  // bound to `ep` already
    } else {
        acceptor_.open(ep.protocol(), ec);
        if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
        if (!ec) acceptor_.bind(ep, ec);
    }
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        boost::system::error_code ignored;
        acceptor_.close(ignored);
        throw std::runtime_error(fmt::format("{}: cannot listen on {}: {}", ctx_.config.describe(ctx_.self),
                                             tcp_endpoint_text(ep), ec.message()));
    }
    return acceptor_.local_endpoint().port();
}

void Dialer::start(Clock::time_point deadline) {
    deadline_ = deadline;
    for (auto& p : peers_) {
        if (p->id() == ctx_.self) continue;
        PeerLink* peer = p.get();
        if (peer->id() > ctx_.self) {
            asio::post(ctx_.io, [this, peer] { dial(*peer); });
        } else {
            // The lower id dials us; give up on it at the same deadline.
            peer->timer().expires_at(deadline);
            peer->timer().async_wait([this, peer](const boost::system::error_code& e) {
                if (e || ctx_.stopping || peer->state() != PeerState::connecting) return;
                peer->fail(fmt::format("did not connect within {} ms", ctx_.options.connect_timeout.count()));
            });
        }
    }
    accept_next();
}

void Dialer::stop() {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    for (auto& in : inbound_) {
        close_socket(in->socket);
        in->timer.cancel();
    }
    inbound_.clear();
}

// ---- dialling the higher ids ---------------------------------------------------

void Dialer::dial(PeerLink& peer) {
    if (ctx_.stopping || peer.state() != PeerState::connecting) return;
    const NodeAddress& na = ctx_.config.node(peer.id());
    boost::system::error_code ec;
    tcp::endpoint ep(asio::ip::make_address(na.address, ec), na.port);
    if (ec) return peer.fail(fmt::format("bad address: {}", ec.message()));
    peer.new_socket().async_connect(ep, [this, &peer](const boost::system::error_code& e) {
        if (ctx_.stopping || peer.state() != PeerState::connecting) return;
        if (e) {
            close_socket(peer.socket());
            // Redial after half the time spent dialling so far, at least
            // 1 ms and at most retry_interval: a peer that starts listening
            // a few ms after us (a node just spawned) is reached within
            // ~1.5x the time it took, not a whole retry_interval later.
            const auto now = Clock::now();
            const auto spent = std::chrono::duration_cast<std::chrono::milliseconds>(
                now - (deadline_ - ctx_.options.connect_timeout));
            const auto wait = std::clamp(spent / 2, std::chrono::milliseconds{1}, ctx_.options.retry_interval);
            if (now + wait >= deadline_)
                return peer.fail(fmt::format("could not connect within {} ms: {}",
                                             ctx_.options.connect_timeout.count(), describe_ec(e)));
            peer.timer().expires_after(wait);
            peer.timer().async_wait([this, &peer](const boost::system::error_code& te) {
                if (!te) dial(peer);
            });
            return;
        }
        peer.dialled(deadline_);
    });
}

// ---- accepting the lower ids ---------------------------------------------------

void Dialer::accept_next() {
    acceptor_.async_accept([this](const boost::system::error_code& ec, tcp::socket s) {
        if (ctx_.stopping) return;
        if (ec) {
            log::warn("{}: accept failed: {}", ctx_.config.describe(ctx_.self), ec.message());
        } else {
            start_inbound(std::move(s));
        }
        accept_next();
    });
}

void Dialer::start_inbound(tcp::socket s) {
    auto in = std::make_shared<Inbound>(ctx_.io, std::move(s), ctx_.options.max_payload);
    boost::system::error_code ec;
    auto remote = in->socket.remote_endpoint(ec);
    in->remote = ec ? std::string("unknown peer") : tcp_endpoint_text(remote);
    in->socket.set_option(tcp::no_delay(true), ec);
    inbound_.insert(in);
    in->timer.expires_after(ctx_.options.handshake_timeout);
    in->timer.async_wait([this, in](const boost::system::error_code& e) {
        if (e || !inbound_.count(in)) return;
        reject_inbound(in, fmt::format("no handshake within {} ms", ctx_.options.handshake_timeout.count()));
    });
    read_inbound(in);
}

void Dialer::reject_inbound(const std::shared_ptr<Inbound>& in, const std::string& why) {
    log::warn("{}: rejected connection from {}: {}", ctx_.config.describe(ctx_.self), in->remote, why);
    close_socket(in->socket);
    in->timer.cancel();
    inbound_.erase(in);
}

void Dialer::read_inbound(std::shared_ptr<Inbound> in) {
    in->socket.async_read_some(asio::buffer(in->read_buf.get(), READ_CHUNK), [this, in](const boost::system::error_code& ec,
                                                                       std::size_t n) {
        if (ctx_.stopping || !inbound_.count(in)) return;
        if (ec) return reject_inbound(in, describe_ec(ec) + " before the handshake");
        in->decoder.feed(ByteView(in->read_buf.get(), n));
        auto next = in->decoder.next();
        if (!next) return reject_inbound(in, "bad frame before the handshake: " + next.error().message);
        if (!*next) return read_inbound(in);
        on_inbound_handshake(in, std::move(**next));
    });
}

void Dialer::on_inbound_handshake(const std::shared_ptr<Inbound>& in, Frame frame) {
    if (frame.header.type != HANDSHAKE_TYPE || frame.header.flags != 0)
        return reject_inbound(in, fmt::format("first frame has type {:#06x}, not a handshake", frame.header.type));
    auto h = decode_handshake(frame.payload);
    if (!h) return reject_inbound(in, "malformed handshake: " + h.error().message);
    if (h->kind != HandshakeKind::hello) return reject_inbound(in, "first handshake frame is not a hello");
    // Only the lower id dials; anything else is a stray or duplicate connection.
    if (h->from >= ctx_.self || !ctx_.config.has_node(h->from))
        return reject_inbound(in, fmt::format("unexpected handshake from node {}", h->from));
    PeerLink& peer = *peers_[h->from];
    if (peer.state() != PeerState::connecting)
        return reject_inbound(in, fmt::format("node {} is already connected or failed", h->from));
    if (auto why = check_handshake(*h, ctx_.handshake_setup(), ctx_.self, h->from); !why.empty()) {
        // The peer's failure says it, in one line; no warning besides.
        close_socket(in->socket);
        in->timer.cancel();
        inbound_.erase(in);
        return peer.fail("handshake rejected: " + why);
    }
    // The peer link sends our challenge and checks the proof of the key.
    in->timer.cancel();
    inbound_.erase(in);
    peer.adopt(std::move(in->socket), std::move(in->decoder), *h);
}

}  // namespace spanvm::net
