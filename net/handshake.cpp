#include "net/handshake.hpp"

#include <stdexcept>

#include <fmt/format.h>

#include "net/wire_reader.hpp"
#include "net/wire_writer.hpp"

namespace spanvm::net {

namespace {

constexpr std::string_view kTranscriptLabel = "spanvm handshake v1";
constexpr std::string_view kMacKeyInfo = "spanvm v1 handshake mac";
constexpr std::string_view kDialToAccept = "spanvm v1 record dialer->acceptor";
constexpr std::string_view kAcceptToDial = "spanvm v1 record acceptor->dialer";
constexpr std::string_view kWrongKey = "wrong cluster key (its proof of the key does not verify)";

Result<Handshake> decode_current(ByteView payload);

bool is_legacy_handshake(ByteView payload) {
    WireReader r(payload);
    return r.string() && r.u16() && r.u16() && r.u32() && r.expect_end();
}

SessionKeys derive_session(const HandshakeSetup& s, ByteView transcript, bool dialer) {
    Key256 d2a = hkdf_sha256(s.key.bytes, transcript, kDialToAccept);
    Key256 a2d = hkdf_sha256(s.key.bytes, transcript, kAcceptToDial);
    return dialer ? SessionKeys{d2a, a2d} : SessionKeys{a2d, d2a};
}

}  // namespace

Nonce fresh_nonce() {
    Nonce n;
    if (auto r = random_bytes(n); !r) throw std::runtime_error(r.error().message);
    return n;
}

Bytes encode_handshake(const Handshake& h) {
    WireWriter w(128 + h.cluster.size());
    w.u8(static_cast<std::uint8_t>(h.kind));
    if (h.kind != HandshakeKind::proof) {
        w.string(h.cluster).u16(h.from).u16(h.to).u32(h.protocol_version).u8(h.encrypt ? 1 : 0);
        w.blob(h.nonce);
    }
    if (h.kind != HandshakeKind::hello) w.blob(h.mac);
    return w.take();
}

Result<Handshake> decode_handshake(ByteView payload) {
    auto h = decode_current(payload);
    if (!h && is_legacy_handshake(payload))
        return make_error(EPROTO, "unauthenticated handshake (no proof of the cluster key)");
    return h;
}

namespace {

Result<Handshake> decode_current(ByteView payload) {
    WireReader r(payload);
    Handshake h;
    auto kind = r.u8();
    if (!kind) return kind.error();
    if (*kind < 1 || *kind > 3) return make_error(EPROTO, "unknown handshake kind {}", *kind);
    h.kind = static_cast<HandshakeKind>(*kind);
    if (h.kind != HandshakeKind::proof) {
        auto cluster = r.string();
        if (!cluster) return cluster.error();
        auto from = r.u16();
        if (!from) return from.error();
        auto to = r.u16();
        if (!to) return to.error();
        auto version = r.u32();
        if (!version) return version.error();
        auto encrypt = r.u8();
        if (!encrypt) return encrypt.error();
        if (*encrypt > 1) return make_error(EPROTO, "bad encrypt flag {}", *encrypt);
        if (auto n = r.blob_into(h.nonce); !n) return n.error();
        h.cluster = std::move(*cluster);
        h.from = *from;
        h.to = *to;
        h.protocol_version = *version;
        h.encrypt = *encrypt == 1;
    }
    if (h.kind != HandshakeKind::hello)
        if (auto m = r.blob_into(h.mac); !m) return m.error();
    if (auto end = r.expect_end(); !end) return end.error();
    return h;
}

}  // namespace

std::string check_handshake(const Handshake& h, const HandshakeSetup& s, NodeId self, NodeId expected_from) {
    if (h.cluster != s.cluster) return fmt::format("cluster name '{}' does not match '{}'", h.cluster, s.cluster);
    if (h.protocol_version != s.protocol_version)
        return fmt::format("protocol version {} does not match {}", h.protocol_version, s.protocol_version);
    if (h.from != expected_from) return fmt::format("claims to be node {}, expected node {}", h.from, expected_from);
    if (h.to != self) return fmt::format("addressed to node {}, this is node {}", h.to, self);
    if (h.encrypt != s.encrypt)
        return fmt::format("encryption is {} there and {} here", h.encrypt ? "on" : "off", s.encrypt ? "on" : "off");
    return {};
}

Bytes handshake_transcript(const HandshakeSetup& s, NodeId dialer, NodeId acceptor, const Nonce& dialer_nonce,
                           const Nonce& acceptor_nonce) {
    WireWriter w(128 + s.cluster.size());
    w.string(kTranscriptLabel).string(s.cluster).u16(dialer).u16(acceptor).u32(s.protocol_version);
    w.u8(s.encrypt ? 1 : 0).blob(dialer_nonce).blob(acceptor_nonce);
    return w.take();
}

Mac handshake_mac(const ClusterKey& key, bool acceptor, ByteView transcript) {
    const Key256 mac_key = hkdf_sha256(key.bytes, {}, kMacKeyInfo);
    WireWriter w(16 + transcript.size());
    w.string(acceptor ? "acceptor" : "dialer").blob(transcript);
    return hmac_sha256(mac_key, w.view());
}

// ---- the dialling end ----------------------------------------------------------

DialHandshake::DialHandshake(HandshakeSetup setup, NodeId self, NodeId peer)
    : setup_(std::move(setup)), self_(self), peer_(peer), nonce_(fresh_nonce()) {}

Bytes DialHandshake::hello() const {
    Handshake h{HandshakeKind::hello, setup_.cluster, self_, peer_, setup_.protocol_version, setup_.encrypt, nonce_, {}};
    return encode_handshake(h);
}

DialHandshake::Answer DialHandshake::on_challenge(ByteView payload) {
    auto h = decode_handshake(payload);
    if (!h) return {{}, "malformed handshake: " + h.error().message};
    if (h->kind != HandshakeKind::challenge) return {{}, "expected a key challenge"};
    if (auto why = check_handshake(*h, setup_, self_, peer_); !why.empty()) return {{}, why};
    const Bytes t = handshake_transcript(setup_, self_, peer_, nonce_, h->nonce);
    Handshake proof;
    proof.kind = HandshakeKind::proof;
    proof.mac = handshake_mac(setup_.key, false, t);
    Answer a{encode_handshake(proof), {}};
    if (!mac_equal(h->mac, handshake_mac(setup_.key, true, t))) {
        a.refused = std::string(kWrongKey);
        return a;
    }
    keys_ = derive_session(setup_, t, true);
    return a;
}

// ---- the accepting end -----------------------------------------------------------

AcceptHandshake::AcceptHandshake(HandshakeSetup setup, NodeId self, const Handshake& hello)
    : setup_(std::move(setup)), self_(self), peer_(hello.from), peer_nonce_(hello.nonce), nonce_(fresh_nonce()) {
    transcript_ = handshake_transcript(setup_, peer_, self_, peer_nonce_, nonce_);
}

Bytes AcceptHandshake::challenge() const {
    Handshake h{HandshakeKind::challenge, setup_.cluster, self_, peer_, setup_.protocol_version, setup_.encrypt, nonce_,
                handshake_mac(setup_.key, true, transcript_)};
    return encode_handshake(h);
}

std::string AcceptHandshake::on_proof(ByteView payload) {
    auto h = decode_handshake(payload);
    if (!h) return "malformed handshake: " + h.error().message;
    if (h->kind != HandshakeKind::proof) return "expected a proof of the cluster key";
    if (!mac_equal(h->mac, handshake_mac(setup_.key, false, transcript_))) return std::string(kWrongKey);
    keys_ = derive_session(setup_, transcript_, false);
    return {};
}

}  // namespace spanvm::net
