#include "vmm/cluster/sharing_messages.hpp"

#include "net/wire_reader.hpp"
#include "net/wire_writer.hpp"

namespace spanvm::cluster {

// Wire: u64 fault_ns, u32 threads; per thread: u32 tid, u64 cpu_ns, u64 created, u32 pages; per page: u64 page,
// u32 reads, u32 writes.
net::Bytes encode(const SharingMsg& m) {
    net::WireWriter w;
    w.u64(m.fault_ns);
    w.u32(static_cast<std::uint32_t>(m.threads.size()));
    for (const auto& t : m.threads) {
        w.u32(static_cast<std::uint32_t>(t.tid)).u64(t.cpu_ns).u64(t.created).u32(static_cast<std::uint32_t>(t.pages.size()));
        for (const auto& p : t.pages) w.u64(p.page).u32(p.reads).u32(p.writes);
    }
    return w.take();
}

Result<SharingMsg> decode_sharing(net::ByteView b) {
    net::WireReader rd(b);
    SharingMsg m;
    auto ns = rd.u64();
    if (!ns) return ns.error();
    m.fault_ns = *ns;
    auto n = rd.u32();
    if (!n) return n.error();
    if (*n > kMaxSharingThreads) return make_error(EINVAL, "Sharing message for {} threads", *n);
    m.threads.resize(*n);
    for (auto& t : m.threads) {
        auto tid = rd.u32();
        if (!tid) return tid.error();
        auto cpu = rd.u64();
        if (!cpu) return cpu.error();
        t.cpu_ns = *cpu;
        auto created = rd.u64();
        if (!created) return created.error();
        t.created = *created;
        auto np = rd.u32();
        if (!np) return np.error();
        if (*np > kMaxSharingPages) return make_error(EINVAL, "Sharing message with {} pages for a thread", *np);
        t.tid = static_cast<std::int32_t>(*tid);
        t.pages.resize(*np);
        for (auto& p : t.pages) {
            auto page = rd.u64();
            if (!page) return page.error();
            auto r = rd.u32();
            if (!r) return r.error();
            auto wr = rd.u32();
            if (!wr) return wr.error();
            p = {*page, *r, *wr};
        }
    }
    if (auto e = rd.expect_end(); !e) return e.error();
    return m;
}

}  // namespace spanvm::cluster
