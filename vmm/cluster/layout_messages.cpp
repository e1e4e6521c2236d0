#include "vmm/cluster/layout_messages.hpp"

#include "net/wire_reader.hpp"
#include "net/wire_writer.hpp"
#include "vmm/memory/layout.hpp"

namespace spanvm::cluster {

// Wire: u64 seq, u32 runs; per run: u64 start, u64 end, u8 access (the
// guest's PROT_READ|PROT_WRITE|PROT_EXEC bits, normalized: 0 or with
// PROT_READ; memory::normalize_access). Then u32 files; per file: u32 id,
// u64 dev, u64 ino, u64 size, i64 mtime_ns, i64 ctime_ns, u32-prefixed
// path. Then u32 fills; per fill: u64 start, u64 end (page-aligned), u32
// file (0: zero), u64 offset (page-aligned).
net::Bytes encode(const LayoutMsg& m) {
    net::WireWriter w;
    w.u64(m.seq).u32(static_cast<std::uint32_t>(m.runs.size()));
    for (const auto& r : m.runs) w.u64(r.start).u64(r.end).u8(static_cast<std::uint8_t>(r.access));
    w.u32(static_cast<std::uint32_t>(m.files.size()));
    for (const auto& f : m.files) {
        w.u32(f.id).u64(f.identity.dev).u64(f.identity.ino).u64(f.identity.size);
        w.u64(static_cast<std::uint64_t>(f.identity.mtime_ns)).u64(static_cast<std::uint64_t>(f.identity.ctime_ns));
        w.bytes(net::ByteView(reinterpret_cast<const std::uint8_t*>(f.path.data()), f.path.size()));
    }
    w.u32(static_cast<std::uint32_t>(m.fills.size()));
    for (const auto& f : m.fills) w.u64(f.start).u64(f.end).u32(f.file).u64(f.offset);
    return w.take();
}

// Wire: u64 seq, u32 refused, u32 per refused file id.
net::Bytes encode(const LayoutAckMsg& m) {
    net::WireWriter w;
    w.u64(m.seq).u32(static_cast<std::uint32_t>(m.refused.size()));
    for (auto id : m.refused) w.u32(id);
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
    auto nf = rd.u32();
    if (!nf) return nf.error();
    if (*nf > kMaxLayoutFiles) return make_error(EINVAL, "Layout message with {} files", *nf);
    m.files.resize(*nf);
    for (auto& f : m.files) {
        std::uint64_t v[5];
        auto id = rd.u32();
        if (!id) return id.error();
        for (auto& x : v) {
            auto r = rd.u64();
            if (!r) return r.error();
            x = *r;
        }
        auto path = rd.bytes();
        if (!path) return path.error();
        if (*id == memory::kZeroFile || path->empty() || path->size() > kMaxFilePath || (*path)[0] != '/')
            return make_error(EINVAL, "Layout file {} with a path of {} bytes", *id, path->size());
        f.id = *id;
        f.identity = {v[0], v[1], v[2], static_cast<std::int64_t>(v[3]), static_cast<std::int64_t>(v[4])};
        f.path.assign(reinterpret_cast<const char*>(path->data()), path->size());
    }
    auto nl = rd.u32();
    if (!nl) return nl.error();
    if (*nl > kMaxLayoutRuns) return make_error(EINVAL, "Layout message with {} fills", *nl);
    m.fills.resize(*nl);
    for (auto& f : m.fills) {
        auto s = rd.u64();
        if (!s) return s.error();
        auto e = rd.u64();
        if (!e) return e.error();
        auto file = rd.u32();
        if (!file) return file.error();
        auto off = rd.u64();
        if (!off) return off.error();
        if (*s >= *e || (*s | *e | *off) % memory::layout::kPageSize || (*file == memory::kZeroFile && *off))
            return make_error(EINVAL, "Layout fill [{:#x}, {:#x}) file {} offset {:#x}", *s, *e, *file, *off);
        f = {*s, *e, *file, *off};
    }
    if (auto e = rd.expect_end(); !e) return e.error();
    return m;
}

Result<LayoutAckMsg> decode_layout_ack(net::ByteView b) {
    net::WireReader rd(b);
    auto seq = rd.u64();
    if (!seq) return seq.error();
    auto n = rd.u32();
    if (!n) return n.error();
    if (*n > kMaxLayoutFiles) return make_error(EINVAL, "LayoutAck refusing {} files", *n);
    LayoutAckMsg m{*seq, {}};
    m.refused.resize(*n);
    for (auto& id : m.refused) {
        auto r = rd.u32();
        if (!r) return r.error();
        id = *r;
    }
    if (auto e = rd.expect_end(); !e) return e.error();
    return m;
}

}  // namespace spanvm::cluster
