#pragma once
// Internal to the transport (see net/link_context.hpp). Making connections:
// the listening socket, dialling the higher ids (redialling after half the
// time spent so far, 1 ms to retry_interval, until connect_timeout), and
// checking the handshake on connections the lower ids dial to us before
// handing them to their PeerLink. A connection that fails that check is closed
// and logged ("rejected connection from ..."); if it came from a known, still
// connecting node with a wrong cluster/version, that peer fails too.
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "net/frame_decoder.hpp"
#include "net/link_context.hpp"

namespace spanvm::net {

class PeerLink;

class Dialer {
public:
    Dialer(LinkContext& ctx, const std::vector<std::unique_ptr<PeerLink>>& peers);

    // Caller thread. Binds the listening socket and returns its port. Throws
    // std::runtime_error (one line) if it cannot.
    std::uint16_t listen();
    // Caller thread, after listen(): dials the higher ids, gives the lower ids
    // until `deadline` to dial us, and starts accepting.
    void start(Clock::time_point deadline);
    // I/O thread, at shutdown: closes the listening socket and every
    // connection whose handshake is still awaited.
    void stop();

private:
    // A connection dialled to us, until its handshake is checked.
    struct Inbound {
        Inbound(asio::io_context& io, tcp::socket s, std::uint32_t max_payload);
        tcp::socket socket;
        FrameDecoder decoder;
        std::unique_ptr<std::uint8_t[]> read_buf;  // not zeroed (peer_link.hpp)
        asio::steady_timer timer;
        std::string remote;
    };

    void dial(PeerLink& peer);
    void accept_next();
    void start_inbound(tcp::socket s);
    void read_inbound(std::shared_ptr<Inbound> in);
    void on_inbound_handshake(const std::shared_ptr<Inbound>& in, Frame frame);
    void reject_inbound(const std::shared_ptr<Inbound>& in, const std::string& why);

    LinkContext& ctx_;
    const std::vector<std::unique_ptr<PeerLink>>& peers_;  // indexed by id
    tcp::acceptor acceptor_;
    std::set<std::shared_ptr<Inbound>> inbound_;
    Clock::time_point deadline_;  // connect_timeout after start(), for every peer
};

}  // namespace spanvm::net
