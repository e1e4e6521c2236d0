#pragma once
// The first frame on every connection, in both directions (type
// HANDSHAKE_TYPE, request id 0). Pure encode/decode; validation against the
// local node is done by the transport.
#include <cstdint>
#include <string>

#include "net/cluster_config.hpp"
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

struct Handshake {
    std::string cluster;                 // ClusterConfig::name, must match
    NodeId from = 0;                     // sender's node id
    NodeId to = 0;                       // node id the sender believes it is talking to
    std::uint32_t protocol_version = 0;  // TransportOptions::protocol_version, must match
};

Bytes encode_handshake(const Handshake& h);
Result<Handshake> decode_handshake(ByteView payload);

// Empty string if `h` is acceptable to node `self` of cluster `cluster`
// speaking `protocol_version` and coming from `expected_from`; else the reason.
std::string check_handshake(const Handshake& h, const std::string& cluster, NodeId self, NodeId expected_from,
                            std::uint32_t protocol_version);

}  // namespace spanvm::net
