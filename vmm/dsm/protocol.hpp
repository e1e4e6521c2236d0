#pragma once
// Home-based directory MSI coherence protocol for one node, as a pure state
// machine: events in (local fault, received message, timer tick), actions
// out (vmm/dsm/protocol_types.hpp). No I/O, no threads, no clock: time is
// passed in. Not thread-safe; the caller serializes all calls. The full
// argument, with message diagrams, is docs/dsm-protocol.md.
//
// Roles. Every node is a *cache* for all pages and the *home* for the pages
// HomePolicy assigns to it. A node that is home of a page talks to its own
// cache role through Send{to = self}; the executor loops those back.
//
// Data path (decision): direct transfers, directory-only home.
//  * The home keeps no page data, only a 32-byte directory entry per page:
//    state, `owner` (Modified: the owner; Shared: the sharer that supplies
//    data, or kZeroData while the page was never written), the sharer mask,
//    the requester of the transaction in progress and two masks of waiting
//    requests (one request per node per page, so masks replace a queue).
//  * Data travels once, from the node that holds it straight to the
//    requester: ReadReq -> FwdRead -> GrantShared(Bytes) is three messages
//    whoever the owner is; the home prefers itself as data holder when it is
//    a sharer (the forward is then a local call). Never-written pages are
//    granted as Zero by the home (two messages).
//  * Writes: the home sends FwdWrite{requester, acks} to the data holder,
//    which answers the requester with GrantModified(Bytes, acks) and drops
//    its copy; every other sharer gets Invalidate{requester} and sends its
//    InvAck to the requester. An upgrade (requester already a sharer) gets
//    GrantModified(None, acks) from the home. The requester becomes Modified
//    once it has the grant and every ack (acks may arrive before the grant:
//    the count goes negative until the grant says how many to expect).
//
// Transactions. The home serializes requests per page: one transaction at a
// time. A transaction whose grant comes from the home itself with no acks
// (Zero grants, a lone upgrade) ends when the home sends the grant. Any other
// (data forwarded, or acks to collect) ends when the requester sends Done,
// after installing the data and collecting the acks; Done is off the
// critical path (the faulting threads are resumed before it is sent).
// Why this is enough: the home sends a cache at most one message per
// transaction and nothing more for a page until the transaction ended;
// transport is FIFO per ordered pair. So
//  * a grant sent by the home reaches the requester before any later
//    message of the home for that page;
//  * forwarded data and InvAcks for a transaction reach the requester before
//    the home can start the next transaction (which waits for Done), so no
//    Invalidate or forward can overtake data still in flight (the race
//    FaultInjection::SkipDoneWait re-opens, caught by the simulator and the
//    model);
//  * a data holder or sharer answers the forward/invalidate of transaction k
//    before it sees anything of transaction k+1 (FIFO from the home).
// Consequences used below: a cache in IS/IM never receives a forward or an
// Invalidate (a protocol violation); an Invalidate or FwdWrite can meet a
// cache in SM whose own WriteReq is still queued at the home (it lost the
// race: drop, answer, become IM; the home then sees it is no longer a sharer
// and has the data forwarded to it).
//
// Memory: per page a 32-byte directory entry (allocated only for pages in
// 512-entry chunks that this node is home of and that were touched) and an
// 8-byte local entry (chunks allocated on first touch); the hold time adds
// 8 bytes per touched page only when hold_ns != 0.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <type_traits>
#include <utility>
#include <vector>

#include "vmm/base/result.hpp"
#include "vmm/dsm/protocol_types.hpp"

namespace spanvm::dsm {

// Lazily allocated dense array: 64-element chunks, value-initialized by
// `init` on first touch; untouched chunks cost nothing but their share of a
// pointer block. A chunk of a shard's directory covers 64 x 16 pages (4 MiB
// of guest memory): a run touches a few scattered regions (image, heap,
// libraries, stacks), each in every shard, and larger chunks made each
// region cost every shard a chunk of each array to fill and fault in:
// 4096-element chunks 128 KiB of directory per shard (~19 ms of a 2-host
// `/bin/true` here), 512-element ones 16 KiB, ~2,700 page faults of the
// directory's alone per ten placed `/bin/true`s
// (bench/results/session-2026-12-06d).
// Chunks are carved from slabs of kSlabChunks, allocated uninitialized (a
// slab's untouched chunks are address space only): one chunk per allocation
// made every chunk grow the allocating thread's malloc arena by one
// `mprotect` (zstd -T2 on 2 hosts, `--place origin`: ~290 per run,
// bench/results/mprot-2026-12-05).
// The chunk pointers live in blocks of kBlockChunks (1 KiB), allocated at
// a chunk's first touch too: one flat, zeroed pointer per 512-element chunk
// of all guest RAM (24 GiB: 12,288 pointers, 96 KiB per array, three arrays
// per protocol, a protocol per shard and one more to validate the settings)
// was ~600 KiB to zero and fault in per DsmEngine, i.e. per exec placed on
// another node (bench/results/session-2026-12-06d).
// Invariant: every non-null chunk pointer points into one of slabs_, to
// kChunk constructed elements.
template <typename T>
class ChunkedArray {
    static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>,
                  "elements live in raw slab storage and are never destroyed one by one");
    static_assert(alignof(T) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__);

public:
    static constexpr std::size_t kChunk = 64;
    static constexpr std::size_t kSlabChunks = 16;
    static constexpr std::size_t kBlockChunks = 128;  // chunk pointers per block (1 KiB)
    ChunkedArray() = default;
    ChunkedArray(std::size_t n, T init)
        : blocks_(((n + kChunk - 1) / kChunk + kBlockChunks - 1) / kBlockChunks), init_(init) {}
    ChunkedArray(const ChunkedArray& o) : blocks_(o.blocks_.size()), init_(o.init_) {
        for (std::size_t b = 0; b < blocks_.size(); ++b) {
            if (!o.blocks_[b]) continue;
            blocks_[b] = std::make_unique<T*[]>(kBlockChunks);
            for (std::size_t i = 0; i < kBlockChunks; ++i)
                if (const T* c = o.blocks_[b][i]) {
                    blocks_[b][i] = take_chunk();
                    std::uninitialized_copy(c, c + kChunk, blocks_[b][i]);
                }
        }
    }
    ChunkedArray& operator=(const ChunkedArray& o) {
        if (this != &o) *this = ChunkedArray(o);
        return *this;
    }
    ChunkedArray(ChunkedArray&& o) noexcept
        : blocks_(std::move(o.blocks_)),
          slabs_(std::move(o.slabs_)),
          slab_next_(std::exchange(o.slab_next_, nullptr)),
          slab_left_(std::exchange(o.slab_left_, 0)),
          init_(o.init_) {}
    ChunkedArray& operator=(ChunkedArray&& o) noexcept {
        blocks_ = std::move(o.blocks_);
        slabs_ = std::move(o.slabs_);
        slab_next_ = std::exchange(o.slab_next_, nullptr);
        slab_left_ = std::exchange(o.slab_left_, 0);
        init_ = o.init_;
        return *this;
    }

    T& at(std::size_t i) {
        const std::size_t ci = i / kChunk;
        auto& block = blocks_[ci / kBlockChunks];
        if (!block) block = std::make_unique<T*[]>(kBlockChunks);  // value-initialized: all null
        T*& c = block[ci % kBlockChunks];
        if (!c) {
            c = take_chunk();
            std::uninitialized_fill(c, c + kChunk, init_);
        }
        return c[i % kChunk];
    }
    // The element, or the initial value if its chunk was never touched.
    T get(std::size_t i) const {
        const std::size_t ci = i / kChunk;
        const auto& block = blocks_[ci / kBlockChunks];
        const T* c = block ? block[ci % kBlockChunks] : nullptr;
        return c ? c[i % kChunk] : init_;
    }
    template <typename F>
    bool all_of(F f) const {
        for (const auto& block : blocks_)
            if (block)
                for (std::size_t b = 0; b < kBlockChunks; ++b)
                    if (const T* c = block[b])
                        for (std::size_t i = 0; i < kChunk; ++i)
                            if (!f(c[i])) return false;
        return true;
    }

private:
    T* take_chunk() {
        if (slab_left_ == 0) {
            slabs_.push_back(std::unique_ptr<std::byte[]>(new std::byte[sizeof(T) * kChunk * kSlabChunks]));
            slab_next_ = reinterpret_cast<T*>(slabs_.back().get());
            slab_left_ = kSlabChunks;
        }
        T* c = slab_next_;
        slab_next_ += kChunk;
        --slab_left_;
        return c;
    }

    std::vector<std::unique_ptr<T*[]>> blocks_;
    std::vector<std::unique_ptr<std::byte[]>> slabs_;
    T* slab_next_ = nullptr;    // next free chunk of slabs_.back()
    std::size_t slab_left_ = 0;  // free chunks left there
    T init_{};
};

class Protocol {
public:
    // Validates the configuration (nodes 1..64, self < nodes, page_size > 0,
    // policy matches node count, initial_owner < nodes, page_offset <
    // page_stride).
    static Result<Protocol> create(const ProtocolConfig& cfg);

    // A local thread faulted on `page` wanting `access`. Coalesces with an
    // outstanding request for the page; emits ResumeFaults at once if the
    // current mapping already allows the access (a spurious/raced fault).
    // `claim` (with config().claims, from Invalid, page homed elsewhere):
    // the request is a ClaimReadReq / ClaimWriteReq (docs "Claims").
    Result<void> on_fault(PageIndex page, Access access, TimeNs now, Actions& out, bool claim = false);

    // A message from node `from` (possibly self). On error (protocol
    // violation by the peer or a bad page index) no state changes except
    // that a bad queued request is dropped; actions already appended to
    // `out` must still be executed.
    Result<void> on_message(NodeId from, const Message& msg, TimeNs now, Actions& out);

    // Runs (protocol_runs.cpp, docs/dsm-protocol.md "Runs"). Asks the home
    // for `page` as part of a run, with no thread waiting: an optional request
    // the home starts only if the page is idle there and refuses otherwise.
    // Returns false (and emits nothing) unless the page is Invalid here, or
    // Shared for a write; else the page is in flight as after a fault and one
    // Send{home, RunReadReq/RunWriteReq with acks 0} is emitted.
    Result<bool> request_ahead(PageIndex page, Access access, Actions& out);

    // Time passed: handles forwards/Invalidates deferred by the hold time.
    Result<void> on_tick(TimeNs now, Actions& out);

    LocalState local_state(PageIndex page) const;

    // ---- Dynamic homes (protocol_homes.cpp; home_table.hpp has the
    // argument). Each call is about one page of this shard, under the same
    // serialization as the events above; all need config().homes.
    NodeId home_of(PageIndex page) const {
        return cfg_.homes ? cfg_.homes->home_of(page, cfg_.home) : cfg_.home.home_of(page);
    }
    bool frozen(PageIndex page) const { return cfg_.homes && cfg_.homes->frozen(page); }
    // This node is the home, the page is not frozen and no transaction is
    // in progress: it may be handed over.
    bool can_move(PageIndex page) const;
    // Home here and no node, this one included, was ever handed the page.
    bool pristine(PageIndex page) const;
    // Step 1 at the initiating home: queue, start nothing. Precondition can_move.
    void freeze(PageIndex page);
    // Step 2 at every other node: route to `to` from now on (frozen at `to`).
    void apply_notice(PageIndex page, NodeId to);
    // Step 3 at the initiating home: hands the directory entry over (nullopt
    // when pristine: `to`'s default entry is the same) and routes to `to`.
    Result<std::optional<MovedDir>> finish_move(PageIndex page, NodeId to);
    // Step 3 at the new home: installs `moved` (if any), unfreezes and starts
    // the requests that wait, its own included.
    Result<void> import_moved(PageIndex page, const MovedDir* moved, Actions& out);
    // A page held only by this node, its home, whose content the caller
    // knows to be zero (a range the guest just mapped: unmapped memory reads
    // as zero; a range the guest discards, munmap or MADV_DONTNEED: it reads
    // as zero after) becomes pristine again: Drop, directory Uncached. False
    // (no change) if the page is held elsewhere, busy or frozen
    // (docs/dsm-protocol.md "Discards").
    bool reclaim_zero(PageIndex page, Actions& out);
    // First-use claims (docs/dsm-protocol.md "Claims"). True, and the page
    // frozen for a hand-over to `to` (step 1 of a move), iff this node is
    // its home, it may move (can_move) and no node, this one included, was
    // ever handed it (pristine): a page one node touched is never handed
    // over as unused. `to` != self. The caller then moves it (StartMove).
    bool claim(PageIndex page, NodeId to);
    // Precondition: this node is the page's home.
    DirectoryView directory(PageIndex page) const;
    // No transaction, waiting request, outstanding fetch or deferred message.
    bool quiescent() const;
    const ProtocolConfig& config() const { return cfg_; }

    static constexpr std::uint8_t kNone = 0xff;

    // 8 bytes per page (static_assert in protocol.cpp).
    struct LocalEntry {
        LocalState state = LocalState::Invalid;
        bool granted = false;     // IM/SM: the grant (data or upgrade, and the ack count) arrived
        std::int8_t acks = 0;     // InvAcks still due: granted count minus those received
        bool done_due = false;    // send Done to the home when the write completes
        MsgType deferred = MsgType{0};  // forward/Invalidate held back by the hold time (0 = none)
        std::uint8_t deferred_from = 0;
        std::uint8_t deferred_requester = 0;
        std::uint8_t deferred_acks = 0;
    };
    // At most 32 bytes per page (static_assert in protocol.cpp).
    struct DirEntry {
        std::uint64_t sharers = 0;     // Shared: nodes holding read-only copies
        std::uint64_t wait_read = 0;   // nodes whose ReadReq waits for the transaction
        std::uint64_t wait_write = 0;  // nodes whose WriteReq waits
        DirState state = DirState::Uncached;
        std::uint8_t owner = kZeroData;  // Modified: owner; Shared: data holder or kZeroData
        std::uint8_t busy = kNone;       // requester whose Done ends the transaction, or kNone
        std::uint8_t next = 0;           // round-robin start among waiting requests
        // Home migration (MigrationRule): the node whose requests came in a
        // row, how many, and how often the page's home moved.
        std::uint8_t streak_node = kNone;
        std::uint8_t streak = 0;
        std::uint8_t moves = 0;
    };

private:
    explicit Protocol(const ProtocolConfig& cfg);

    std::size_t slot(PageIndex page) const { return page / cfg_.page_stride; }
    LocalEntry& local(PageIndex page) { return local_.at(slot(page)); }
    DirEntry& dir(PageIndex page) { return dir_.at(slot(page)); }
    bool is_home(PageIndex page) const { return home_of(page) == cfg_.self; }
    // Migration streak; true when the request was queued for a move (StartMove emitted).
    bool migrate_on_request(PageIndex page, DirEntry& d, NodeId from, Access access, Actions& out);
    void send(Actions& out, NodeId to, Message m, bool attach = false);
    Result<void> check_page(PageIndex page, const char* what) const;

    // Cache role.
    Result<void> cache_message(NodeId from, const Message& msg, TimeNs now, Actions& out);
    Result<void> cache_grant_modified(NodeId from, const Message& msg, TimeNs now, Actions& out);
    void complete_write(PageIndex page, LocalEntry& e, TimeNs now, bool mapped_writable, Actions& out);
    Result<void> cache_release(PageIndex page, LocalEntry& e, MsgType type, NodeId requester, std::uint8_t acks,
                               Actions& out);
    // Home role.
    Result<void> home_request(NodeId from, PageIndex page, Access access, Actions& out, bool claim = false);
    Result<void> home_done(NodeId from, PageIndex page, Actions& out);
    // Runs (protocol_runs.cpp).
    Result<void> home_run_request(NodeId from, PageIndex page, Access access, Actions& out);
    Result<void> cache_refuse(PageIndex page, LocalEntry& e, Actions& out);
    void start(PageIndex page, DirEntry& d, NodeId r, Access access, Actions& out);
    void serve_waiting(PageIndex page, DirEntry& d, Actions& out);

    ProtocolConfig cfg_;
    ChunkedArray<LocalEntry> local_;
    ChunkedArray<DirEntry> dir_;
    ChunkedArray<TimeNs> acquired_at_;  // touched only when hold_ns != 0
    std::set<PageIndex> deferred_pages_;
};

}  // namespace spanvm::dsm
