#pragma once
// The messages by which a node's daemon starts the session of an exec
// placed on its host (`spanvm run --place-exec`; docs/ARCHITECTURE.md, "An
// exec placed on another node"), and reports its load. Pure codec, no I/O.
// They travel through the run's ControlChannel like the other cluster
// messages (cluster_messages.hpp), between the run's origin and host k's
// `spanvm node` (the daemon):
//
//   SessionStart  origin -> node k   a deputy at the origin listens on
//                                    `deputy_port` (the origin's address):
//                                    start a session node for it here
//   SessionReady  node k -> origin   the answer to SessionStart `seq`: the
//                                    session listens on `port` (0: it could
//                                    not start; `reason` says why), and the
//                                    daemon now runs `sessions` of them
//   NodeLoad      node k -> origin   the daemon's load: sessions running and
//                                    the CPUs it may use; sent when it joins
//                                    and whenever a session ends
//
// and, on a deputy's own cluster of two, once the session has joined:
//
//   ChannelOffer  deputy -> session  guest thread `tid` will be spawned on
//                                    the session: dial its syscall channel
//                                    now (the deputy's ChannelListener at
//                                    `port`, `cookie`), while the deputy
//                                    loads the image, not when its Spawn
//                                    comes (the Spawn carries the same port
//                                    and cookie; a session that did not dial
//                                    ahead dials then)
//
// The origin's SessionReady/NodeLoad handler must not block (it runs on the
// transport's I/O thread).
#include <cstdint>
#include <string>

#include "net/wire_frame.hpp"
#include "vmm/base/result.hpp"

namespace spanvm::cluster {

inline constexpr std::uint16_t kSessionStartType = 0x020B;
inline constexpr std::uint16_t kSessionReadyType = 0x020C;
inline constexpr std::uint16_t kNodeLoadType = 0x020D;
inline constexpr std::uint16_t kChannelOfferType = 0x020E;
inline constexpr std::size_t kMaxSessionReason = 512;

struct SessionStartMsg {
    std::uint64_t seq = 0;
    std::uint16_t deputy_port = 0;  // node 0 of the session's cluster of two, at the origin's address
    bool operator==(const SessionStartMsg&) const = default;
};

struct SessionReadyMsg {
    std::uint64_t seq = 0;
    std::uint16_t port = 0;      // node 1 of the session's cluster, at node k's address; 0: failed
    std::uint32_t sessions = 0;  // sessions the daemon runs now (this one included)
    std::string reason;          // why it failed (port 0); at most kMaxSessionReason bytes
    bool operator==(const SessionReadyMsg&) const = default;
};

struct NodeLoadMsg {
    std::uint32_t sessions = 0;  // sessions the daemon runs now
    std::uint32_t cpus = 0;      // CPUs the daemon (and so its sessions) may use
    bool operator==(const NodeLoadMsg&) const = default;
};

struct ChannelOfferMsg {
    std::int32_t tid = 0;       // the guest thread the Spawn will name (> 0)
    std::uint16_t port = 0;     // the deputy's ChannelListener, at the deputy's address (not 0)
    std::uint64_t cookie = 0;   // its cookie, as in the Spawn
    bool operator==(const ChannelOfferMsg&) const = default;
};

net::Bytes encode(const SessionStartMsg& m);
net::Bytes encode(const SessionReadyMsg& m);
net::Bytes encode(const NodeLoadMsg& m);
net::Bytes encode(const ChannelOfferMsg& m);
Result<SessionStartMsg> decode_session_start(net::ByteView b);
Result<SessionReadyMsg> decode_session_ready(net::ByteView b);
Result<NodeLoadMsg> decode_node_load(net::ByteView b);
Result<ChannelOfferMsg> decode_channel_offer(net::ByteView b);

}  // namespace spanvm::cluster
