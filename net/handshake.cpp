#include "net/handshake.hpp"

#include <fmt/format.h>

#include "net/wire_reader.hpp"
#include "net/wire_writer.hpp"

namespace spanvm::net {

Bytes encode_handshake(const Handshake& h) {
    WireWriter w(16 + h.cluster.size());
    w.string(h.cluster).u16(h.from).u16(h.to).u32(h.protocol_version);
    return w.take();
}

Result<Handshake> decode_handshake(ByteView payload) {
    WireReader r(payload);
    Handshake h;
    auto cluster = r.string();
    if (!cluster) return cluster.error();
    auto from = r.u16();
    if (!from) return from.error();
    auto to = r.u16();
    if (!to) return to.error();
    auto version = r.u32();
    if (!version) return version.error();
    if (auto end = r.expect_end(); !end) return end.error();
    h.cluster = std::move(*cluster);
    h.from = *from;
    h.to = *to;
    h.protocol_version = *version;
    return h;
}

std::string check_handshake(const Handshake& h, const std::string& cluster, NodeId self, NodeId expected_from,
                            std::uint32_t protocol_version) {
    if (h.cluster != cluster) return fmt::format("cluster name '{}' does not match '{}'", h.cluster, cluster);
    if (h.protocol_version != protocol_version)
        return fmt::format("protocol version {} does not match {}", h.protocol_version, protocol_version);
    if (h.from != expected_from) return fmt::format("claims to be node {}, expected node {}", h.from, expected_from);
    if (h.to != self) return fmt::format("addressed to node {}, this is node {}", h.to, self);
    return {};
}

}  // namespace spanvm::net
