#pragma once
// The authenticated handshake: the first frames on every connection (type
// HANDSHAKE_TYPE, request id 0, flags 0), before which nothing else is read
// or written. It proves, in both directions, that the other end holds the
// cluster's secret key (net/cluster_key.hpp), and agrees on the cluster
// name, the node ids, the protocol version and whether to encrypt.
//
//   dialer D (lower id)                       acceptor A (higher id)
//   hello     {cluster, D, A, version, encrypt, nonce_D}   ->
//             <-  challenge {cluster, A, D, version, encrypt, nonce_A, mac_A}
//   proof     {mac_D}                                       ->
//
//   T     = "spanvm handshake v1" | cluster | D | A | version | encrypt | nonce_D | nonce_A
//   K_mac = HKDF-SHA256(key, "", "spanvm v1 handshake mac")
//   mac_A = HMAC-SHA256(K_mac, "acceptor" | T),  mac_D = HMAC-SHA256(K_mac, "dialer" | T)
//
// Each side checks the other's MAC with CRYPTO_memcmp before it counts the
// peer as connected. Both nonces are 32 fresh random bytes per connection,
// so a recorded proof is worthless on any other connection (replay), and the
// direction label keeps a MAC from being reflected back to its maker. The
// dialer sends its proof even when mac_A does not verify, so that a wrong
// key is refused with one line at both ends, not a timeout at one: the proof
// covers nonce_A, which a fresh acceptor never repeats, so it is of no use
// to whoever collected it. Only the handshake's own fields travel in the
// clear; nothing of the DSM or the cluster is read before the proof checks.
//
// Session keys (--encrypt, net/record_cipher.hpp): one per direction,
// HKDF-SHA256(key, T, "spanvm v1 record dialer->acceptor" / "...acceptor->dialer").
//
// The pre-authentication handshake (a bare {cluster, from, to, version}) is
// refused as "unauthenticated". Pure computation (OpenSSL); no I/O.
#include <array>
#include <cstdint>
#include <string>

#include "net/cluster_config.hpp"
#include "net/cluster_key.hpp"
#include "net/crypto.hpp"
#include "net/message_types.hpp"
#include "net/wire_frame.hpp"
#include "vmm/base/result.hpp"

namespace spanvm::net {

inline constexpr std::uint16_t HANDSHAKE_TYPE = TRANSPORT_RESERVED_FIRST + 0;
// RTT probe request/response, answered by the transport itself (rtt_probe.hpp).
inline constexpr std::uint16_t PROBE_TYPE = TRANSPORT_RESERVED_FIRST + 1;
// Liveness heartbeat (empty payload, no flags): sent by a transport with
// TransportOptions::heartbeat_interval set, dropped on receipt by every
// transport (it only refreshes the peer's last-heard time).
inline constexpr std::uint16_t HEARTBEAT_TYPE = TRANSPORT_RESERVED_FIRST + 2;

inline constexpr std::size_t HANDSHAKE_NONCE_SIZE = 32;
using Nonce = std::array<std::uint8_t, HANDSHAKE_NONCE_SIZE>;

// A fresh random nonce; throws std::runtime_error if there is no randomness.
Nonce fresh_nonce();

enum class HandshakeKind : std::uint8_t { hello = 1, challenge = 2, proof = 3 };

struct Handshake {
    HandshakeKind kind = HandshakeKind::hello;
    std::string cluster;                 // ClusterConfig::name (hello, challenge)
    NodeId from = 0;                     // sender's node id
    NodeId to = 0;                       // node id the sender believes it is talking to
    std::uint32_t protocol_version = 0;  // TransportOptions::protocol_version
    bool encrypt = false;                // ClusterConfig::encrypt
    Nonce nonce{};                       // hello, challenge
    Mac mac{};                           // challenge, proof
};

Bytes encode_handshake(const Handshake& h);
// Any of the three kinds; the unauthenticated handshake of earlier spanvm
// versions is an error that says so.
Result<Handshake> decode_handshake(ByteView payload);

// What both ends must share.
struct HandshakeSetup {
    std::string cluster;
    std::uint32_t protocol_version = 0;
    bool encrypt = false;
    ClusterKey key;
};

// Per-direction record keys for --encrypt, from this end's point of view.
struct SessionKeys {
    Key256 send{};
    Key256 receive{};
};

// Empty string if a hello/challenge `h` is acceptable to node `self` coming
// from `expected_from`; else the reason.
std::string check_handshake(const Handshake& h, const HandshakeSetup& s, NodeId self, NodeId expected_from);

// The dialling end.
class DialHandshake {
public:
    DialHandshake(HandshakeSetup setup, NodeId self, NodeId peer);
    Bytes hello() const;  // message 1's payload
    // Message 2. `proof` (message 3's payload) is to be sent whenever it is
    // not empty, even when `refused` is set (see above); `refused` empty
    // means the peer proved the key and `keys()` are valid.
    struct Answer {
        Bytes proof;
        std::string refused;
    };
    Answer on_challenge(ByteView payload);
    SessionKeys keys() const { return keys_; }

private:
    HandshakeSetup setup_;
    NodeId self_, peer_;
    Nonce nonce_;
    SessionKeys keys_;
};

// The accepting end, once the hello passed check_handshake.
class AcceptHandshake {
public:
    AcceptHandshake(HandshakeSetup setup, NodeId self, const Handshake& hello);
    Bytes challenge() const;  // message 2's payload
    // Message 3: empty if the peer proved the key (keys() are then valid),
    // else the reason.
    std::string on_proof(ByteView payload);
    SessionKeys keys() const { return keys_; }

private:
    HandshakeSetup setup_;
    NodeId self_, peer_;
    Nonce peer_nonce_, nonce_;
    Bytes transcript_;
    SessionKeys keys_;
};

// ---- exposed for tests and the fuzz target ----
// T above, for dialer `dialer` and acceptor `acceptor`.
Bytes handshake_transcript(const HandshakeSetup& s, NodeId dialer, NodeId acceptor, const Nonce& dialer_nonce,
                           const Nonce& acceptor_nonce);
// mac_A (acceptor = true) or mac_D.
Mac handshake_mac(const ClusterKey& key, bool acceptor, ByteView transcript);

}  // namespace spanvm::net
