#include "vmm/cluster/layout_messages.hpp"

#include "net/wire_reader.hpp"
#include "net/wire_writer.hpp"

namespace spanvm::cluster {

// Wire: u64 seq, u32 runs; per run: u64 start, u64 end, u8 access (the
// guest's PROT_READ|PROT_WRITE|PROT_EXEC bits, normalized: 0 or with
// PROT_READ; memory::normalize_access).
net::Bytes encode(const LayoutMsg& m) {
    net::WireWriter w;
    w.u64(m.seq).u32(static_cast<std::uint32_t>(m.runs.size()));
    for (const auto& r : m.runs) w.u64(r.start).u64(r.end).u8(static_cast<std::uint8_t>(r.access));
    return w.take();
}

// Wire: u64 seq.
net::Bytes encode(const LayoutAckMsg& m) {
    net::WireWriter w;
    w.u64(m.seq);
    return w.take();
}

Result<LayoutMsg> decode_layout(net::ByteView b) {
    net::WireReader rd(b);
    LayoutMsg m;
    auto seq = rd.u64();
    if (!seq) return seq.error();
    m.seq = *seq;
    auto n = rd.u32();
    if (!n) return n.error();
    if (*n > kMaxLayoutRuns) return make_error(EINVAL, "Layout message with {} runs", *n);
    m.runs.resize(*n);
    for (auto& r : m.runs) {
        auto s = rd.u64();
        if (!s) return s.error();
        auto e = rd.u64();
        if (!e) return e.error();
        auto a = rd.u8();
        if (!a) return a.error();
        if (*s >= *e || memory::normalize_access(*a) != *a)
            return make_error(EINVAL, "Layout run [{:#x}, {:#x}) access {}", *s, *e, *a);
        r = {*s, *e, *a};
    }
    if (auto e = rd.expect_end(); !e) return e.error();
    return m;
}

Result<LayoutAckMsg> decode_layout_ack(net::ByteView b) {
    net::WireReader rd(b);
    auto seq = rd.u64();
    if (!seq) return seq.error();
    if (auto e = rd.expect_end(); !e) return e.error();
    return LayoutAckMsg{*seq};
}

}  // namespace spanvm::cluster
