#pragma once
// DsmStats: per-node DSM counters, fault-latency histograms and a per-page hot
// list. Pure logic, no I/O. snapshot() copies the figures into a plain struct;
// dsm_stats_report.hpp turns that into JSON and a text table.
//
// Thread safety: every record_*() may be called from any thread concurrently
// and is wait-free except for the first touch of a 4096-page chunk of the hot
// list (one allocation + CAS). Counters and histograms are sharded by thread
// (kShards cache-line-aligned shards, relaxed atomics) so vCPU and handler
// threads do not bounce one cache line; readers sum the shards. A snapshot
// taken while recording continues is a consistent-enough view: each value is
// exact at some instant, values are not mutually atomic.
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace spanvm::dsm {

class DsmStats {
public:
    static constexpr std::uint32_t kNoNode = 0xffffffffu;
    static constexpr std::size_t kShards = 8;

    enum class Counter : std::size_t {
        read_faults,             // MISSING faults raised by reads
        write_faults,            // MISSING-by-write and WP faults
        remote_fetches,          // page contents fetched from another node
        upgrades,                // Shared -> Modified without data transfer
        invalidations_sent,
        invalidations_received,
        downgrades,              // Modified -> Shared on request of another node
        bytes_sent,
        bytes_received,
        zero_page_grants,        // first touch served as a zero page, no transfer
        home_first_touch_faults, // faults at the home on pages no node ever had (reach user space)
        zero_filled_ahead,       // untouched pages zero-filled at the home with no fault of their own
        written_ahead,           // write requests issued ahead of a sequential write stream
        remote_first_touches,    // requests that reached this home over the network for a page no node
                                 // had had yet (each a request and a grant: 0 when fresh memory is homed
                                 // at its first user)
        home_migrations,         // pages this node handed to another home by the migration rule
        pages_rehomed,           // fresh pages this node (the origin) homed at the mapping thread's node
        run_requests,            // run requests sent (RunReadReq/RunWriteReq, one per run of pages)
        run_pages,               // pages those run requests named
        run_pages_refused,       // of those, pages the home refused (busy there): they fault later as usual
        run_frames_sent,         // RunFrames sent: runs of messages (grants, Invalidates, acks...) in one frame
        run_frame_messages,      // messages those frames carried
        run_frames_received,
        run_installs,            // multi-page installs (one UFFDIO_COPY/ZEROPAGE for a stretch of a batch)
        run_installed_pages,     // pages those installs mapped
        run_made_writable,       // pages of a write run Modified here but write-protected by downgrade-ahead, made writable ahead
        claim_requests,          // first-use claims sent (ClaimReadReq/ClaimWriteReq: one request each)
        claims,                  // claims this home granted: one hand-over of a chunk's never-used pages
        pages_claimed,           // pages those hand-overs moved to their claimant
        pages_filled,            // pages installed from their filler (a file this node has: page_filler.hpp), no transfer
        shared_chunk_first_touches,  // as remote_first_touches, but from a node whose claim into the page's chunk
                                     // this home refused because the claimed page was used: a chunk two nodes
                                     // use, whose never-used pages have one home at a time (docs/dsm-protocol.md
                                     // "Claims", "Chunks two nodes use"); not in remote_first_touches
        pages_reclaimed,         // pages a discard at their home made pristine again, dropped here with no
                                 // zeroing (only this node had them: docs/dsm-protocol.md "Discards")
        pages_zeroed,            // pages a discard zeroed through the coherent mapping (some other node had them)
        count_
    };
    static constexpr std::size_t kCounterCount = static_cast<std::size_t>(Counter::count_);
    static std::string_view counter_name(Counter c);

    enum class Latency : std::size_t { read_fault, write_fault, count_ };
    static constexpr std::size_t kLatencyCount = static_cast<std::size_t>(Latency::count_);
    static std::string_view latency_name(Latency l);

    // Log-linear histogram bucket layout (HDR-style): values < 16 exact, then
    // 16 sub-buckets per power of two, so a bucket's width is <= 1/16 of its
    // lower bound. A percentile is the middle of the bucket holding the
    // nearest-rank sample (vmm/base/stats.hpp), so within ~6.25%, clamped to
    // the exact min/max.
    static constexpr std::size_t kSubBits = 4;
    static constexpr std::size_t kBuckets = 16 + (64 - kSubBits) * 16;
    static std::size_t bucket_of(std::uint64_t v);
    static std::uint64_t bucket_low(std::size_t b);   // smallest value in bucket b
    static std::uint64_t bucket_high(std::size_t b);  // largest value in bucket b

    struct LatencySummary {
        std::uint64_t count = 0;
        std::uint64_t min_ns = 0, max_ns = 0, mean_ns = 0;
        std::uint64_t p50_ns = 0, p90_ns = 0, p99_ns = 0;
    };

    struct PageRecord {
        std::uint64_t page = 0;
        std::uint64_t read_faults = 0;
        std::uint64_t write_faults = 0;
        std::uint64_t invalidations = 0;  // sent + received involving this page
        std::uint64_t bytes_sent = 0;
        std::uint32_t last_writer = kNoNode;
        std::uint64_t score() const { return read_faults + write_faults + invalidations; }
    };

    // Every figure at one moment (see the thread-safety note above), for reports.
    struct Snapshot {
        std::uint32_t node = 0;
        std::string label;
        std::uint64_t page_count = 0;
        std::array<std::uint64_t, kCounterCount> counters{};  // indexed by Counter
        std::array<LatencySummary, kLatencyCount> latency{};  // indexed by Latency
        LatencySummary latency_all;                           // both kinds merged
        std::size_t top_k = 0;                                // hot pages asked for
        std::vector<PageRecord> hot_pages;                    // top_pages(top_k)
    };

    // node_label is free text (e.g. host:port).
    DsmStats(std::uint32_t node_id, std::string node_label, std::uint64_t page_count);
    ~DsmStats();
    DsmStats(const DsmStats&) = delete;
    DsmStats& operator=(const DsmStats&) = delete;

    std::uint32_t node_id() const { return node_id_; }
    const std::string& node_label() const { return node_label_; }
    std::uint64_t page_count() const { return page_count_; }

    // --- recording (any thread). Page indices >= page_count only count globally.
    void add(Counter c, std::uint64_t n = 1);
    void record_fault(std::uint64_t page, bool is_write);
    void record_fault_latency(Latency kind, std::uint64_t ns);
    void record_remote_fetch(std::uint64_t page, std::uint64_t bytes);  // + bytes_received
    void record_upgrade(std::uint64_t page);
    void record_invalidation_sent(std::uint64_t page);
    void record_invalidation_received(std::uint64_t page);
    void record_downgrade(std::uint64_t page);
    void record_page_sent(std::uint64_t page, std::uint64_t bytes);  // + bytes_sent
    void record_zero_page_grant(std::uint64_t page);
    void record_writer(std::uint64_t page, std::uint32_t node);

    // --- reading
    std::uint64_t get(Counter c) const;
    LatencySummary latency(Latency kind) const;
    LatencySummary latency_all() const;  // both kinds merged
    PageRecord page(std::uint64_t page) const;
    // The k pages with the highest read+write faults+invalidations (score > 0
    // only), highest first; ties by lower page index.
    std::vector<PageRecord> top_pages(std::size_t k) const;

    Snapshot snapshot(std::size_t top_k) const;

private:
    // A chunk is 192 KiB of cells, which calloc takes fresh from mmap (past
    // glibc's 128 KiB threshold): zero pages that only the cells a fault
    // records touch. A `new`ed, value-initialized chunk of 4096 cells wrote
    // 96 KiB per 16 MiB region any page of which faulted, ~120 page faults
    // per DsmEngine of a placed /bin/true (bench/results/session-2026-12-06d).
    static constexpr std::size_t kChunkPages = 8192;

    // Plain words, zero when fresh, read and written only through
    // std::atomic_ref (relaxed). The shards come from one calloc (ShardBlock):
    // ~320 KiB, mostly latency buckets never used, which `new`'s zeroing
    // wrote in full (~80 page faults per DsmEngine).
    struct alignas(64) Shard {
        std::array<std::uint64_t, kCounterCount> counters;
        std::array<std::array<std::uint64_t, kBuckets>, kLatencyCount> buckets;
        std::array<std::uint64_t, kLatencyCount> sum_ns;
    };
    struct ShardBlock {
        void operator()(void* raw) const { std::free(raw); }
    };
    // Plain integers, all zero when fresh (calloc), read and written only
    // through std::atomic_ref (relaxed).
    struct PageCell {
        std::uint32_t read_faults;
        std::uint32_t write_faults;
        std::uint32_t invalidations;
        std::uint32_t last_writer_plus1;  // 0: none
        std::uint64_t bytes_sent;
    };
    struct Chunk {
        std::array<PageCell, kChunkPages> cells;
    };

    Shard& my_shard();
    PageCell* cell(std::uint64_t page);              // allocates the chunk on first use
    const PageCell* cell_if(std::uint64_t page) const;  // null if never touched
    LatencySummary summarize(const std::vector<std::uint64_t>& buckets, std::uint64_t sum,
                             std::uint64_t min, std::uint64_t max) const;

    std::uint32_t node_id_;
    std::string node_label_;
    std::uint64_t page_count_;
    std::unique_ptr<void, ShardBlock> shards_raw_;  // calloc'd; shards_ lies in it, 64-aligned
    Shard* shards_ = nullptr;
    std::array<std::atomic<std::uint64_t>, kLatencyCount> min_ns_;
    std::array<std::atomic<std::uint64_t>, kLatencyCount> max_ns_;
    std::size_t chunk_count_;
    std::unique_ptr<std::atomic<Chunk*>[]> chunks_;
};

}  // namespace spanvm::dsm
