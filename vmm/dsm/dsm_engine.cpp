#include "vmm/dsm/dsm_engine.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <cstdlib>
#include <string_view>
#include <optional>
#include <stdexcept>

#include "vmm/base/latency_trace.hpp"
#include "vmm/base/log.hpp"

namespace spanvm::dsm {

namespace {

net::ByteView as_view(const std::vector<std::byte>& v) {
    return {reinterpret_cast<const std::uint8_t*>(v.data()), v.size()};
}

}  // namespace

// Fault service threads sleep almost always and must run as soon as they are
// woken: under CPU contention a woken thread waits for the running ones'
// slices, which is where the millisecond tail of a remote fault came from.
// kServiceNice < 0 would give them a lower nice value (best effort: needs root
// or CAP_SYS_NICE). It is 0 (off): on the shared 2-CPU machine nice -10 showed
// no gain over the noise, and it can delay the woken faulting thread, which
// runs at the default weight, behind the service threads. SCHED_FIFO for the
// fault and I/O threads was tried too (h-dsm3): on this 2-vCPU VM it made
// the transport RTT 3x and ping-pong 3-5x slower (real-time wake-ups are
// pushed to the other CPU by IPI, which is expensive under nested
// virtualization), so it is not used.
void DsmEngine::raise_priority() {
    if (kServiceNice != 0) (void)setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), kServiceNice);
}

std::uint64_t DsmEngine::now_ns() {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
            .count());
}

Result<std::unique_ptr<DsmEngine>> DsmEngine::create(DsmEngineOptions options) {
    NodeId n = static_cast<NodeId>(options.cluster.size());
    if (n == 0) return make_error(EINVAL, "dsm: empty cluster");
    if (n > kMaxNodes) return make_error(EINVAL, "dsm: {} nodes, at most {} supported", n, kMaxNodes);
    if (options.self >= n)
        return make_error(EINVAL, "dsm: node {} is not in the cluster (nodes 0..{})", options.self, n - 1);
    if (options.pages == 0) return make_error(EINVAL, "dsm: --pages must be at least 1");
    if (const char* t = std::getenv("SPANVM_DSM_TUNING"); t && *t) {
        for (std::string_view rest = t; !rest.empty();) {
            const auto comma = rest.find(',');
            const std::string_view item = rest.substr(0, comma);
            rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
            const auto eq = item.find('=');
            const std::string_view key = item.substr(0, eq);
            unsigned long v = 0;
            const std::string_view val = eq == std::string_view::npos ? std::string_view{} : item.substr(eq + 1);
            auto [ptr, ec] = std::from_chars(val.data(), val.data() + val.size(), v);
            if (val.empty() || ec != std::errc{} || ptr != val.data() + val.size())
                return make_error(EINVAL, "SPANVM_DSM_TUNING: '{}' is not KEY=NUMBER", item);
            if (key == "zero_fill" && v <= kMaxZeroFillBlock) options.zero_fill_block = v;
            else if (key == "backward" && v <= 1) options.zero_fill_backward = v;
            else if (key == "write_ahead" && v <= 1) options.write_ahead = v;
            else if (key == "migrate" && v <= 255) options.migrate_after = static_cast<unsigned>(v);
            else if (key == "dynamic_homes" && v <= 1) options.dynamic_homes = options.dynamic_homes && v;
            else if (key == "runs" && v <= 1) options.runs = v;
            else if (key == "claims" && v <= 1) options.claims = v;
            else if (key == "claim_chunk" && v >= 1 && v <= kMaxZeroFillBlock) options.claim_chunk = v;
            else if (key == "fill_ahead" && v <= 1) options.fill_ahead = v;
            else if (key == "reclaim" && v <= 1) options.reclaim = v;
            else if (key == "populate" && v <= 1) options.populate_zero = v;
            else return make_error(EINVAL, "SPANVM_DSM_TUNING: unknown or out-of-range '{}' (zero_fill=0..{}, backward=0|1, write_ahead=0|1, migrate=0..255, dynamic_homes=0|1, runs=0|1, claims=0|1, claim_chunk=1..{}, fill_ahead=0|1, reclaim=0|1, populate=0|1)", item, kMaxZeroFillBlock, kMaxZeroFillBlock);
        }
    }
    if (options.claim_chunk == 0 || options.claim_chunk > kMaxZeroFillBlock)
        return make_error(EINVAL, "dsm: claim chunk of {} pages (1..{})", options.claim_chunk, kMaxZeroFillBlock);
    if (options.zero_fill_block > kMaxZeroFillBlock)
        return make_error(EINVAL, "dsm: zero-fill block of {} pages (at most {})", options.zero_fill_block, kMaxZeroFillBlock);
    auto home = HomePolicy::parse(options.home, n);
    if (!home) return home.error();
    ProtocolConfig pc;
    pc.self = options.self;
    pc.num_nodes = n;
    pc.num_pages = options.pages;
    pc.page_size = UffdRegion::kPageSize;
    pc.home = *home;
    pc.hold_ns = options.hold_us * 1000;
    auto proto = Protocol::create(pc);
    if (!proto) return proto.error();
    auto region = options.external_base ? UffdRegion::create_over(options.external_base, options.pages)
                                        : UffdRegion::create(options.pages);
    if (!region) return region.error();
    (*region)->set_reader(options.guest_protection);
    std::unique_ptr<DsmEngine> e(new DsmEngine(std::move(options), std::move(*proto), std::move(*region)));
    return e;
}

DsmEngine::DsmEngine(DsmEngineOptions options, Protocol protocol, std::unique_ptr<UffdRegion> region)
    : options_(std::move(options)),
      cluster_(options_.cluster),
      self_(options_.self),
      region_(std::move(region)),
      read_ahead_(options_.pages),
      write_ahead_(options_.pages),
      runs_(options_.pages) {
    stats_ = std::make_unique<DsmStats>(self_, cluster_.node(static_cast<net::NodeId>(self_)).endpoint(),
                                        options_.pages);
    if (options_.dynamic_homes) homes_ = std::make_unique<HomeTable>(options_.pages);
    if (claims_on()) {
        no_claim_.assign((options_.pages + options_.claim_chunk - 1) / options_.claim_chunk, false);
    }
    moves_ = HomeMoves(self_);
    for (std::size_t i = 0; i < kShards; ++i) {
        ProtocolConfig pc = protocol.config();
        pc.page_stride = kShards;
        pc.page_offset = i;
        pc.homes = homes_.get();
        if (homes_) pc.migrate.threshold = options_.migrate_after;
        pc.claims = homes_ && options_.claims;
        auto p = Protocol::create(pc);  // cannot fail: `protocol` was created from the same settings
        if (!p) throw std::logic_error(p.error().message);
        shards_.push_back(std::make_unique<Shard>(std::move(*p)));
        shards_.back()->send_buf.reserve(kMessageHeaderBytes + UffdRegion::kPageSize);
    }
    control_ = std::make_unique<ControlPlane>(
        cluster_, self_, *stats_,
        [this](NodeId to, net::ByteView b) { return transport_->send(static_cast<net::NodeId>(to), kDsmControlType, b); },
        [this](const std::string& reason) { fail(reason); },
        [this](net::ByteView payload) { (void)transport_->last_words(kDsmControlType, payload, kLastWordsTimeout); });
    if (!options_.router) own_router_ = std::make_unique<net::MessageRouter>();
    net::MessageRouter& router = options_.router ? *options_.router : *own_router_;
    router.route(kDsmProtocolType, kDsmProtocolType,
                 [this](net::NodeId from, std::uint16_t, std::uint64_t, net::ByteView payload) {
                     on_protocol_message(static_cast<NodeId>(from), payload);
                 });
    router.route(kDsmHomeType, kDsmHomeType,
                 [this](net::NodeId from, std::uint16_t, std::uint64_t request_id, net::ByteView payload) {
                     on_home_message(static_cast<NodeId>(from), request_id, payload);
                 });
    router.route(kDsmControlType, kDsmControlType,
                 [this](net::NodeId from, std::uint16_t, std::uint64_t, net::ByteView payload) {
                     control_->on_message(static_cast<NodeId>(from), payload);
                 });
    if (!router.peer_failures_owned()) {
        router.own_peer_failures([this](net::NodeId node, const std::string& reason) {
            control_->on_peer_failed(static_cast<NodeId>(node), reason);
        });
        // Whoever fails first in this process tells the peers why (ControlPlane: "Last words").
        region_->set_fatal_hook([this](const std::string& reason) { control_->last_words(reason); });
    }
    net::TransportOptions topt;
    topt.connect_timeout = options_.connect_timeout;
    topt.listen_fd = options_.listen_fd;
    topt.io_thread_nice = kServiceNice;
    topt.heartbeat_interval = options_.heartbeat_interval;
    topt.peer_timeout = options_.peer_timeout;
    // Node 0 judges silent peers first: the others give a peer other than
    // node 0 two more heartbeat periods, so when one node is cut off node 0's
    // line names it, instead of a survivor timing it out, exiting, and node 0
    // blaming that survivor for closing.
    if (self_ != 0 && options_.peer_timeout.count() > 0) {
        topt.peer_timeouts.assign(cluster_.size(), options_.peer_timeout + 2 * options_.heartbeat_interval);
        topt.peer_timeouts[0] = options_.peer_timeout;
    }
    // "DSM" v7 (direct transfers, transport heartbeats, dynamic homes, runs,
    // first-use claims, fillers: never-written data is the page's filler):
    // all nodes must run this engine.
    topt.protocol_version = 0x44534d07 ^ options_.version_salt;
    transport_ = std::make_unique<net::Transport>(cluster_, static_cast<net::NodeId>(self_), router.types(),
                                                  router.message_handler(), router.peer_failed_handler(), topt);
}

DsmEngine::~DsmEngine() { stop(); }

Result<void> DsmEngine::start() {
    try {
        transport_->start();
    } catch (const std::exception& e) {
        return make_error(EADDRINUSE, "{}", e.what());
    }
    auto connected = transport_->wait_connected(options_.connect_timeout + std::chrono::milliseconds(2000));
    if (!connected) {
        // A failed peer has already been reported through on_peer_failed.
        fail(fmt::format("{}: cluster did not come up: {}", cluster_.describe(static_cast<net::NodeId>(self_)),
                         connected.error().message));
    }
    started_ = true;
    region_->start_watchdog(options_.watchdog);
    for (unsigned i = 0; i < kFaultThreads; ++i)
        fault_threads_.emplace_back([this] {
            raise_priority();
            fault_loop();
        });
    timer_thread_ = std::thread([this] {
        raise_priority();
        timer_loop();
    });
    if (options_.overall_timeout.count() > 0) {
        auto limit = options_.overall_timeout;
        deadline_thread_ = std::thread([this, limit] { deadline_loop(limit); });
    }
    return {};
}

void DsmEngine::stop() {
    control_->engine_stopped();
    if (stop_.exchange(true)) return;
    {
        std::lock_guard lk(timer_mu_);
        stop_timer_ = true;
    }
    timer_cv_.notify_all();
    for (auto& t : fault_threads_)
        if (t.joinable()) t.join();
    if (timer_thread_.joinable()) timer_thread_.join();
    if (deadline_thread_.joinable()) deadline_thread_.join();
    region_->stop_watchdog();
    transport_->stop();
}

LocalState DsmEngine::local_state(PageIndex page) {
    Shard& sh = shard(page);
    std::lock_guard lk(sh.mu);
    return sh.protocol.local_state(page);
}

Result<void> DsmEngine::make_node_local(PageIndex page) {
    if (page >= region_->page_count()) return make_error(EINVAL, "node-local page {} outside the region", page);
    for (auto& slot : node_local_) {
        PageIndex want = kNoPage;
        if (slot.load() == page || slot.compare_exchange_strong(want, page)) return {};
    }
    return make_error(ENOSPC, "more than {} node-local pages", kMaxNodeLocal);
}

bool DsmEngine::node_local(PageIndex page) const {
    for (const auto& slot : node_local_)
        if (slot.load(std::memory_order_relaxed) == page) return true;
    return false;
}

void DsmEngine::answer_node_local(const UffdRegion::Fault& f) {
    using P = UffdRegion::Presence;
    Result<void> r;
    switch (region_->presence(f.page)) {
        case P::absent:
            if (auto i = region_->install(f.page, nullptr, true); !i) r = i.error();
            break;
        case P::read_only: r = region_->make_writable(f.page); break;
        case P::writable: r = region_->wake(f.page); break;
    }
    check(r, "node-local page");
}

bool DsmEngine::untouched(PageIndex page) {
    Shard& sh = shard(page);
    std::lock_guard lk(sh.mu);
    // A page homed elsewhere: its directory is not here (untouched_range asks).
    return sh.protocol.home_of(page) == self_ && sh.protocol.directory(page).state == DirState::Uncached &&
           sh.protocol.local_state(page) == LocalState::Invalid;
}

bool DsmEngine::untouched_at_home_locked(Shard& sh, PageIndex page) {
    return !sh.protocol.frozen(page) && sh.protocol.pristine(page);
}

// ------------------------------------------------------------------ threads

void DsmEngine::fault_loop() {
    while (!stop_.load(std::memory_order_relaxed)) {
        auto f = region_->read_fault(100);
        if (!f) fail(fmt::format("{}: reading page faults: {}", cluster_.describe(static_cast<net::NodeId>(self_)),
                                 f.error().message));
        if (*f) handle_fault(**f);
    }
}

void DsmEngine::timer_loop() {
    std::unique_lock lk(timer_mu_);
    while (!stop_timer_) {
        if (wake_at_.empty()) {
            timer_cv_.wait(lk);
            continue;
        }
        std::uint64_t now = now_ns();
        if (now < wake_at_.top()) {
            timer_cv_.wait_for(lk, std::chrono::nanoseconds(wake_at_.top() - now));
            continue;
        }
        while (!wake_at_.empty() && wake_at_.top() <= now) wake_at_.pop();
        lk.unlock();
        for (auto& sh : shards_) {
            std::lock_guard plk(sh->mu);
            Actions acts;
            check(sh->protocol.on_tick(now_ns(), acts), "hold timer");
            run_actions(*sh, acts, self_);
        }
        lk.lock();
    }
}

void DsmEngine::deadline_loop(std::chrono::milliseconds limit) {
    std::unique_lock lk(timer_mu_);
    if (timer_cv_.wait_for(lk, limit, [this] { return stop_timer_; })) return;
    fail(fmt::format("{}: run timed out after {} s", cluster_.describe(static_cast<net::NodeId>(self_)),
                     limit.count() / 1000.0));
}

// --------------------------------------------------------------- fault path

void DsmEngine::handle_fault(const UffdRegion::Fault& f) {
    bool write = f.is_write || f.is_wp;
    if (node_local(f.page)) {
        answer_node_local(f);
        return;
    }
    stats_->record_fault(f.page, write);
    if (options_.fault_observer && f.tid != 0) options_.fault_observer(static_cast<std::int32_t>(f.tid), f.page, write);
    Shard& sh = shard(f.page);
    bool first_touch_at_home = false;
    bool local_upgrade = false;
    {
        std::lock_guard lk(sh.mu);
        first_touch_at_home = untouched_at_home_locked(sh, f.page);
        if (write && sh.protocol.local_state(f.page) == LocalState::Modified) {
            // Modified but mapped read-only by downgrade_ahead (or a duplicate
            // event of a write fault already served): a local matter, no
            // message. make_writable wakes the waiters either way.
            check(region_->make_writable(f.page), "write to a page downgraded ahead");
            trace::mark("dsm.local_upgrade", f.page);
            local_upgrade = true;
        } else {
            // Claims (dsm_engine_claims.cpp): the chunk's first request is a
            // claim; while it is out, the fault waits for it (woken later).
            const ClaimStep step = claim_step(sh, f.page, /*thread_waits=*/true);
            if (step == ClaimStep::Wait) return;
            auto [it, inserted] = sh.pending_faults.try_emplace(f.page, PendingFault{f.read_ns, write});
            if (!inserted && write) it->second.write = true;
            Actions acts;
            check(sh.protocol.on_fault(f.page, write ? Access::Write : Access::Read, now_ns(), acts,
                                       step == ClaimStep::Claim),
                  "fault");
            run_actions(sh, acts, self_);
        }
    }
    if (local_upgrade) {
        // A writer walking pages that downgrade-ahead write-protected: the
        // rest of its run is made writable in one ioctl (request_run).
        if (options_.runs) request_run(runs_.on_fault(f.tid, true, f.page), true);
        return;
    }
    trace::mark("fault.handled", f.page);
    if (first_touch_at_home) {
        stats_->add(DsmStats::Counter::home_first_touch_faults);
        const bool file_page = options_.filler && options_.filler->filled(f.page);
        trace::mark("dsm.home_first_touch", (std::uint64_t{file_page} << 40) | f.page);
        const std::uint64_t filled = options_.zero_fill_block > 1 ? zero_fill_ahead(f.page, write) : 0;
        if (options_.first_touch_observer && f.tid != 0)
            options_.first_touch_observer(static_cast<std::int32_t>(f.tid), 1 + filled);
        return;
    }
    if (options_.runs) {  // dsm_engine_runs.cpp
        request_run(runs_.on_fault(f.tid, write, f.page), write);
        return;
    }
    if (write && !options_.write_ahead) return;
    // After the faulting page's own request: read (write) ahead of a
    // sequential walk, the window's requests leaving in one gathered write.
    // Write-ahead asks only for pages this node could not write already
    // (Invalid or Shared): a page in flight or Modified here needs nothing.
    ReadAhead::Range ra = write ? write_ahead_.on_read_fault(f.page) : read_ahead_.on_read_fault(f.page);
    if (ra.empty()) return;
    net::Transport::Cork cork(*transport_);
    std::uint64_t asked = 0;
    for (PageIndex q = ra.first; q < ra.end; ++q) {
        Shard& qs = shard(q);
        std::lock_guard lk(qs.mu);
        const LocalState st = qs.protocol.local_state(q);
        if (node_local(q) || !(st == LocalState::Invalid || (write && st == LocalState::Shared))) continue;
        Actions acts;
        check(qs.protocol.on_fault(q, write ? Access::Write : Access::Read, now_ns(), acts),
              write ? "write-ahead" : "read-ahead");
        run_actions(qs, acts, self_);
        ++asked;
    }
    if (write && asked) stats_->add(DsmStats::Counter::written_ahead, asked);
}

std::uint64_t DsmEngine::zero_fill_ahead(PageIndex page, bool write) {
    const std::uint64_t block = options_.zero_fill_block;
    const PageIndex first = page / block * block;
    const PageIndex end = std::min<PageIndex>(page_count(), first + block);
    // Every shard mutex, in index order (the block spans all shards): no
    // event on any page of the block interleaves with the grants below and
    // the one install after them. Only this thread ever holds more than one.
    std::array<std::unique_lock<std::mutex>, kShards> locks;
    for (std::size_t i = 0; i < kShards; ++i) locks[i] = std::unique_lock(shards_[i]->mu);
    // Not past what the guest may touch (a hole, a PROT_NONE gap, address
    // space not mapped yet): a page granted here ahead is no longer
    // pristine, so a file mapped there later is written by the origin
    // through the coherent mapping (F2 of "Fillers") and its munmap zeroes
    // it, each a page transfer, instead of costing nothing.
    // Not for the run's own process (options_.fill_past_layout: arenas).
    const memory::GuestProtection* gp =
        options_.external_base && !options_.fill_past_layout ? options_.guest_protection : nullptr;
    auto untouched_here = [&](PageIndex q) {
        return !node_local(q) && untouched_at_home_locked(shard(q), q) &&
               (options_.fill_ahead || !options_.filler || !options_.filler->filled(q)) &&
               (!gp || gp->accessible_host(options_.external_base + q * UffdRegion::kPageSize));
    };
    PageIndex lo = page, hi = page + 1;
    while (hi < end && untouched_here(hi)) ++hi;
    while (options_.zero_fill_backward && lo > first && untouched_here(lo - 1)) --lo;
    if (hi - lo == 1) return 0;
    // Grant each page to this node as a write fault would; execute() defers
    // the zero installs to zero_run_, installed below in one ioctl per run.
    std::vector<PageIndex> installs;
    zero_run_ = &installs;
    for (PageIndex q = lo; q < hi; ++q) {
        if (q == page) continue;
        Actions acts;
        check(shard(q).protocol.on_fault(q, Access::Write, now_ns(), acts), "zero-fill-ahead");
        run_actions(shard(q), acts, self_);
    }
    zero_run_ = nullptr;
    std::sort(installs.begin(), installs.end());
    for (std::size_t i = 0; i < installs.size();) {
        std::size_t j = i + 1;
        while (j < installs.size() && installs[j] == installs[j - 1] + 1 && j - i < UffdRegion::kStripes) ++j;
        // A write's block gets private pages (populate_zero), a read's the zero page.
        install_initial_run(installs[i], j - i, "zero-fill-ahead install", options_.populate_zero && write);
        i = j;
    }
    stats_->add(DsmStats::Counter::zero_filled_ahead, installs.size());
    trace::mark("dsm.zero_fill_ahead", installs.size());
    return installs.size();
}

namespace {
// Zero bytes to copy from (populate_zero): never written, so every page of
// it is the kernel's one zero page and a copy reads one cache-hot page.
alignas(UffdRegion::kPageSize) std::byte g_zero_run[UffdRegion::kStripes * UffdRegion::kPageSize];
}  // namespace

Result<void> DsmEngine::install_initial(PageIndex page, bool writable) {
    alignas(UffdRegion::kPageSize) std::byte buf[UffdRegion::kPageSize];
    const bool filled = options_.filler && options_.filler->fill(page, buf);
    if (filled) stats_->add(DsmStats::Counter::pages_filled);
    const void* src = filled ? static_cast<const void*>(buf) : writable && options_.populate_zero ? g_zero_run : nullptr;
    auto r = region_->install(page, src, writable);
    if (!r) return r.error();
    return {};
}

void DsmEngine::install_initial_run(PageIndex first, std::size_t count, const char* what, bool populate) {
    PageFiller* f = options_.filler;
    std::size_t i = 0;
    // Reused by this thread from run to run: a fresh buffer of up to 64
    // pages was an mmap, 64 page faults, zeroing and an munmap per filled
    // run (fill_run writes every byte it is given).
    thread_local std::unique_ptr<std::byte[]> staging;
    thread_local std::size_t staging_pages = 0;
    while (i < count) {
        // Stretches of zero pages (one UFFDIO_ZEROPAGE) and of filled pages
        // (read here, one UFFDIO_COPY).
        const bool filled = f && f->filled(first + i);
        std::size_t j = i + 1;
        while (j < count && (f && f->filled(first + j)) == filled) ++j;
        if (!filled && populate) {
            check(region_->install_run(first + i, j - i, g_zero_run, true), what);
        } else if (!filled) {
            check(region_->install_zero_run(first + i, j - i), what);
        } else {
            if (staging_pages < j - i) {
                staging.reset(new std::byte[(j - i) * UffdRegion::kPageSize]);
                staging_pages = j - i;
            }
            f->fill_run(first + i, j - i, staging.get());
            check(region_->install_run(first + i, j - i, staging.get(), true), what);
            stats_->add(DsmStats::Counter::pages_filled, j - i);
        }
        i = j;
    }
}

void DsmEngine::downgrade_ahead(PageIndex page) {
    std::uint64_t prev = last_downgrade_.exchange(page + 1, std::memory_order_relaxed);
    if (prev == 0 || prev - 1 == page || (prev - 1) / kDowngradeBlock != page / kDowngradeBlock) return;
    std::uint64_t first = page / kDowngradeBlock * kDowngradeBlock;
    std::uint64_t n = std::min<std::uint64_t>(kDowngradeBlock, page_count() - first);
    auto r = region_->write_protect_writable(first, n);
    if (!r) check(r.error(), "downgrade-ahead");
    trace::mark("dsm.downgrade_ahead", *r);
}

void DsmEngine::on_protocol_message(NodeId from, net::ByteView payload) {
    // Borrowed: the page bytes stay in the transport's receive buffer, which
    // lives until this callback returns; installs copy straight from it.
    if (!payload.empty() && payload[0] == kRunFrameMarker) {
        serve_frame(from, payload);  // dsm_engine_runs.cpp
        return;
    }
    auto msg = decode_message_view({reinterpret_cast<const std::byte*>(payload.data()), payload.size()});
    if (!msg) fail(cluster_.describe_failure(from, "protocol violation: " + msg.error().message));
    if (msg->type == MsgType::RunReadReq || msg->type == MsgType::RunWriteReq) {
        serve_run(from, *msg, payload.size());  // dsm_engine_runs.cpp
        return;
    }
    if (msg->type == MsgType::ClaimReadReq || msg->type == MsgType::ClaimWriteReq) {
        serve_claim(from, *msg, payload.size());  // dsm_engine_claims.cpp
        return;
    }
    if (msg->type == MsgType::Refuse) stats_->add(DsmStats::Counter::run_pages_refused);
    bool grant = msg->type == MsgType::GrantShared || msg->type == MsgType::GrantModified;
    if (grant && msg->data_kind == DataKind::Bytes)
        stats_->record_remote_fetch(msg->page, payload.size());
    else
        stats_->add(DsmStats::Counter::bytes_received, payload.size());
    if (msg->type == MsgType::Invalidate) stats_->record_invalidation_received(msg->page);
    trace::mark("dsm.rx", (std::uint64_t{static_cast<std::uint8_t>(msg->type)} << 56) | msg->page);
    Shard& sh = shard(msg->page);
    std::lock_guard lk(sh.mu);
    count_first_touch_request(sh, from, *msg);
    Actions acts;
    auto r = sh.protocol.on_message(from, *msg, now_ns(), acts);
    // Actions appended before an error must still run (protocol.hpp).
    run_actions(sh, acts, from);
    if (!r) fail(cluster_.describe_failure(from, "protocol violation: " + r.error().message));
}

void DsmEngine::check(const Result<void>& r, const char* what) {
    if (!r) fail(fmt::format("{}: {}: {}", cluster_.describe(static_cast<net::NodeId>(self_)), what, r.error().message));
}

void DsmEngine::send_failed(NodeId to, const Error& e) {
    if (!control_->peer_left(to)) fail(cluster_.describe_failure(to, e.message));
}

void DsmEngine::run_actions(Shard& sh, Actions& acts, NodeId from) {
    execute(sh, acts, from);
    while (!sh.self_queue.empty()) {
        Message m = std::move(sh.self_queue.front());
        sh.self_queue.pop_front();
        Actions more;
        check(sh.protocol.on_message(self_, m, now_ns(), more), "local message");
        execute(sh, more, self_);
    }
}

void DsmEngine::execute(Shard& sh, Actions& acts, NodeId from) {
    // UFFDIO_COPY and clearing write protection wake the page's waiters
    // themselves: a ResumeFaults right after them needs no UFFDIO_WAKE.
    std::optional<PageIndex> woken;
    for (Action& a : acts) {
        if (batch_ && divert(a)) continue;  // dsm_engine_runs.cpp
        if (auto* ip = std::get_if<InstallPage>(&a)) {
            bool writable = ip->access == Access::Write;
            if (zero_run_ && writable && ip->data_kind == DataKind::Zero) {
                // zero_fill_ahead installs these after its grants, under the same locks.
                zero_run_->push_back(ip->page);
                stats_->record_zero_page_grant(ip->page);
                stats_->record_writer(ip->page, self_);
                woken = ip->page;
                continue;
            }
            if (ip->data_kind == DataKind::Bytes) {
                auto r = region_->install(ip->page, ip->data.data(), writable);
                if (!r) check(r.error(), "install");
                trace::mark("dsm.installed.bytes", ip->page);
            } else {
                check(install_initial(ip->page, writable), "install");
            }
            trace::mark("dsm.installed", ip->page);
            if (ip->data_kind == DataKind::Zero) stats_->record_zero_page_grant(ip->page);
            if (writable) stats_->record_writer(ip->page, self_);
            woken = ip->page;
        } else if (auto* up = std::get_if<Upgrade>(&a)) {
            check(region_->make_writable(up->page), "upgrade");
            woken = up->page;
            stats_->record_upgrade(up->page);
            stats_->record_writer(up->page, self_);
        } else if (auto* dg = std::get_if<Downgrade>(&a)) {
            bool was_writable = region_->presence(dg->page) == UffdRegion::Presence::writable;
            trace::mark("dsm.downgrade.begin", dg->page);
            if (was_writable && dg->for_read) downgrade_ahead(dg->page);
            check(region_->downgrade(dg->page, nullptr), "downgrade");
            trace::mark("dsm.downgrade.end", dg->page);
            if (was_writable && from != self_) stats_->record_downgrade(dg->page);
        } else if (auto* dr = std::get_if<Drop>(&a)) {
            check(region_->invalidate(dr->page, nullptr), "invalidate");
        } else if (auto* s = std::get_if<Send>(&a)) {
            execute_send(sh, *s);
        } else if (auto* rf = std::get_if<ResumeFaults>(&a)) {
            if (woken != rf->page) check(region_->wake(rf->page), "wake");
            claim_settled(rf->page);
            if (auto it = sh.pending_faults.find(rf->page); it != sh.pending_faults.end()) {
                std::uint64_t now = now_ns();
                std::uint64_t start = it->second.start_ns;
                stats_->record_fault_latency(it->second.write ? DsmStats::Latency::write_fault
                                                              : DsmStats::Latency::read_fault,
                                             now > start ? now - start : 0);
                sh.pending_faults.erase(it);
            }
        } else if (auto* sm = std::get_if<StartMove>(&a)) {
            start_move(*sm);
        } else if (auto* w = std::get_if<WakeAt>(&a)) {
            {
                std::lock_guard lk(timer_mu_);
                wake_at_.push(w->at_ns);
            }
            timer_cv_.notify_all();
        }
    }
}

void DsmEngine::execute_send(Shard& sh, Send& s) {
    Message& m = s.msg;
    if (s.attach_page) {
        // Preceded by Downgrade: the page is present and write-protected, so
        // this copy is stable (downgrade() of a read-only page only copies).
        m.data.resize(UffdRegion::kPageSize);
        check(region_->downgrade(m.page, m.data.data()), "read page for send");
        trace::mark("dsm.page.read", m.page);
        m.data_kind = DataKind::Bytes;
    }
    if (m.type == MsgType::Invalidate) stats_->record_invalidation_sent(m.page);
    // The writer is recorded where the page is installed writable, not by the
    // sender of the grant: a home recording every page it grants would keep
    // a statistics cell per page of the region (24 bytes) for nothing.
    if (s.to == self_) {
        sh.self_queue.push_back(std::move(m));
        return;
    }
    sh.send_buf.clear();
    encode_message(m, sh.send_buf);
    trace::mark("dsm.encoded", m.page);
    if (m.data_kind == DataKind::Bytes)
        stats_->record_page_sent(m.page, sh.send_buf.size());
    else
        stats_->add(DsmStats::Counter::bytes_sent, sh.send_buf.size());
    auto r = transport_->send(static_cast<net::NodeId>(s.to), kDsmProtocolType, as_view(sh.send_buf));
    trace::mark("dsm.tx", (std::uint64_t{static_cast<std::uint8_t>(m.type)} << 56) | m.page);
    if (!r) send_failed(s.to, r.error());
}

Result<void> DsmEngine::shutdown(std::chrono::milliseconds timeout) {
    if (started_)
        if (auto r = control_->goodbye(timeout); !r) return r;
    stop();
    return {};
}

}  // namespace spanvm::dsm
