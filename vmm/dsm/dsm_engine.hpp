#pragma once
// DsmEngine: one node of a coherent shared region. Its one job is to run the
// coherence protocol: it glues the pure protocol (vmm/dsm/protocol.hpp) to
// userfaultfd (UffdRegion) and TCP (net::Transport).
//
// The connections. The engine builds the transport from a
// net::MessageRouter: its own, or one shared with another layer
// (DsmEngineOptions::router; the multi-host process mode routes its
// cluster messages to its own ControlChannel there). It routes
// kDsmProtocolType to the protocol and kDsmControlType to its ControlPlane
// (control_plane.hpp: barrier, reports to node 0, two-phase goodbye, for
// the `dsm-node` workloads; barrier/report/gather/shutdown below forward to
// it). Peer failures go to the ControlPlane unless the router's other layer
// owns them.
//
// Shards. The protocol state is split into kShards independent Protocol
// instances by page (shard = page % kShards): every protocol event concerns
// one page, so faults and messages for pages of different shards are handled
// concurrently, each under its shard's mutex. Each shard has its own
// self-send queue (a self message is about the same page, hence the same
// shard). Faults on one page still coalesce in its shard's protocol.
//
// Threads:
//  * kFaultThreads fault thread(s): read_fault() -> lock shard -> on_fault ->
//    execute. The request leaves for the home from this thread
//    (Transport::send writes the socket directly when it is idle): no extra
//    hop before the send, and the next fault is read while the first one's
//    round trip is in flight.
//    A read fault that continues a sequential stream also issues ordinary
//    read requests for the next pages (ReadAhead window), so a walk finds
//    them installed or in flight instead of paying a round trip each. A
//    write fault that continues a sequential stream does the same with
//    write requests (its own window) for the next pages this node holds
//    Invalid or Shared: a buffer being refilled moves here as a run. A
//    wrong guess takes a page from its writer, which faults it back: the
//    cost of a transfer, never coherence (the protocol sees ordinary writes
//    with no thread waiting, as the simulator issues them at random).
//  * transport I/O thread: decode -> lock shard -> Protocol::on_message ->
//    execute (grants are installed right there, waking the faulting thread).
//  * timer thread: WakeAt (hold time) -> lock each shard -> on_tick.
//  * deadline thread (optional): fail_all when the whole run overstays.
//  * ControlPlane callers (workload threads) block in barrier/gather/
//    shutdown; the control plane's messages arrive on the I/O thread.
// Actions are executed in order where they are produced, under the shard
// mutex. Sends to self go to the shard's self_queue and are fed back through
// on_message, FIFO, before the mutex is released, so the protocol never sees
// them reordered.
//
// Downgrade-ahead. Write-protecting a page costs a TLB flush (~45 us on the
// nested-virtualized 2-vCPU CI VM, as much as a network round trip), and it
// sits on the critical path of every read of a page Modified here; one
// UFFDIO_WRITEPROTECT over a run of pages pays one flush. When a read
// forward downgrades a writable page in the same 64-page block as the
// previous one (a sequential walk, several threads reading a region), the
// block's other writable pages are write-protected in the same ioctl
// (UffdRegion::write_protect_writable). They stay Modified in the protocol:
// the mapping is only stricter than the state, so coherence is untouched,
// and a local write to one of them raises a WP fault that handle_fault
// answers locally (make_writable, no message). Their later read forwards
// find them read-only and need no flush. A wrong guess costs one local fault.
//
// Zero-fill-ahead. At its home, a page that no node ever had is a zero page
// that the protocol grants without a message, but each first touch still
// costs a user-space fault (~20 us here, ~15 us on a 16-core host) where
// the kernel's own zero-fill costs ~1 us. So when a fault at the home is the
// first touch of its page, the engine also grants itself, through the
// protocol's ordinary write-fault path (Protocol::on_fault, no waiting
// thread), the untouched pages around it in its aligned zero_fill_block-page
// block: outwards from the faulting page, stopping at the first page some
// node has had or the guest may not touch (options.guest_protection). They are installed as writable zero pages with one
// UFFDIO_ZEROPAGE per run (the kernel's zero page until written, then its
// own copy-on-write, no user-space fault). The protocol's view stays exact: those pages are
// Modified at the home like any page the home wrote, so a later request
// from another node downgrades or invalidates them as usual (that is the
// cost of a wrong guess: one write-protect and a page transfer instead of a
// zero grant). Counted as home_first_touch_faults and zero_filled_ahead.
// Where the first touch is a write (populate_zero, on), the block's pages
// are private zeroed pages instead (one UFFDIO_COPY from a zero buffer per
// run), as the kernel's transparent huge pages fill a 2 MiB block on a
// write: a write to the zero page is a copy-on-write with a TLB flush (an
// IPI while another thread of the process runs elsewhere), ~10 us each on
// this 2-vCPU PVM host, where the kernel's own first touch of an empty
// entry needs no flush. A read's block keeps the zero page (no memory).
//
// Dynamic homes (dynamic_homes; home_table.hpp has the handover and its
// argument). A page's home is its HomeTable entry, or `home` while no move
// touched it. rehome() (the origin, for a range the guest just mapped)
// freezes the pristine pages, tells every node (HomeNotice), waits for all
// HomeAcks and sends the new home HomeState; a home whose page sees
// migrate_after requests in a row from one other node, while it holds no
// copy, hands it over the same way (Protocol StartMove, no thread waits).
// The new home then serves its own first touch locally, with no message.
//
// Lock order: Shard::mu (at most one at a time, except zero_fill_ahead on
// the fault thread and the home moves (rehome, HomeNotice, HomeState, the
// last HomeAck, a claim), which take all of them in shard-index order; every other
// holder takes one, so this cannot deadlock) -> (UffdRegion stripe locks,
// Transport peer write locks, stats, moves_mu_, claims_mu_: leaves); ControlPlane's mutex and
// timer_mu_ are leaves never held while taking a shard mutex. Transport::send never blocks
// on the I/O thread or the network, so calling it under a shard mutex from
// any thread is safe.
//
// Failure: any protocol violation by a peer, any failing region ioctl, a
// failed send, and (when the ControlPlane owns peer failures) any peer
// failure before the goodbye call UffdRegion::fail_all, which logs
// "spanvm: fatal: DSM: node K (ADDR:PORT) failed: ..." and exits with
// UffdRegion::kFatalExitCode. A peer cut off from the network is such a
// failure once it has been silent for peer_timeout (transport heartbeats).
// The UffdRegion watchdog covers a lost answer. When another layer owns
// peer failures (the router), a lost peer is that layer's to report;
// otherwise the failing node's last words tell its peers the line, and a
// peer that hears them before it noticed anything fails with the same line
// (ControlPlane, "Last words"; at most kLastWordsTimeout more before exit).
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <queue>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "net/cluster_config.hpp"
#include "net/message_router.hpp"
#include "net/transport.hpp"
#include "vmm/base/result.hpp"
#include "vmm/dsm/control_messages.hpp"
#include "vmm/dsm/control_plane.hpp"
#include "vmm/dsm/dsm_stats.hpp"
#include "vmm/dsm/page_filler.hpp"
#include "vmm/dsm/protocol.hpp"
#include "vmm/dsm/read_ahead.hpp"
#include "vmm/dsm/run_detector.hpp"
#include "vmm/dsm/run_frame.hpp"
#include "vmm/dsm/uffd_region.hpp"
#include "vmm/memory/guest_protection.hpp"

namespace spanvm::dsm {

struct DsmEngineOptions {
    net::ClusterConfig cluster;
    NodeId self = 0;
    std::uint64_t pages = 16;
    std::string home = "interleave";  // "interleave" | "node:K"
    std::uint64_t hold_us = 0;        // Mirage-style minimum hold, 0 = off
    std::chrono::milliseconds watchdog{10000};
    std::chrono::milliseconds connect_timeout{10000};
    std::chrono::milliseconds overall_timeout{0};  // 0 = none
    int listen_fd = -1;  // the transport's listener, bound already (net::TransportOptions::listen_fd)
    // Peer liveness (net/transport.hpp "Liveness"): a heartbeat every
    // interval, and a peer silent for peer_timeout fails like a reset one, so
    // a cut link ends the run within ~peer_timeout. 0 = off.
    std::chrono::milliseconds heartbeat_interval{500};
    std::chrono::milliseconds peer_timeout{3000};
    // Coherent memory the caller mapped (e.g. guest RAM) instead of a region
    // of the engine's own; `pages` pages from here.
    std::uint8_t* external_base = nullptr;
    // With external_base: the host protection of that memory, which follows
    // the guest's layout; the engine copies pages out through it (a page
    // the guest may not touch is read through its alias). Must outlive the
    // engine. nullptr: every page of the region stays readable.
    const memory::GuestProtection* guest_protection = nullptr;
    // Mixed into the transport's protocol version: nodes that disagree
    // (different spanvm builds, different region sizes) refuse each other.
    std::uint32_t version_salt = 0;
    // Another layer on the same connections (vmm/cluster): a router that
    // already holds that layer's routes (and, if it wants them, peer
    // failures); the engine adds its own and builds its transport from it.
    // Must outlive the engine. nullptr: the engine uses a router of its own.
    net::MessageRouter* router = nullptr;
    // Optional: told of every fault on the region with the faulting host
    // thread (0 when the kernel cannot say) and the page index; runs on the
    // fault thread, so it must be short and must not touch the region.
    std::function<void(std::int32_t host_tid, std::uint64_t page, bool write)> fault_observer;
    // Optional: told, after a fault that was the first touch of its page at
    // its home (this node), how many pages the touch created here: the page
    // and those zero-filled ahead with it. The pages a thread created on its
    // node are what moving it would cost (cluster/sharing_policy.hpp). Same
    // thread and rules as fault_observer.
    std::function<void(std::int32_t host_tid, std::uint64_t pages)> first_touch_observer;
    // Memory policy (see "Zero-fill-ahead" and the fault thread above):
    // block of zero-fill-ahead in pages (0 = off, at most 512), whether it
    // also fills below the faulting page, and write-ahead on or off.
    // SPANVM_DSM_TUNING="zero_fill=N,backward=0|1,write_ahead=0|1" in the
    // environment overrides them (for benchmarks; every node must agree
    // only for performance, not for coherence).
    // Measured on 16 cores (2 hosts x 8, bench/cluster/scaling.sh, single
    // runs): zero-fill-ahead took the --place origin tax of xz from 0.59 to
    // 0.83 and of zstd from 0.24-0.30 to 0.46-0.60; write-ahead showed no
    // gain over the noise there (zstd 114.7 -> 108.5 faults/MiB, speedups
    // within run-to-run spread), so it is off by default.
    std::uint64_t zero_fill_block = 512;
    bool zero_fill_backward = true;
    bool write_ahead = false;
    // Dynamic homes (home_table.hpp, "Dynamic homes" below): `home` is then
    // only the default for pages no move has touched. Every node must agree.
    // migrate_after: requests in a row from one other node that move a
    // page's home there (0 = no migration); SPANVM_DSM_TUNING="migrate=N".
    bool dynamic_homes = false;
    unsigned migrate_after = 4;
    // Runs (docs/dsm-protocol.md "Runs", dsm_engine_runs.cpp): read and
    // write faults that continue a thread's sequential trend (RunDetector)
    // request the next pages as one run request the home may refuse in
    // part. Replaces read-ahead and write-ahead when on (runs=0|1 in
    // SPANVM_DSM_TUNING).
    bool runs = true;
    // First-use claims (docs/dsm-protocol.md "Claims", dsm_engine_claims.cpp;
    // needs dynamic_homes): the first request of this node into an aligned
    // chunk of claim_chunk pages homed elsewhere is a claim, and the home
    // hands the requester every never-used page of that chunk with it, so
    // fresh memory costs one claim per chunk instead of a request and a
    // grant per page. claims=0|1, claim_chunk=1..512 in SPANVM_DSM_TUNING.
    bool claims = true;
    std::uint64_t claim_chunk = 512;
    // Fillers (docs/dsm-protocol.md "Fillers", page_filler.hpp): a page
    // granted as never written holds filler->fill(page) where that is not
    // zero, read here (no page crosses the network for it). zero-fill-ahead
    // at the home leaves such pages alone: another node's claim, not the
    // home, should fill them. Must outlive the engine; nullptr: zero.
    PageFiller* filler = nullptr;
    // Whether zero-fill-ahead at the home also fills filled pages (reading
    // them here). Off at the origin, whose touches of a file page are
    // mostly the system-call arguments of threads running elsewhere; on at
    // a node, where a page's first touch at home is its own thread's.
    // fill_ahead=0|1 in SPANVM_DSM_TUNING overrides it (every node).
    bool fill_ahead = true;
    // Whether zero-fill-ahead may go past the pages the guest may touch now
    // (a PROT_NONE reservation, address space not mapped yet; needs
    // guest_protection). On for a run's own process: glibc reserves each
    // thread arena PROT_NONE and opens it by mprotect as it grows, so a
    // block filled past the open part saves a first touch per step (zstd
    // -T2 on 2 hosts: 26-28 home first touches with it, 65 without). Off
    // for a placed image's engines (the deputy's origin and the node's
    // session): its ld.so maps libraries into address space not mapped at
    // the first touch, where a page filled ahead is no longer pristine, so
    // the origin writes the file through the coherent mapping ("Fillers",
    // F2) and ld.so's MAP_FIXED zeroes it again (~450-600 page transfers
    // per placed cc1).
    bool fill_past_layout = true;
    // Discards (docs/dsm-protocol.md "Discards", discard_range): a page only
    // its home holds becomes pristine again (dropped) instead of being
    // zeroed in place. Needs dynamic_homes; reclaim=0|1 in SPANVM_DSM_TUNING.
    bool reclaim = true;
    // Writable zero installs (a write fault's page, the block zero-filled
    // ahead of a write, a write run's zero grants) as private zeroed pages
    // (UFFDIO_COPY) instead of the kernel's zero page (UFFDIO_ZEROPAGE),
    // whose first write is a copy-on-write with a TLB flush (see
    // "Zero-fill-ahead" above). populate=0|1 in SPANVM_DSM_TUNING.
    bool populate_zero = true;
};

class DsmEngine {
public:
    using Report = ControlPlane::Report;

    // Validates options, maps the region, builds protocol and transport (no
    // I/O yet). One-line errors (bad home spec, userfaultfd unavailable...).
    static Result<std::unique_ptr<DsmEngine>> create(DsmEngineOptions options);
    ~DsmEngine();  // stop()
    DsmEngine(const DsmEngine&) = delete;
    DsmEngine& operator=(const DsmEngine&) = delete;

    // Starts the transport, waits until every peer is connected, then starts
    // the fault/timer threads and the watchdog. A listen error is returned;
    // a peer that never connects is fatal (fail_all naming it).
    Result<void> start();

    // Two-phase goodbye (ControlPlane::goodbye), then stop(). Call once
    // the local workload threads no longer touch the region. Peers that fail
    // before they said ByeDone are still fatal.
    Result<void> shutdown(std::chrono::milliseconds timeout);
    // Stops threads and the transport. Idempotent.
    void stop();

    // The control plane of the `dsm-node` workloads (control_plane.hpp).
    ControlPlane& control() { return *control_; }
    Result<void> barrier(std::chrono::milliseconds timeout) { return control_->barrier(timeout); }
    Result<void> report(std::uint32_t tag, net::ByteView data) { return control_->report(tag, data); }
    Result<std::vector<Report>> gather(std::uint32_t tag, std::size_t count, std::chrono::milliseconds timeout) {
        return control_->gather(tag, count, timeout);
    }

    // The DSM's failure path (UffdRegion::fail_all).
    [[noreturn]] void fail(const std::string& reason) { region_->fail_all(reason); }

    std::uint8_t* base() const { return region_->base(); }
    std::uint64_t page_count() const { return region_->page_count(); }
    NodeId self() const { return self_; }
    NodeId num_nodes() const { return static_cast<NodeId>(cluster_.size()); }
    const HomePolicy& home_policy() const { return shards_[0]->protocol.config().home; }
    const net::ClusterConfig& cluster() const { return cluster_; }
    UffdRegion& region() { return *region_; }
    DsmStats& stats() { return *stats_; }
    net::Transport& transport() { return *transport_; }
    // Snapshot of the protocol's view of a local page (takes its shard mutex).
    LocalState local_state(PageIndex page);
    // At the page's home: no node, this one included, was ever handed the
    // page since it was last zero (directory Uncached, no local copy).
    bool untouched(PageIndex page);
    // Takes `page` out of coherence on this node: its faults are answered
    // locally (a zero page, writable), the protocol never hears of it and
    // read-ahead skips it. For per-node data at a fixed guest address (the
    // vDSO's time page). Call before this node touches the page; every node
    // that uses the page must do the same. At most kMaxNodeLocal pages.
    Result<void> make_node_local(PageIndex page);

    // ---- Dynamic homes (dsm_engine_homes.cpp; needs dynamic_homes).
    // Hands the pages of [first, first + count) that are pristine here, the
    // home, over to `to`, and returns once every node routes them to `to`
    // and the handover left (HomeNotice, all HomeAcks, HomeState). Pages
    // held only here are made pristine first: the caller guarantees their
    // content is zero (a range the guest just mapped). Returns the pages
    // moved. Not from the transport's I/O thread.
    Result<std::uint64_t> rehome(PageIndex first, PageIndex count, NodeId to);
    // For each page of [first, first + count): no node was ever handed it
    // since it was last zero, asked of its home (a round trip for pages
    // homed elsewhere; "no" when unsure). `discard` (discard_range only):
    // each home first reclaims the pages of the range only it holds
    // (DiscardQuery). Not from the I/O thread.
    Result<std::vector<bool>> untouched_range(PageIndex first, PageIndex count, bool discard = false);
    // A discard (munmap, MADV_DONTNEED) of [first, first + count): every
    // page homed here that only this node holds, and no transaction uses,
    // becomes pristine again (Protocol::reclaim_zero: its copy dropped, one
    // madvise per stretch, directory Uncached); the caller guarantees that
    // its content is zero from now on. Then as untouched_range: the pages
    // that read as zero with no more work (pristine, or reclaimed just
    // now); the caller zeroes the others through the coherent mapping.
    // Returns the pages reclaimed in `reclaimed`. Not from the I/O thread.
    Result<std::vector<bool>> discard_range(PageIndex first, PageIndex count, std::uint64_t& reclaimed);
    NodeId home_of(PageIndex page) const { return shards_[page % kShards]->protocol.home_of(page); }

private:
    DsmEngine(DsmEngineOptions options, Protocol protocol, std::unique_ptr<UffdRegion> region);

    static std::uint64_t now_ns();
    // How long a failing node spends on its last words (control_plane.hpp).
    static constexpr std::chrono::milliseconds kLastWordsTimeout{250};
    static constexpr int kServiceNice = 0;  // fault, timer and transport I/O threads; 0 = unchanged (see .cpp)
    static void raise_priority();
    void fault_loop();
    void timer_loop();
    void deadline_loop(std::chrono::milliseconds limit);
    void handle_fault(const UffdRegion::Fault& f);
    // Downgrade-ahead (see "Downgrade-ahead" above). Caller holds the shard
    // mutex of `page`, which is Modified and writable and about to be
    // downgraded for a read forward.
    void downgrade_ahead(PageIndex page);
    // Zero-fill-ahead (see above). Fault thread; takes shard mutexes one at a time.
    std::uint64_t zero_fill_ahead(PageIndex page, bool write);  // pages filled
    // Runs (dsm_engine_runs.cpp). Fault thread: asks for the pages of `r`
    // this node may ask for (request_ahead), one RunReadReq/RunWriteReq per
    // contiguous stretch with one remote home. I/O thread at the home:
    // splits a run request into its pages, each under its shard mutex.
    void request_run(RunDetector::Range r, bool write);
    void serve_run(NodeId from, const Message& msg, std::size_t wire_bytes);
    // I/O thread: a RunFrame (run_frame.hpp), its messages handled in order
    // under every shard mutex as one batch.
    void serve_frame(NodeId from, net::ByteView payload);
    // Batches (dsm_engine_runs.cpp "Batches"). While a thread holds every
    // shard mutex (lock_all) and batch_ is set, execute() hands installs,
    // drops, wake-ups and sends to the batch (divert), which end_batch
    // performs as runs: one UFFDIO_COPY / madvise per contiguous stretch,
    // one RunFrame per run of messages to a peer, then self-messages.
    struct Batch;
    std::array<std::unique_lock<std::mutex>, 16> lock_all();
    bool divert(Action& a);
    void end_batch();
    // Protocol::reclaim_zero on every page of `runs` homed here (a discard;
    // the caller guarantees their content is zero from now on), as one
    // batch under every shard mutex. Returns the pages reclaimed.
    std::uint64_t reclaim_runs(const std::vector<PageRun>& runs);
    void on_protocol_message(NodeId from, net::ByteView payload);
    // Dynamic homes (dsm_engine_homes.cpp).
    void on_home_message(NodeId from, std::uint64_t request_id, net::ByteView payload);
    void start_move(const StartMove& m);         // under the page's shard mutex
    void finish_move(const HomeMoves::Move& m);  // no shard mutex held

    static constexpr std::size_t kShards = 16;
    // One fault thread: it never waits for a round trip (the grant is
    // installed by the I/O thread), so it does not serialize faults; a second
    // thread polling the same userfaultfd would be woken for every fault
    // too (poll wakes all waiters), one more wake-up per fault on 2 CPUs.
    static constexpr unsigned kFaultThreads = 1;
    struct PendingFault {
        std::uint64_t start_ns;
        bool write;
    };
    // One slice of the protocol state; see "Shards" above.
    struct Shard {
        explicit Shard(Protocol p) : protocol(std::move(p)) {}
        std::mutex mu;
        Protocol protocol;                  // guarded by mu
        std::deque<Message> self_queue;     // guarded by mu
        std::unordered_map<PageIndex, PendingFault> pending_faults;  // guarded by mu
        std::vector<std::byte> send_buf;    // guarded by mu: encoding scratch
    };
    Shard& shard(PageIndex page) { return *shards_[page % kShards]; }
    // Every shard mutex, in index order (see the lock order above).
    std::array<std::unique_lock<std::mutex>, kShards> lock_all_shards();
    // Counts a request from another node for a page no node has had yet:
    // count_first_touch_request for an ordinary request; count_first_touch
    // for any request (ordinary, run page, claim not granted), as
    // remote_first_touches or, where `from`'s claim into the page's chunk
    // found a used page here, shared_chunk_first_touches.
    void count_first_touch_request(Shard& sh, NodeId from, const Message& m);
    void count_first_touch(NodeId from, PageIndex page, const char* point);
    // Caller holds the shard mutex of `page`: this node is its home and no
    // node, this one included, has had it since it was last zero.
    bool untouched_at_home_locked(Shard& sh, PageIndex page);
    // Installs `page`'s filler (page_filler.hpp; zero without one), as a
    // grant of never-written data is installed; install_initial_run the
    // same for `count` writable pages (count <= UffdRegion::kStripes),
    // zero ones as private pages if `populate`, else as the zero page.
    Result<void> install_initial(PageIndex page, bool writable);
    void install_initial_run(PageIndex first, std::size_t count, const char* what, bool populate);
    // Claims (dsm_engine_claims.cpp). claim_step, under the page's shard
    // mutex, decides how this node asks for `page`: as a claim (the first
    // request into its chunk), as an ordinary request, or (a fault, while a
    // claim of its chunk is out) not yet: the fault is woken, and retried,
    // when the claim settles (claim_settled: the claimed page's grant is in).
    enum class ClaimStep { None, Claim, Wait, Skip };
    ClaimStep claim_step(Shard& sh, PageIndex page, bool thread_waits);
    void claim_settled(PageIndex page);
    // I/O thread at the home: a ClaimReadReq/ClaimWriteReq, under every
    // shard mutex (a claim hands over pages of every shard).
    void serve_claim(NodeId from, const Message& msg, std::size_t wire_bytes);
    bool claims_on() const { return homes_ && options_.claims; }

    // Caller holds sh.mu. Executes `acts` in order, then drains sh.self_queue.
    void run_actions(Shard& sh, Actions& acts, NodeId from);
    void execute(Shard& sh, Actions& acts, NodeId from);
    void execute_send(Shard& sh, Send& s);
    void check(const Result<void>& r, const char* what);
    // A send to `to` failed: fatal, naming `to`, unless ControlPlane::peer_left
    // says it is an exit (after the goodbye or this engine's stop, a late
    // message's answer cannot go out, and need not).
    void send_failed(NodeId to, const Error& e);

    DsmEngineOptions options_;
    net::ClusterConfig cluster_;
    NodeId self_;
    std::unique_ptr<UffdRegion> region_;
    std::unique_ptr<DsmStats> stats_;
    std::unique_ptr<ControlPlane> control_;
    std::unique_ptr<net::MessageRouter> own_router_;  // when options_.router is null; outlives transport_
    std::unique_ptr<net::Transport> transport_;

    // Protocol state, self-send queues and pending fault start times.
    std::vector<std::unique_ptr<Shard>> shards_;
    // Sequential read-ahead and write-ahead (vmm/dsm/read_ahead.hpp): one
    // window for read faults, one for write faults; fault thread only.
    ReadAhead read_ahead_;
    ReadAhead write_ahead_;
    // Per-thread trends for runs (options_.runs); fault thread only.
    RunDetector runs_;
    // Downgrade-ahead: page + 1 of the last page downgraded for a read
    // forward (0: none). Any thread; a lost update only costs a guess.
    static constexpr std::uint64_t kDowngradeBlock = UffdRegion::kStripes;  // 64 pages
    std::atomic<std::uint64_t> last_downgrade_{0};
    static constexpr std::uint64_t kMaxZeroFillBlock = 512;  // pages: 2 MiB, a huge page's span
    // Set by zero_fill_ahead while it holds every shard mutex: execute()
    // collects writable zero installs here instead of installing them.
    std::vector<PageIndex>* zero_run_ = nullptr;
    // Set while the thread that holds every shard mutex runs a batch.
    Batch* batch_ = nullptr;

    // Timer (WakeAt).
    std::mutex timer_mu_;
    std::condition_variable timer_cv_;
    // Every WakeAt not yet served: on_tick re-emits nothing for pages whose
    // hold has not expired, so each requested time must be kept.
    std::priority_queue<std::uint64_t, std::vector<std::uint64_t>, std::greater<>> wake_at_;
    bool stop_timer_ = false;

    // Dynamic homes: the table every shard's protocol reads, the moves this
    // node started (moves_mu_, a leaf), and moves finished for rehome().
    std::unique_ptr<HomeTable> homes_;
    std::mutex moves_mu_;
    std::condition_variable moves_cv_;
    HomeMoves moves_{0};
    std::vector<std::uint64_t> finished_moves_;  // guarded by moves_mu_

    // Claims, requester side (claims_mu_, a leaf): per chunk, the page whose
    // claim is out and the faulting pages that wait for it; chunks whose
    // claim found its page used (never claimed again by this node).
    std::mutex claims_mu_;
    std::unordered_map<std::uint64_t, PageIndex> claims_out_;
    std::unordered_map<std::uint64_t, std::vector<PageIndex>> claim_waiters_;
    std::vector<bool> no_claim_;
    // Home side, per chunk: the nodes whose claim into it this home
    // refused because the claimed page was used (C3; bit per node). Sparse:
    // few chunks ever refuse, and a vector over all guest RAM's chunks was
    // 96 KiB zeroed per engine.
    std::unordered_map<std::uint64_t, std::uint64_t> refused_claims_;
    std::atomic<std::size_t> claims_open_{0};
    // Set by serve_claim while it holds every shard mutex: StartMove{claim}
    // may then claim the chunk's other pages.
    bool claim_locks_held_ = false;

    static constexpr std::size_t kMaxNodeLocal = 4;
    bool node_local(PageIndex page) const;
    void answer_node_local(const UffdRegion::Fault& f);
    // Node-local pages; kNoPage marks a free slot (set once, read lock-free).
    static constexpr PageIndex kNoPage = ~PageIndex{0};
    std::array<std::atomic<PageIndex>, kMaxNodeLocal> node_local_{kNoPage, kNoPage, kNoPage, kNoPage};
    std::atomic<bool> stop_{false};
    std::atomic<bool> started_{false};
    std::vector<std::thread> fault_threads_;
    std::thread timer_thread_, deadline_thread_;
};

}  // namespace spanvm::dsm
