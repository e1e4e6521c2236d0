#include "vmm/cluster/node_runner.hpp"
#include "vmm/base/latency_trace.hpp"

#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <utility>

#include "net/crypto.hpp"
#include "vmm/base/log.hpp"
#include "vmm/cluster/arg_capture.hpp"
#include "vmm/cluster/build_identity.hpp"
#include "vmm/cluster/layout_messages.hpp"
#include "vmm/cluster/node_local_calls.hpp"
#include "vmm/cluster/shared_fs.hpp"
#include "vmm/cluster/sharing_messages.hpp"
#include "vmm/cluster/thread_cpu.hpp"
#include "vmm/cluster/syscall_channel.hpp"
#include "vmm/memory/layout.hpp"

namespace spanvm::cluster {

NodeRunner::NodeRunner(const NodeOptions& o)
    : opts_(o),
      channel_(opts_.cluster, failure_,
               [this](unsigned from, std::uint16_t type, net::ByteView p) { on_cluster_message(from, type, p); }) {}

int NodeRunner::run(const NodeOptions& o) {
    NodeRunner r(o);
    return r.serve();
}

int NodeRunner::serve() {
    auto pc = platform::choose_platform(opts_.platform, opts_.mem_size);
    if (!pc) {
        log::error("node {}: {}", opts_.self, pc.error().message);
        return 125;
    }
    platform_ = std::move(pc->platform);
    platform_->install_signal_handlers(nullptr);
    // Another node lost: the origin's Abort (naming it) is the line here.
    channel_.defer_peer_failures(static_cast<net::NodeId>(opts_.self), kPeerFailureDefer);
    // The origin's address space is the authority on the layout: guest RAM
    // starts inaccessible here and follows its Layout messages, so a guest
    // access faults here where it would at the origin (ARCHITECTURE.md,
    // "The layout on every node").
    auto& mem = platform_->memory();
    protection_ = std::make_unique<memory::GuestProtection>(mem, (platform_->host_prot() & PROT_EXEC) != 0, true);
    if (auto r = protection_->set(memory::layout::kUserBase, mem.size(), PROT_NONE); !r) {
        log::error("node {}: {}", opts_.self, r.error().message);
        return 125;
    }
    dsm::DsmEngineOptions o;
    o.cluster = opts_.cluster;
    o.self = static_cast<dsm::NodeId>(opts_.self);
    o.pages = (mem.size() - memory::layout::kUserBase) / memory::layout::kPageSize;
    o.home = "node:0";
    o.dynamic_homes = true;  // as the origin's engine (OriginCluster::attach_memory)
    o.listen_fd = opts_.listen_fd;
    o.external_base = mem.host_base() + memory::layout::kUserBase;
    o.guest_protection = protection_.get();
    o.filler = &filler_;  // never-used pages of file mappings: read from this host's file
    // A session's placed image: its ld.so maps libraries past the layout
    // (DsmEngineOptions::fill_past_layout). Every session, not only one
    // started ahead: the first exec placed on a host gets a session spawned
    // for it, whose fill past the layout cost a placed cc1 ~490 page
    // transfers (a fill written through the coherent mapping, then zeroed
    // by ld.so's MAP_FIXED).
    o.fill_past_layout = !opts_.session;
    o.version_salt = cluster_version_salt(mem.size());
    o.router = &channel_.router();
    o.fault_observer = [this](std::int32_t tid, std::uint64_t page, bool write) { faults_.record(tid, page, write); };
    o.first_touch_observer = [this](std::int32_t tid, std::uint64_t n) { faults_.record_first_touch(tid, n); };
    auto e = dsm::DsmEngine::create(std::move(o));
    if (!e) {
        log::error("node {}: {}", opts_.self, e.error().message);
        return 125;
    }
    engine_ = std::move(*e);
    channel_.bind(engine_->transport(), engine_->stats());
    sessions_ = std::make_unique<SessionLauncher>(
        opts_.cluster, opts_.self, mem.size(), platform_->name(),
        [this](std::uint16_t type, const net::Bytes& payload) { (void)channel_.send(0, type, payload); });
    failure_.set_pending_faults([this] { return engine_->region().pending_faults(); });
    // OpenSSL's first use in this process (its random generator, the
    // digests) costs milliseconds; a session started ahead pays it here,
    // not in its deputy's handshake.
    net::prepare_crypto();
    if (opts_.deputy_fd >= 0) measure_tsc_ahead();
    if (opts_.deputy_fd >= 0 && !await_deputy()) ::_exit(0);  // dropped: no deputy, nothing to say
    if (auto s = engine_->start(); !s) {
        log::error("node {}: {}", opts_.self, s.error().message);
        return 125;
    }
    log::info("node {} ({} platform): joined; serving the origin's program", opts_.self, platform_->name());
    if (opts_.on_joined) opts_.on_joined();
    (void)channel_.send(0, kNodeLoadType, encode(sessions_->load()));  // for --place-exec least-loaded
    std::thread([this] { sharing_loop(); }).detach();
    std::unique_lock lk(mu_);
    done_cv_.wait(lk, [&] { return done_; });
    lk.unlock();
    // Give the Bye a moment to leave before the connections close.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::fflush(stdout);
    std::fflush(stderr);
    trace::write_now();
    ::_exit(0);  // guest threads may still be parked in the guest
}

bool NodeRunner::await_deputy() {
    char buf[16];
    std::size_t n = 0;
    while (n < sizeof buf - 1) {
        const ssize_t r = ::read(opts_.deputy_fd, buf + n, sizeof buf - 1 - n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        n += static_cast<std::size_t>(r);
        if (std::memchr(buf, '\n', n)) break;
    }
    ::close(opts_.deputy_fd);
    buf[n] = 0;
    char* end = nullptr;
    const unsigned long port = std::strtoul(buf, &end, 10);
    if (end == buf || *end != '\n' || port == 0 || port > 65535) {
        log::error("node {}: bad deputy port from the daemon: '{}'", opts_.self, buf);
        ::_exit(70);
    }
    // Only this node's own lines name the deputy by this port: node 1
    // never dials node 0 (the lower id dials), so the engine's and the
    // channel's copies of the spec keep the placeholder.
    opts_.cluster.nodes.at(0).port = static_cast<std::uint16_t>(port);
    log::info("node {}: started ahead; the deputy at {}", opts_.self, opts_.cluster.node(0).endpoint());
    return true;
}

void NodeRunner::on_cluster_message(unsigned from, std::uint16_t type, net::ByteView payload) {
    auto bad = [&](const std::string& what) {
        failure_.fail(
            fmt::format("{}: bad cluster message: {}", opts_.cluster.describe(static_cast<net::NodeId>(from)), what));
    };
    switch (type) {
        case kSpawnType: {
            auto m = decode_spawn(payload);
            if (!m) bad(m.error().message);
            start_thread(std::move(*m));
            return;
        }
        case kKickType: {
            auto m = decode_kick(payload);
            if (!m) bad(m.error().message);
            std::lock_guard lk(mu_);
            auto it = threads_.find(m->tid);
            if (it == threads_.end()) return;
            it->second->kicked = true;
            // Not started yet: its loop sees `kicked` before it first runs.
            if (const int h = it->second->host_tid.load()) platform::Platform::kick_host_thread(h);
            return;
        }
        case kLayoutType: {
            // An mm call at the origin changed which pages the guest may
            // touch: this node's host mapping follows before the call
            // returns there (mprotect only: this thread touches no guest
            // memory and waits for nothing).
            // Files first (each opened and checked against the origin's
            // identity: the ack lists those refused), then the protection,
            // then the fillers (docs/dsm-protocol.md "Fillers").
            auto m = decode_layout(payload);
            if (!m) bad(m.error().message);
            apply_layout(*m);
            return;
        }
        case kChannelOfferType: {
            auto m = decode_channel_offer(payload);
            if (!m) bad(m.error().message);
            dial_ahead(*m);
            return;
        }
        case kSessionStartType: {
            auto m = decode_session_start(payload);
            if (!m) bad(m.error().message);
            sessions_->start(*m);
            return;
        }
        case kAbortType: {
            auto m = decode_abort(payload);
            if (!m) bad(m.error().message);
            failure_.fail(m->reason);  // one line, status 70, naming the failed node
        }
        case kShutdownType: {
            channel_.expect_peers_closing();
            // The counters for the origin's machine table, then the Bye (one
            // connection, FIFO: the Stats is in when the origin counts the Bye).
            using C = dsm::DsmStats::Counter;
            auto& st = engine_->stats();
            NodeStatsMsg ns{st.get(C::bytes_sent), st.get(C::bytes_received), st.get(C::read_faults),
                            st.get(C::write_faults), st.get(C::remote_fetches),
                            st.get(C::home_first_touch_faults), st.get(C::remote_first_touches),
                            st.get(C::home_migrations), st.get(C::pages_rehomed), st.get(C::claim_requests),
                            st.get(C::claims), st.get(C::pages_claimed), st.get(C::pages_filled),
                            st.get(C::shared_chunk_first_touches)};
            (void)channel_.send(0, kStatsType, encode(ns));
            (void)channel_.send(0, kByeType, {});
            {
                std::lock_guard lk(mu_);
                done_ = true;
            }
            done_cv_.notify_all();
            return;
        }
        default: bad(fmt::format("unexpected type {:#x} on a node", type));
    }
}

bool NodeRunner::answer_brk(NodeCallState& calls, platform::Vcpu& v) {
    // Inside the heap window the origin granted (node_brk.hpp, F8): the
    // new pages open here, before the thread continues; the break goes
    // with the next Trap.
    auto& r = v.regs();
    if (static_cast<std::int64_t>(r.rax) != SYS_brk) return false;
    const auto a = calls.brk.answer(r.rdi);
    if (!a) return false;
    if (a->open_to > a->open_from)
        if (auto p = protection_->set(a->open_from, a->open_to, PROT_READ | PROT_WRITE); !p)
            failure_.fail(fmt::format("node {}: growing the heap to {:#x}: {}", opts_.self, a->ret, p.error().message));
    r.rax = a->ret;
    v.mark_regs_dirty();
    ++calls.answered;
    return true;
}

bool NodeRunner::answer_mmap(NodeCallState& calls, platform::Vcpu& v) {
    // Inside the mapping window the origin granted (node_map_window.hpp,
    // F9): the new mapping opens here with its protection, before the
    // thread continues; the mapping goes with the next Trap.
    auto& r = v.regs();
    if (static_cast<std::int64_t>(r.rax) != SYS_mmap) return false;
    const auto a = calls.maps.answer(r.rdi, r.rsi, r.rdx, r.r10, r.r8, r.r9);
    if (!a) return false;
    if (auto p = protection_->set(a->open_from, a->open_to, static_cast<int>(a->prot)); !p)
        failure_.fail(fmt::format("node {}: mapping [{:#x}, {:#x}): {}", opts_.self, a->open_from, a->open_to,
                                      p.error().message));
    r.rax = a->ret;
    v.mark_regs_dirty();
    ++calls.answered;
    return true;
}

void NodeRunner::apply_layout(const LayoutMsg& m) {
    // Files first (each opened and checked against the origin's identity:
    // the ack lists those refused), then the protection, then the fillers
    // (docs/dsm-protocol.md "Fillers").
    // A fill naming a file refused here is skipped: the origin falls back
    // to its own data for that range (F1).
    LayoutAckMsg ack{m.seq, {}};
    for (const auto& f : m.files)
        if (!filler_.open_declared(f)) ack.refused.push_back(f.id);
    std::vector<memory::FillRun> fills;
    fills.reserve(m.fills.size());
    for (const auto& f : m.fills)
        if (std::find(ack.refused.begin(), ack.refused.end(), f.file) == ack.refused.end()) fills.push_back(f);
    // A filler-only Layout (F7) may be applied here on the I/O thread while
    // a ride's runs are applied on the Resume of the node's thread: each
    // touches only its own table.
    if (!m.runs.empty())
        if (auto r = protection_->apply(m.runs); !r)
            failure_.fail(fmt::format("node {}: applying the origin's layout: {}", opts_.self, r.error().message));
    if (!fills.empty())
        if (auto r = filler_.apply(fills); !r)
            failure_.fail(fmt::format("node {}: applying the origin's fillers: {}", opts_.self, r.error().message));
    if (auto r = channel_.send(0, kLayoutAckType, encode(ack)); !r)
        log::warn("node {}: LayoutAck not sent: {}", opts_.self, r.error().message);
}

void NodeRunner::start_thread(SpawnMsg m) {
    // I/O thread: bookkeeping only (see "Threads" in the header). The new
    // thread sets up its vDSO time page and its vCPU itself.
    auto t = std::make_shared<Thread>();
    t->tid = m.tid;
    {
        std::lock_guard lk(mu_);
        threads_[m.tid] = t;
    }
    std::thread([this, t, m = std::move(m)]() mutable {
        t->host_tid = static_cast<int>(::syscall(SYS_gettid));
        start_timekeeper(m.vvar_gva);
        auto v = take_vcpu(m.tid);
        guest_loop(t, std::move(v), std::move(m));
    }).detach();
}

void NodeRunner::dial_ahead(const ChannelOfferMsg& m) {
    auto e = std::make_shared<EarlyChannel>();
    e->port = m.port;
    e->cookie = m.cookie;
    {
        std::lock_guard lk(mu_);
        // A thread already spawned dials its own; past the bound (only a
        // deputy offers, one thread at a time) the Spawn's thread dials.
        if (threads_.count(m.tid) || early_channels_.count(m.tid) || early_channels_.size() >= kMaxEarlyChannels)
            return;
        early_channels_[m.tid] = e;
    }
    const ChannelSecurity sec{opts_.cluster.key.value_or(net::ClusterKey{}), opts_.cluster.encrypt,
                              static_cast<std::uint16_t>(opts_.self)};
    try {
        std::thread([this, e, sec, tid = m.tid] {
            auto ch = SyscallChannel::connect(opts_.cluster.node(0).address, e->port, sec, e->cookie, tid);
            if (!ch) log::info("node {}: thread {}'s channel not dialled ahead: {}", opts_.self, tid, ch.error().message);
            {
                std::lock_guard lk(mu_);
                if (ch) e->channel = std::move(*ch);
                e->done = true;
            }
            early_cv_.notify_all();
        }).detach();
    } catch (const std::system_error&) {
        std::lock_guard lk(mu_);
        e->done = true;  // no thread: the Spawn's thread dials
    }
}

Result<std::unique_ptr<SyscallChannel>> NodeRunner::take_channel(const SpawnMsg& m, const ChannelSecurity& sec) {
    {
        std::unique_lock lk(mu_);
        if (auto it = early_channels_.find(m.tid); it != early_channels_.end()) {
            auto e = it->second;
            early_cv_.wait(lk, [&] { return e->done; });
            early_channels_.erase(m.tid);
            if (e->channel && e->port == m.channel_port && e->cookie == m.cookie) return std::move(e->channel);
        }
    }
    return SyscallChannel::connect(opts_.cluster.node(0).address, m.channel_port, sec, m.cookie, m.tid);
}

void NodeRunner::start_timekeeper(std::uint64_t vvar_gva) {
    // The vDSO's time page is this node's own, kept by this node's
    // Timekeeper (before the first guest thread can read it: every guest
    // thread passes here first).
    std::lock_guard lk(tk_mu_);
    if (vvar_gva == 0 || timekeeper_attached_) return;
    auto& mem = platform_->memory();
    if (vvar_gva < memory::layout::kUserBase || vvar_gva % memory::layout::kPageSize ||
        vvar_gva + memory::layout::kPageSize > mem.size())
        failure_.fail(fmt::format("node {}: vDSO data page {:#x} outside guest RAM", opts_.self, vvar_gva));
    if (auto r = engine_->make_node_local((vvar_gva - memory::layout::kUserBase) / memory::layout::kPageSize); !r)
        failure_.fail(fmt::format("node {}: {}", opts_.self, r.error().message));
    auto* vvar = reinterpret_cast<spanvm_vvar*>(mem.host_base() + vvar_gva);
    timekeeper_attached_ = true;  // once: a failure below is not retried by the next thread
    if (timekeeper_) {  // measured ahead
        if (timekeeper_->attach(vvar)) return;
        timekeeper_.reset();
    }
    auto tk = time::Timekeeper::start(vvar, time::Timekeeper::kDefaultPeriod, nullptr, &tsc_baseline_);
    if (!tk)
        log::warn("node {}: no vDSO time here ({}); guest clock reads fall back to forwarded calls", opts_.self,
                  tk.error().message);
    else
        timekeeper_ = std::move(*tk);
}

void NodeRunner::measure_tsc_ahead() {
    std::lock_guard lk(tk_mu_);
    ahead_vvar_ = std::make_unique<spanvm_vvar>();
    auto tk = time::Timekeeper::start(ahead_vvar_.get(), time::Timekeeper::kDefaultPeriod, nullptr, &tsc_baseline_);
    if (!tk) return;  // start_timekeeper tries again, and says why
    (*tk)->detach();
    timekeeper_ = std::move(*tk);
}

std::unique_ptr<platform::Vcpu> NodeRunner::take_vcpu(int tid) {
    {
        std::lock_guard lk(mu_);
        if (!vcpu_pool_.empty()) {
            auto v = std::move(vcpu_pool_.back());
            vcpu_pool_.pop_back();
            return v;
        }
    }
    unsigned long id;
    {
        std::lock_guard lk(mu_);
        id = next_vcpu_id_++;
    }
    auto v = platform_->create_vcpu(id);
    if (!v) failure_.fail(fmt::format("node {}: cannot create a vCPU for thread {}: {}", opts_.self, tid,
                                      v.error().message));
    return std::move(*v);
}

void NodeRunner::guest_loop(std::shared_ptr<Thread> t, std::unique_ptr<platform::Vcpu> v, SpawnMsg m) {
    auto fail = [&](const std::string& what) {
        failure_.fail(fmt::format("node {}: guest thread {}: {}", opts_.self, t->tid, what));
    };
    const ChannelSecurity sec{opts_.cluster.key.value_or(net::ClusterKey{}), opts_.cluster.encrypt,
                              static_cast<std::uint16_t>(opts_.self)};
    // What this thread answers itself (node_local_calls.hpp); the proof is
    // checked before the channel connects, while the origin holds its probe.
    NodeCallState calls;
    calls.tid = t->tid;
    calls.mode = static_cast<NodeAnswers>(m.node_answers);
    calls.origin_pid = m.fs.pid;
    if (calls.mode == NodeAnswers::all) {
        std::string why;
        calls.paths = verify_shared_fs(m.fs, why);
        if (!calls.paths) log::info("node {}: thread {}: path calls forwarded: {}", opts_.self, t->tid, why);
        calls.files = calls.paths && m.sole_thread;  // node files (node_local_calls.hpp)
    }
    auto ch = take_channel(m, sec);
    if (!ch) fail(ch.error().message);
    // A broken channel means the origin is gone or ending: its DSM
    // connection tells which (Shutdown: exit 0; else the one-line failure).
    auto park = [&] {
        for (;;) ::pause();
    };
    if (auto r = v->attach_thread(); !r) fail(r.error().message);
    if (auto r = v->set_initial_state(m.state.regs, m.state.fs_base, m.state.gs_base); !r) fail(r.error().message);
    // A migrating thread brings its FPU/AVX image; a new thread starts fresh.
    if (!m.state.fpu.empty())
        if (auto r = v->restore_fpu(m.state.fpu); !r) fail("FPU image in the Spawn: " + r.error().message);
    auto& mem = platform_->memory();
    const std::span<const std::uint8_t> ram(mem.host_base(), mem.size());
    // What the capture may read: what the guest may (a racing munmap by
    // another thread is the departure "Racing munmap" describes).
    const ArgReadable readable = [this](std::uint64_t gva, std::uint64_t len) {
        return protection_->accessible(gva, len);
    };
    const ArgReadable writable = [this](std::uint64_t gva, std::uint64_t len) {
        return protection_->writable(gva, len);
    };
    uint64_t fs = m.state.fs_base, gs = m.state.gs_base;
    const NodeGuestRam guest_ram{std::span<std::uint8_t>(mem.host_base(), mem.size()), memory::layout::kUserBase,
                                 readable, writable};
    for (;;) {
        platform::VcpuExit e;
        if (t->kicked.exchange(false)) {
            e.kind = platform::VcpuExit::Kind::interrupted;  // kicked before it ran (or between runs)
        } else {
            e = v->run();
            if (e.kind == platform::VcpuExit::Kind::interrupted && !t->kicked.exchange(false)) continue;
        }
        if (e.kind == platform::VcpuExit::Kind::syscall) {
            // Calls whose answer needs nothing of the origin run here
            // (node_answers.hpp; docs/architecture/distributed.md says why
            // each is safe); a pending signal still reaches the thread
            // through a Kick, which forces a Trap.
            if (answer_brk(calls, *v) || answer_mmap(calls, *v) || answer_on_node(calls, *v, fs, guest_ram))
                continue;
            // The image's forwarded calls by number, once it ends or execs.
            if (const auto nr = static_cast<std::int64_t>(v->regs().rax);
                nr == SYS_exit_group || nr == SYS_exit || nr == SYS_execve || nr == SYS_execveat)
                log::info("node {}: thread {}: {}; answered here {}", opts_.self, t->tid, forwarded_summary(calls),
                          calls.answered);
        }
        TrapMsg tr;
        tr.tid = t->tid;
        tr.host_tid = t->host_tid;
        tr.state.regs = v->regs();
        tr.state.fs_base = fs;
        tr.state.gs_base = gs;
        const FaultCounts fc = faults_.get(t->host_tid);
        tr.read_faults = fc.read;
        tr.write_faults = fc.write;
        tr.local_syscalls = calls.answered;
        tr.clear_child_tid = std::exchange(calls.clear_child_tid, std::nullopt);
        tr.robust_list = std::exchange(calls.robust_list, std::nullopt);
        tr.closed_fds = std::exchange(calls.closed, {});
        tr.seeks = take_seeks(calls);
        tr.brk = calls.brk.take_owed();
        tr.maps = calls.maps.take_owed();
        if (e.kind == platform::VcpuExit::Kind::syscall) {
            const auto& r = tr.state.regs;
            const std::uint64_t args[6] = {r.rdi, r.rsi, r.rdx, r.r10, r.r8, r.r9};
            tr.args = capture_arg_memory(static_cast<std::int64_t>(r.rax), args, ram, memory::layout::kUserBase,
                                         readable, writable);
        } else if (auto fpu = v->save_fpu()) {
            tr.state.fpu = std::move(*fpu);  // exceptions and kicks: a signal frame is likely
        }
        tr.exit = std::move(e);
        trace::mark("node.trap", static_cast<std::uint64_t>(tr.state.regs.rax));
        if (auto s = (*ch)->send(ChannelType::trap, encode(tr)); !s) park();
        ResumeMsg r;
        for (;;) {
            auto f = (*ch)->receive();
            if (!f) park();
            if (f->type == ChannelType::fpu_request) {
                auto fpu = v->save_fpu();
                if (!fpu) fail("FPU image for the origin: " + fpu.error().message);
                if (auto s = (*ch)->send(ChannelType::fpu, *fpu); !s) park();
                continue;
            }
            auto d = f->type == ChannelType::resume ? decode_resume(f->payload)
                                                    : Result<ResumeMsg>(make_error(EPROTO, "unexpected frame"));
            if (!d) fail(fmt::format("bad Resume from the origin: {}", d.error().message));
            r = std::move(*d);
            break;
        }
        // A ridden Layout (F6 of docs/dsm-protocol.md "Fillers"): the
        // call's layout changes, applied before anything else of the Resume
        // and before the thread continues (this thread is the node's only
        // one, so no page of the changed ranges was granted here meanwhile).
        if (r.layout) apply_layout(*r.layout);
        calls.brk.resumed(r.brk_window);
        calls.maps.resumed(r.map_window);
        trace::mark("node.resume", static_cast<std::uint64_t>(tr.state.regs.rax));
        if (e.kind == platform::VcpuExit::Kind::syscall)
            note_resume(calls, static_cast<std::int64_t>(tr.state.regs.rax), static_cast<std::int64_t>(r.state.regs.rax),
                        r.opened);
        // A call's output handled here (read into a buffer on this node):
        // stored through the coherent mapping before the thread continues,
        // or before it leaves (a migration right after the call).
        for (const auto& g : r.writes) {
            if (g.gva < memory::layout::kUserBase || g.gva > mem.size() || g.bytes.size() > mem.size() - g.gva)
                fail(fmt::format("guest write [{:#x}, +{:#x}) from the origin is outside guest RAM", g.gva,
                                 g.bytes.size()));
            // Captured only where writable; another thread's mprotect or
            // munmap since then drops the store (the departure "Racing
            // munmap": Linux would have failed the copy with EFAULT).
            if (g.bytes.empty() || !protection_->writable(g.gva, g.bytes.size())) continue;
            std::memcpy(mem.host_base() + g.gva, g.bytes.data(), g.bytes.size());
        }
        if (r.exit) {
            v->detach_thread();
            std::lock_guard lk(mu_);
            if (auto it = threads_.find(t->tid); it != threads_.end() && it->second == t) threads_.erase(it);
            vcpu_pool_.push_back(std::move(v));
            return;
        }
        v->regs() = r.state.regs;
        v->mark_regs_dirty();
        if (r.state.fs_base != fs) {
            fs = r.state.fs_base;
            if (auto s = v->set_fs_base(fs); !s) fail(s.error().message);
        }
        if (r.state.gs_base != gs) {
            gs = r.state.gs_base;
            if (auto s = v->set_gs_base(gs); !s) fail(s.error().message);
        }
        if (!r.state.fpu.empty())
            if (auto s = v->restore_fpu(r.state.fpu); !s) fail("FPU image from the origin: " + s.error().message);
    }
}

void NodeRunner::sharing_loop() {
    WindowMean latency;
    ThreadCpuWindow cpu;
    for (;;) {
        {
            std::unique_lock lk(mu_);
            if (done_cv_.wait_for(lk, std::chrono::microseconds(kSharingWindowUs), [&] { return done_; })) return;
        }
        const auto lat = engine_->stats().latency(dsm::DsmStats::Latency::write_fault);
        const std::uint64_t fault_ns = latency.take(lat.count, lat.mean_ns);
        std::unordered_map<std::int32_t, std::uint64_t> created;
        auto w = faults_.take_window(kMaxSharingPages, &created);
        std::vector<std::pair<std::int32_t, std::int32_t>> live;  // (tid, host tid)
        {
            std::lock_guard lk(mu_);
            for (const auto& [tid, t] : threads_) live.emplace_back(tid, t->host_tid.load());
        }
        std::vector<std::int32_t> host_tids;
        for (const auto& l : live) host_tids.push_back(l.second);
        const auto ran = cpu.take(host_tids);  // every window, so each delta spans one
        if (w.empty() && created.empty()) continue;
        SharingMsg m;
        m.fault_ns = fault_ns;
        for (const auto& [tid, host_tid] : live) {
            auto it = w.find(host_tid);
            auto made = created.find(host_tid);
            const std::uint64_t n = made == created.end() ? 0 : made->second;
            if ((it == w.end() || it->second.empty()) && n == 0) continue;
            auto c = ran.find(host_tid);
            m.threads.push_back(
                {tid, it == w.end() ? std::vector<PageUse>{} : std::move(it->second), c == ran.end() ? 0 : c->second, n});
            if (m.threads.size() >= kMaxSharingThreads) break;
        }
        if (!m.threads.empty()) (void)channel_.send(0, kSharingType, encode(m));
    }
}

}  // namespace spanvm::cluster
