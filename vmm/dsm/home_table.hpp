#pragma once
// Dynamic homes (docs/dsm-protocol.md, "Dynamic homes"): which node is the
// home of each page when homes move, and the messages that move them.
// Pure logic, no I/O.
//
// HomeTable. One per node, shared by the node's protocol shards. A page's
// entry is "default" (the static HomePolicy decides) or an explicit node,
// plus a *frozen* flag: the node is the page's home (or about to become it)
// but must not start a transaction for it, only queue requests, because the
// page is being handed over. Entries are single bytes read lock-free; the
// engine writes an entry only under the page's shard mutex, so a protocol
// decision taken under that mutex sees one consistent value.
//
// A move of pages from home h to node k (h initiates; the origin for fresh
// ranges, any home for a migration):
//   1. h, under the pages' shard mutexes: every page is home here, not
//      frozen, no transaction in progress; it freezes them (requests arriving
//      from now on are queued in the directory's wait masks, none started).
//   2. h sends HomeNotice{id, k, runs} to every other node. A node j applies
//      it (table: home = k; at k also frozen) and answers HomeAck{id} to h.
//   3. When h has every ack, it exports the pages' directory entries (those
//      that are not pristine, with their queued requests), sets its own table
//      to k and sends HomeState{id, k, runs, entries} to k. k imports them,
//      unfreezes and serves what waits (its own queue included).
// Why it is safe (per-pair FIFO, every node handles one message at a time):
//  * every message h sent for a page before freezing it (grants without Done
//    included) reaches each node before the notice, so it is checked against
//    the old home there;
//  * a request j sent to h before applying the notice reaches h before j's
//    ack, so h has it queued when it exports: nothing reaches a node that is
//    no longer the home (the planted bug FaultInjection::SkipMoveAcks, which
//    sends the state without waiting for the acks, breaks exactly this);
//  * k starts nothing before the state arrives, and the state leaves h only
//    after every node applied the notice: whatever k sends later for the page
//    finds every node already routing to k;
//  * no Done is due at h (no transaction in progress when it froze, none
//    started since), so no Done can reach a former home.
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "vmm/base/result.hpp"
#include "vmm/dsm/home_policy.hpp"
#include "vmm/dsm/messages.hpp"

namespace spanvm::dsm {

struct PageRun {
    PageIndex first = 0;
    PageIndex count = 0;
    bool operator==(const PageRun&) const = default;
};

// Sorted pages -> maximal runs of consecutive pages.
std::vector<PageRun> to_runs(std::span<const PageIndex> sorted_pages);

class HomeTable {
public:
    static constexpr std::size_t kChunkPages = 4096;
    explicit HomeTable(PageIndex pages);
    ~HomeTable();
    HomeTable(const HomeTable&) = delete;
    HomeTable& operator=(const HomeTable&) = delete;

    // The page's home: its explicit entry, or `policy`'s answer.
    NodeId home_of(PageIndex page, const HomePolicy& policy) const {
        const std::uint8_t e = entry(page);
        return e == 0 ? policy.home_of(page) : static_cast<NodeId>((e & kNodeMask) - 1);
    }
    bool frozen(PageIndex page) const { return (entry(page) & kFrozen) != 0; }
    // Only under the page's shard mutex (see above). node < kMaxNodes.
    void set(PageIndex page, NodeId node, bool frozen);
    // Pages with an explicit entry (for the tables and tests).
    std::uint64_t explicit_pages() const { return explicit_.load(std::memory_order_relaxed); }
    PageIndex page_count() const { return pages_; }

private:
    static constexpr std::uint8_t kFrozen = 0x80;
    static constexpr std::uint8_t kNodeMask = 0x7f;  // node + 1; 0 = default
    std::uint8_t entry(PageIndex page) const {
        if (page >= pages_) return 0;
        const auto* c = chunks_[page / kChunkPages].load(std::memory_order_acquire);
        return c ? c->at(page % kChunkPages).load(std::memory_order_relaxed) : 0;
    }
    using Chunk = std::array<std::atomic<std::uint8_t>, kChunkPages>;
    PageIndex pages_;
    std::unique_ptr<std::atomic<Chunk*>[]> chunks_;
    std::atomic<std::uint64_t> explicit_{0};
};

// A page's directory entry as it travels in HomeState (Protocol::DirEntry
// plus nothing: the migration streak and count travel with the page).
struct MovedDir {
    PageIndex page = 0;
    std::uint64_t sharers = 0, wait_read = 0, wait_write = 0;
    std::uint8_t state = 0, owner = 0, next = 0;
    std::uint8_t streak_node = 0, streak = 0, moves = 0;
    bool operator==(const MovedDir&) const = default;
};

// The three messages of a move, and the touched-pages query (a transport
// request answered by the pages' home: Query for a file fill or a fork's
// gather, DiscardQuery for a discard, which the home answers after it
// reclaimed the pages only it holds), on transport type kDsmHomeType.
struct HomeMsg {
    enum class Kind : std::uint8_t { Notice = 1, Ack = 2, State = 3, Query = 4, Answer = 5, DiscardQuery = 6 };
    Kind kind = Kind::Notice;
    NodeId to = 0;             // Notice, State: the new home
    std::uint64_t move_id = 0; // initiator << 56 | sequence: unique per initiator
    std::vector<PageRun> runs;       // Notice, State, Query, DiscardQuery
    std::vector<MovedDir> entries;   // State: non-pristine pages only
    std::vector<std::uint8_t> untouched;  // Answer: per page of the query's runs, 1 = untouched
    bool operator==(const HomeMsg&) const = default;
};
// Wire: u8 kind, u8 to, u16 0, u32 runs, u64 move_id, runs as (u64 first,
// u64 count), then for State u32 entries and 38 bytes each, for Answer u32
// count and one byte per page.
std::vector<std::byte> encode_home(const HomeMsg& m);
Result<HomeMsg> decode_home(std::span<const std::byte> b);

// The initiator's moves waiting for acks. Not thread-safe (the engine
// holds its own mutex around it).
class HomeMoves {
public:
    struct Move {
        std::uint64_t id = 0;
        NodeId to = 0;
        std::vector<PageRun> runs;
        std::size_t acks_due = 0;
        bool finished = false;  // planted bug only: completed before its acks
    };
    explicit HomeMoves(NodeId self) : self_(self) {}
    // A new move id for this initiator.
    std::uint64_t next_id() { return (std::uint64_t{self_} << 56) | ++seq_; }
    // Registers a move that waits for `acks_due` acks. Returns the move at
    // once when none are due (a 1-node cluster) or with the planted bug.
    std::optional<Move> begin(Move m, bool skip_acks);
    // An ack: the completed move when it was the last one due. An ack for
    // no known move is an error (a peer's protocol violation).
    Result<std::optional<Move>> on_ack(std::uint64_t id);
    bool idle() const { return pending_.empty(); }

private:
    NodeId self_;
    std::uint64_t seq_ = 0;
    std::vector<Move> pending_;
};

// Threshold-based home migration (docs/dsm-protocol.md). A page's home
// counts the requests of one other node in a row; its own requests reset
// the count, another node's start a new one. Once `threshold` requests of
// node r come in a row while the home holds no copy, the home moves to r,
// at most kMaxMoves times per page (hysteresis: each move must be earned
// by a new streak, and a page whose use keeps moving settles).
struct MigrationRule {
    static constexpr std::uint8_t kMaxMoves = 4;
    unsigned threshold = 0;  // 0 = off
};

}  // namespace spanvm::dsm
