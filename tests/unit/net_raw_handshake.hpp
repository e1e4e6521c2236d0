#pragma once
// Tests that play a node by hand over a raw socket: the dialling side of the
// authenticated handshake (net/handshake.hpp), done synchronously.
#include <doctest/doctest.h>

#include <utility>  // before Boost 1.74 asio, whose awaitable.hpp misses it under GCC 12

#include <boost/asio.hpp>

#include "net/cluster_config.hpp"
#include "net/handshake.hpp"
#include "net/wire_frame.hpp"

namespace spanvm::net::testing {

inline HandshakeSetup setup_of(const ClusterConfig& cfg, std::uint32_t version = 1) {
    return HandshakeSetup{cfg.name, version, cfg.encrypt, cfg.key.value_or(ClusterKey{})};
}

// Reads one whole frame from a blocking socket.
inline Frame read_frame(boost::asio::ip::tcp::socket& s) {
    Bytes hdr(FRAME_HEADER_SIZE);
    boost::asio::read(s, boost::asio::buffer(hdr));
    auto h = decode_header(hdr);
    REQUIRE(h.has_value());
    Frame f;
    f.header = *h;
    f.payload.resize(h->payload_length);
    boost::asio::read(s, boost::asio::buffer(f.payload));
    return f;
}

// Hello, challenge, proof as node `from` dialling node `to`; REQUIREs that
// the peer proved the key.
inline void dial_handshake(boost::asio::ip::tcp::socket& s, const ClusterConfig& cfg, NodeId from, NodeId to) {
    DialHandshake hs(setup_of(cfg), from, to);
    boost::asio::write(s, boost::asio::buffer(*make_frame(HANDSHAKE_TYPE, 0, 0, hs.hello())));
    Frame f = read_frame(s);
    REQUIRE(f.header.type == HANDSHAKE_TYPE);
    auto answer = hs.on_challenge(f.payload);
    REQUIRE(answer.refused == "");
    boost::asio::write(s, boost::asio::buffer(*make_frame(HANDSHAKE_TYPE, 0, 0, answer.proof)));
}

// The hello alone (for tests of what the acceptor checks before its challenge).
inline Bytes hello_frame(const ClusterConfig& cfg, NodeId from, NodeId to, std::uint32_t version = 1) {
    DialHandshake hs(setup_of(cfg, version), from, to);
    return *make_frame(HANDSHAKE_TYPE, 0, 0, hs.hello());
}

}  // namespace spanvm::net::testing
