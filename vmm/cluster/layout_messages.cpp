#include "vmm/cluster/layout_messages.hpp"

#include "net/wire_reader.hpp"
#include "net/wire_writer.hpp"

namespace spanvm::cluster {

// Wire: u64 seq, u32 runs; per run: u64 start, u64 end, u8 accessible (0|1).
net::Bytes encode(const LayoutMsg& m) {
    net::WireWriter w;
    w.u64(m.seq).u32(static_cast<std::uint32_t>(m.runs.size()));
    for (const auto& r : m.runs) w.u64(r.start).u64(r.end).u8(r.accessible ? 1 : 0);
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
        if (*s >= *e || *a > 1) return make_error(EINVAL, "Layout run [{:#x}, {:#x}) state {}", *s, *e, *a);
        r = {*s, *e, *a == 1};
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
