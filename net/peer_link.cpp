#include "net/peer_link.hpp"

#include <algorithm>

#include <boost/asio.hpp>
#include <fmt/format.h>

#include "net/handshake.hpp"
#include "vmm/base/latency_trace.hpp"
#include "vmm/base/log.hpp"

namespace spanvm::net {

namespace {
constexpr std::size_t READ_CHUNK = 64 * 1024;
// How long a connected link whose write failed waits for its read side to
// report the end of the connection (see write_failed).
constexpr std::chrono::milliseconds kWriteFailureGrace{500};
}  // namespace

PeerLink::PeerLink(LinkContext& ctx, LinkEvents& events, NodeId id, std::chrono::milliseconds silence_limit)
    : ctx_(ctx),
      events_(events),
      id_(id),
      decoder_(ctx.options.max_payload),
      read_buf_(std::make_unique_for_overwrite<std::uint8_t[]>(READ_CHUNK)),
      timer_(ctx.io) {
    clock_.silence_limit = silence_limit;
}

bool PeerLink::stopping_or_failed() const { return ctx_.stopping || state_ == PeerState::failed; }

// ---- writing ---------------------------------------------------------------

void PeerLink::send(Bytes frame, bool batch) {
    if (writer_.send(socket_, std::move(frame), batch)) asio::post(ctx_.io, [this] { start_write(); });
}

void PeerLink::enqueue(Bytes frame) {
    if (stopping_or_failed()) return;  // a failure is already reported
    writer_.push(std::move(frame));
    start_write();
}

void PeerLink::start_write() {
    if (state_ == PeerState::failed || ctx_.stopping || write_waiting_ || write_failed_) return;
    int err = 0;
    switch (writer_.write(socket_, state_ == PeerState::connected, err)) {
        case FrameWriter::WriteState::idle: return;
        case FrameWriter::WriteState::blocked:
            write_waiting_ = true;
            socket_->async_wait(tcp::socket::wait_write, [this](const boost::system::error_code& ec) {
                write_waiting_ = false;
                if (stopping_or_failed()) return;
                if (ec) return write_failed(describe_ec(ec));
                start_write();
            });
            return;
        case FrameWriter::WriteState::error:
            return write_failed(describe_ec(boost::system::error_code(err, boost::system::system_category())));
    }
}

void PeerLink::write_failed(const std::string& why) {
    if (state_ != PeerState::connected) return fail(why);
    if (write_failed_) return;
    // The peer may have written its last words before it went (a DSM node
    // says whom it lost): they wait in our socket, behind everything else it
    // sent, and the read side delivers them before it meets the same end of
    // the connection. So the read side reports the failure; the timer only
    // bounds the wait if it never does.
    write_failed_ = true;
    write_failure_ = why;
    timer_.expires_after(kWriteFailureGrace);
    timer_.async_wait([this](const boost::system::error_code& e) {
        if (e || stopping_or_failed()) return;
        fail(write_failure_);
    });
}

bool PeerLink::last_words(const Bytes& frame, Clock::time_point deadline) {
    return writer_.last_words(socket_, frame, deadline);
}

bool PeerLink::wait_acknowledged(Clock::time_point deadline) { return writer_.wait_acknowledged(socket_, deadline); }

// ---- connecting and the handshake --------------------------------------------

tcp::socket& PeerLink::new_socket() {
    socket_ = std::make_unique<tcp::socket>(ctx_.io);
    return *socket_;
}

void PeerLink::dialled(Clock::time_point connect_deadline) {
    boost::system::error_code ignored;
    socket_->set_option(tcp::no_delay(true), ignored);
    set_state(PeerState::handshaking);
    dial_hs_ = std::make_unique<DialHandshake>(ctx_.handshake_setup(), ctx_.self, id_);
    writer_.push_handshake(handshake_frame(dial_hs_->hello()));
    arm_handshake_timer(connect_deadline);
    start_write();
    start_read();
}

void PeerLink::adopt(tcp::socket socket, FrameDecoder decoder, const Handshake& hello) {
    timer_.cancel();
    socket_ = std::make_unique<tcp::socket>(std::move(socket));
    decoder_ = std::move(decoder);
    set_state(PeerState::handshaking);
    accept_hs_ = std::make_unique<AcceptHandshake>(ctx_.handshake_setup(), ctx_.self, hello);
    writer_.push_handshake(handshake_frame(accept_hs_->challenge()));
    arm_handshake_timer();
    start_write();
    if (drain_frames()) start_read();
}

Bytes PeerLink::handshake_frame(const Bytes& payload) const {
    auto frame = make_frame(HANDSHAKE_TYPE, 0, 0, payload, ctx_.options.max_payload);
    return frame ? std::move(*frame) : Bytes{};  // cannot fail: name <= 64 KiB by the u16 string prefix
}

bool PeerLink::on_handshake_frame(Frame& f) {
    if (f.header.type != HANDSHAKE_TYPE || f.header.flags != 0) {
        fail(fmt::format("handshake rejected: expected a handshake, got type {:#06x}", f.header.type));
        return false;
    }
    if (dial_hs_) {
        auto answer = dial_hs_->on_challenge(f.payload);
        if (!answer.proof.empty()) {
            writer_.push_handshake(handshake_frame(answer.proof));
            start_write();  // out before a refusal closes the socket: the peer then refuses too
        }
        if (!answer.refused.empty()) {
            fail("handshake rejected: " + answer.refused);
            return false;
        }
        handshake_done(dial_hs_->keys());
    } else if (accept_hs_) {
        if (auto why = accept_hs_->on_proof(f.payload); !why.empty()) {
            fail("handshake rejected: " + why);
            return false;
        }
        handshake_done(accept_hs_->keys());
    }
    dial_hs_.reset();
    accept_hs_.reset();
    return state_ == PeerState::connected;
}

void PeerLink::handshake_done(const SessionKeys& keys) {
    if (ctx_.config.encrypt) {
        writer_.set_sealer(std::make_unique<RecordSealer>(keys.send));
        opener_ = std::make_unique<RecordOpener>(keys.receive, FRAME_HEADER_SIZE + ctx_.options.max_payload);
        // What followed the handshake in the same read is already records.
        Bytes rest = decoder_.take_buffered();
        opener_->feed(rest);
        if (!open_records()) return;
    }
    mark_connected();
}

bool PeerLink::open_records() {
    for (;;) {
        auto rec = opener_->next();
        if (!rec) {
            fail("bad record: " + rec.error().message);
            return false;
        }
        if (!*rec) return true;
        decoder_.feed(**rec);
    }
}

void PeerLink::arm_handshake_timer(Clock::time_point not_before) {
    const auto start = Clock::now();
    const auto limit = std::max(std::chrono::duration_cast<std::chrono::milliseconds>(not_before - start),
                                ctx_.options.handshake_timeout);
    timer_.expires_at(start + limit);
    timer_.async_wait([this, limit](const boost::system::error_code& e) {
        if (e || ctx_.stopping || state_ != PeerState::handshaking) return;
        fail(fmt::format("handshake timed out after {} ms", limit.count()));
    });
}

void PeerLink::mark_connected() {
    timer_.cancel();
    clock_.last_rx = clock_.last_heartbeat = Clock::now();
    set_state(PeerState::connected);
    log::debug("{}: connected", ctx_.config.describe(id_));
    start_write();
}

void PeerLink::set_state(PeerState s) {
    {
        std::lock_guard lock(ctx_.state_mu);
        state_ = s;
    }
    ctx_.state_cv.notify_all();
}

// ---- reading -------------------------------------------------------------------

void PeerLink::start_read() {
    socket_->async_read_some(asio::buffer(read_buf_.get(), READ_CHUNK), [this](const boost::system::error_code& ec, std::size_t n) {
        if (stopping_or_failed()) return;
        if (ec) {
            std::string why = describe_ec(ec);
            if (decoder_.buffered() != 0) why += " in the middle of a frame";
            if (state_ == PeerState::handshaking) why += " during the handshake";
            return fail(why);
        }
        clock_.last_rx = Clock::now();
        trace::mark("net.read", n);
        if (opener_) {
            opener_->feed(ByteView(read_buf_.get(), n));
            if (!open_records()) return;
        } else {
            decoder_.feed(ByteView(read_buf_.get(), n));
        }
        if (drain_frames()) start_read();
    });
}

// Dispatches every complete buffered frame. False if the peer failed or the
// transport is stopping (reading must not continue).
bool PeerLink::drain_frames() {
    for (;;) {
        if (stopping_or_failed()) return false;
        auto next = decoder_.next();
        if (!next) {
            fail("bad frame: " + next.error().message);
            return false;
        }
        if (!*next) return true;
        Frame& f = **next;
        if (state_ == PeerState::handshaking) {
            if (!on_handshake_frame(f)) return false;
            continue;
        }
        if (auto why = events_.on_frame(id_, f); !why.empty()) {
            fail(why);
            return false;
        }
    }
}

bool PeerLink::has_unread_bytes() {
    boost::system::error_code ec;
    return socket_->available(ec) > 0 && !ec;
}

// ---- failure and shutdown ------------------------------------------------------

void PeerLink::fail(const std::string& what) {
    if (state_ == PeerState::failed) return;
    std::string reason = fmt::format("{}: {}", ctx_.config.describe(id_), what);
    {
        std::lock_guard lock(ctx_.state_mu);
        state_ = PeerState::failed;
        failure_ = reason;
    }
    ctx_.state_cv.notify_all();
    writer_.close(socket_);
    timer_.cancel();
    events_.on_link_failed(id_, reason);
}

void PeerLink::close() {
    writer_.close(socket_);
    timer_.cancel();
}

}  // namespace spanvm::net
