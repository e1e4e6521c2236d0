#include "vmm/dsm/home_table.hpp"

#include <algorithm>
#include <cerrno>

namespace spanvm::dsm {

namespace {

void put(std::vector<std::byte>& out, std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out.push_back(static_cast<std::byte>((v >> (8 * i)) & 0xff));
}

struct Reader {
    std::span<const std::byte> b;
    std::size_t off = 0;
    bool ok = true;
    std::uint64_t get(std::size_t n) {
        if (off + n > b.size()) {
            ok = false;
            return 0;
        }
        std::uint64_t v = 0;
        for (std::size_t i = 0; i < n; ++i) v |= std::uint64_t{std::to_integer<std::uint8_t>(b[off + i])} << (8 * i);
        off += n;
        return v;
    }
};

constexpr std::size_t kEntryBytes = 8 + 8 + 8 + 8 + 6;

}  // namespace

std::vector<PageRun> to_runs(std::span<const PageIndex> sorted_pages) {
    std::vector<PageRun> runs;
    for (PageIndex p : sorted_pages) {
        if (!runs.empty() && runs.back().first + runs.back().count == p)
            ++runs.back().count;
        else
            runs.push_back({p, 1});
    }
    return runs;
}

HomeTable::HomeTable(PageIndex pages)
    : pages_(pages), chunks_(new std::atomic<Chunk*>[(pages + kChunkPages - 1) / kChunkPages]) {
    for (std::size_t i = 0; i < (pages + kChunkPages - 1) / kChunkPages; ++i) chunks_[i].store(nullptr);
}

HomeTable::~HomeTable() {
    for (std::size_t i = 0; i < (pages_ + kChunkPages - 1) / kChunkPages; ++i) delete chunks_[i].load();
}

void HomeTable::set(PageIndex page, NodeId node, bool frozen) {
    if (page >= pages_) return;
    auto& slot = chunks_[page / kChunkPages];
    Chunk* c = slot.load(std::memory_order_acquire);
    if (!c) {
        auto* fresh = new Chunk();
        for (auto& e : *fresh) e.store(0, std::memory_order_relaxed);
        if (slot.compare_exchange_strong(c, fresh, std::memory_order_acq_rel))
            c = fresh;
        else
            delete fresh;  // another shard won; c holds its chunk
    }
    const auto v = static_cast<std::uint8_t>(((node + 1) & kNodeMask) | (frozen ? kFrozen : 0));
    if (c->at(page % kChunkPages).exchange(v, std::memory_order_relaxed) == 0)
        explicit_.fetch_add(1, std::memory_order_relaxed);
}

std::vector<std::byte> encode_home(const HomeMsg& m) {
    std::vector<std::byte> out;
    out.reserve(16 + m.runs.size() * 16 + (m.kind == HomeMsg::Kind::State ? 4 + m.entries.size() * kEntryBytes : 0));
    put(out, static_cast<std::uint8_t>(m.kind), 1);
    put(out, m.to, 1);
    put(out, 0, 2);
    put(out, m.runs.size(), 4);
    put(out, m.move_id, 8);
    for (const auto& r : m.runs) {
        put(out, r.first, 8);
        put(out, r.count, 8);
    }
    if (m.kind == HomeMsg::Kind::State) {
        put(out, m.entries.size(), 4);
        for (const auto& e : m.entries) {
            put(out, e.page, 8);
            put(out, e.sharers, 8);
            put(out, e.wait_read, 8);
            put(out, e.wait_write, 8);
            for (std::uint8_t v : {e.state, e.owner, e.next, e.streak_node, e.streak, e.moves}) put(out, v, 1);
        }
    }
    if (m.kind == HomeMsg::Kind::Answer) {
        put(out, m.untouched.size(), 4);
        for (std::uint8_t v : m.untouched) put(out, v, 1);
    }
    return out;
}

Result<HomeMsg> decode_home(std::span<const std::byte> b) {
    Reader r{b};
    HomeMsg m;
    const auto kind = r.get(1);
    if (kind < 1 || kind > 6) return make_error(EINVAL, "dsm home message: unknown kind {}", kind);
    m.kind = static_cast<HomeMsg::Kind>(kind);
    m.to = static_cast<NodeId>(r.get(1));
    r.get(2);
    const auto nruns = r.get(4);
    m.move_id = r.get(8);
    if (!r.ok || nruns > (b.size() - r.off) / 16) return make_error(EINVAL, "dsm home message: truncated runs");
    for (std::uint64_t i = 0; i < nruns; ++i) {
        PageRun run;
        run.first = r.get(8);
        run.count = r.get(8);
        m.runs.push_back(run);
    }
    if (m.kind == HomeMsg::Kind::State) {
        const auto n = r.get(4);
        if (!r.ok || n > (b.size() - r.off) / kEntryBytes) return make_error(EINVAL, "dsm home message: truncated entries");
        for (std::uint64_t i = 0; i < n; ++i) {
            MovedDir e;
            e.page = r.get(8);
            e.sharers = r.get(8);
            e.wait_read = r.get(8);
            e.wait_write = r.get(8);
            e.state = static_cast<std::uint8_t>(r.get(1));
            e.owner = static_cast<std::uint8_t>(r.get(1));
            e.next = static_cast<std::uint8_t>(r.get(1));
            e.streak_node = static_cast<std::uint8_t>(r.get(1));
            e.streak = static_cast<std::uint8_t>(r.get(1));
            e.moves = static_cast<std::uint8_t>(r.get(1));
            m.entries.push_back(e);
        }
    }
    if (m.kind == HomeMsg::Kind::Answer) {
        const auto n = r.get(4);
        if (!r.ok || n > b.size() - r.off) return make_error(EINVAL, "dsm home message: truncated answer");
        for (std::uint64_t i = 0; i < n; ++i) m.untouched.push_back(static_cast<std::uint8_t>(r.get(1)));
    }
    if (!r.ok || r.off != b.size()) return make_error(EINVAL, "dsm home message: {} bytes, expected {}", b.size(), r.off);
    if (m.kind != HomeMsg::Kind::Ack && m.kind != HomeMsg::Kind::Answer && m.runs.empty()) return make_error(EINVAL, "dsm home message without pages");
    return m;
}

std::optional<HomeMoves::Move> HomeMoves::begin(Move m, bool skip_acks) {
    if (m.acks_due == 0) return m;
    if (skip_acks) {
        // Planted bug: finished now; the acks still arrive and are dropped.
        m.finished = true;
        pending_.push_back(m);
        return m;
    }
    pending_.push_back(std::move(m));
    return std::nullopt;
}

Result<std::optional<HomeMoves::Move>> HomeMoves::on_ack(std::uint64_t id) {
    auto it = std::find_if(pending_.begin(), pending_.end(), [&](const Move& m) { return m.id == id; });
    if (it == pending_.end()) return make_error(EPROTO, "dsm: HomeAck for unknown move {:#x}", id);
    if (--it->acks_due != 0) return std::optional<Move>{};
    Move done = std::move(*it);
    pending_.erase(it);
    if (done.finished) return std::optional<Move>{};
    return std::optional<Move>{std::move(done)};
}

}  // namespace spanvm::dsm
