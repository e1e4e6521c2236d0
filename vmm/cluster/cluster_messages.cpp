#include "vmm/cluster/cluster_messages.hpp"

#include <algorithm>

#include "net/wire_reader.hpp"
#include "net/wire_writer.hpp"
#include "vmm/cluster/arg_capture.hpp"
#include "vmm/memory/layout.hpp"

namespace spanvm::cluster {

namespace {

constexpr std::size_t kRegCount = sizeof(platform::Regs) / 8;
constexpr std::size_t kMaxFpu = 16384;
constexpr std::size_t kMaxWhat = 512;
using memory::kMaxArgRanges;
constexpr std::size_t kMaxInputBytes = 80 * 1024;
static_assert(kMaxInputBytes >= kMaxCapturedBuffer + 2 * kPathMax);  // a call's ranges (arg_capture.hpp)

void put_state(net::WireWriter& w, const ThreadState& s) {
    const auto* r = reinterpret_cast<const std::uint64_t*>(&s.regs);
    for (std::size_t i = 0; i < kRegCount; ++i) w.u64(r[i]);
    w.u64(s.fs_base).u64(s.gs_base);
    w.bytes(net::ByteView(s.fpu.data(), s.fpu.size()));
}

Result<void> get_state(net::WireReader& rd, ThreadState& s) {
    auto* r = reinterpret_cast<std::uint64_t*>(&s.regs);
    for (std::size_t i = 0; i < kRegCount; ++i) {
        auto v = rd.u64();
        if (!v) return v.error();
        r[i] = *v;
    }
    auto fs = rd.u64();
    if (!fs) return fs.error();
    auto gs = rd.u64();
    if (!gs) return gs.error();
    s.fs_base = *fs;
    s.gs_base = *gs;
    auto fpu = rd.bytes();
    if (!fpu) return fpu.error();
    if (fpu->size() > kMaxFpu) return make_error(EINVAL, "FPU image of {} bytes", fpu->size());
    s.fpu.assign(fpu->begin(), fpu->end());
    return {};
}

// An output range travels as its length only (the executor fills it), an
// inout range as its bytes; both with their store rule.
void put_args(net::WireWriter& w, const memory::ArgMemory& s) {
    w.u8(static_cast<std::uint8_t>(s.ranges.size()));
    for (const auto& r : s.ranges) {
        w.u64(r.gva).u8(static_cast<std::uint8_t>(r.kind));
        if (r.kind == memory::ArgRange::Kind::output)
            w.u32(static_cast<std::uint32_t>(r.bytes.size()));
        else
            w.bytes(net::ByteView(r.bytes.data(), r.bytes.size()));
        if (r.stored()) w.u8(static_cast<std::uint8_t>(r.store));
    }
}

Result<void> get_args(net::WireReader& rd, memory::ArgMemory& s) {
    using Kind = memory::ArgRange::Kind;
    auto n = rd.u8();
    if (!n) return n.error();
    if (*n > kMaxArgRanges) return make_error(EINVAL, "{} argument ranges", *n);
    std::size_t total = 0;
    for (unsigned i = 0; i < *n; ++i) {
        auto gva = rd.u64();
        auto kind = gva ? rd.u8() : Result<std::uint8_t>(gva.error());
        if (!kind) return kind.error();
        if (*kind > static_cast<std::uint8_t>(Kind::inout))
            return make_error(EINVAL, "argument range of unknown kind {}", *kind);
        memory::ArgRange r{*gva, static_cast<Kind>(*kind), {}};
        if (r.kind == Kind::output) {
            auto len = rd.u32();
            if (!len) return len.error();
            total += *len;
            if (total > kMaxInputBytes) return make_error(EINVAL, "argument ranges of more than {} bytes", kMaxInputBytes);
            r.bytes.resize(*len);
        } else {
            auto b = rd.bytes();
            if (!b) return b.error();
            total += b->size();
            if (total > kMaxInputBytes) return make_error(EINVAL, "argument ranges of more than {} bytes", kMaxInputBytes);
            if (r.kind == Kind::string && (b->empty() || b->back() != 0))
                return make_error(EINVAL, "input string without its NUL");
            r.bytes.assign(b->begin(), b->end());
        }
        if (r.stored()) {
            auto store = rd.u8();
            if (!store) return store.error();
            if (*store > static_cast<std::uint8_t>(memory::ArgRange::Store::on_positive))
                return make_error(EINVAL, "argument range with unknown store rule {}", *store);
            r.store = static_cast<memory::ArgRange::Store>(*store);
        }
        s.ranges.push_back(std::move(r));
    }
    return {};
}

template <typename T>
Result<T> finish(net::WireReader& rd, T m) {
    if (auto e = rd.expect_end(); !e) return e.error();
    return m;
}

constexpr std::size_t kMaxProofIds = 8 + 65536;  // the ids, then NGROUPS_MAX groups

Result<void> get_fs_proof(net::WireReader& rd, SpawnMsg& m) {
    auto mode = rd.u8();
    if (!mode) return mode.error();
    if (*mode > 2) return make_error(EINVAL, "spawn with unknown node answers {}", *mode);
    m.node_answers = *mode;
    SharedFsProof& f = m.fs;
    auto path = rd.string();
    if (!path) return path.error();
    auto bytes = rd.bytes();
    if (!bytes) return bytes.error();
    auto boot = rd.string();
    if (!boot) return boot.error();
    f.probe_path = std::move(*path);
    f.probe_bytes.assign(bytes->begin(), bytes->end());
    f.boot_id = std::move(*boot);
    for (std::uint64_t* v : {&f.mnt_ns, &f.pid_ns, &f.root_dev, &f.root_ino}) {
        auto x = rd.u64();
        if (!x) return x.error();
        *v = *x;
    }
    auto pid = rd.u32();
    auto n = pid ? rd.u32() : Result<std::uint32_t>(pid.error());
    if (!n) return n.error();
    if (*n > kMaxProofIds) return make_error(EINVAL, "spawn proof with {} ids", *n);
    f.pid = static_cast<std::int32_t>(*pid);
    f.ids.reserve(*n);
    for (std::uint32_t i = 0; i < *n; ++i) {
        auto id = rd.u32();
        if (!id) return id.error();
        f.ids.push_back(*id);
    }
    auto ce = rd.u64();
    auto cp = ce ? rd.u64() : Result<std::uint64_t>(ce.error());
    if (!cp) return cp.error();
    f.cap_effective = *ce;
    f.cap_permitted = *cp;
    return {};
}

}  // namespace

net::Bytes encode(const SpawnMsg& m) {
    net::WireWriter w(256);
    w.u32(static_cast<std::uint32_t>(m.tid)).u16(m.channel_port).u64(m.cookie).u64(m.vvar_gva);
    put_state(w, m.state);
    w.u8(m.node_answers);
    const SharedFsProof& f = m.fs;
    w.string(f.probe_path).bytes(net::ByteView(f.probe_bytes.data(), f.probe_bytes.size())).string(f.boot_id);
    w.u64(f.mnt_ns).u64(f.pid_ns).u64(f.root_dev).u64(f.root_ino).u32(static_cast<std::uint32_t>(f.pid));
    w.u32(static_cast<std::uint32_t>(f.ids.size()));
    for (std::uint32_t id : f.ids) w.u32(id);
    w.u64(f.cap_effective).u64(f.cap_permitted);
    w.u8(m.sole_thread ? 1 : 0);
    return w.take();
}

net::Bytes encode(const TrapMsg& m) {
    net::WireWriter w(256 + m.state.fpu.size() + m.args.total_bytes());
    w.u32(static_cast<std::uint32_t>(m.tid)).u32(static_cast<std::uint32_t>(m.host_tid));
    w.u8(static_cast<std::uint8_t>(m.exit.kind)).u8(m.exit.in_guest ? 1 : 0);
    w.u32(static_cast<std::uint32_t>(m.exit.signo)).u32(static_cast<std::uint32_t>(m.exit.si_code));
    w.u64(m.exit.fault_addr);
    w.string(m.exit.what.size() > kMaxWhat ? m.exit.what.substr(0, kMaxWhat) : m.exit.what);
    put_state(w, m.state);
    put_args(w, m.args);
    w.u64(m.read_faults).u64(m.write_faults).u64(m.local_syscalls);
    w.u8(static_cast<std::uint8_t>((m.clear_child_tid ? 1 : 0) | (m.robust_list ? 2 : 0) |
                                   (m.closed_fds.empty() ? 0 : 4) | (m.seeks.empty() ? 0 : 8) | (m.brk ? 16 : 0) |
                                   (m.maps.empty() ? 0 : 32)));
    if (m.clear_child_tid) w.u64(*m.clear_child_tid);
    if (m.robust_list) w.u64(m.robust_list->first).u64(m.robust_list->second);
    if (!m.closed_fds.empty()) {
        // The node holds back at most kMaxClosedFds.
        w.u8(static_cast<std::uint8_t>(std::min(m.closed_fds.size(), kMaxClosedFds)));
        for (std::size_t i = 0; i < m.closed_fds.size() && i < kMaxClosedFds; ++i)
            w.u32(static_cast<std::uint32_t>(m.closed_fds[i]));
    }
    if (!m.seeks.empty()) {
        // One per node file: at most kMaxNodeFiles (256) of them.
        w.u16(static_cast<std::uint16_t>(std::min<std::size_t>(m.seeks.size(), kMaxSeeks)));
        for (std::size_t i = 0; i < m.seeks.size() && i < kMaxSeeks; ++i)
            w.u32(static_cast<std::uint32_t>(m.seeks[i].first)).u64(m.seeks[i].second);
    }
    if (m.brk) w.u64(*m.brk);
    if (!m.maps.empty()) {
        // The node owes at most NodeMapWindow::kMaxOwed.
        const std::size_t n = std::min(m.maps.size(), NodeMapWindow::kMaxOwed);
        w.u8(static_cast<std::uint8_t>(n));
        for (std::size_t i = 0; i < n; ++i)
            w.u64(m.maps[i].addr).u64(m.maps[i].len).u32(m.maps[i].prot).u32(m.maps[i].flags);
    }
    return w.take();
}

net::Bytes encode(const ResumeMsg& m) {
    std::size_t out = 0;
    for (const auto& g : m.writes) out += g.bytes.size() + 16;
    net::WireWriter w(256 + m.state.fpu.size() + out);
    w.u32(static_cast<std::uint32_t>(m.tid)).u8(m.exit ? 1 : 0);
    put_state(w, m.state);
    w.u8(static_cast<std::uint8_t>(m.writes.size()));
    for (const auto& g : m.writes) w.u64(g.gva).bytes(net::ByteView(g.bytes.data(), g.bytes.size()));
    // u8 0, or 1 and the ridden Layout (layout_messages.cpp's wire) as bytes.
    w.u8(m.layout ? 1 : 0);
    if (m.layout) {
        const auto l = encode(*m.layout);
        w.bytes(net::ByteView(l.data(), l.size()));
    }
    // u8 0, or 1 and the opened file's dev and ino.
    w.u8(m.opened ? 1 : 0);
    if (m.opened) w.u64(m.opened->first).u64(m.opened->second);
    // u8 0, or 1 and the heap window's break and limit.
    w.u8(m.brk_window ? 1 : 0);
    if (m.brk_window) w.u64(m.brk_window->brk).u64(m.brk_window->limit);
    // u8 0, or 1 and the mapping window's bounds.
    w.u8(m.map_window ? 1 : 0);
    if (m.map_window) w.u64(m.map_window->lo).u64(m.map_window->hi);
    return w.take();
}

net::Bytes encode(const KickMsg& m) {
    net::WireWriter w(8);
    w.u32(static_cast<std::uint32_t>(m.tid));
    return w.take();
}

net::Bytes encode(const ShutdownMsg& m) {
    net::WireWriter w(8);
    w.u32(static_cast<std::uint32_t>(m.status));
    return w.take();
}

net::Bytes encode(const NodeStatsMsg& m) {
    net::WireWriter w(112);
    w.u64(m.bytes_sent).u64(m.bytes_received).u64(m.read_faults).u64(m.write_faults).u64(m.remote_fetches);
    w.u64(m.home_first_touch_faults).u64(m.remote_first_touches).u64(m.home_migrations).u64(m.pages_rehomed);
    w.u64(m.claim_requests).u64(m.claims).u64(m.pages_claimed).u64(m.pages_filled);
    w.u64(m.shared_chunk_first_touches);
    return w.take();
}

Result<SpawnMsg> decode_spawn(net::ByteView b) {
    net::WireReader rd(b);
    SpawnMsg m;
    auto tid = rd.u32();
    if (!tid) return tid.error();
    auto port = rd.u16();
    auto cookie = port ? rd.u64() : Result<std::uint64_t>(port.error());
    auto vvar = cookie ? rd.u64() : Result<std::uint64_t>(cookie.error());
    if (!vvar) return vvar.error();
    m.vvar_gva = *vvar;
    m.tid = static_cast<std::int32_t>(*tid);
    m.channel_port = *port;
    m.cookie = *cookie;
    if (auto e = get_state(rd, m.state); !e) return e.error();
    if (auto e = get_fs_proof(rd, m); !e) return e.error();
    auto sole = rd.u8();
    if (!sole) return sole.error();
    if (*sole > 1) return make_error(EINVAL, "spawn with sole-thread flag {}", *sole);
    m.sole_thread = *sole != 0;
    return finish(rd, std::move(m));
}

Result<TrapMsg> decode_trap(net::ByteView b) {
    net::WireReader rd(b);
    TrapMsg m;
    auto tid = rd.u32();
    auto host = tid ? rd.u32() : Result<std::uint32_t>(tid.error());
    auto kind = host ? rd.u8() : Result<std::uint8_t>(host.error());
    auto in_guest = kind ? rd.u8() : Result<std::uint8_t>(kind.error());
    auto signo = in_guest ? rd.u32() : Result<std::uint32_t>(in_guest.error());
    auto code = signo ? rd.u32() : Result<std::uint32_t>(signo.error());
    auto addr = code ? rd.u64() : Result<std::uint64_t>(code.error());
    auto what = addr ? rd.string() : Result<std::string>(addr.error());
    if (!what) return what.error();
    if (*kind > static_cast<std::uint8_t>(platform::VcpuExit::Kind::error))
        return make_error(EINVAL, "trap of unknown kind {}", *kind);
    m.tid = static_cast<std::int32_t>(*tid);
    m.host_tid = static_cast<std::int32_t>(*host);
    m.exit.kind = static_cast<platform::VcpuExit::Kind>(*kind);
    m.exit.in_guest = *in_guest != 0;
    m.exit.signo = static_cast<int>(*signo);
    m.exit.si_code = static_cast<int>(*code);
    m.exit.fault_addr = *addr;
    m.exit.what = std::move(*what);
    if (auto e = get_state(rd, m.state); !e) return e.error();
    if (auto e = get_args(rd, m.args); !e) return e.error();
    auto rf = rd.u64();
    auto wf = rf ? rd.u64() : Result<std::uint64_t>(rf.error());
    auto ls = wf ? rd.u64() : Result<std::uint64_t>(wf.error());
    if (!ls) return ls.error();
    m.local_syscalls = *ls;
    m.read_faults = *rf;
    m.write_faults = *wf;
    auto words = rd.u8();
    if (!words) return words.error();
    if (*words & ~63u) return make_error(EINVAL, "trap with unknown thread words {:#x}", *words);
    if (*words & 1) {
        auto v = rd.u64();
        if (!v) return v.error();
        m.clear_child_tid = *v;
    }
    if (*words & 2) {
        auto head = rd.u64();
        auto len = head ? rd.u64() : Result<std::uint64_t>(head.error());
        if (!len) return len.error();
        m.robust_list = std::make_pair(*head, *len);
    }
    if (*words & 4) {
        auto n = rd.u8();
        if (!n) return n.error();
        if (*n == 0 || *n > kMaxClosedFds) return make_error(EINVAL, "trap with {} closed fds", *n);
        for (unsigned i = 0; i < *n; ++i) {
            auto fd = rd.u32();
            if (!fd) return fd.error();
            if (static_cast<std::int32_t>(*fd) < 0) return make_error(EINVAL, "trap closes fd {}", *fd);
            m.closed_fds.push_back(static_cast<std::int32_t>(*fd));
        }
    }
    if (*words & 8) {
        auto n = rd.u16();
        if (!n) return n.error();
        if (*n == 0 || *n > kMaxSeeks) return make_error(EINVAL, "trap with {} seeks", *n);
        for (unsigned i = 0; i < *n; ++i) {
            auto fd = rd.u32();
            auto off = fd ? rd.u64() : Result<std::uint64_t>(fd.error());
            if (!off) return off.error();
            if (static_cast<std::int32_t>(*fd) < 0 || *off > static_cast<std::uint64_t>(INT64_MAX))
                return make_error(EINVAL, "trap seeks fd {} to {}", *fd, *off);
            m.seeks.emplace_back(static_cast<std::int32_t>(*fd), *off);
        }
    }
    if (*words & 16) {
        auto v = rd.u64();
        if (!v) return v.error();
        m.brk = *v;
    }
    if (*words & 32) {
        auto n = rd.u8();
        if (!n) return n.error();
        if (*n == 0 || *n > NodeMapWindow::kMaxOwed) return make_error(EINVAL, "trap with {} node-made mappings", *n);
        for (unsigned i = 0; i < *n; ++i) {
            auto at = rd.u64();
            auto len = at ? rd.u64() : Result<std::uint64_t>(at.error());
            auto prot = len ? rd.u32() : Result<std::uint32_t>(len.error());
            auto flags = prot ? rd.u32() : Result<std::uint32_t>(prot.error());
            if (!flags) return flags.error();
            const std::uint64_t plen = memory::layout::page_align_up(*len);
            if (*at % memory::layout::kPageSize || plen < *len || *at + plen < *at ||
                !NodeMapWindow::answerable(0, *len, *prot, *flags, static_cast<std::uint64_t>(-1), 0))
                return make_error(EINVAL, "trap with a node-made mapping [{:#x}, +{:#x}) prot {:#x} flags {:#x}", *at,
                                  *len, *prot, *flags);
            m.maps.push_back(OwedMap{*at, *len, *prot, *flags});
        }
    }
    return finish(rd, std::move(m));
}

Result<ResumeMsg> decode_resume(net::ByteView b) {
    net::WireReader rd(b);
    ResumeMsg m;
    auto tid = rd.u32();
    auto ex = tid ? rd.u8() : Result<std::uint8_t>(tid.error());
    if (!ex) return ex.error();
    m.tid = static_cast<std::int32_t>(*tid);
    m.exit = *ex != 0;
    if (auto e = get_state(rd, m.state); !e) return e.error();
    auto n = rd.u8();
    if (!n) return n.error();
    if (*n > kMaxArgRanges) return make_error(EINVAL, "{} guest writes", *n);
    std::size_t total = 0;
    for (unsigned i = 0; i < *n; ++i) {
        auto gva = rd.u64();
        auto data = gva ? rd.bytes() : Result<net::ByteView>(gva.error());
        if (!data) return data.error();
        total += data->size();
        if (total > kMaxInputBytes) return make_error(EINVAL, "guest writes of more than {} bytes", kMaxInputBytes);
        m.writes.push_back({*gva, {data->begin(), data->end()}});
    }
    auto has = rd.u8();
    if (!has) return has.error();
    if (*has > 1) return make_error(EINVAL, "Resume layout flag {}", *has);
    if (*has) {
        auto lb = rd.bytes();
        if (!lb) return lb.error();
        auto l = decode_layout(*lb);
        if (!l) return l.error();
        if (!l->files.empty()) return make_error(EINVAL, "a ridden Layout names {} files", l->files.size());
        m.layout = std::move(*l);
    }
    auto op = rd.u8();
    if (!op) return op.error();
    if (*op > 1) return make_error(EINVAL, "Resume opened flag {}", *op);
    if (*op) {
        auto dev = rd.u64();
        auto ino = dev ? rd.u64() : Result<std::uint64_t>(dev.error());
        if (!ino) return ino.error();
        m.opened = std::make_pair(*dev, *ino);
    }
    auto win = rd.u8();
    if (!win) return win.error();
    if (*win > 1) return make_error(EINVAL, "Resume heap window flag {}", *win);
    if (*win) {
        auto brk = rd.u64();
        auto limit = brk ? rd.u64() : Result<std::uint64_t>(brk.error());
        if (!limit) return limit.error();
        if (*limit % memory::layout::kPageSize || *limit < memory::layout::page_align_up(*brk))
            return make_error(EINVAL, "Resume heap window [{:#x}, {:#x})", *brk, *limit);
        m.brk_window = BrkWindow{*brk, *limit};
    }
    auto mw = rd.u8();
    if (!mw) return mw.error();
    if (*mw > 1) return make_error(EINVAL, "Resume mapping window flag {}", *mw);
    if (*mw) {
        auto lo = rd.u64();
        auto hi = lo ? rd.u64() : Result<std::uint64_t>(lo.error());
        if (!hi) return hi.error();
        if (*lo % memory::layout::kPageSize || *hi % memory::layout::kPageSize || *lo >= *hi)
            return make_error(EINVAL, "Resume mapping window [{:#x}, {:#x})", *lo, *hi);
        m.map_window = MapWindow{*lo, *hi};
    }
    return finish(rd, std::move(m));
}

Result<KickMsg> decode_kick(net::ByteView b) {
    net::WireReader rd(b);
    auto tid = rd.u32();
    if (!tid) return tid.error();
    return finish(rd, KickMsg{static_cast<std::int32_t>(*tid)});
}

Result<ShutdownMsg> decode_shutdown(net::ByteView b) {
    net::WireReader rd(b);
    auto st = rd.u32();
    if (!st) return st.error();
    return finish(rd, ShutdownMsg{static_cast<std::int32_t>(*st)});
}

net::Bytes encode(const AbortMsg& m) {
    net::WireWriter w(16 + m.reason.size());
    w.string(m.reason.size() > kMaxAbortReason ? m.reason.substr(0, kMaxAbortReason) : m.reason);
    return w.take();
}

Result<AbortMsg> decode_abort(net::ByteView b) {
    net::WireReader rd(b);
    auto r = rd.string();
    if (!r) return r.error();
    if (r->size() > kMaxAbortReason) return make_error(EINVAL, "abort reason of {} bytes", r->size());
    return finish(rd, AbortMsg{std::move(*r)});
}

Result<NodeStatsMsg> decode_stats(net::ByteView b) {
    net::WireReader rd(b);
    NodeStatsMsg m;
    for (std::uint64_t* f : {&m.bytes_sent, &m.bytes_received, &m.read_faults, &m.write_faults, &m.remote_fetches,
                             &m.home_first_touch_faults, &m.remote_first_touches, &m.home_migrations,
                             &m.pages_rehomed, &m.claim_requests, &m.claims, &m.pages_claimed,
                             &m.pages_filled, &m.shared_chunk_first_touches}) {
        auto v = rd.u64();
        if (!v) return v.error();
        *f = *v;
    }
    return finish(rd, m);
}

}  // namespace spanvm::cluster
