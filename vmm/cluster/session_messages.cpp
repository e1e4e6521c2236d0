#include "vmm/cluster/session_messages.hpp"

#include <cstdint>

#include "net/wire_reader.hpp"
#include "net/wire_writer.hpp"

namespace spanvm::cluster {

// Wire: u64 seq, u16 deputy_port (not 0).
net::Bytes encode(const SessionStartMsg& m) {
    net::WireWriter w;
    w.u64(m.seq).u16(m.deputy_port);
    return w.take();
}

// Wire: u64 seq, u16 port, u32 sessions, u16-prefixed reason (empty unless port is 0).
net::Bytes encode(const SessionReadyMsg& m) {
    net::WireWriter w;
    w.u64(m.seq).u16(m.port).u32(m.sessions);
    w.string(m.reason.size() > kMaxSessionReason ? m.reason.substr(0, kMaxSessionReason) : m.reason);
    return w.take();
}

// Wire: u32 sessions, u32 cpus.
net::Bytes encode(const NodeLoadMsg& m) {
    net::WireWriter w;
    w.u32(m.sessions).u32(m.cpus);
    return w.take();
}

// Wire: u32 tid (> 0), u16 port (not 0), u64 cookie.
net::Bytes encode(const ChannelOfferMsg& m) {
    net::WireWriter w;
    w.u32(static_cast<std::uint32_t>(m.tid)).u16(m.port).u64(m.cookie);
    return w.take();
}

Result<SessionStartMsg> decode_session_start(net::ByteView b) {
    net::WireReader rd(b);
    auto seq = rd.u64();
    auto port = seq ? rd.u16() : Result<std::uint16_t>(seq.error());
    if (!port) return port.error();
    if (*port == 0) return make_error(EINVAL, "SessionStart without a deputy port");
    if (auto e = rd.expect_end(); !e) return e.error();
    return SessionStartMsg{*seq, *port};
}

Result<SessionReadyMsg> decode_session_ready(net::ByteView b) {
    net::WireReader rd(b);
    auto seq = rd.u64();
    auto port = seq ? rd.u16() : Result<std::uint16_t>(seq.error());
    auto sessions = port ? rd.u32() : Result<std::uint32_t>(port.error());
    auto reason = sessions ? rd.string() : Result<std::string>(sessions.error());
    if (!reason) return reason.error();
    if (reason->size() > kMaxSessionReason) return make_error(EINVAL, "SessionReady reason of {} bytes", reason->size());
    if (*port != 0 && !reason->empty()) return make_error(EINVAL, "SessionReady with a port and a failure");
    if (auto e = rd.expect_end(); !e) return e.error();
    return SessionReadyMsg{*seq, *port, *sessions, std::move(*reason)};
}

Result<NodeLoadMsg> decode_node_load(net::ByteView b) {
    net::WireReader rd(b);
    auto sessions = rd.u32();
    auto cpus = sessions ? rd.u32() : Result<std::uint32_t>(sessions.error());
    if (!cpus) return cpus.error();
    if (auto e = rd.expect_end(); !e) return e.error();
    return NodeLoadMsg{*sessions, *cpus};
}

Result<ChannelOfferMsg> decode_channel_offer(net::ByteView b) {
    net::WireReader rd(b);
    auto tid = rd.u32();
    auto port = tid ? rd.u16() : Result<std::uint16_t>(tid.error());
    auto cookie = port ? rd.u64() : Result<std::uint64_t>(port.error());
    if (!cookie) return cookie.error();
    if (*tid == 0 || *tid > static_cast<std::uint32_t>(INT32_MAX)) return make_error(EINVAL, "ChannelOffer for thread {}", *tid);
    if (*port == 0) return make_error(EINVAL, "ChannelOffer without a port");
    if (auto e = rd.expect_end(); !e) return e.error();
    return ChannelOfferMsg{static_cast<std::int32_t>(*tid), *port, *cookie};
}

}  // namespace spanvm::cluster
