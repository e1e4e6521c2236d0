// Dynamic homes in the protocol: freezing, handing over and importing a
// page's directory entry, and the migration streak. The argument is in
// vmm/dsm/home_table.hpp and docs/dsm-protocol.md ("Dynamic homes").
#include <bit>
#include <cerrno>

#include "vmm/dsm/protocol.hpp"

namespace spanvm::dsm {

namespace {
std::uint64_t bit(NodeId n) { return std::uint64_t{1} << n; }
}  // namespace

bool Protocol::can_move(PageIndex page) const {
    if (!cfg_.homes || !is_home(page) || frozen(page)) return false;
    const DirEntry d = dir_.get(slot(page));
    // The home's own cache must not wait for a message to itself either (the
    // engine drains those at once; a simulator channel may still hold one).
    const LocalState ls = local_.get(slot(page)).state;
    return d.busy == kNone && (d.wait_read | d.wait_write) == 0 &&
           (ls == LocalState::Invalid || ls == LocalState::Shared || ls == LocalState::Modified);
}

bool Protocol::pristine(PageIndex page) const {
    if (!is_home(page)) return false;
    const DirEntry d = dir_.get(slot(page));
    return d.state == DirState::Uncached && d.busy == kNone && (d.wait_read | d.wait_write) == 0 &&
           local_.get(slot(page)).state == LocalState::Invalid;
}

void Protocol::freeze(PageIndex page) { cfg_.homes->set(page, cfg_.self, true); }

void Protocol::apply_notice(PageIndex page, NodeId to) { cfg_.homes->set(page, to, to == cfg_.self); }

Result<std::optional<MovedDir>> Protocol::finish_move(PageIndex page, NodeId to) {
    if (!is_home(page) || !frozen(page))
        return make_error(EPROTO, "dsm: handing over page {} that is not frozen here", page);
    DirEntry& d = dir(page);
    if (d.busy != kNone) return make_error(EPROTO, "dsm: handing over page {} during a transaction", page);
    if (cfg_.inject == FaultInjection::LoseMovedRequests) d.wait_read = d.wait_write = 0;
    std::optional<MovedDir> out;
    if (d.state != DirState::Uncached || (d.wait_read | d.wait_write) != 0 || d.moves != 0) {
        MovedDir m;
        m.page = page;
        m.sharers = d.sharers;
        m.wait_read = d.wait_read;
        m.wait_write = d.wait_write;
        m.state = static_cast<std::uint8_t>(d.state);
        m.owner = d.owner;
        m.next = d.next;
        m.streak_node = kNone;  // the new home earns its own streak
        m.streak = 0;
        m.moves = d.moves;
        out = m;
    }
    d = DirEntry{};
    cfg_.homes->set(page, to, false);
    return out;
}

Result<void> Protocol::import_moved(PageIndex page, const MovedDir* moved, Actions& out) {
    if (auto c = check_page(page, "HomeState"); !c) return c;
    if (!is_home(page) || !frozen(page))
        return make_error(EPROTO, "dsm: HomeState for page {} that this node does not expect", page);
    DirEntry& d = dir(page);
    if (moved) {
        if (moved->state > static_cast<std::uint8_t>(DirState::Modified) || d.state != DirState::Uncached)
            return make_error(EPROTO, "dsm: HomeState for page {} with directory state {}", page, moved->state);
        d.state = static_cast<DirState>(moved->state);
        d.sharers = moved->sharers;
        d.owner = moved->owner;
        d.next = moved->next;
        d.moves = moved->moves;
        d.wait_read |= moved->wait_read;
        d.wait_write |= moved->wait_write & ~moved->wait_read;
    }
    cfg_.homes->set(page, cfg_.self, false);
    serve_waiting(page, d, out);
    return {};
}

bool Protocol::reclaim_zero(PageIndex page, Actions& out) {
    if (!cfg_.homes || !is_home(page) || frozen(page)) return false;
    // Read first without allocating: a discard walks whole ranges (an 8 MiB
    // thread stack), mostly never used, whose directory chunks stay absent.
    if (dir_.get(slot(page)).state == DirState::Uncached) return false;
    DirEntry& d = dir(page);
    LocalEntry& e = local(page);
    if (d.busy != kNone || (d.wait_read | d.wait_write) != 0 || e.deferred != MsgType{0}) return false;
    const bool sole_m = d.state == DirState::Modified && d.owner == cfg_.self && e.state == LocalState::Modified;
    // Planted bug (reclaim-shared): the home's own share taken for the only one.
    const std::uint64_t others = cfg_.inject == FaultInjection::ReclaimShared ? 0 : d.sharers & ~bit(cfg_.self);
    const bool sole_s = d.state == DirState::Shared && (d.sharers & bit(cfg_.self)) && others == 0 &&
                        e.state == LocalState::Shared;
    if (!sole_m && !sole_s) return false;
    out.push_back(Drop{page});
    d = DirEntry{};
    e = LocalEntry{};
    return true;
}

bool Protocol::claim(PageIndex page, NodeId to) {
    if (!cfg_.claims || to == cfg_.self || to >= cfg_.num_nodes || !can_move(page)) return false;
    DirEntry& d = dir(page);
    if (cfg_.inject == FaultInjection::ClaimZeroShared && d.state == DirState::Shared && d.owner == kZeroData) {
        // Planted bug: "still zero" taken for "never used". A page nodes read
        // as the zero page (Shared, never written) is handed over as if no
        // node had it: its sharers, the home itself included, are forgotten.
        const auto wait_r = d.wait_read, wait_w = d.wait_write;
        d = DirEntry{};
        d.wait_read = wait_r;
        d.wait_write = wait_w;
        freeze(page);
        return true;
    }
    if (!pristine(page)) return false;
    freeze(page);
    return true;
}

bool Protocol::migrate_on_request(PageIndex page, DirEntry& d, NodeId from, Access access, Actions& out) {
    const unsigned threshold = cfg_.migrate.threshold;
    if (threshold == 0 || !is_home(page)) return false;
    if (from == cfg_.self) {
        d.streak = 0;
        return false;
    }
    if (d.streak_node == from) {
        if (d.streak < 0xff) ++d.streak;
    } else {
        d.streak_node = static_cast<std::uint8_t>(from);
        d.streak = 1;
    }
    if (d.streak < threshold || d.moves >= MigrationRule::kMaxMoves || d.busy != kNone || frozen(page) ||
        (d.wait_read | d.wait_write) != 0 || local(page).state != LocalState::Invalid)
        return false;
    // Hand the page to `from`: its request waits here and goes with the entry.
    d.streak = 0;
    ++d.moves;
    (access == Access::Read ? d.wait_read : d.wait_write) |= bit(from);
    freeze(page);
    out.push_back(StartMove{page, from});
    return true;
}

}  // namespace spanvm::dsm
