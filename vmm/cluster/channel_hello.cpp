#include "vmm/cluster/channel_hello.hpp"

#include "net/wire_reader.hpp"
#include "net/wire_writer.hpp"

namespace spanvm::cluster {

net::Bytes encode_channel_hello(const ChannelHello& h) {
    net::WireWriter w(80);
    w.u64(h.cookie).u32(static_cast<std::uint32_t>(h.tid)).u16(h.node).blob(h.nonce).blob(h.mac);
    return w.take();
}

Result<ChannelHello> decode_channel_hello(net::ByteView payload) {
    net::WireReader r(payload);
    ChannelHello h;
    auto cookie = r.u64();
    if (!cookie) return cookie.error();
    auto tid = r.u32();
    if (!tid) return tid.error();
    auto node = r.u16();
    if (!node) return node.error();
    if (auto n = r.blob_into(h.nonce); !n) return n.error();
    if (auto m = r.blob_into(h.mac); !m) return m.error();
    if (auto end = r.expect_end(); !end) return end.error();
    h.cookie = *cookie;
    h.tid = static_cast<std::int32_t>(*tid);
    h.node = *node;
    return h;
}

net::Mac channel_hello_mac(const net::ClusterKey& key, const net::Nonce& challenge, const ChannelHello& h) {
    const net::Key256 k = net::hkdf_sha256(key.bytes, {}, "spanvm v1 syscall channel");
    net::WireWriter w(128);
    w.string("spanvm v1 channel hello").blob(challenge).blob(h.nonce);
    w.u64(h.cookie).u32(static_cast<std::uint32_t>(h.tid)).u16(h.node);
    return net::hmac_sha256(k, w.view());
}

bool channel_hello_valid(const net::ClusterKey& key, const net::Nonce& challenge, const ChannelHello& h) {
    return net::mac_equal(h.mac, channel_hello_mac(key, challenge, h));
}

net::SessionKeys channel_record_keys(const net::ClusterKey& key, const net::Nonce& challenge, const net::Nonce& node_nonce,
                                     bool node_side) {
    net::WireWriter salt(64);
    salt.blob(challenge).blob(node_nonce);
    const net::Key256 n2o = net::hkdf_sha256(key.bytes, salt.view(), "spanvm v1 channel node->origin");
    const net::Key256 o2n = net::hkdf_sha256(key.bytes, salt.view(), "spanvm v1 channel origin->node");
    return node_side ? net::SessionKeys{n2o, o2n} : net::SessionKeys{o2n, n2o};
}

}  // namespace spanvm::cluster
