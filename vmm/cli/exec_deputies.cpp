#include "vmm/cli/exec_deputies.hpp"

#include <linux/futex.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <cstring>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include "net/crypto.hpp"
#include "net/free_ports.hpp"
#include "vmm/base/fatal_exit.hpp"
#include "vmm/base/log.hpp"
#include "vmm/cluster/exec_balance.hpp"
#include "vmm/cluster/origin_cluster.hpp"
#include "vmm/cluster/session_launcher.hpp"
#include "vmm/cluster/session_messages.hpp"

namespace spanvm::cli {

namespace {

// A mailbox slot's life (Slot::state). The deputy claims a free slot,
// fills it and posts it; the broker sends it; the I/O thread answers it;
// the deputy reads the answer and frees it. A deputy that gives up frees
// a slot not sent yet, and abandons a sent one, which the answer frees.
enum SlotState : std::uint32_t { kFree, kClaimed, kPosted, kSent, kAnswered, kAbandoned };

constexpr unsigned kSlots = 64;                               // requests in flight at once
constexpr auto kSessionAnswerTimeout = std::chrono::seconds(15);  // the daemon answers right after its spawn
constexpr std::size_t kReasonBytes = 256;
// How long a failing deputy waits for the run's process to end (which makes
// its failure quiet): the run's line goes out, then its last words to the
// nodes (250 ms at most), then it exits.
constexpr std::chrono::milliseconds kQuietWait{1500};

// Futexes in the MAP_SHARED page: shared between processes, so never
// FUTEX_PRIVATE_FLAG.
void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t seen, std::chrono::milliseconds timeout) {
    timespec ts{static_cast<time_t>(timeout.count() / 1000), static_cast<long>(timeout.count() % 1000) * 1000000};
    (void)::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT, seen, &ts, nullptr, 0);
}

void futex_wake(std::atomic<std::uint32_t>& word) {
    (void)::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}

// True once the run's process (its pidfd) has ended, waiting up to
// kQuietWait for it: a deputy's failure while the run ends is quiet.
bool run_ends(int run_pidfd) {
    pollfd p{run_pidfd, POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(kQuietWait.count())) > 0;
}

void decrement_floor0(std::atomic<int>& c) {
    int v = c.load();
    while (v > 0 && !c.compare_exchange_weak(v, v - 1)) {
    }
}

}  // namespace

Result<ExecPolicy> parse_exec_policy(const std::string& s) {
    if (s == "origin") return ExecPolicy::origin;
    if (s == "round-robin") return ExecPolicy::round_robin;
    if (s == "least-loaded") return ExecPolicy::least_loaded;
    return make_error(EINVAL, "unknown exec placement '{}' (expected origin, round-robin or least-loaded)", s);
}

struct ExecDeputies::Slot {
    std::atomic<std::uint32_t> state{kFree};  // SlotState; also the deputy's futex word
    std::atomic<std::int32_t> owner{0};       // the deputy's pid
    std::atomic<std::uint64_t> seq{0};        // the SessionStart's: (generation << 8) | slot index
    // Written by the owner before kPosted, read by the broker after it.
    std::uint32_t host = 0;
    std::uint16_t deputy_port = 0;
    // Written by the answerer before kAnswered, read by the owner after it.
    std::uint16_t port = 0;  // 0: failed
    bool unsent = false;     // failed because the broker could not send it (the host's link is gone)
    char reason[kReasonBytes] = {};
};

// One program's runs in this run (exec_balance.hpp's ProgramHistory), in a
// slot of the shared page's open-addressed table: `key` is claimed once
// (0 -> program_key) and never changes; the sums only grow.
struct ProgramSlot {
    std::atomic<std::uint64_t> key{0};
    std::atomic<std::uint64_t> runs{0};
    std::atomic<std::uint64_t> busy_ms{0};
    std::atomic<bool> forks{false};  // set once, never cleared
};
constexpr unsigned kPrograms = 256;  // a full table learns no more programs (they stay "never seen")

struct ExecDeputies::Shared {
    std::atomic<unsigned> turn{0};
    std::atomic<int> live[kMaxHosts];      // images counted per host, as the origin counts them
    std::atomic<int> waiting[kMaxHosts];   // of those, blocked in a child wait now
    std::atomic<int> cpus[kMaxHosts];      // the host's last report: its CPUs (0: none yet)
    std::atomic<std::uint32_t> posted{0};  // bumped per posted request (the broker's futex word)
    std::atomic<int> broker{0};            // the run's process's pid once its broker runs
    Slot slots[kSlots];
    ProgramSlot programs[kPrograms];
};

namespace {

// The slot of `key` (claimed if `claim` and free), or null.
ProgramSlot* program_slot(ProgramSlot (&t)[kPrograms], std::uint64_t key, bool claim) {
    for (unsigned i = 0; i < kPrograms; ++i) {
        ProgramSlot& s = t[(key + i) % kPrograms];
        std::uint64_t k = s.key.load();
        if (k == key) return &s;
        if (k != 0) continue;
        if (!claim) return nullptr;
        if (s.key.compare_exchange_strong(k, key) || k == key) return &s;
    }
    return nullptr;
}

}  // namespace

ExecDeputies::ExecDeputies(ExecDeputyOptions o) : o_(std::move(o)), origin_cpus_(cluster::usable_cpus()) {
    void* m = ::mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) throw std::runtime_error(fmt::format("--place-exec: mmap: {}", std::strerror(errno)));
    shared_ = new (m) Shared;
    for (unsigned k = 0; k < kMaxHosts; ++k) {
        shared_->live[k].store(0);
        shared_->waiting[k].store(0);
        shared_->cpus[k].store(0);
    }
}

void ExecDeputies::serve(cluster::OriginCluster& run) {
    run.on_sessions([this](unsigned from, std::uint16_t type, net::ByteView p) { on_node_message(from, type, p); });
    shared_->broker.store(static_cast<int>(::getpid()));
    run_pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, ::getpid(), 0));
    // Only this thread of the run's process; a fork copies none of it. It
    // starts with every signal blocked: it is made before the Process
    // blocks the forwarded ones (process_lifetime.cpp), and a SIGCHLD
    // delivered to a thread that has it unblocked (default action: ignore)
    // never reaches the forwarder's signalfd, so the guest's make would
    // wait for a child that has long ended.
    sigset_t all, old;
    sigfillset(&all);
    ::pthread_sigmask(SIG_BLOCK, &all, &old);
    std::thread([this, &run] { broker_loop(run); }).detach();
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

unsigned ExecDeputies::place_exec(std::string_view program, int parent_node) {
    const auto n = static_cast<unsigned>(std::min<std::size_t>(o_.cluster.size(), kMaxHosts));
    unsigned node = 0;
    if (o_.policy == ExecPolicy::round_robin) {
        node = shared_->turn.fetch_add(1) % n;
    } else if (o_.policy == ExecPolicy::least_loaded) {
        cluster::ProgramHistory h;
        if (const ProgramSlot* ps = program_slot(shared_->programs, cluster::program_key(program), false))
            h = {ps->runs.load(), ps->busy_ms.load(), ps->forks.load()};
        if (cluster::worth_placing(h)) {
            cluster::NodeBalance nodes[kMaxHosts];
            for (unsigned k = 0; k < n; ++k) {
                int running = shared_->live[k].load() - shared_->waiting[k].load();
                if (static_cast<int>(k) == parent_node) --running;  // blocked in the vfork that made us
                nodes[k].running = static_cast<std::uint64_t>(std::max(0, running));
                const int c = shared_->cpus[k].load();
                nodes[k].cpus = k == 0 ? origin_cpus_ : c > 0 ? static_cast<std::uint64_t>(c) : 1;
            }
            node = cluster::least_loaded_node(std::span<const cluster::NodeBalance>(nodes, n));
        }
    }
    shared_->live[node].fetch_add(1);
    return node;
}

void ExecDeputies::exec_waiting(unsigned node, bool waiting) {
    if (node >= kMaxHosts) return;
    if (waiting)
        shared_->waiting[node].fetch_add(1);
    else
        decrement_floor0(shared_->waiting[node]);
}

void ExecDeputies::exec_forked(std::string_view program) {
    // Any image teaches this, placed or not: spawning is the program's.
    if (program.empty()) return;
    if (ProgramSlot* ps = program_slot(shared_->programs, cluster::program_key(program), true))
        ps->forks.store(true);
}

void ExecDeputies::exec_gone(unsigned node, std::string_view program, std::uint64_t busy_ms) {
    // The session ends by itself (Shutdown from the deputy, or its link
    // dropping) and its daemon reaps it and reports the new load.
    if (node < kMaxHosts) decrement_floor0(shared_->live[node]);
    // Only an image that ran here teaches: a placed image's busy time also
    // holds its placement's own cost (the session's join, the loader's
    // round trips, a fork's gather of the pages its node holds: a placed
    // `cc` driver measured ~400-900 ms busy where one here took ~100), so
    // learning from it would keep placing whatever was once placed.
    if (program.empty() || node != 0) return;
    if (ProgramSlot* ps = program_slot(shared_->programs, cluster::program_key(program), true)) {
        ps->busy_ms.fetch_add(busy_ms);
        ps->runs.fetch_add(1);
    }
}

void ExecDeputies::broker_loop(cluster::OriginCluster& run) {
    std::uint64_t generation = 0;
    for (;;) {
        const std::uint32_t seen = shared_->posted.load();
        for (unsigned i = 0; i < kSlots; ++i) {
            Slot& s = shared_->slots[i];
            std::uint32_t st = kPosted;
            if (!s.state.compare_exchange_strong(st, kSent)) continue;
            const std::uint64_t seq = (++generation << 8) | i;
            s.seq.store(seq);
            Result<void> r = make_error(EINVAL, "no host {} in a cluster of {}", s.host, o_.cluster.size());
            if (s.host != 0 && s.host < o_.cluster.size())
                r = run.send(s.host, cluster::kSessionStartType, encode(cluster::SessionStartMsg{seq, s.deputy_port}));
            if (r) continue;
            // Not sent: answer here.
            s.port = 0;
            s.unsent = true;
            std::snprintf(s.reason, sizeof s.reason, "%s", r.error().message.c_str());
            st = kSent;
            if (!s.state.compare_exchange_strong(st, kAnswered) && st == kAbandoned) s.state.store(kFree);
            futex_wake(s.state);
        }
        futex_wait(shared_->posted, seen, std::chrono::milliseconds(1000));
    }
}

void ExecDeputies::on_node_message(unsigned from, std::uint16_t type, net::ByteView payload) {
    if (from == 0 || from >= kMaxHosts) return;
    if (type == cluster::kNodeLoadType) {
        auto m = cluster::decode_node_load(payload);
        if (!m) {
            log::warn("--place-exec: bad NodeLoad from node {}: {}", from, m.error().message);
            return;
        }
        shared_->cpus[from].store(static_cast<int>(std::min<std::uint32_t>(m->cpus, INT_MAX)));
        return;
    }
    if (type != cluster::kSessionReadyType) return;
    auto m = cluster::decode_session_ready(payload);
    if (!m) {
        log::warn("--place-exec: bad SessionReady from node {}: {}", from, m.error().message);
        return;
    }
    const std::uint64_t index = m->seq & 0xff;
    if (index >= kSlots) return;
    Slot& s = shared_->slots[index];
    if (s.seq.load() != m->seq || s.host != from) return;  // a stale answer (the slot was reclaimed)
    std::uint32_t st = s.state.load();
    if (st == kAbandoned) {
        (void)s.state.compare_exchange_strong(st, kFree);
        return;
    }
    if (st != kSent) return;
    s.port = m->port;
    std::snprintf(s.reason, sizeof s.reason, "%s", m->reason.c_str());
    if (s.state.compare_exchange_strong(st, kAnswered)) {
        futex_wake(s.state);
    } else if (st == kAbandoned) {
        s.state.store(kFree);
    }
}

Result<std::uint16_t> ExecDeputies::request_session(unsigned node, std::uint16_t deputy_port,
                                                    const std::function<void()>& meanwhile) {
    if (shared_->broker.load() == 0) {
        return make_error(EOPNOTSUPP, "the run's process serves no session requests");
    }
    Slot* s = nullptr;
    for (auto& c : shared_->slots) {
        std::uint32_t st = kFree;
        if (c.state.compare_exchange_strong(st, kClaimed)) {
            s = &c;
            break;
        }
    }
    if (!s)  // all taken: reclaim one whose deputy died waiting
        for (auto& c : shared_->slots) {
            std::uint32_t st = c.state.load();
            const int owner = c.owner.load();
            if (st != kFree && st != kClaimed && owner > 0 && ::kill(owner, 0) != 0 && errno == ESRCH &&
                c.state.compare_exchange_strong(st, kClaimed)) {
                s = &c;
                break;
            }
        }
    if (!s) {
        return make_error(EBUSY, "{} session requests already in flight", kSlots);
    }
    s->owner.store(static_cast<int>(::getpid()));
    s->seq.store(0);
    s->host = node;
    s->deputy_port = deputy_port;
    s->port = 0;
    s->unsent = false;
    s->reason[0] = 0;
    s->state.store(kPosted);
    shared_->posted.fetch_add(1);
    futex_wake(shared_->posted);
    meanwhile();
    const auto deadline = std::chrono::steady_clock::now() + kSessionAnswerTimeout;
    for (;;) {
        std::uint32_t st = s->state.load();
        if (st == kAnswered) break;
        if (std::chrono::steady_clock::now() >= deadline) {
            if (st == kPosted && s->state.compare_exchange_strong(st, kFree)) {  // never sent
                return make_error(ETIMEDOUT, "the run's process did not send the request");
            }
            if (st == kSent && s->state.compare_exchange_strong(st, kAbandoned))  // its answer frees it
                return make_error(ETIMEDOUT, "host {} did not answer within {} s", node,
                                  std::chrono::duration_cast<std::chrono::seconds>(kSessionAnswerTimeout).count());
            continue;  // answered meanwhile
        }
        futex_wait(s->state, st, std::chrono::milliseconds(200));
    }
    const std::uint16_t port = s->port;
    const bool unsent = s->unsent;
    const std::string reason = s->reason;
    s->state.store(kFree);
    // ENOTCONN: the run lost its link to the host (and so is ending);
    // EAGAIN: the host answered that it could not start one.
    if (port == 0)
        return make_error(unsent ? ENOTCONN : EAGAIN, "host {} could not start a session: {}", node, reason);
    return port;
}

process::RemoteThreads* ExecDeputies::start_deputy(unsigned node, memory::GuestMemory& ram,
                                                   memory::GuestProtection& prot, int tid) {
    auto fail = [&](const std::string& why) -> process::RemoteThreads* {
        log::warn("--place-exec: the image runs at the origin instead of host {}: {}", node, why);
        return nullptr;
    };
    if (node == 0 || node >= o_.cluster.size() || node >= kMaxHosts) return fail("no such host");
    if (!o_.cluster.key) return fail("no cluster key");
    const auto& origin = o_.cluster.node(0);
    const auto& host = o_.cluster.node(static_cast<net::NodeId>(node));
    // This deputy is node 0 of its cluster of two, at the origin's address
    // (its listener is bound at once, by the OriginCluster below).
    // Held from its pick until this cluster's engine listens on it (as a
    // session's port: session_launcher.hpp), so no other picker of the run
    // binds it meanwhile, nor this deputy a port a session holds.
    net::HeldPort held;
    try {
        held = net::hold_free_tcp_port(origin.address);
    } catch (const std::exception& e) {
        return fail(e.what());
    }
    const std::uint16_t deputy_port = held.port;
    const auto asked = std::chrono::steady_clock::now();
    // While host k answers: OpenSSL's first use in this forked process
    // (its random generator reseeds after a fork), not in the handshake.
    auto port = request_session(node, deputy_port, [] { net::prepare_crypto(); });
    if (!port) {
        ::close(held.fd);
        // A lost link to the host ends the run (a host lost is fatal), whose
        // process prints the one line; this image must not add a fallback
        // warning meanwhile (nor one for a host that went silent). So wait
        // up to kQuietWait for the run to end, and end with it, quietly.
        if ((port.error().code == ENOTCONN || port.error().code == ETIMEDOUT) && run_pidfd_ >= 0 &&
            run_ends(run_pidfd_))
            ::_exit(kFatalExitStatus);
        return fail(port.error().message);
    }
    log::info("--place-exec: host {} started a session on port {} in {} us", node, *port,
              std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - asked).count());
    net::ClusterConfig cc;
    cc.name = "local";  // the name the session gets with --cluster-spec
    cc.nodes.push_back({0, origin.address, deputy_port});
    cc.nodes.push_back({1, host.address, *port});
    // Its lines name the host as the run does (node k, at host k's address),
    // not as node 1 of this cluster of two.
    cc.labels = {"the deputy", fmt::format("node {}'s session", node)};
    try {
        net::validate_cluster(cc, "--place-exec");
    } catch (const std::exception& e) {
        ::close(held.fd);
        return fail(e.what());  // the session, never dialled, gives up by itself
    }
    cc.key = o_.cluster.key;
    cc.encrypt = o_.cluster.encrypt;
    // Leaked on purpose: it serves this process until it exits, and a fork
    // of this process must never destroy its copy (remote_threads.hpp).
    auto* oc = new cluster::OriginCluster(std::move(cc), cluster::PlacePolicy::away);
    oc->listen_on(held.fd);  // its engine owns it from attach_memory
    // When the run fails (a host lost), its process prints the one line and
    // every deputy ends with it; a deputy whose session went with that host
    // (or with the run) must not add its own line. So a deputy's failure
    // first waits up to kQuietWait for the run's process to end, and is
    // quiet if it did.
    if (run_pidfd_ >= 0)
        oc->quiet_failures_when([fd = run_pidfd_] { return run_ends(fd); });
    // The node starts with all guest RAM inaccessible and hears later mm
    // calls one at a time (layout_changed); what is mapped already (the
    // exec's stack, vDSO and image so far) it gets here, acked before the
    // thread moves. The alias is this process's own (a fork child inherits
    // its parent's, bound to the parent's memory).
    auto r = prot.open_alias();
    if (r) r = oc->attach_memory(ram, prot);
    if (r) oc->layout_changed(prot.accessible_runs());
    if (!r) return fail(r.error().message);
    // The session dials the thread's syscall channel now, while the image
    // loads here, not when the Spawn comes (the Spawn's thread dials if
    // this did not reach it).
    if (auto o = oc->offer_channel(1, tid); !o)
        log::info("--place-exec: thread {}'s channel not offered ahead: {}", tid, o.error().message);
    log::info("--place-exec: the session on host {} joined {} us after the request", node,
              std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - asked).count());
    return oc;
}

}  // namespace spanvm::cli
