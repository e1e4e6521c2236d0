#include "vmm/cluster/origin_cluster.hpp"

#include <utility>

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "net/wire_reader.hpp"
#include "vmm/base/log.hpp"
#include "vmm/cluster/session_messages.hpp"
#include "vmm/cluster/sharing_messages.hpp"
#include "vmm/memory/layout.hpp"

namespace spanvm::cluster {

OriginCluster::OriginCluster(net::ClusterConfig config, PlacePolicy policy)
    : config_(std::move(config)),
      channel_(config_, failure_,
               [this](unsigned from, std::uint16_t type, net::ByteView p) { on_cluster_message(from, type, p); }),
      placement_(policy, std::vector<unsigned>(config_.size(), 1)),
      node_stats_(config_.size()),
      rides_(config_.size(), rides_from_env()) {
    if (auto m = node_answers_from_env()) node_answers_ = *m;
}

bool OriginCluster::rides_from_env() {
    const char* ride = std::getenv("SPANVM_LAYOUT_RIDE");
    return !(ride && std::string(ride) == "0");
}

Result<NodeAnswers> OriginCluster::node_answers_from_env() {
    const char* v = std::getenv("SPANVM_NODE_ANSWERS");
    if (v == nullptr || *v == 0) return NodeAnswers::all;
    if (auto m = parse_node_answers(v)) return *m;
    return make_error(EINVAL, "SPANVM_NODE_ANSWERS='{}': expected all, thread or off", v);
}

SharedFsProof OriginCluster::acquire_fs_proof() {
    if (node_answers_ != NodeAnswers::all) return {};
    return fs_probe_.acquire();
}

OriginCluster::~OriginCluster() {
    {
        std::lock_guard lk(sharing_mu_);
        stop_placer_ = true;
    }
    sharing_cv_.notify_all();
    if (placer_.joinable()) placer_.join();
}

namespace {
// One placement window (sharing_messages.hpp). Long enough for a contended
// page to fault a few dozen times, short enough that two windows of
// evidence cost a quarter of a second.
constexpr std::chrono::microseconds kPlacementWindow{kSharingWindowUs};
}  // namespace

void OriginCluster::start_placement(process::ThreadMover& m) {
    if (placement_.policy() != PlacePolicy::automatic || placer_.joinable()) return;
    mover_ = &m;
    const char* cyc = std::getenv("SPANVM_MIGRATE_CYCLE");
    cycle_test_ = cyc && std::string(cyc) == "1";
    placer_ = std::thread([this] { placement_loop(); });
}

void OriginCluster::placement_loop() {
    std::unique_lock lk(sharing_mu_);
    for (;;) {
        if (sharing_cv_.wait_for(lk, kPlacementWindow, [&] { return stop_placer_; })) return;
        if (shut_) return;
        lk.unlock();
        placement_window();
        lk.lock();
    }
}

void OriginCluster::placement_window() {
    // The origin's own threads from its fault observer (keyed by host
    // thread), the others from their nodes' Sharing messages (by tid; a
    // report from a node the thread has left is stale and dropped).
    std::unordered_map<std::int32_t, std::uint64_t> local_created;
    auto local = faults_.take_window(kMaxSharingPages, &local_created);
    const auto lat = engine_->stats().latency(dsm::DsmStats::Latency::write_fault);
    const std::uint64_t origin_ns = fault_latency_.take(lat.count, lat.mean_ns);
    std::map<int, NodeWindow> remote;
    std::map<unsigned, std::uint64_t> node_ns;
    {
        std::lock_guard lk(sharing_mu_);
        remote.swap(node_windows_);
        node_ns = node_fault_ns_;
    }
    const auto live = mover_->live_threads();
    std::vector<std::int32_t> origin_tids;
    for (const auto& t : live)
        if (t.node == 0) origin_tids.push_back(t.host_tid);
    const auto ran = origin_cpu_.take(origin_tids);
    std::vector<ThreadWindow> window;
    for (const auto& t : live) {
        ThreadWindow w{t.tid, t.node, {}, t.node == 0 ? origin_ns : node_ns[t.node]};
        if (t.node == 0) {
            if (auto it = local.find(t.host_tid); it != local.end()) w.pages = std::move(it->second);
            if (auto c = ran.find(t.host_tid); c != ran.end()) w.cpu_ns = c->second;
            if (auto c = local_created.find(t.host_tid); c != local_created.end()) w.created = c->second;
        } else if (auto it = remote.find(t.tid); it != remote.end() && it->second.node == t.node) {
            w.pages = std::move(it->second.pages);
            w.cpu_ns = it->second.cpu_ns;
            w.created = it->second.created;
        }
        window.push_back(std::move(w));
    }
    if (log::enabled(log::Level::info))  // -v: the evidence behind each decision
        for (const auto& [pair, wt] : sharing_weights(window, 64))
            log::info("placement: threads {} and {} share {} faults; write-fault latency {} / {} us", pair.first,
                       pair.second, wt, origin_ns / 1000, node_ns.empty() ? 0 : node_ns.begin()->second / 1000);
    std::vector<MoveDecision> moves;
    if (cycle_test_) {
        // Test hook (SPANVM_MIGRATE_CYCLE=1): every live thread moves to the
        // next node each window, to exercise the mechanism, not the policy.
        for (const auto& t : window)
            moves.push_back({t.tid, t.node, static_cast<unsigned>((t.node + 1) % config_.size()),
                             "SPANVM_MIGRATE_CYCLE: every thread moves each window"});
    } else {
        moves = sharing_.decide(window);
        if (log::enabled(log::Level::info))
            for (const auto& t : window)
                log::info("placement: thread {} on node {}: {} pages faulted, created {} (resident {}), ran {} ms",
                          t.tid, t.node, t.pages.size(), t.created, sharing_.resident(t.tid), t.cpu_ns / 1'000'000);
    }
    for (auto& m : moves) {
        {
            std::lock_guard lk(sharing_mu_);
            move_reasons_[m.tid] = m.reason;
        }
        if (!mover_->request_move(m.tid, m.to)) {
            std::lock_guard lk(sharing_mu_);
            move_reasons_.erase(m.tid);
        }
    }
}

void OriginCluster::thread_moved(int tid, unsigned from, unsigned to, std::uint64_t ns) {
    {
        std::lock_guard lk(place_mu_);
        placement_.moved(from, to);
    }
    report::MigrationReport r;
    r.tid = tid;
    r.from = from;
    r.to = to;
    r.cost_ns = ns;
    r.at_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    std::lock_guard lk(sharing_mu_);
    if (auto it = move_reasons_.find(tid); it != move_reasons_.end()) {
        r.reason = std::move(it->second);
        move_reasons_.erase(it);
    } else {
        r.reason = "requested";
    }
    migrations_.push_back(std::move(r));
}

Result<void> OriginCluster::attach_memory(memory::GuestMemory& mem, const memory::GuestProtection& prot) {
    dsm::DsmEngineOptions o;
    o.cluster = config_;
    o.self = 0;
    o.listen_fd = std::exchange(listen_fd_, -1);
    o.pages = (mem.size() - memory::layout::kUserBase) / memory::layout::kPageSize;
    o.home = "node:0";  // the origin holds the program's memory; nodes fetch on demand
    o.dynamic_homes = true;  // ... except fresh memory mapped for a thread elsewhere (mapped())
    o.external_base = mem.host_base() + memory::layout::kUserBase;
    o.guest_protection = &prot;  // pages the guest may not touch are copied out through its alias
    o.filler = &filler_;  // private file mappings' pages, read from each node's own file (fill_from_file)
    // F4 (docs/dsm-protocol.md "Fillers"): a deputy's origin (placement
    // `away`: the placed image runs elsewhere) touches file pages only for
    // system-call arguments, so it leaves them for the node to fill; the
    // run's own origin runs threads, which execute those pages, and fills
    // ahead as every home does.
    o.fill_ahead = placement_.policy() != PlacePolicy::away;
    o.fill_past_layout = placement_.policy() != PlacePolicy::away;  // a placed image's ld.so maps there
    // Nor anonymous pages: a deputy's origin first touches the loader's
    // writes (the stack's top, a partial bss page) and call arguments, and
    // a block filled ahead around them is pages only the node then uses,
    // each fetched with its bytes (a placed cc1: 114 fetches; 7 without,
    // the node claiming them as never used: bench/results/session-2026-12-06b).
    if (placement_.policy() == PlacePolicy::away) o.zero_fill_block = 1;
    ram_base_ = mem.host_base();
    guest_protection_ = &prot;
    o.version_salt = cluster_version_salt(mem.size());
    o.router = &channel_.router();
    o.fault_observer = [this](std::int32_t tid, std::uint64_t page, bool write) { faults_.record(tid, page, write); };
    o.first_touch_observer = [this](std::int32_t tid, std::uint64_t n) { faults_.record_first_touch(tid, n); };
    // A failure part-way leaves guest RAM as it was before the call: the
    // caller (a placed exec) then runs the image at the origin, which over
    // a userfaultfd registration nobody serves would hang at its first
    // touch. The engine made here (the registration) goes with a failure:
    // the listener is made before it is kept, and a failed start drops it.
    auto e = dsm::DsmEngine::create(std::move(o));
    if (!e) return e.error();
    auto l = ChannelListener::start(config_.node(0).address,
                                    ChannelSecurity{config_.key.value_or(net::ClusterKey{}), config_.encrypt, 0},
                                    [this](std::int32_t tid, std::unique_ptr<SyscallChannel> ch) {
                                        on_channel(tid, std::move(ch));
                                    });
    if (!l) return l.error();  // *e unregisters guest RAM as it goes
    engine_ = std::move(*e);
    channel_.bind(engine_->transport(), engine_->stats());
    failure_.set_pending_faults([this] { return engine_ ? engine_->region().pending_faults() : 0; });
    failure_.tell_nodes_through(channel_);
    engine_->region().set_fatal_hook([this](const std::string& reason) { failure_.tell_nodes(reason); });
    if (quiet_) engine_->region().set_quiet_when(quiet_);
    listener_ = std::move(*l);
    if (auto s = engine_->start(); !s) {
        // Its transport is stopped, its threads joined and guest RAM
        // unregistered before it is gone; this cluster is never used again.
        listener_.reset();
        engine_.reset();
        return s.error();
    }
    return {};
}

std::uint16_t OriginCluster::channel_port() const { return listener_ ? listener_->port() : 0; }

std::uint64_t OriginCluster::channel_cookie() const { return listener_ ? listener_->cookie() : 0; }

Result<void> OriginCluster::offer_channel(unsigned node, int tid) {
    if (!listener_ || tid <= 0) return make_error(EINVAL, "no channel to offer for thread {}", tid);
    {
        std::lock_guard lk(threads_mu_);
        if (offered_.size() >= kMaxOffered) return make_error(EBUSY, "{} channel offers outstanding", kMaxOffered);
        offered_.insert(tid);
    }
    return send(node, kChannelOfferType, encode(ChannelOfferMsg{tid, listener_->port(), listener_->cookie()}));
}

void OriginCluster::on_channel(std::int32_t tid, std::unique_ptr<SyscallChannel> ch) {
    // Lock order: threads_mu_ -> the RemoteVcpu's own (attach_channel).
    std::lock_guard lk(threads_mu_);
    auto it = threads_.find(tid);
    if (it == threads_.end()) {
        // Dialled ahead (offer_channel): kept until the thread registers.
        if (offered_.count(tid) && !early_channels_.count(tid)) {
            early_channels_[tid] = std::move(ch);
            return;
        }
        log::warn("syscall channel for unknown thread {} dropped", tid);
        return;
    }
    it->second->attach_channel(std::move(ch));
}

void OriginCluster::channel_lost(unsigned node, int tid, const std::string& why) {
    if (shut_) return;
    // The transport usually notices a dead node first and the ControlChannel
    // ends the program with its one line; give it that chance so there is
    // one line, not two.
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    if (shut_) return;
    failure_.fail(fmt::format("{}: syscall channel of thread {} lost: {}",
                              config_.describe(static_cast<dsm::NodeId>(node)), tid, why));
}

std::pair<std::uint64_t, std::uint64_t> OriginCluster::thread_faults(int host_tid) {
    auto c = faults_.get(host_tid);
    return {c.read, c.write};
}

Result<void> OriginCluster::set_vdso_data(std::uint64_t gva) {
    if (gva < memory::layout::kUserBase || gva % memory::layout::kPageSize) return make_error(EINVAL, "vDSO data page {:#x}", gva);
    if (auto r = engine_->make_node_local((gva - memory::layout::kUserBase) / memory::layout::kPageSize); !r) return r;
    vvar_gva_ = gva;
    return {};
}

void OriginCluster::discard(std::uint64_t gpa, std::uint64_t len, const std::function<void()>& open) {
    // Departure from a real discard transaction: a page some node holds is
    // zeroed through the coherent mapping (an ownership fetch, then zeros);
    // only pages nobody was ever handed are skipped, which is what makes
    // munmap of big, mostly untouched mappings (thread stacks, malloc
    // arenas) cheap.
    // Pages homed elsewhere (dynamic homes) are asked of their home, one
    // round trip per home and range.
    if (gpa < memory::layout::kUserBase || shut_) return;  // after shutdown the nodes are gone
    const dsm::PageIndex first = (gpa - memory::layout::kUserBase) / memory::layout::kPageSize;
    const dsm::PageIndex count = (len + memory::layout::kPageSize - 1) / memory::layout::kPageSize;
    // A file filler there is reset on every node before the home is asked:
    // a page pristine then reads as zero from now on, one any node had
    // (filled from the file or not) is zeroed below (docs/dsm-protocol.md
    // "Fillers").
    const std::uint64_t end = memory::layout::kUserBase + (first + count) * memory::layout::kPageSize;
    if (filler_.any_in(gpa, end)) {
        const std::vector<memory::FillRun> reset{{memory::layout::page_align_down(gpa), end, memory::kZeroFile, 0}};
        (void)filler_.apply(reset);
        if (config_.size() >= 2) change_layout(LayoutMsg{0, {}, {}, reset});
        if (shut_) return;
    }
    // Pages only the origin holds, as their home, are dropped and pristine
    // again (docs/dsm-protocol.md "Discards"); those and the pristine ones
    // need no zeroing.
    std::uint64_t reclaimed = 0;
    auto untouched = engine_->discard_range(first, count, reclaimed);
    if (!untouched) {
        if (shut_) return;  // the program ended meanwhile and the nodes left
        failure_.fail(fmt::format("discarding guest pages: {}", untouched.error().message));
    }
    std::uint64_t zeroed = 0;
    for (std::size_t i = 0; i < untouched->size(); ++i) {
        if ((*untouched)[i]) continue;
        if (!zeroed) open();
        std::memset(ram_base_ + memory::layout::kUserBase + (first + i) * memory::layout::kPageSize, 0,
                    memory::layout::kPageSize);
        ++zeroed;
    }
    if (zeroed) engine_->stats().add(dsm::DsmStats::Counter::pages_zeroed, zeroed);
}

void OriginCluster::mapped(std::uint64_t gpa, std::uint64_t len, unsigned node) {
    // Fresh memory is homed at the node of the thread that mapped it, so that
    // thread's first touches cost no message (dsm-protocol.md, "Dynamic homes").
    if (!engine_ || node == 0 || gpa < memory::layout::kUserBase || shut_) return;
    const dsm::PageIndex first = (gpa - memory::layout::kUserBase) / memory::layout::kPageSize;
    const dsm::PageIndex count = (len + memory::layout::kPageSize - 1) / memory::layout::kPageSize;
    if (auto r = engine_->rehome(first, count, static_cast<dsm::NodeId>(node)); !r)
        failure_.fail(fmt::format("homing guest pages at node {}: {}", node, r.error().message));
}

bool OriginCluster::heap_windows() const {
    // docs/dsm-protocol.md F8; SPANVM_HEAP_WINDOW=0 turns them off (tests, counts).
    static const bool on = [] {
        const char* v = std::getenv("SPANVM_HEAP_WINDOW");
        return !(v && std::string(v) == "0");
    }();
    // A node's own answers (SPANVM_NODE_ANSWERS) go only as far as the
    // origin says: brk is one of `all`'s.
    return on && node_answers_ == NodeAnswers::all && engine_ && config_.size() == 2 && !shut_;
}

void OriginCluster::layout_changed(const std::vector<memory::LayoutRun>& runs) {
    // The mm call returns to the guest only once each node's host mapping
    // follows it.
    if (!engine_ || runs.empty() || shut_ || config_.size() < 2) return;
    change_layout(LayoutMsg{0, runs, {}, {}});
}

void OriginCluster::change_layout(LayoutMsg m) {
    if (ride(m) || send_fills_unacked(m)) return;
    (void)broadcast_layout(std::move(m));
}

bool OriginCluster::send_fills_unacked(const LayoutMsg& m) {
    // docs/dsm-protocol.md "Fillers", F7. In a cluster of two, a change of
    // fillers only (no file to name, no protection) is sent on the link to
    // node 1 and not waited for: F2's "set before asked" holds by order.
    // Every never-written grant node 1 can get after the home is asked is
    // sent by the origin after this frame on the same FIFO link (the send
    // below returns with the frame queued, before the caller asks), or
    // made by node 1 itself as home after it answered the origin's Query,
    // which comes after this frame too; node 1 applies a Layout on its
    // transport I/O thread before it reads the next frame. A third node
    // could grant node 1 a page over another link, so this is for two
    // only. Fills held for a ride (F6 (b)) go first, so their order is
    // kept: then this is not used. Held runs stay held (they ride on the
    // Resume: runs and fills are separate tables). A ride in flight is
    // acked first, as for any Layout, so acks stay in seq order.
    constexpr unsigned k = 1;
    std::unique_lock send_lk(layout_send_mu_);
    LayoutMsg out{0, {}, {}, m.fills};
    {
        std::unique_lock lk(layout_mu_);
        if (!rides_.fills_unacked(m)) return false;
        wait_acked(lk, [&] { return rides_.in_flight(); });
        out.seq = rides_.next_seq();
    }
    ++layouts_unacked_;
    if (auto r = send(k, kLayoutType, encode(out)); !r && !shut_)
        failure_.fail(fmt::format("{}: sending a filler change: {}", config_.describe(static_cast<net::NodeId>(k)),
                                  r.error().message));
    return true;
}

bool OriginCluster::ride(const LayoutMsg& m) {
    // docs/dsm-protocol.md "Fillers", F6 (the rule: LayoutRides::hold).
    // Called under the Process's aspace_mu_ (one layout change at a time).
    std::optional<RideCaller> caller;
    if (RemoteVcpu* v = RemoteVcpu::serving()) caller = RideCaller{v->node(), v->tid()};
    std::lock_guard lk(layout_mu_);
    return rides_.hold(m, caller);
}

std::optional<LayoutMsg> OriginCluster::take_ride(unsigned node, int tid) {
    std::unique_lock lk(layout_mu_);
    // A Layout that carried this thread's ride first (absorbed): acked.
    wait_acked(lk, [&] { return rides_.resume_wait(node, tid); });
    auto m = rides_.take(node, tid);
    if (m) ++layouts_ridden_;
    return m;
}

void OriginCluster::settle_rides(unsigned node) {
    bool layout = false;
    {
        std::lock_guard lk(layout_mu_);
        layout = rides_.settle(node);
    }
    if (layout) (void)broadcast_layout(LayoutMsg{});  // carries what is held, after what is in flight
    // Another caller's Layout that carried held changes, sealed and maybe
    // not on the link yet: acked before the Spawn goes (it does not take
    // layout_send_mu_).
    std::unique_lock lk(layout_mu_);
    wait_acked(lk, [&] { return rides_.spawn_wait(node); });
}

std::vector<std::uint32_t> OriginCluster::broadcast_layout(LayoutMsg m) {
    // One Layout to every node, then wait for every LayoutAck. What a ride
    // holds goes first, and a ride in flight is acked first: this Layout
    // may reach the node before that Resume does (LayoutRides).
    std::unique_lock send_lk(layout_send_mu_);
    std::uint64_t seq = 0;
    {
        std::unique_lock lk(layout_mu_);
        // The wait's last check and the carry in one hold of layout_mu_: a
        // held ride taken out of the table while this waited could not be
        // found by its owner's Resume (neither held nor absorbed yet).
        wait_acked(lk, [&] { return rides_.in_flight(); });
        seq = rides_.carry(m);
        if (seq == 0) return {};
        if (!m.files.empty()) layout_refused_[seq];
    }
    ++layout_round_trips_;
    const auto payload = encode(m);
    for (std::size_t k = 1; k < config_.size(); ++k)
        if (auto r = send(static_cast<unsigned>(k), kLayoutType, payload); !r && !shut_)
            failure_.fail(fmt::format("{}: sending a layout change: {}",
                                      config_.describe(static_cast<net::NodeId>(k)), r.error().message));
    send_lk.unlock();
    std::unique_lock lk(layout_mu_);
    wait_acked(lk, [&] { return !rides_.acked_by_all(seq); });
    std::vector<std::uint32_t> out;
    if (auto it = layout_refused_.find(seq); it != layout_refused_.end()) {
        out = std::move(it->second);
        layout_refused_.erase(it);
    }
    return out;
}

std::pair<std::uint64_t, std::uint64_t> OriginCluster::layout_counts() {
    return {layout_round_trips_.load(), layouts_ridden_.load() + layouts_unacked_.load()};
}

std::optional<std::vector<bool>> OriginCluster::fill_from_file(std::uint64_t gpa, std::uint64_t len, int fd,
                                                                std::uint64_t off) {
    // docs/dsm-protocol.md "Fillers". Order: (1) every node has the file
    // (its identity checked there) and (2) the filler is set on every node,
    // both acknowledged, and only then (3) the home is asked which pages
    // some node ever had. A page granted as never written before (2) was
    // installed as zero (or as an older filler) somewhere and is not
    // pristine at (3): the caller writes it through the coherent mapping,
    // which replaces every copy. A page pristine at (3) can only be granted
    // after (2), so every node installs the file's bytes for it.
    if (!engine_ || shut_ || config_.size() < 2 || gpa < memory::layout::kUserBase || len == 0) return std::nullopt;
    auto ident = file_identity(fd);
    if (!ident) return std::nullopt;
    std::uint32_t id = 0;
    {
        std::lock_guard lk(files_mu_);
        for (const auto& f : files_)
            if (f.identity == *ident) {
                if (!f.everywhere) return std::nullopt;
                id = f.id;
            }
    }
    if (id == 0) {
        char link[64];
        std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        std::string path(kMaxFilePath, '\0');
        const ssize_t n = ::readlink(link, path.data(), path.size());
        if (n <= 0 || static_cast<std::size_t>(n) >= path.size()) return std::nullopt;
        path.resize(static_cast<std::size_t>(n));
        // A deleted or unnamed file has no path a node could open.
        if (path[0] != '/' || path.ends_with(" (deleted)")) return std::nullopt;
        {
            std::lock_guard lk(files_mu_);
            if (files_.size() >= kMaxFilledFiles) return std::nullopt;
            id = static_cast<std::uint32_t>(files_.size() + 1);
            files_.push_back({*ident, id, false});
        }
        if (!filler_.adopt(id, fd)) return std::nullopt;
        // (1) and (2) in one Layout: a node keeps the fill only if it kept
        // the file (NodeRunner::apply_layout); this node sets its own once
        // every node has both.
        const std::vector<memory::FillRun> fill{{gpa, gpa + len, id, off}};
        const auto refused = broadcast_layout(LayoutMsg{0, {}, {{id, path, *ident}}, fill});
        if (shut_) return std::nullopt;
        {
            std::lock_guard lk(files_mu_);
            files_[id - 1].everywhere = refused.empty();
        }
        if (!refused.empty()) {
            log::debug("fill: a node has no file '{}' like this one; its pages travel from here", path);
            // The nodes that kept it set the fill: back to zero, the filler
            // of a range being mapped (F3 reset it, or it was never set).
            (void)broadcast_layout(LayoutMsg{0, {}, {}, {{gpa, gpa + len, memory::kZeroFile, 0}}});
            return std::nullopt;
        }
        if (auto r = filler_.apply(fill); !r) return std::nullopt;
    } else {
        const std::vector<memory::FillRun> fill{{gpa, gpa + len, id, off}};
        if (auto r = filler_.apply(fill); !r) return std::nullopt;
        change_layout(LayoutMsg{0, {}, {}, fill});  // F2, or held for a ride (F6)
    }
    if (shut_) return std::nullopt;
    const dsm::PageIndex first = (gpa - memory::layout::kUserBase) / memory::layout::kPageSize;
    const dsm::PageIndex count = len / memory::layout::kPageSize;
    auto untouched = engine_->untouched_range(first, count);
    if (!untouched) {
        if (shut_) return std::nullopt;
        failure_.fail(fmt::format("filling guest pages from a file: {}", untouched.error().message));
    }
    std::vector<bool> write(untouched->size());
    for (std::size_t i = 0; i < write.size(); ++i) write[i] = !(*untouched)[i];
    return write;
}

Result<void> OriginCluster::gather_for_fork(std::uint64_t gpa, std::uint64_t len) {
    // The forked child's guest RAM is a host copy-on-write copy of this
    // process's, outside the DSM (its userfaultfd registration is not
    // inherited): a page this host lacks would read as zero there. So every
    // page some node was handed is read here first, which fetches a read
    // copy where this host has none (pages held here cost nothing). No
    // guest thread runs on another node (the caller checked), so no node
    // writes a page between this read and the fork.
    if (!engine_ || shut_) return {};
    const std::uint64_t end = gpa + len;
    gpa = std::max(gpa, memory::layout::kUserBase);
    if (gpa >= end) return {};
    constexpr dsm::PageIndex kBatch = 4096;  // pages asked of their homes at a time
    dsm::PageIndex first = (gpa - memory::layout::kUserBase) / memory::layout::kPageSize;
    const dsm::PageIndex last = (end - memory::layout::kUserBase + memory::layout::kPageSize - 1) /
                                memory::layout::kPageSize;
    while (first < last) {
        const dsm::PageIndex count = std::min(kBatch, last - first);
        auto untouched = engine_->untouched_range(first, count);
        if (!untouched) return untouched.error();
        for (std::size_t i = 0; i < untouched->size(); ++i) {
            // A never-used page of a file mapping holds the file's bytes
            // (its filler), which the child's copy needs too: read here.
            if ((*untouched)[i] && !filler_.filled(first + i)) continue;
            const std::uint64_t at = memory::layout::kUserBase + (first + i) * memory::layout::kPageSize;
            // A page the guest may not touch (PROT_NONE, a hole) is PROT_NONE
            // here too, and the alias cannot fetch (guest_protection.hpp): it
            // is left behind, and reads as zero in the child if the child
            // makes it accessible again (a departure: Linux keeps the data).
            if (guest_protection_ && !guest_protection_->accessible(at)) continue;
            const volatile std::uint8_t* page = ram_base_ + at;
            (void)*page;  // a read fault here fetches the page (DsmEngine)
        }
        first += count;
    }
    return {};
}

unsigned OriginCluster::place_thread() {
    std::lock_guard lk(place_mu_);
    return placement_.place();
}

void OriginCluster::thread_gone(unsigned node) {
    std::lock_guard lk(place_mu_);
    placement_.thread_gone(node);
}

process::RemoteThreadVcpu OriginCluster::create_vcpu(unsigned node, unsigned long vcpu_id) {
    // One object, two views: the Process owns it as the vCPU and uses it as
    // the thread's link.
    auto v = std::make_unique<RemoteVcpu>(*this, node, vcpu_id);
    process::RemoteLink* link = v.get();
    return {std::move(v), link};
}

Result<void> OriginCluster::send(unsigned node, std::uint16_t type, const net::Bytes& payload) {
    return channel_.send(node, type, payload);
}

void OriginCluster::register_thread(int tid, RemoteVcpu* v) {
    std::lock_guard lk(threads_mu_);
    threads_[tid] = v;
    offered_.erase(tid);
    if (auto it = early_channels_.find(tid); it != early_channels_.end()) {
        v->attach_channel(std::move(it->second));  // dialled ahead (offer_channel)
        early_channels_.erase(it);
    }
    std::lock_guard ll(layout_mu_);  // before its Spawn: ride() sees a second thread on its node
    rides_.register_thread(tid, v->node());
}

void OriginCluster::unregister_thread(int tid, RemoteVcpu* v) {
    std::lock_guard lk(threads_mu_);
    if (auto it = threads_.find(tid); it != threads_.end() && it->second == v) {
        threads_.erase(it);
        std::lock_guard ll(layout_mu_);
        rides_.unregister_thread(tid);
    }
}

void OriginCluster::kick(unsigned node, int tid) {
    (void)send(node, kKickType, encode(KickMsg{tid}));
}

void OriginCluster::on_cluster_message(unsigned from, std::uint16_t type, net::ByteView payload) {
    const auto who = static_cast<net::NodeId>(from);
    if (type == kStatsType) {
        auto st = decode_stats(payload);
        if (!st) failure_.fail(fmt::format("{}: bad Stats message: {}", config_.describe(who), st.error().message));
        std::lock_guard lk(bye_mu_);
        node_stats_.at(from) = *st;
        return;
    }
    if (type == kSharingType) {
        auto m = decode_sharing(payload);
        if (!m) failure_.fail(fmt::format("{}: bad Sharing message: {}", config_.describe(who), m.error().message));
        if (placement_.policy() != PlacePolicy::automatic) return;
        std::lock_guard lk(sharing_mu_);
        node_fault_ns_[from] = m->fault_ns;
        for (auto& t : m->threads) {
            auto& w = node_windows_[t.tid];
            if (w.node != from) w = NodeWindow{};
            w.node = from;
            w.cpu_ns += t.cpu_ns;
            w.created += t.created;
            w.pages.insert(w.pages.end(), t.pages.begin(), t.pages.end());
        }
        return;
    }
    if (type == kLayoutAckType) {
        auto m = decode_layout_ack(payload);
        if (!m) failure_.fail(fmt::format("{}: bad LayoutAck message: {}", config_.describe(who), m.error().message));
        {
            std::lock_guard lk(layout_mu_);
            if (auto it = layout_refused_.find(m->seq); it != layout_refused_.end())
                it->second.insert(it->second.end(), m->refused.begin(), m->refused.end());
            rides_.acked(from, m->seq);
        }
        layout_cv_.notify_all();
        return;
    }
    if (type == kSessionReadyType || type == kNodeLoadType) {
        if (session_handler_) session_handler_(from, type, payload);
        return;
    }
    if (type == kByeType) {
        {
            std::lock_guard lk(bye_mu_);
            ++byes_;
        }
        bye_cv_.notify_all();
        return;
    }
    failure_.fail(fmt::format("{}: unexpected cluster message type {:#x} at the origin", config_.describe(who), type));
}

void OriginCluster::shutdown(int status) {
    if (!engine_ || shut_.exchange(true)) return;
    {
        std::lock_guard lk(sharing_mu_);
        stop_placer_ = true;  // no move starts after this
    }
    sharing_cv_.notify_all();
    // From here a node leaving is the end of the program, not a failure.
    channel_.expect_peers_closing();
    const auto n = config_.size();
    for (std::size_t k = 1; k < n; ++k) (void)send(static_cast<unsigned>(k), kShutdownType, encode(ShutdownMsg{status}));
    std::unique_lock lk(bye_mu_);
    bye_cv_.wait_for(lk, std::chrono::seconds(2), [&] { return byes_ >= n - 1; });
}

std::pair<std::uint64_t, std::uint64_t> OriginCluster::node_page_counts() {
    std::pair<std::uint64_t, std::uint64_t> sum{0, 0};
    for (std::size_t k = 1; k < config_.size(); ++k)
        if (auto s = node_stats(k)) {
            sum.first += s->remote_fetches;
            sum.second += s->pages_filled;
        }
    return sum;
}

std::optional<NodeStatsMsg> OriginCluster::node_stats(std::size_t k) {
    if (k == 0) {
        if (!engine_) return std::nullopt;
        using C = dsm::DsmStats::Counter;
        auto& s = engine_->stats();
        return NodeStatsMsg{s.get(C::bytes_sent), s.get(C::bytes_received), s.get(C::read_faults),
                            s.get(C::write_faults), s.get(C::remote_fetches),
                            s.get(C::home_first_touch_faults), s.get(C::remote_first_touches),
                            s.get(C::home_migrations), s.get(C::pages_rehomed), s.get(C::claim_requests),
                            s.get(C::claims), s.get(C::pages_claimed), s.get(C::pages_filled),
                            s.get(C::shared_chunk_first_touches)};
    }
    std::lock_guard lk(bye_mu_);
    return node_stats_.at(k);
}

report::ClusterReport OriginCluster::report(std::size_t top_pages) {
    report::ClusterReport out;
    for (std::size_t k = 0; k < config_.size(); ++k) {
        const auto& n = config_.node(static_cast<net::NodeId>(k));
        report::MachineReport m;
        m.id = static_cast<unsigned>(k);
        m.address = n.address;
        m.port = n.port;
        m.endpoint = n.endpoint();
        {
            std::lock_guard lk(place_mu_);
            m.threads = placement_.live(static_cast<unsigned>(k));
        }
        // A node's counters arrive with its Stats message at shutdown.
        if (auto s = node_stats(k))
            m.counters = report::NodeCounters{s->bytes_sent, s->bytes_received, s->read_faults, s->write_faults,
                                              s->remote_fetches, s->home_first_touch_faults, s->remote_first_touches,
                                              s->home_migrations, s->pages_rehomed, s->claim_requests,
                                              s->claims, s->pages_claimed, s->pages_filled,
                                              s->shared_chunk_first_touches};
        m.state = k == 0 ? "origin" : shut_ ? "stopped" : "up";
        out.machines.push_back(std::move(m));
    }
    out.placement = place_policy_name(placement_.policy());
    {
        std::lock_guard lk(sharing_mu_);
        out.migrations = migrations_;
    }
    out.has_hot_pages = engine_ != nullptr;
    if (engine_) {
        out.discard_pages_reclaimed = engine_->stats().get(dsm::DsmStats::Counter::pages_reclaimed);
        out.discard_pages_zeroed = engine_->stats().get(dsm::DsmStats::Counter::pages_zeroed);
    }
    if (engine_)
        for (const auto& p : engine_->stats().top_pages(top_pages))
            out.hot_pages.push_back({memory::layout::kUserBase + p.page * memory::layout::kPageSize, p.read_faults, p.write_faults,
                                     p.invalidations, p.bytes_sent});
    return out;
}

}  // namespace spanvm::cluster
