// Transport: the facade and the wiring of its parts (each internal to net/):
//   link_context   what all parts share (config, io_context, stopping, state_mu)
//   dialer         listening, dialling, checking inbound handshakes
//   peer_link      one peer's connection: reading, outbound handshake, state, failure
//   frame_writer   one peer's write queue, batched and direct writes
//   request_table  request/response matching and request deadlines
//   liveness       heartbeats and the silence timeout
// This file owns the I/O thread, start/stop, the send and request API, and
// the routing of received frames (dispatch). Threads, ordering, failure and
// lock order: see net/transport.hpp.
#include "net/transport.hpp"

#include <atomic>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <fmt/format.h>

#include "net/dialer.hpp"
#include "net/handshake.hpp"
#include "net/link_context.hpp"
#include "net/liveness.hpp"
#include "net/peer_link.hpp"
#include "net/request_table.hpp"
#include "net/wire_reader.hpp"
#include "vmm/base/log.hpp"

namespace spanvm::net {

namespace {

// Transport::Cork nesting depth of the calling thread (any transport).
thread_local int t_cork_depth = 0;

}  // namespace

// Members are touched only on the I/O thread unless their comment says otherwise.
class Transport::Impl final : public LinkEvents {
public:
    Impl(ClusterConfig config, NodeId self, MessageTypes types, MessageHandler on_message,
         PeerFailedHandler on_peer_failed, TransportOptions options)
        : ctx_(std::move(config), self, std::move(options)),
          types_(std::move(types)),
          on_message_(std::move(on_message)),
          on_peer_failed_(std::move(on_peer_failed)),
          requests_(ctx_),
          dialer_(ctx_, peers_),
          liveness_(ctx_, peers_) {
        const ClusterConfig& cfg = ctx_.config;
        const TransportOptions& opt = ctx_.options;
        if (!cfg.has_node(self))
            throw std::invalid_argument(
                fmt::format("node {} is not in cluster '{}' ({} nodes)", self, cfg.name, cfg.size()));
        if (!cfg.key)
            throw std::invalid_argument(fmt::format(
                "cluster '{}' has no key (key_file in the cluster file, or --key-file; make one with 'spanvm keygen PATH')",
                cfg.name));
        for (std::size_t i = 0; i < cfg.size(); ++i) {
            bool own = i < opt.peer_timeouts.size() && opt.peer_timeouts[i].count() > 0;
            peers_.push_back(std::make_unique<PeerLink>(ctx_, *this, static_cast<NodeId>(i),
                                                        own ? opt.peer_timeouts[i] : opt.peer_timeout));
        }
    }

    ~Impl() override { stop(); }

    // ---- caller-thread API -------------------------------------------------

    void start() {
        if (started_.exchange(true)) throw std::logic_error("Transport::start called twice");
        listen_port_ = dialer_.listen();
        work_.emplace(asio::make_work_guard(ctx_.io));
        running_ = true;
        dialer_.start(Clock::now() + ctx_.options.connect_timeout);
        liveness_.start();
        thread_ = std::thread([this] {
            io_thread_id_ = std::this_thread::get_id();
            if (ctx_.options.io_thread_nice != 0)
                (void)setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), ctx_.options.io_thread_nice);

            try {
                ctx_.io.run();
            } catch (const std::exception& e) {
                log::error("{}: I/O thread died: {}", ctx_.config.describe(ctx_.self), e.what());
            }
        });
    }

    Result<void> wait_connected(std::chrono::milliseconds timeout) {
        std::unique_lock lock(ctx_.state_mu);
        auto deadline = Clock::now() + timeout;
        for (;;) {
            std::vector<NodeId> missing;
            for (auto& p : peers_) {
                if (p->id() == ctx_.self) continue;
                if (p->state() == PeerState::failed) return Error{ECONNABORTED, p->failure()};
                if (p->state() != PeerState::connected) missing.push_back(p->id());
            }
            if (missing.empty()) return {};
            if (!running_)
                return make_error(ESHUTDOWN, "{}: transport not running", ctx_.config.describe(ctx_.self));
            if (ctx_.state_cv.wait_until(lock, deadline) == std::cv_status::timeout && Clock::now() >= deadline) {
                std::string names;
                for (NodeId id : missing) names += (names.empty() ? "" : ", ") + ctx_.config.describe(id);
                return make_error(ETIMEDOUT, "timed out after {} ms waiting for {}", timeout.count(), names);
            }
        }
    }

    Result<void> send(NodeId to, std::uint16_t type, std::uint16_t flags, std::uint64_t request_id,
                      ByteView payload) {
        if (auto ok = check_send(to, type); !ok) return ok;
        auto frame = make_frame(type, flags, request_id, payload, ctx_.options.max_payload);
        if (!frame) return make_error(frame.error().code, "{}: {}", ctx_.config.describe(to), frame.error().message);
        if (to == ctx_.self) {
            asio::post(ctx_.io, [this, to, f = std::move(*frame)]() mutable { enqueue(to, std::move(f)); });
            return {};
        }
        // Batching: on the I/O thread (answers produced while draining a read)
        // and while the calling thread is corked, frames are only queued; one
        // gathered write then carries them all.
        const bool batch = t_cork_depth > 0 || std::this_thread::get_id() == io_thread_id_;
        peers_[to]->send(std::move(*frame), batch);
        return {};
    }

    void request(NodeId to, std::uint16_t type, ByteView payload, std::chrono::milliseconds timeout,
                 ReplyHandler done) {
        std::uint64_t id = requests_.next_id();
        Result<Bytes> frame = Error{};
        if (auto ok = check_send(to, type); !ok)
            frame = ok.error();
        else
            frame = make_frame(type, FRAME_FLAG_REQUEST, id, payload, ctx_.options.max_payload);
        if (!running_) {
            // The I/O thread may be gone: complete on the caller's thread.
            done(frame ? make_error(ESHUTDOWN, "{}: transport not running", ctx_.config.describe(ctx_.self))
                       : frame.error());
            return;
        }
        asio::post(ctx_.io, [this, to, type, id, timeout, done = std::move(done), frame = std::move(frame)]() mutable {
            if (!frame)
                return done(make_error(frame.error().code, "{}: {}", ctx_.config.describe(to), frame.error().message));
            if (ctx_.stopping)
                return done(make_error(ESHUTDOWN, "{}: transport stopped", ctx_.config.describe(ctx_.self)));
            if (to != ctx_.self && peers_[to]->state() == PeerState::failed)
                return done(Error{ECONNABORTED, peer_failure(to)});
            requests_.add(id, to, type, timeout, std::move(done));
            enqueue(to, std::move(*frame));
        });
    }

    void stop() {
        bool on_io_thread = thread_.joinable() && std::this_thread::get_id() == thread_.get_id();
        if (running_.exchange(false)) {
            {
                std::lock_guard lock(ctx_.state_mu);
                ctx_.stopping = true;
            }
            ctx_.state_cv.notify_all();
            asio::post(ctx_.io, [this] { shutdown_io(); });
        }
        if (thread_.joinable() && !on_io_thread) thread_.join();
    }

    std::size_t last_words(std::uint16_t type, ByteView payload, std::chrono::milliseconds timeout) {
        if (!running_) return 0;
        auto frame = make_frame(type, 0, 0, payload, ctx_.options.max_payload);
        if (!frame) return 0;
        const auto deadline = Clock::now() + timeout;
        std::vector<PeerLink*> told;
        for (auto& p : peers_)
            if (p->id() != ctx_.self && p->last_words(*frame, deadline)) told.push_back(p.get());
        for (PeerLink* p : told) (void)p->wait_acknowledged(deadline);
        return told.size();
    }

    bool running() const { return running_; }
    NodeId self() const { return ctx_.self; }
    const ClusterConfig& config() const { return ctx_.config; }
    std::uint16_t listen_port() const { return listen_port_; }

    bool peer_connected(NodeId node) const {
        if (!ctx_.config.has_node(node) || node == ctx_.self) return false;
        std::lock_guard lock(ctx_.state_mu);
        return peers_[node]->state() == PeerState::connected;
    }

    std::string peer_failure(NodeId node) const {
        if (!ctx_.config.has_node(node)) return {};
        std::lock_guard lock(ctx_.state_mu);
        return peers_[node]->failure();
    }

    // ---- LinkEvents (I/O thread) -------------------------------------------

    std::string on_frame(NodeId from, Frame& f) override { return dispatch(from, f); }

    void on_link_failed(NodeId node, const std::string& reason) override {
        requests_.fail(node, Error{ECONNABORTED, reason});
        if (ctx_.stopping) return;
        // The handler owns reporting; log loudly only if nobody else will.
        if (on_peer_failed_)
            log::info("{}", reason);
        else
            log::warn("{}", reason);
        if (on_peer_failed_) {
            try {
                on_peer_failed_(node, reason);
            } catch (const std::exception& e) {
                log::error("{}: on_peer_failed handler threw: {}", ctx_.config.describe(ctx_.self), e.what());
            }
        }
    }

private:
    Result<void> check_send(NodeId to, std::uint16_t type) const {
        const ClusterConfig& cfg = ctx_.config;
        if (!running_) return make_error(ESHUTDOWN, "{}: transport not running", cfg.describe(ctx_.self));
        if (!cfg.has_node(to))
            return make_error(EINVAL, "node {} is not in cluster '{}' ({} nodes)", to, cfg.name, cfg.size());
        if (!types_.contains(type) && type != PROBE_TYPE)
            return make_error(EINVAL, "message type {:#06x} is not registered", type);
        if (to != ctx_.self) {
            std::lock_guard lock(ctx_.state_mu);
            if (peers_[to]->state() == PeerState::failed) return Error{ECONNABORTED, peers_[to]->failure()};
        }
        return {};
    }

    // I/O thread. Loopback frames are decoded and dispatched as if received.
    void enqueue(NodeId to, Bytes frame) {
        if (ctx_.stopping) return;
        if (to == ctx_.self) {
            auto decoded = decode_frame(frame, ctx_.options.max_payload);
            if (decoded) {
                // A protocol violation by ourselves is a bug in the caller, not a peer failure.
                if (auto why = dispatch(ctx_.self, *decoded); !why.empty())
                    log::error("{}: local message dropped: {}", ctx_.config.describe(ctx_.self), why);
            }
            return;
        }
        peers_[to]->enqueue(std::move(frame));
    }

    // Routes one frame from a connected peer (or ourselves). Returns a
    // protocol-violation reason, empty if the frame was fine.
    std::string dispatch(NodeId from, Frame& f) {
        const FrameHeader& h = f.header;
        if (h.type == HANDSHAKE_TYPE) return "unexpected handshake frame after the handshake";
        if (h.type == HEARTBEAT_TYPE) return {};  // its bytes already refreshed the liveness clock
        if (!types_.contains(h.type) && h.type != PROBE_TYPE)
            return fmt::format("unknown message type {:#06x}", h.type);
        if ((h.is_request() || h.is_response()) && h.request_id == 0)
            return fmt::format("{} of type {:#06x} has request id 0", h.is_request() ? "request" : "response", h.type);
        if (h.is_response()) return requests_.complete(from, f);
        if (h.type == PROBE_TYPE) return answer_probe(from, f);
        std::uint64_t rid = h.is_request() ? h.request_id : 0;
        if (on_message_) {
            try {
                on_message_(from, h.type, rid, f.payload);
            } catch (const std::exception& e) {
                log::error("{}: on_message handler threw: {}", ctx_.config.describe(ctx_.self), e.what());
            }
        }
        return {};
    }

    // The transport answers probes itself: payload starts with the u32 size
    // of the wanted reply (rtt_probe.cpp).
    std::string answer_probe(NodeId from, const Frame& f) {
        if (!f.header.is_request()) return "probe that is not a request";
        WireReader r(f.payload);
        auto size = r.u32();
        if (!size) return "malformed probe: " + size.error().message;
        if (*size > ctx_.options.max_payload) return fmt::format("probe asks for a {}-byte reply", *size);
        Bytes reply(*size, 0);
        auto frame =
            make_frame(PROBE_TYPE, FRAME_FLAG_RESPONSE, f.header.request_id, reply, ctx_.options.max_payload);
        if (frame) enqueue(from, std::move(*frame));
        return {};
    }

    void shutdown_io() {
        liveness_.stop();
        dialer_.stop();
        for (auto& p : peers_) p->close();
        requests_.fail(std::nullopt, make_error(ESHUTDOWN, "{}: transport stopped", ctx_.config.describe(ctx_.self)));
        work_.reset();
        // Remaining handlers see stopping and return; run() then ends by itself.
    }

    // Declared first: every part below holds I/O objects of its io_context.
    LinkContext ctx_;
    MessageTypes types_;
    MessageHandler on_message_;
    PeerFailedHandler on_peer_failed_;

    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
    std::vector<std::unique_ptr<PeerLink>> peers_;  // indexed by id; never resized after construction
    RequestTable requests_;
    Dialer dialer_;
    Liveness liveness_;
    std::thread thread_;

    std::atomic<bool> started_{false};
    std::atomic<bool> running_{false};  // any thread; start() done and stop() not yet called
    std::atomic<std::thread::id> io_thread_id_{};
    std::uint16_t listen_port_ = 0;
};

Transport::Transport(ClusterConfig config, NodeId self, MessageTypes types, MessageHandler on_message,
                     PeerFailedHandler on_peer_failed, TransportOptions options)
    : impl_(std::make_unique<Impl>(std::move(config), self, std::move(types), std::move(on_message),
                                   std::move(on_peer_failed), std::move(options))) {}

Transport::~Transport() = default;

void Transport::start() { impl_->start(); }

Result<void> Transport::wait_connected(std::chrono::milliseconds timeout) { return impl_->wait_connected(timeout); }

Result<void> Transport::send(NodeId to, std::uint16_t type, ByteView payload) {
    return impl_->send(to, type, 0, 0, payload);
}

Result<void> Transport::respond(NodeId to, std::uint16_t type, std::uint64_t request_id, ByteView payload) {
    if (request_id == 0) return make_error(EINVAL, "respond: request id 0 is not a request");
    return impl_->send(to, type, FRAME_FLAG_RESPONSE, request_id, payload);
}

void Transport::request(NodeId to, std::uint16_t type, ByteView payload, std::chrono::milliseconds timeout,
                        ReplyHandler done) {
    impl_->request(to, type, payload, timeout, std::move(done));
}

std::future<Result<Reply>> Transport::request(NodeId to, std::uint16_t type, ByteView payload,
                                              std::chrono::milliseconds timeout) {
    // Completes the promise with an error if the handler is destroyed unrun
    // (a request racing with stop()), so the future never breaks.
    struct Completion {
        std::promise<Result<Reply>> promise;
        bool done = false;
        ~Completion() {
            if (!done) promise.set_value(make_error(ESHUTDOWN, "transport stopped"));
        }
    };
    auto c = std::make_shared<Completion>();
    auto fut = c->promise.get_future();
    impl_->request(to, type, payload, timeout, [c](Result<Reply> r) {
        c->done = true;
        c->promise.set_value(std::move(r));
    });
    return fut;
}

void Transport::stop() { impl_->stop(); }

std::size_t Transport::last_words(std::uint16_t type, ByteView payload, std::chrono::milliseconds timeout) {
    return impl_->last_words(type, payload, timeout);
}

Transport::Cork::Cork(Transport& t) : t_(t) { ++t_cork_depth; }
Transport::Cork::~Cork() { --t_cork_depth; }
NodeId Transport::self() const { return impl_->self(); }
const ClusterConfig& Transport::config() const { return impl_->config(); }
bool Transport::running() const { return impl_->running(); }
bool Transport::peer_connected(NodeId node) const { return impl_->peer_connected(node); }
std::string Transport::peer_failure(NodeId node) const { return impl_->peer_failure(node); }
std::uint16_t Transport::listen_port() const { return impl_->listen_port(); }

}  // namespace spanvm::net
