#include "net/transport.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <vector>

#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <fmt/format.h>

#include "net/frame_decoder.hpp"
#include "net/handshake.hpp"
#include "net/wire_reader.hpp"
#include "net/wire_writer.hpp"
#include "vmm/base/latency_trace.hpp"
#include "vmm/base/log.hpp"

namespace spanvm::net {

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

// Transport::Cork nesting depth of the calling thread (any transport).
thread_local int t_cork_depth = 0;

constexpr std::size_t READ_CHUNK = 64 * 1024;
constexpr std::size_t MAX_WRITE_BATCH = 64;  // frames gathered into one async_write

enum class PeerState { connecting, handshaking, connected, failed };

std::string describe_ec(const boost::system::error_code& ec) {
    if (ec == asio::error::eof) return "connection closed by peer";
    if (ec == asio::error::connection_reset) return "connection reset";
    if (ec == asio::error::broken_pipe) return "connection broken (EPIPE)";
    return ec.message();
}

// Shuts a socket down and closes it, ignoring errors (it may already be dead).
void close_socket(tcp::socket& s) {
    boost::system::error_code ignored;
    s.shutdown(tcp::socket::shutdown_both, ignored);
    s.close(ignored);
}

}  // namespace

// All members without a comment are touched only on the I/O thread.
// Lock order: Peer::wmu -> state_mu_; both are leaves otherwise, and no user
// callback runs while either is held.
//
// Direct sends: send() from any thread writes the frame straight to the
// socket (non-blocking sendmsg under the peer's wmu) when nothing is queued or
// being written for that peer, saving the hand-off to the I/O thread (a
// thread wake-up, 5-16 us here and a source of millisecond tails under load).
// Otherwise the frame is appended to the peer's queue under wmu and the I/O
// thread is asked to write it. Both paths append to one byte stream under
// wmu, so per-peer FIFO order holds for frames from one thread.
class Transport::Impl {
public:
    struct Peer {
        Peer(asio::io_context& io, NodeId peer_id, std::uint32_t max_payload)
            : id(peer_id), decoder(max_payload), read_buf(READ_CHUNK), timer(io) {}
        NodeId id;
        std::unique_ptr<tcp::socket> socket;
        FrameDecoder decoder;
        Bytes read_buf;
        Bytes hello;              // our handshake frame, written before anything else
        // Guarded by wmu (see "Direct sends" above): queue, writing, direct_ok,
        // and the socket's fd for direct writes. in_flight is owned by the
        // running async_write while writing is true.
        std::mutex wmu;
        std::deque<Bytes> queue;  // user frames waiting for the connection / the writer
        std::vector<Bytes> in_flight;
        bool writing = false;
        bool direct_ok = false;  // connected, handshake frame written: direct writes allowed
        bool kick_posted = false;  // a start_write is posted and has not run yet
        asio::steady_timer timer;  // dial retry, then handshake deadline
        Clock::time_point connect_deadline;
        PeerState state = PeerState::connecting;  // written under state_mu_
        std::string failure;                      // guarded by state_mu_
        Clock::time_point last_rx;  // liveness: last byte read (or connection time)
        Clock::time_point last_heartbeat;  // liveness: last heartbeat queued
        std::chrono::milliseconds silence_limit{0};  // liveness: fail after this much silence (set once)
    };

    struct Inbound {
        Inbound(asio::io_context& io, tcp::socket s, std::uint32_t max_payload)
            : socket(std::move(s)), decoder(max_payload), read_buf(READ_CHUNK), timer(io) {}
        tcp::socket socket;
        FrameDecoder decoder;
        Bytes read_buf;
        asio::steady_timer timer;
        std::string remote;
    };

    struct Pending {
        NodeId node = 0;
        std::uint16_t type = 0;
        std::chrono::milliseconds timeout{0};
        ReplyHandler done;
        std::unique_ptr<asio::steady_timer> timer;
    };

    Impl(ClusterConfig config, NodeId self, MessageTypes types, MessageHandler on_message,
         PeerFailedHandler on_peer_failed, TransportOptions options)
        : config_(std::move(config)),
          self_(self),
          types_(std::move(types)),
          on_message_(std::move(on_message)),
          on_peer_failed_(std::move(on_peer_failed)),
          options_(std::move(options)),
          acceptor_(io_),
          liveness_timer_(io_) {
        if (!config_.has_node(self_))
            throw std::invalid_argument(fmt::format("node {} is not in cluster '{}' ({} nodes)", self_,
                                                    config_.name, config_.size()));
        for (std::size_t i = 0; i < config_.size(); ++i) {
            peers_.push_back(std::make_unique<Peer>(io_, static_cast<NodeId>(i), options_.max_payload));
            bool own = i < options_.peer_timeouts.size() && options_.peer_timeouts[i].count() > 0;
            peers_.back()->silence_limit = own ? options_.peer_timeouts[i] : options_.peer_timeout;
        }
    }

    ~Impl() { stop(); }

    // ---- caller-thread API -------------------------------------------------

    void start() {
        if (started_.exchange(true)) throw std::logic_error("Transport::start called twice");
        const NodeAddress& me = config_.node(self_);
        std::string listen = options_.listen_address.empty() ? me.address : options_.listen_address;
        boost::system::error_code ec;
        auto addr = asio::ip::make_address(listen, ec);
        if (ec) throw std::runtime_error(fmt::format("{}: bad listen address '{}'", config_.describe(self_), listen));
        tcp::endpoint ep(addr, me.port);
        acceptor_.open(ep.protocol(), ec);
        if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
        if (!ec) acceptor_.bind(ep, ec);
        if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
        if (ec) {
            boost::system::error_code ignored;
            acceptor_.close(ignored);
            throw std::runtime_error(fmt::format("{}: cannot listen on {}: {}", config_.describe(self_),
                                                 tcp_endpoint_text(ep), ec.message()));
        }
        listen_port_ = acceptor_.local_endpoint().port();
        work_.emplace(asio::make_work_guard(io_));
        running_ = true;
        auto deadline = Clock::now() + options_.connect_timeout;
        for (auto& p : peers_) {
            if (p->id == self_) continue;
            p->connect_deadline = deadline;
            Peer* peer = p.get();
            if (peer->id > self_) {
                asio::post(io_, [this, peer] { dial(*peer); });
            } else {
                // The lower id dials us; give up on it at the same deadline.
                peer->timer.expires_at(deadline);
                peer->timer.async_wait([this, peer](const boost::system::error_code& e) {
                    if (e || stopping_ || peer->state != PeerState::connecting) return;
                    fail_peer(*peer, fmt::format("did not connect within {} ms", options_.connect_timeout.count()));
                });
            }
        }
        accept_next();
        if (options_.heartbeat_interval.count() > 0)
            asio::post(io_, [this] { arm_liveness(); });
        thread_ = std::thread([this] {
            io_thread_id_ = std::this_thread::get_id();
            if (options_.io_thread_nice != 0)
                (void)setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), options_.io_thread_nice);

            try {
                io_.run();
            } catch (const std::exception& e) {
                log::error("{}: I/O thread died: {}", config_.describe(self_), e.what());
            }
        });
    }

    Result<void> wait_connected(std::chrono::milliseconds timeout) {
        std::unique_lock lock(state_mu_);
        auto deadline = Clock::now() + timeout;
        for (;;) {
            std::vector<NodeId> missing;
            for (auto& p : peers_) {
                if (p->id == self_) continue;
                if (p->state == PeerState::failed) return Error{ECONNABORTED, p->failure};
                if (p->state != PeerState::connected) missing.push_back(p->id);
            }
            if (missing.empty()) return {};
            if (!running_) return make_error(ESHUTDOWN, "{}: transport not running", config_.describe(self_));
            if (state_cv_.wait_until(lock, deadline) == std::cv_status::timeout && Clock::now() >= deadline) {
                std::string names;
                for (NodeId id : missing) names += (names.empty() ? "" : ", ") + config_.describe(id);
                return make_error(ETIMEDOUT, "timed out after {} ms waiting for {}", timeout.count(), names);
            }
        }
    }

    Result<void> send(NodeId to, std::uint16_t type, std::uint16_t flags, std::uint64_t request_id,
                      ByteView payload) {
        if (auto ok = check_send(to, type); !ok) return ok;
        auto frame = make_frame(type, flags, request_id, payload, options_.max_payload);
        if (!frame) return make_error(frame.error().code, "{}: {}", config_.describe(to), frame.error().message);
        if (to == self_) {
            post_frame(to, std::move(*frame));
            return {};
        }
        Peer& peer = *peers_[to];
        // Batching: on the I/O thread (answers produced while draining a read)
        // and while the calling thread is corked, frames are only queued; one
        // gathered write then carries them all.
        const bool batch = t_cork_depth > 0 || std::this_thread::get_id() == io_thread_id_;
        std::unique_lock lk(peer.wmu);
        std::size_t done = 0;
        if (!batch && peer.direct_ok && !peer.writing && peer.queue.empty()) {
            // MSG_DONTWAIT: never block a fault-handling thread on a full socket.
            ssize_t n = ::send(peer.socket->native_handle(), frame->data(), frame->size(), MSG_DONTWAIT | MSG_NOSIGNAL);
            trace::mark("net.send.direct", static_cast<std::uint64_t>(n));
            if (n == static_cast<ssize_t>(frame->size())) return {};
            if (n > 0) done = static_cast<std::size_t>(n);
            // EAGAIN or an error: the I/O thread writes the rest and sees any error itself.
        }
        if (done != 0) frame->erase(frame->begin(), frame->begin() + static_cast<std::ptrdiff_t>(done));
        peer.queue.push_back(std::move(*frame));
        bool kick = !peer.writing && !peer.kick_posted;
        if (kick) peer.kick_posted = true;
        lk.unlock();
        trace::mark("net.send.queued", kick ? 1 : 0);
        if (kick) asio::post(io_, [this, &peer] { start_write(peer); });
        return {};
    }

    void request(NodeId to, std::uint16_t type, ByteView payload, std::chrono::milliseconds timeout,
                 ReplyHandler done) {
        std::uint64_t id = next_request_id_.fetch_add(1);
        Result<Bytes> frame = Error{};
        if (auto ok = check_send(to, type); !ok)
            frame = ok.error();
        else
            frame = make_frame(type, FRAME_FLAG_REQUEST, id, payload, options_.max_payload);
        if (!running_) {
            // The I/O thread may be gone: complete on the caller's thread.
            done(frame ? make_error(ESHUTDOWN, "{}: transport not running", config_.describe(self_)) : frame.error());
            return;
        }
        asio::post(io_, [this, to, type, id, timeout, done = std::move(done), frame = std::move(frame)]() mutable {
            if (!frame) return done(make_error(frame.error().code, "{}: {}", config_.describe(to), frame.error().message));
            if (stopping_) return done(make_error(ESHUTDOWN, "{}: transport stopped", config_.describe(self_)));
            if (to != self_ && peers_[to]->state == PeerState::failed)
                return done(Error{ECONNABORTED, peer_failure(to)});
            Pending p;
            p.node = to;
            p.type = type;
            p.timeout = timeout;
            p.done = std::move(done);
            p.timer = std::make_unique<asio::steady_timer>(io_, timeout);
            p.timer->async_wait([this, id](const boost::system::error_code& ec) {
                if (!ec) expire_request(id);
            });
            pending_.emplace(id, std::move(p));
            enqueue(to, std::move(*frame));
        });
    }

    void stop() {
        bool on_io_thread = thread_.joinable() && std::this_thread::get_id() == thread_.get_id();
        if (running_.exchange(false)) {
            {
                std::lock_guard lock(state_mu_);
                stopping_ = true;
            }
            state_cv_.notify_all();
            asio::post(io_, [this] { shutdown_io(); });
        }
        if (thread_.joinable() && !on_io_thread) thread_.join();
    }

    bool running() const { return running_; }
    NodeId self() const { return self_; }
    const ClusterConfig& config() const { return config_; }
    std::uint16_t listen_port() const { return listen_port_; }

    bool peer_connected(NodeId node) const {
        if (!config_.has_node(node) || node == self_) return false;
        std::lock_guard lock(state_mu_);
        return peers_[node]->state == PeerState::connected;
    }

    std::string peer_failure(NodeId node) const {
        if (!config_.has_node(node)) return {};
        std::lock_guard lock(state_mu_);
        return peers_[node]->failure;
    }

private:
    static std::string tcp_endpoint_text(const tcp::endpoint& ep) {
        if (ep.address().is_v6()) return fmt::format("[{}]:{}", ep.address().to_string(), ep.port());
        return fmt::format("{}:{}", ep.address().to_string(), ep.port());
    }

    Result<void> check_send(NodeId to, std::uint16_t type) const {
        if (!running_) return make_error(ESHUTDOWN, "{}: transport not running", config_.describe(self_));
        if (!config_.has_node(to))
            return make_error(EINVAL, "node {} is not in cluster '{}' ({} nodes)", to, config_.name, config_.size());
        if (!types_.contains(type) && type != PROBE_TYPE)
            return make_error(EINVAL, "message type {:#06x} is not registered", type);
        if (to != self_) {
            std::lock_guard lock(state_mu_);
            if (peers_[to]->state == PeerState::failed) return Error{ECONNABORTED, peers_[to]->failure};
        }
        return {};
    }

    void post_frame(NodeId to, Bytes frame) {
        asio::post(io_, [this, to, f = std::move(frame)]() mutable { enqueue(to, std::move(f)); });
    }

    // I/O thread. Loopback frames are decoded and dispatched as if received.
    void enqueue(NodeId to, Bytes frame) {
        if (stopping_) return;
        if (to == self_) {
            auto decoded = decode_frame(frame, options_.max_payload);
            if (decoded) {
                // A protocol violation by ourselves is a bug in the caller, not a peer failure.
                if (auto why = dispatch(self_, *decoded); !why.empty())
                    log::error("{}: local message dropped: {}", config_.describe(self_), why);
            }
            return;
        }
        Peer& peer = *peers_[to];
        if (peer.state == PeerState::failed) return;  // already reported
        {
            std::lock_guard lk(peer.wmu);
            peer.queue.push_back(std::move(frame));
        }
        start_write(peer);
    }

    // ---- connections ---------------------------------------------------------

    void dial(Peer& peer) {
        if (stopping_ || peer.state != PeerState::connecting) return;
        const NodeAddress& na = config_.node(peer.id);
        boost::system::error_code ec;
        tcp::endpoint ep(asio::ip::make_address(na.address, ec), na.port);
        if (ec) return fail_peer(peer, fmt::format("bad address: {}", ec.message()));
        peer.socket = std::make_unique<tcp::socket>(io_);
        peer.socket->async_connect(ep, [this, &peer](const boost::system::error_code& e) {
            if (stopping_ || peer.state != PeerState::connecting) return;
            if (e) {
                close_socket(*peer.socket);
                if (Clock::now() + options_.retry_interval >= peer.connect_deadline)
                    return fail_peer(peer, fmt::format("could not connect within {} ms: {}",
                                                       options_.connect_timeout.count(), describe_ec(e)));
                peer.timer.expires_after(options_.retry_interval);
                peer.timer.async_wait([this, &peer](const boost::system::error_code& te) {
                    if (!te) dial(peer);
                });
                return;
            }
            boost::system::error_code ignored;
            peer.socket->set_option(tcp::no_delay(true), ignored);
            set_state(peer, PeerState::handshaking);
            peer.hello = make_hello(peer.id);
            arm_handshake_timer(peer);
            start_write(peer);
            start_read(peer);
        });
    }

    Bytes make_hello(NodeId to) const {
        Handshake h{config_.name, self_, to, options_.protocol_version};
        auto frame = make_frame(HANDSHAKE_TYPE, 0, 0, encode_handshake(h), options_.max_payload);
        return frame ? std::move(*frame) : Bytes{};  // cannot fail: name <= 64 KiB by the u16 string prefix
    }

    void arm_handshake_timer(Peer& peer) {
        peer.timer.expires_after(options_.handshake_timeout);
        peer.timer.async_wait([this, &peer](const boost::system::error_code& e) {
            if (e || stopping_ || peer.state != PeerState::handshaking) return;
            fail_peer(peer, fmt::format("handshake timed out after {} ms", options_.handshake_timeout.count()));
        });
    }

    void accept_next() {
        acceptor_.async_accept([this](const boost::system::error_code& ec, tcp::socket s) {
            if (stopping_) return;
            if (ec) {
                log::warn("{}: accept failed: {}", config_.describe(self_), ec.message());
            } else {
                start_inbound(std::move(s));
            }
            accept_next();
        });
    }

    void start_inbound(tcp::socket s) {
        auto in = std::make_shared<Inbound>(io_, std::move(s), options_.max_payload);
        boost::system::error_code ec;
        auto remote = in->socket.remote_endpoint(ec);
        in->remote = ec ? std::string("unknown peer") : tcp_endpoint_text(remote);
        in->socket.set_option(tcp::no_delay(true), ec);
        inbound_.insert(in);
        in->timer.expires_after(options_.handshake_timeout);
        in->timer.async_wait([this, in](const boost::system::error_code& e) {
            if (e || !inbound_.count(in)) return;
            reject_inbound(in, fmt::format("no handshake within {} ms", options_.handshake_timeout.count()));
        });
        read_inbound(in);
    }

    void reject_inbound(const std::shared_ptr<Inbound>& in, const std::string& why) {
        log::warn("{}: rejected connection from {}: {}", config_.describe(self_), in->remote, why);
        close_socket(in->socket);
        in->timer.cancel();
        inbound_.erase(in);
    }

    void read_inbound(std::shared_ptr<Inbound> in) {
        in->socket.async_read_some(asio::buffer(in->read_buf), [this, in](const boost::system::error_code& ec,
                                                                           std::size_t n) {
            if (stopping_ || !inbound_.count(in)) return;
            if (ec) return reject_inbound(in, describe_ec(ec) + " before the handshake");
            in->decoder.feed(ByteView(in->read_buf.data(), n));
            auto next = in->decoder.next();
            if (!next) return reject_inbound(in, "bad frame before the handshake: " + next.error().message);
            if (!*next) return read_inbound(in);
            on_inbound_handshake(in, std::move(**next));
        });
    }

    void on_inbound_handshake(const std::shared_ptr<Inbound>& in, Frame frame) {
        if (frame.header.type != HANDSHAKE_TYPE || frame.header.flags != 0)
            return reject_inbound(in, fmt::format("first frame has type {:#06x}, not a handshake", frame.header.type));
        auto h = decode_handshake(frame.payload);
        if (!h) return reject_inbound(in, "malformed handshake: " + h.error().message);
        // Only the lower id dials; anything else is a stray or duplicate connection.
        if (h->from >= self_ || !config_.has_node(h->from))
            return reject_inbound(in, fmt::format("unexpected handshake from node {}", h->from));
        Peer& peer = *peers_[h->from];
        if (peer.state != PeerState::connecting)
            return reject_inbound(in, fmt::format("node {} is already connected or failed", h->from));
        if (auto why = check_handshake(*h, config_.name, self_, h->from, options_.protocol_version); !why.empty()) {
            reject_inbound(in, why);
            return fail_peer(peer, "handshake rejected: " + why);
        }
        in->timer.cancel();
        inbound_.erase(in);
        peer.timer.cancel();
        peer.socket = std::make_unique<tcp::socket>(std::move(in->socket));
        peer.decoder = std::move(in->decoder);  // may already hold frames sent after the handshake
        peer.hello = make_hello(peer.id);
        mark_connected(peer);
        if (drain_frames(peer)) start_read(peer);
    }

    void mark_connected(Peer& peer) {
        peer.timer.cancel();
        peer.last_rx = peer.last_heartbeat = Clock::now();
        set_state(peer, PeerState::connected);
        log::debug("{}: connected", config_.describe(peer.id));
        start_write(peer);
    }

    void set_state(Peer& peer, PeerState s) {
        {
            std::lock_guard lock(state_mu_);
            peer.state = s;
        }
        state_cv_.notify_all();
    }

    // ---- reading -------------------------------------------------------------

    void start_read(Peer& peer) {
        peer.socket->async_read_some(asio::buffer(peer.read_buf), [this, &peer](const boost::system::error_code& ec,
                                                                                std::size_t n) {
            if (stopping_ || peer.state == PeerState::failed) return;
            if (ec) {
                std::string why = describe_ec(ec);
                if (peer.decoder.buffered() != 0) why += " in the middle of a frame";
                if (peer.state == PeerState::handshaking) why += " during the handshake";
                return fail_peer(peer, why);
            }
            peer.last_rx = Clock::now();
            trace::mark("net.read", n);
            peer.decoder.feed(ByteView(peer.read_buf.data(), n));
            if (drain_frames(peer)) start_read(peer);
        });
    }

    // Dispatches every complete buffered frame. False if the peer failed or
    // the transport is stopping (reading must not continue).
    bool drain_frames(Peer& peer) {
        for (;;) {
            if (stopping_ || peer.state == PeerState::failed) return false;
            auto next = peer.decoder.next();
            if (!next) {
                fail_peer(peer, "bad frame: " + next.error().message);
                return false;
            }
            if (!*next) return true;
            Frame& f = **next;
            if (peer.state == PeerState::handshaking) {
                std::string why;
                if (f.header.type != HANDSHAKE_TYPE || f.header.flags != 0) {
                    why = fmt::format("expected a handshake, got type {:#06x}", f.header.type);
                } else if (auto h = decode_handshake(f.payload); !h) {
                    why = "malformed handshake: " + h.error().message;
                } else {
                    why = check_handshake(*h, config_.name, self_, peer.id, options_.protocol_version);
                }
                if (!why.empty()) {
                    fail_peer(peer, "handshake rejected: " + why);
                    return false;
                }
                mark_connected(peer);
                continue;
            }
            if (auto why = dispatch(peer.id, f); !why.empty()) {
                fail_peer(peer, why);
                return false;
            }
        }
    }

    // Routes one frame from a connected peer (or ourselves). Returns a
    // protocol-violation reason, empty if the frame was fine.
    std::string dispatch(NodeId from, Frame& f) {
        const FrameHeader& h = f.header;
        if (h.type == HANDSHAKE_TYPE) return "unexpected handshake frame after the handshake";
        if (h.type == HEARTBEAT_TYPE) return {};  // its bytes already refreshed last_rx
        if (!types_.contains(h.type) && h.type != PROBE_TYPE)
            return fmt::format("unknown message type {:#06x}", h.type);
        if ((h.is_request() || h.is_response()) && h.request_id == 0)
            return fmt::format("{} of type {:#06x} has request id 0", h.is_request() ? "request" : "response", h.type);
        if (h.is_response()) return complete_request(from, f);
        if (h.type == PROBE_TYPE) return answer_probe(from, f);
        std::uint64_t rid = h.is_request() ? h.request_id : 0;
        if (on_message_) {
            try {
                on_message_(from, h.type, rid, f.payload);
            } catch (const std::exception& e) {
                log::error("{}: on_message handler threw: {}", config_.describe(self_), e.what());
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
        if (*size > options_.max_payload) return fmt::format("probe asks for a {}-byte reply", *size);
        Bytes reply(*size, 0);
        auto frame = make_frame(PROBE_TYPE, FRAME_FLAG_RESPONSE, f.header.request_id, reply, options_.max_payload);
        if (frame) enqueue(from, std::move(*frame));
        return {};
    }

    std::string complete_request(NodeId from, Frame& f) {
        auto it = pending_.find(f.header.request_id);
        if (it == pending_.end()) {
            log::debug("{}: dropped late response to request {}", config_.describe(from), f.header.request_id);
            return {};
        }
        if (it->second.node != from)
            return fmt::format("response to request {} that was sent to node {}", f.header.request_id, it->second.node);
        Pending p = std::move(it->second);
        pending_.erase(it);
        p.timer->cancel();
        finish(p, Reply{f.header.type, std::move(f.payload)});
        return {};
    }

    void expire_request(std::uint64_t id) {
        auto it = pending_.find(id);
        if (it == pending_.end()) return;
        Pending p = std::move(it->second);
        pending_.erase(it);
        finish(p, make_error(ETIMEDOUT, "{}: request {} (type {:#06x}) timed out after {} ms",
                             config_.describe(p.node), id, p.type, p.timeout.count()));
    }

    void finish(Pending& p, Result<Reply> r) {
        try {
            p.done(std::move(r));
        } catch (const std::exception& e) {
            log::error("{}: reply handler threw: {}", config_.describe(self_), e.what());
        }
    }

    // ---- writing -------------------------------------------------------------

    void start_write(Peer& peer) {
        if (peer.state == PeerState::failed || stopping_) return;
        std::unique_lock lk(peer.wmu);
        peer.kick_posted = false;
        if (peer.writing) return;
        if (!peer.hello.empty()) {
            peer.in_flight.push_back(std::move(peer.hello));
            peer.hello.clear();
        } else if (peer.state == PeerState::connected) {
            while (!peer.queue.empty() && peer.in_flight.size() < MAX_WRITE_BATCH) {
                peer.in_flight.push_back(std::move(peer.queue.front()));
                peer.queue.pop_front();
            }
            // The handshake frame is out and the queue drained: from now on
            // other threads may write directly when the writer is idle.
            peer.direct_ok = true;
        }
        if (peer.in_flight.empty()) return;
        std::vector<asio::const_buffer> bufs;
        bufs.reserve(peer.in_flight.size());
        for (const Bytes& b : peer.in_flight) bufs.emplace_back(asio::buffer(b));
        peer.writing = true;
        lk.unlock();
        trace::mark("net.write", peer.in_flight.size());
        asio::async_write(*peer.socket, bufs, [this, &peer](const boost::system::error_code& ec, std::size_t) {
            {
                std::lock_guard wlk(peer.wmu);
                peer.writing = false;
                peer.in_flight.clear();
            }
            if (stopping_ || peer.state == PeerState::failed) return;
            if (ec) return fail_peer(peer, describe_ec(ec));
            start_write(peer);
        });
    }

    // ---- liveness (TransportOptions::heartbeat_interval) -----------------------

    // I/O thread, every heartbeat_interval / 2: fails connected peers silent
    // for peer_timeout, queues a heartbeat to the others when one is due.
    void arm_liveness() {
        if (stopping_) return;
        liveness_timer_.expires_after(std::max(options_.heartbeat_interval / 2, std::chrono::milliseconds(1)));
        liveness_timer_.async_wait([this](const boost::system::error_code& ec) {
            if (ec || stopping_) return;
            check_liveness();
            arm_liveness();
        });
    }

    void check_liveness() {
        const auto now = Clock::now();
        for (auto& p : peers_) {
            Peer& peer = *p;
            if (peer.id == self_ || peer.state != PeerState::connected) continue;
            if (peer.silence_limit.count() > 0 && now - peer.last_rx > peer.silence_limit) {
                // Unread bytes mean this I/O thread fell behind, not that the peer went quiet.
                boost::system::error_code ec;
                if (peer.socket->available(ec) > 0 && !ec) {
                    peer.last_rx = now;
                } else {
                    auto silent = std::chrono::duration<double>(now - peer.last_rx).count();
                    fail_peer(peer, fmt::format("no traffic for {:.1f} s", silent));
                    continue;
                }
            }
            if (now - peer.last_heartbeat >= options_.heartbeat_interval) {
                peer.last_heartbeat = now;
                auto frame = make_frame(HEARTBEAT_TYPE, 0, 0, {}, options_.max_payload);
                if (frame) enqueue(peer.id, std::move(*frame));
            }
        }
    }

    // ---- failure and shutdown --------------------------------------------------

    void fail_peer(Peer& peer, const std::string& what) {
        if (peer.state == PeerState::failed) return;
        std::string reason = fmt::format("{}: {}", config_.describe(peer.id), what);
        {
            std::lock_guard lock(state_mu_);
            peer.state = PeerState::failed;
            peer.failure = reason;
        }
        state_cv_.notify_all();
        {
            // No direct writer may be inside ::send on this fd while it closes.
            std::lock_guard lk(peer.wmu);
            peer.direct_ok = false;
            peer.queue.clear();
            if (peer.socket) close_socket(*peer.socket);
        }
        peer.timer.cancel();
        peer.hello.clear();
        fail_pending(peer.id, Error{ECONNABORTED, reason});
        if (stopping_) return;
        // The handler owns reporting; log loudly only if nobody else will.
        if (on_peer_failed_)
            log::info("{}", reason);
        else
            log::warn("{}", reason);
        if (on_peer_failed_) {
            try {
                on_peer_failed_(peer.id, reason);
            } catch (const std::exception& e) {
                log::error("{}: on_peer_failed handler threw: {}", config_.describe(self_), e.what());
            }
        }
    }

    // Fails pending requests to `node` (all of them if node is nullopt).
    void fail_pending(std::optional<NodeId> node, const Error& err) {
        std::vector<Pending> victims;
        for (auto it = pending_.begin(); it != pending_.end();) {
            if (!node || it->second.node == *node) {
                it->second.timer->cancel();
                victims.push_back(std::move(it->second));
                it = pending_.erase(it);
            } else {
                ++it;
            }
        }
        for (auto& p : victims) finish(p, err);
    }

    void shutdown_io() {
        boost::system::error_code ignored;
        acceptor_.close(ignored);
        liveness_timer_.cancel();
        for (auto& in : inbound_) {
            close_socket(in->socket);
            in->timer.cancel();
        }
        inbound_.clear();
        for (auto& p : peers_) {
            {
                std::lock_guard lk(p->wmu);
                p->direct_ok = false;
                p->queue.clear();
                if (p->socket) close_socket(*p->socket);
            }
            p->timer.cancel();
        }
        fail_pending(std::nullopt, make_error(ESHUTDOWN, "{}: transport stopped", config_.describe(self_)));
        work_.reset();
        // Remaining handlers see stopping_ and return; run() then ends by itself.
    }

    ClusterConfig config_;
    NodeId self_;
    MessageTypes types_;
    MessageHandler on_message_;
    PeerFailedHandler on_peer_failed_;
    TransportOptions options_;

    asio::io_context io_;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
    tcp::acceptor acceptor_;
    asio::steady_timer liveness_timer_;
    std::thread thread_;
    std::vector<std::unique_ptr<Peer>> peers_;  // indexed by id; never resized after construction
    std::set<std::shared_ptr<Inbound>> inbound_;
    std::unordered_map<std::uint64_t, Pending> pending_;

    std::atomic<bool> started_{false};
    std::atomic<bool> running_{false};   // start() done and stop() not yet called
    std::atomic<bool> stopping_{false};  // stop() called; set under state_mu_ too
    std::atomic<std::uint64_t> next_request_id_{1};
    std::atomic<std::thread::id> io_thread_id_{};
    std::uint16_t listen_port_ = 0;
    mutable std::mutex state_mu_;
    std::condition_variable state_cv_;
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

Transport::Cork::Cork(Transport& t) : t_(t) { ++t_cork_depth; }
Transport::Cork::~Cork() { --t_cork_depth; }
NodeId Transport::self() const { return impl_->self(); }
const ClusterConfig& Transport::config() const { return impl_->config(); }
bool Transport::running() const { return impl_->running(); }
bool Transport::peer_connected(NodeId node) const { return impl_->peer_connected(node); }
std::string Transport::peer_failure(NodeId node) const { return impl_->peer_failure(node); }
std::uint16_t Transport::listen_port() const { return impl_->listen_port(); }

}  // namespace spanvm::net
