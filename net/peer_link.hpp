#pragma once
// Internal to the transport (see net/link_context.hpp). One peer's
// connection: socket, read loop and frame decoding, the handshake on an
// outbound connection, the connection state, its writer and liveness clock,
// and failure. The Dialer creates the connection; PeerLink runs it.
//
// State: connecting -> handshaking -> connected -> failed (permanent).
// Handshaking (net/handshake.hpp): when we dialled, our hello is out and we
// wait for the peer's challenge (then send our proof); when the peer dialled
// us, the Dialer checked its hello, our challenge is out and we wait for its
// proof. Only a peer that proved the cluster key becomes connected: no frame
// reaches LinkEvents::on_frame before. With --encrypt the link then reads
// and writes records (net/record_cipher.hpp). state is written on the I/O
// thread under LinkContext::state_mu; failure() is guarded by it.
#include <chrono>
#include <memory>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "net/frame_decoder.hpp"
#include "net/frame_writer.hpp"
#include "net/handshake.hpp"
#include "net/link_context.hpp"
#include "net/liveness.hpp"
#include "net/record_cipher.hpp"
#include "net/wire_frame.hpp"

namespace spanvm::net {

enum class PeerState { connecting, handshaking, connected, failed };

// What a PeerLink reports to the transport that owns it (I/O thread, no lock held).
class LinkEvents {
public:
    virtual ~LinkEvents() = default;
    // A frame from the connected peer. Returns a protocol-violation reason
    // (the link then fails with it), empty if the frame was fine.
    virtual std::string on_frame(NodeId from, Frame& f) = 0;
    // The link has just failed: its state, socket and queue are closed.
    virtual void on_link_failed(NodeId peer, const std::string& reason) = 0;
};

class PeerLink {
public:
    PeerLink(LinkContext& ctx, LinkEvents& events, NodeId id, std::chrono::milliseconds silence_limit);

    NodeId id() const { return id_; }
    // Read on the I/O thread freely, elsewhere under ctx.state_mu.
    PeerState state() const { return state_; }
    const std::string& failure() const { return failure_; }  // under ctx.state_mu

    // ---- any thread ----
    // Sends a frame (see FrameWriter: direct write, or queued for the I/O
    // thread). `batch`: only queue it.
    void send(Bytes frame, bool batch);

    // For a process about to exit (see FrameWriter::last_words and
    // wait_acknowledged; connected links only, else false).
    bool last_words(const Bytes& frame, Clock::time_point deadline);
    bool wait_acknowledged(Clock::time_point deadline);

    // ---- I/O thread ----
    // Used by the Dialer while connecting: a fresh socket for the next
    // attempt, and the timer (dial retry / connect deadline, later the
    // handshake deadline).
    tcp::socket& new_socket();
    tcp::socket& socket() { return *socket_; }
    boost::asio::steady_timer& timer() { return timer_; }
    // Our dial succeeded: send our handshake, read theirs (handshake_timeout,
    // or until `connect_deadline` if later: a dial that a listening socket's
    // backlog accepted before its owner got to accept() (a node still
    // starting, cli/local_hosts.hpp) keeps the time a refused dial would
    // have had to be redialled).
    void dialled(Clock::time_point connect_deadline = {});
    // The peer dialled us and the Dialer accepted its `hello`: send our
    // challenge and wait for its proof (handshake_timeout).
    void adopt(tcp::socket socket, FrameDecoder decoder, const Handshake& hello);

    void enqueue(Bytes frame);  // queue and start writing (dropped once failed or stopping)
    void start_write();
    void fail(const std::string& what);  // no-op once failed
    void close();                        // at shutdown: no report

    PeerClock& clock() { return clock_; }
    bool has_unread_bytes();  // bytes wait in the socket

private:
    Bytes handshake_frame(const Bytes& payload) const;
    // The handshake frame `f` while handshaking; false if the link failed.
    bool on_handshake_frame(Frame& f);
    // The peer proved the key: switch to records if encrypting, then connected.
    void handshake_done(const SessionKeys& keys);
    // Moves decrypted records into the frame decoder; false if the link failed.
    bool open_records();
    void arm_handshake_timer(Clock::time_point not_before = {});
    void mark_connected();
    void set_state(PeerState s);
    void start_read();
    bool drain_frames();
    bool stopping_or_failed() const;
    // A write failed: a connected link lets its read side report the end
    // (the peer's last frames come first), bounded by a timer.
    void write_failed(const std::string& why);

    LinkContext& ctx_;
    LinkEvents& events_;
    const NodeId id_;
    std::unique_ptr<tcp::socket> socket_;
    FrameDecoder decoder_;
    // Not zeroed: a socket read writes only the bytes it returns, so only
    // those pages fault in (a zeroed 64 KiB vector was 16 page faults per
    // link, i.e. per deputy and session of each placed exec).
    std::unique_ptr<std::uint8_t[]> read_buf_;
    FrameWriter writer_;
    boost::asio::steady_timer timer_;
    PeerState state_ = PeerState::connecting;
    std::unique_ptr<DialHandshake> dial_hs_;      // while handshaking, when we dialled
    std::unique_ptr<AcceptHandshake> accept_hs_;  // while handshaking, when the peer dialled
    std::unique_ptr<RecordOpener> opener_;        // --encrypt, once connected
    std::string failure_;
    PeerClock clock_;
    bool write_waiting_ = false;  // waiting for the socket to take more (I/O thread)
    bool write_failed_ = false;   // a write failed; the read side or the timer fails the link
    std::string write_failure_;
};

}  // namespace spanvm::net
