#pragma once
// The syscall channel's opening (vmm/cluster/syscall_channel.hpp): proof
// that the connecting node holds the cluster key, bound to this very
// connection, so that a hello can be neither guessed nor replayed.
//
//   origin, on accept:   challenge {nonce_O}                                  (32 fresh random bytes)
//   node:                hello {cookie, tid, node, nonce_N, mac}
//   K_ch = HKDF-SHA256(cluster key, "", "spanvm v1 syscall channel")
//   mac  = HMAC-SHA256(K_ch, "spanvm v1 channel hello" | nonce_O | nonce_N | cookie | tid | node)
//
// nonce_O is new for every accepted connection, so a hello recorded on one
// connection fails on any other; without the key no valid mac can be made.
// The cookie (random per origin run, sent in every Spawn) further ties the
// hello to this run's listener. With --encrypt both directions then carry
// records (net/record_cipher.hpp) under HKDF-SHA256(cluster key,
// nonce_O | nonce_N, "spanvm v1 channel node->origin" / "...origin->node").
// Pure computation; no I/O.
#include <cstdint>

#include "net/cluster_key.hpp"
#include "net/crypto.hpp"
#include "net/handshake.hpp"
#include "net/wire_frame.hpp"
#include "vmm/base/result.hpp"

namespace spanvm::cluster {

struct ChannelHello {
    std::uint64_t cookie = 0;
    std::int32_t tid = 0;
    std::uint16_t node = 0;
    net::Nonce nonce{};  // nonce_N
    net::Mac mac{};
};

net::Bytes encode_channel_hello(const ChannelHello& h);
Result<ChannelHello> decode_channel_hello(net::ByteView payload);

// The mac a node with `key` puts in its hello after `challenge` (nonce_O).
net::Mac channel_hello_mac(const net::ClusterKey& key, const net::Nonce& challenge, const ChannelHello& h);
// True if `h` answers `challenge` with a valid mac (CRYPTO_memcmp).
bool channel_hello_valid(const net::ClusterKey& key, const net::Nonce& challenge, const ChannelHello& h);

// Record keys for --encrypt, for the node's (node_side) or the origin's end.
net::SessionKeys channel_record_keys(const net::ClusterKey& key, const net::Nonce& challenge, const net::Nonce& node_nonce,
                                     bool node_side);

}  // namespace spanvm::cluster
