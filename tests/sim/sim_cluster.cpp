#include "tests/sim/sim_cluster.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <optional>
#include <random>
#include <set>
#include <vector>

#include <fmt/format.h>

#include "vmm/dsm/protocol.hpp"

namespace spanvm::dsm::sim {

namespace {

// Model of what the userfaultfd backend maps for one page on one node.
enum class Prot { None, Read, Write };

struct PageCopy {
    Prot prot = Prot::None;
    std::vector<std::byte> data;
};

struct Op {
    PageIndex page = 0;
    unsigned word = 0;
    Access access = Access::Read;
    std::uint32_t value = 0;  // value to write
};

enum class ThreadState { Idle, Blocked, Runnable };

struct Thread {
    ThreadState state = ThreadState::Idle;
    Op op;
};

struct Node {
    std::unique_ptr<HomeTable> homes;  // dynamic homes only
    std::unique_ptr<HomeMoves> moves;
    // Moves whose acks are all in, finished once this node's channel to
    // itself is empty: the engine drains its messages to itself before it
    // handles anything else, so a move never finishes with one still queued.
    std::vector<HomeMoves::Move> ready;
    std::optional<Protocol> proto;
    std::vector<PageCopy> mem;
    std::vector<Thread> threads;
    std::multiset<TimeNs> timers;
};

// ReadAhead: a node requests a page no thread waits for (the engine's
// sequential read-ahead and write-ahead, and zero-fill-ahead at the home),
// so grants may resume nobody and copies appear that no local access asked
// for: a read of a page held Invalid, or a write of one held Invalid or
// Shared.
// Move: a home hands a page it may move over to a random other node
// (a superset of what the engine's rehome and migration rule do).
// RunAhead (SimConfig::runs): a node asks for a random stretch of pages as
// a run (Protocol::request_ahead for each page it may ask for, the engine's
// request_run), with or without threads waiting on them; the home starts
// them on idle pages and refuses the rest, whose waiters then retry.
// Map, Start, ApplyHeld (SimConfig::ride): node 0 maps a file over a
// pristine page; node 1 starts (applying what is held for it first); a
// held fill reaches node 1 later (only under the planted bugs). SendFill
// (SimConfig::link_fill, under fill-after-ask only): node 0 queues a fill
// it asked the home about earlier.
// Discard (SimConfig::discard): a node discards a random page it is home of.
enum class EventKind { Deliver, Tick, Issue, Retry, ReadAhead, Move, FinishMove, RunAhead, Map, Start, ApplyHeld, SendFill, Discard };
struct Event {
    EventKind kind;
    unsigned a;  // channel index or node
    unsigned b;  // thread
};

std::uint32_t load_word(const std::vector<std::byte>& d, unsigned w) {
    std::uint32_t v = 0;
    for (unsigned i = 0; i < 4; ++i) v |= std::uint32_t{std::to_integer<std::uint8_t>(d[w * 4 + i])} << (8 * i);
    return v;
}
void store_word(std::vector<std::byte>& d, unsigned w, std::uint32_t v) {
    for (unsigned i = 0; i < 4; ++i) d[w * 4 + i] = static_cast<std::byte>((v >> (8 * i)) & 0xff);
}

class Simulation {
public:
    explicit Simulation(const SimConfig& cfg) : cfg_(cfg), rng_(cfg.seed) {}

    SimResult run() {
        if (!setup()) return result();
        std::uint64_t limit = cfg_.steps * 20 + 20000;
        for (std::uint64_t step = 0; failure_.empty(); ++step) {
            step_ = step;
            std::vector<Event> ev = enabled_events(step < cfg_.steps);
            if (ev.empty()) {
                TimeNs next = earliest_timer();
                if (next != 0) {
                    now_ = std::max(now_, next);
                    continue;
                }
                if (any_thread_busy()) fail(fmt::format("deadlock: network empty, no timer, operations pending: {}",
                                                        describe_pending()));
                break;
            }
            if (step >= limit) {
                fail(fmt::format("livelock: not quiescent after {} steps: {}", step, describe_pending()));
                break;
            }
            const Event& e = ev[rng_() % ev.size()];
            execute_event(e);
            now_ += rng_() % 32;
            res_.steps = step + 1;
            if (failure_.empty()) check_invariants();
        }
        if (failure_.empty()) check_quiescent();
        return result();
    }

private:
    bool setup() {
        auto home = HomePolicy::parse(cfg_.home, cfg_.nodes);
        if (!home) return fail(home.error().message);
        if (cfg_.words == 0 || cfg_.threads == 0 || cfg_.pages == 0) return fail("words, threads, pages must be > 0");
        if (cfg_.claims && (!cfg_.dynamic_homes || cfg_.claim_chunk == 0)) return fail("claims need dynamic homes and a chunk of >= 1 page");
        if (cfg_.ride && (cfg_.nodes != 2 || cfg_.dynamic_homes)) return fail("--ride needs 2 nodes and static homes");
        if (cfg_.link_fill && !cfg_.ride) return fail("--link-fill needs --ride");
        if (cfg_.discard && !cfg_.dynamic_homes) return fail("--discard needs dynamic homes");
        file_.assign(cfg_.nodes, std::vector<bool>(cfg_.pages, false));
        mapped_.assign(cfg_.pages, false);
        started1_ = !cfg_.ride || cfg_.link_fill || cfg_.bug == FaultInjection::RideInFlight;
        page_size_ = cfg_.words * 4;
        nodes_.resize(cfg_.nodes);
        chans_.resize(std::size_t{cfg_.nodes} * cfg_.nodes);
        ref_.assign(cfg_.pages, std::vector<std::uint32_t>(cfg_.words, 0));
        if (cfg_.fill)
            for (unsigned p = 0; p < cfg_.pages; ++p)
                for (unsigned w = 0; w < cfg_.words; ++w) ref_[p][w] = filler_word(cfg_.nodes, p, w);
        for (unsigned n = 0; n < cfg_.nodes; ++n) {
            ProtocolConfig pc;
            pc.self = n;
            pc.num_nodes = cfg_.nodes;
            pc.num_pages = cfg_.pages;
            pc.page_size = page_size_;
            pc.home = *home;
            pc.hold_ns = cfg_.hold_ns;
            if (cfg_.initial_owner) pc.initial_owner = 0;
            pc.inject = cfg_.bug;
            if (cfg_.dynamic_homes) {
                nodes_[n].homes = std::make_unique<HomeTable>(cfg_.pages);
                nodes_[n].moves = std::make_unique<HomeMoves>(n);
                pc.homes = nodes_[n].homes.get();
                pc.migrate.threshold = cfg_.migrate;
                pc.claims = cfg_.claims;
            }
            auto p = Protocol::create(pc);
            if (!p) return fail(p.error().message);
            nodes_[n].proto.emplace(std::move(*p));
            nodes_[n].mem.resize(cfg_.pages);
            for (auto& c : nodes_[n].mem) {
                c.data.assign(page_size_, std::byte{0xee});
                if (cfg_.initial_owner && n == 0) {
                    c.prot = Prot::Write;
                    std::fill(c.data.begin(), c.data.end(), std::byte{0});
                    if (cfg_.fill)
                        for (unsigned w = 0; w < cfg_.words; ++w)
                            store_word(c.data, w, filler_word(cfg_.nodes, static_cast<unsigned>(&c - nodes_[n].mem.data()), w));
                }
            }
            nodes_[n].threads.resize(cfg_.threads);
        }
        return true;
    }

    SimResult result() {
        res_.ok = failure_.empty();
        res_.failure = failure_;
        return res_;
    }

    bool fail(std::string msg) {
        if (failure_.empty()) failure_ = fmt::format("step {} t={}: {}", step_, now_, msg);
        return false;
    }

    std::vector<Event> enabled_events(bool may_issue) {
        std::vector<Event> ev;
        for (unsigned c = 0; c < chans_.size(); ++c)
            if (!chans_[c].empty()) ev.push_back({EventKind::Deliver, c, 0});
        for (unsigned n = 0; n < cfg_.nodes; ++n) {
            if (!nodes_[n].timers.empty() && *nodes_[n].timers.begin() <= now_) ev.push_back({EventKind::Tick, n, 0});
            if (may_issue && may_run(n)) ev.push_back({EventKind::ReadAhead, n, 0});
            if (may_issue && cfg_.dynamic_homes && cfg_.nodes > 1) ev.push_back({EventKind::Move, n, 0});
            if (!nodes_[n].ready.empty() && chans_[std::size_t{n} * cfg_.nodes + n].empty())
                ev.push_back({EventKind::FinishMove, n, 0});
            if (may_issue && cfg_.runs && may_run(n)) ev.push_back({EventKind::RunAhead, n, 0});
            if (may_issue && cfg_.discard) ev.push_back({EventKind::Discard, n, 0});
            if (cfg_.ride && n == 0 && may_issue && res_.maps < cfg_.pages) ev.push_back({EventKind::Map, n, 0});
            if (cfg_.ride && n == 1 && !started1_) ev.push_back({EventKind::Start, n, 0});
            if (cfg_.ride && n == 1 && started1_ && !held_.empty()) ev.push_back({EventKind::ApplyHeld, n, 0});
            if (cfg_.link_fill && n == 0 && !unsent_.empty()) ev.push_back({EventKind::SendFill, n, 0});
            for (unsigned t = 0; t < cfg_.threads; ++t) {
                auto st = nodes_[n].threads[t].state;
                if (st == ThreadState::Runnable) ev.push_back({EventKind::Retry, n, t});
                if (st == ThreadState::Idle && may_issue && may_run(n)) ev.push_back({EventKind::Issue, n, t});
            }
        }
        return ev;
    }

    TimeNs earliest_timer() const {
        TimeNs best = 0;
        for (const auto& n : nodes_)
            if (!n.timers.empty() && (best == 0 || *n.timers.begin() < best)) best = *n.timers.begin();
        return best;
    }

    bool any_thread_busy() const {
        for (const auto& n : nodes_)
            for (const auto& t : n.threads)
                if (t.state != ThreadState::Idle) return true;
        return false;
    }

    std::string describe_pending() const {
        std::string s;
        for (unsigned n = 0; n < cfg_.nodes; ++n)
            for (const auto& t : nodes_[n].threads)
                if (t.state != ThreadState::Idle) {
                    PageIndex p = t.op.page;
                    auto home = nodes_[n].proto->home_of(p);
                    auto d = nodes_[home].proto->directory(p);
                    s += fmt::format("[node {} {} page {} local {} dir {} busy={} queued={}] ", n,
                                     to_string(t.op.access), p, to_string(nodes_[n].proto->local_state(p)),
                                     to_string(d.state), d.busy, d.queued);
                }
        return s;
    }

    void execute_event(const Event& e) {
        switch (e.kind) {
            case EventKind::Deliver: {
                unsigned from = e.a / cfg_.nodes, to = e.a % cfg_.nodes;
                Packet pkt = std::move(chans_[e.a].front());
                chans_[e.a].pop_front();
                if (pkt.home) {
                    deliver_home(from, to, pkt.bytes);
                    return;
                }
                if (pkt.fill) {  // --link-fill: the node's filler of the page is the file from here on
                    file_[to][pkt.page] = true;
                    return;
                }
                std::vector<std::byte>& bytes = pkt.bytes;
                auto msg = decode_message(bytes);
                if (trace_ && msg) fmt::print("{} {}->{} {} p{} rq{} dk{}\n", step_, from, to, to_string(msg->type), msg->page, msg->requester, to_string(msg->data_kind));
                if (!msg) {
                    fail(fmt::format("decode {}->{}: {}", from, to, msg.error().message));
                    return;
                }
                if (msg->type == MsgType::Refuse) ++res_.refusals;
                Actions acts;
                auto r = nodes_[to].proto->on_message(from, *msg, now_, acts);
                execute_actions(to, acts);
                if (!r) fail(fmt::format("node {} on {} from {}: {}", to, to_string(msg->type), from, r.error().message));
                return;
            }
            case EventKind::Tick: {
                auto& timers = nodes_[e.a].timers;
                timers.erase(timers.begin(), timers.upper_bound(now_));
                Actions acts;
                auto r = nodes_[e.a].proto->on_tick(now_, acts);
                execute_actions(e.a, acts);
                if (!r) fail(fmt::format("node {} tick: {}", e.a, r.error().message));
                return;
            }
            case EventKind::Issue: {
                Thread& t = nodes_[e.a].threads[e.b];
                t.op.page = rng_() % cfg_.pages;
                t.op.word = rng_() % cfg_.words;
                t.op.access = rng_() % 2 ? Access::Write : Access::Read;
                t.op.value = ++next_value_;
                attempt(e.a, t);
                return;
            }
            case EventKind::Retry: attempt(e.a, nodes_[e.a].threads[e.b]); return;
            case EventKind::Move: {
                PageIndex page = rng_() % cfg_.pages;
                Protocol& pr = *nodes_[e.a].proto;
                if (!pr.can_move(page)) return;
                NodeId to = (e.a + 1 + rng_() % (cfg_.nodes - 1)) % cfg_.nodes;
                pr.freeze(page);
                StartMove sm{page, to};
                apply(e.a, sm);
                return;
            }
            case EventKind::FinishMove: {
                HomeMoves::Move mv = std::move(nodes_[e.a].ready.front());
                nodes_[e.a].ready.erase(nodes_[e.a].ready.begin());
                finish_move(e.a, mv);
                return;
            }
            case EventKind::RunAhead: run_ahead(e.a); return;
            case EventKind::Map: map_file(); return;
            case EventKind::Start:
                if (cfg_.bug != FaultInjection::RideLate) apply_held();
                started1_ = true;
                return;
            case EventKind::ApplyHeld: apply_held(); return;
            case EventKind::SendFill:
                send_fill(unsent_.front());
                unsent_.erase(unsent_.begin());
                return;
            case EventKind::Discard: discard(e.a); return;
            case EventKind::ReadAhead: {
                PageIndex page = rng_() % cfg_.pages;
                const Access access = rng_() % 2 ? Access::Write : Access::Read;
                const LocalState ls = nodes_[e.a].proto->local_state(page);
                if (!(ls == LocalState::Invalid || (access == Access::Write && ls == LocalState::Shared))) return;
                Actions acts;
                auto r = nodes_[e.a].proto->on_fault(page, access, now_, acts, want_claim());
                execute_actions(e.a, acts);
                if (!r) fail(fmt::format("node {} {}-ahead: {}", e.a, access == Access::Write ? "write" : "read",
                                         r.error().message));
                return;
            }
        }
    }

    void run_ahead(unsigned n) {
        const PageIndex first = rng_() % cfg_.pages;
        const PageIndex len = 1 + rng_() % (cfg_.pages - first);
        const Access access = rng_() % 2 ? Access::Write : Access::Read;
        for (PageIndex q = first; q < first + len; ++q) {
            Actions acts;
            auto r = nodes_[n].proto->request_ahead(q, access, acts);
            if (!r) {
                fail(fmt::format("node {} run request page {}: {}", n, q, r.error().message));
                return;
            }
            if (*r) ++res_.run_pages;
            execute_actions(n, acts);
        }
    }

    // --ride: node 1 issues nothing before it starts, nor while a fill is
    // held for the Resume of its only thread (blocked in the call); under
    // ride-late it runs with the fill still held.
    bool may_run(unsigned n) const {
        if (!cfg_.ride || n != 1) return true;
        return started1_ && (held_.empty() || cfg_.bug == FaultInjection::RideLate);
    }

    // --ride: fill_from_file over a page no node was ever handed (its home
    // says pristine; a request for it may be on its way). Node 0's filler
    // is the file at once and so is the page's content; node 1's is set at
    // once (an acked Layout, F2) once it has started, else held for its
    // start (F6). Under ride-in-flight it is held for the Resume of node
    // 1's thread, in the call, while requests node 1 sent are in flight.
    // --link-fill (F7): the fill for node 1 is queued on node 0's channel to
    // node 1 in the same step as node 0 asks the home (itself), with node
    // 1's threads and read-ahead running; under fill-after-ask it is
    // queued by a later SendFill event.
    void map_file() {
        const PageIndex p = rng_() % cfg_.pages;
        const NodeId home = nodes_[0].proto->home_of(p);
        if (cfg_.link_fill && home != 0) return;
        if (mapped_[p] || !nodes_[home].proto->pristine(p)) return;
        if (cfg_.link_fill) {
            mapped_[p] = true;
            ++res_.maps;
            file_[0][p] = true;
            for (unsigned w = 0; w < cfg_.words; ++w) ref_[p][w] = filler_word(0, static_cast<unsigned>(p), w);
            if (cfg_.bug == FaultInjection::FillAfterAsk)
                unsent_.push_back(p);
            else
                send_fill(p);
            return;
        }
        const bool in_call = cfg_.bug == FaultInjection::RideInFlight;
        if (in_call)
            for (const auto& t : nodes_[1].threads)
                if (t.state != ThreadState::Idle) return;  // its only thread is in the call, not faulting
        mapped_[p] = true;
        ++res_.maps;
        file_[0][p] = true;
        for (unsigned w = 0; w < cfg_.words; ++w) ref_[p][w] = filler_word(0, static_cast<unsigned>(p), w);
        if (!started1_ || in_call)
            held_.push_back(p);
        else
            file_[1][p] = true;
    }
    // --discard: DsmEngine::discard_range at node n for one page. A page n
    // alone holds, as its home, with nothing in progress, is dropped and
    // pristine again: it reads as its filler from now on (the discard's
    // zeros). Under reclaim-shared the home also drops a page it shares,
    // and the other copies keep the old data.
    void discard(unsigned n) {
        const PageIndex p = rng_() % cfg_.pages;
        Actions acts;
        if (!nodes_[n].proto->reclaim_zero(p, acts)) return;
        ++res_.reclaims;
        for (unsigned w = 0; w < cfg_.words; ++w) ref_[p][w] = filler_word(n, static_cast<unsigned>(p), w);
        execute_actions(n, acts);
    }
    void send_fill(PageIndex p) {
        Packet pkt;
        pkt.fill = true;
        pkt.page = p;
        chans_[1].push_back(std::move(pkt));  // from 0 to 1
    }
    void apply_held() {
        for (PageIndex p : held_) file_[1][p] = true;
        held_.clear();
    }

    // Claims: a request from Invalid is sent as a claim half of the time (the
    // engine claims only where it hopes for never-used pages; either way
    // the protocol must stay coherent).
    bool want_claim() { return cfg_.claims && rng_() % 2 == 0; }

    // A thread touches memory: completes if the mapping allows it, else faults.
    void attempt(unsigned n, Thread& t) {
        PageCopy& c = nodes_[n].mem[t.op.page];
        bool allowed = t.op.access == Access::Read ? c.prot != Prot::None : c.prot == Prot::Write;
        if (allowed) {
            auto& ref = ref_[t.op.page][t.op.word];
            if (t.op.access == Access::Write) {
                store_word(c.data, t.op.word, t.op.value);
                ref = t.op.value;
            } else {
                std::uint32_t got = load_word(c.data, t.op.word);
                if (got != ref)
                    fail(fmt::format("stale read: node {} page {} word {} read {}, latest write is {}", n, t.op.page,
                                     t.op.word, got, ref));
            }
            t.state = ThreadState::Idle;
            ++res_.ops_completed;
            return;
        }
        ++res_.faults;
        t.state = ThreadState::Blocked;
        Actions acts;
        auto r = nodes_[n].proto->on_fault(t.op.page, t.op.access, now_, acts, want_claim());
        execute_actions(n, acts);
        if (!r) fail(fmt::format("node {} fault: {}", n, r.error().message));
    }

    void execute_actions(unsigned n, Actions& acts) {
        for (auto& a : acts) {
            if (!failure_.empty()) return;
            std::visit([&](auto& act) { apply(n, act); }, a);
        }
    }

    void apply(unsigned n, InstallPage& a) {
        PageCopy& c = nodes_[n].mem[a.page];
        if (c.prot != Prot::None) {
            fail(fmt::format("node {} InstallPage over mapped page {}", n, a.page));
            return;
        }
        if (a.data_kind == DataKind::Zero) {
            // The page's filler (zero, or with --fill a pattern each node
            // produces by itself, as from its own copy of the file).
            c.data.assign(page_size_, std::byte{0});
            if (cfg_.fill || cfg_.ride)
                for (unsigned w = 0; w < cfg_.words; ++w) store_word(c.data, w, filler_word(n, static_cast<unsigned>(a.page), w));
        } else if (a.data_kind == DataKind::Bytes && a.data.size() == page_size_) {
            c.data.assign(a.data.begin(), a.data.end());
        } else {
            fail(fmt::format("node {} InstallPage page {} with {} / {} bytes", n, a.page, to_string(a.data_kind),
                             a.data.size()));
            return;
        }
        c.prot = a.access == Access::Read ? Prot::Read : Prot::Write;
    }
    // Word w of page p's filler as node n produces it: the same on every
    // node, except the last under the planted bug fill-other-file.
    std::uint32_t filler_word(unsigned n, unsigned p, unsigned w) const {
        if (cfg_.ride && n < cfg_.nodes && file_[n][p]) return 0x4d000000u + p * 1024u + w;  // the mapped file
        if (!cfg_.fill) return 0;
        const std::uint32_t v = 0x46000000u + p * 1024u + w;
        return cfg_.bug == FaultInjection::FillOtherFile && n == cfg_.nodes - 1 ? v ^ 0x5a5au : v;
    }
    void apply(unsigned n, Upgrade& a) {
        PageCopy& c = nodes_[n].mem[a.page];
        if (c.prot != Prot::Read) fail(fmt::format("node {} Upgrade of page {} not mapped read-only", n, a.page));
        c.prot = Prot::Write;
    }
    void apply(unsigned n, Downgrade& a) {
        PageCopy& c = nodes_[n].mem[a.page];
        if (c.prot != Prot::Write) fail(fmt::format("node {} Downgrade of page {} not writable", n, a.page));
        c.prot = Prot::Read;
    }
    void apply(unsigned n, Drop& a) {
        PageCopy& c = nodes_[n].mem[a.page];
        c.prot = Prot::None;
        std::fill(c.data.begin(), c.data.end(), std::byte{0xee});  // poison: any later use shows up
    }
    void apply(unsigned n, Send& a) {
        if (a.attach_page) {
            PageCopy& c = nodes_[n].mem[a.msg.page];
            if (c.prot != Prot::Read) {
                fail(fmt::format("node {} attaches page {} that is not write-protected", n, a.msg.page));
                return;
            }
            a.msg.data_kind = DataKind::Bytes;
            a.msg.data = c.data;
        }
        ++res_.messages;
        chans_[std::size_t{n} * cfg_.nodes + a.to].push_back(Packet{false, encode_message(a.msg)});
    }
    // Dynamic homes: the executor's side of a move (DsmEngine's
    // start_move / finish_move / on_home_message, without threads).
    void send_home(unsigned from, unsigned to, const HomeMsg& m) {
        ++res_.messages;
        chans_[std::size_t{from} * cfg_.nodes + to].push_back(Packet{true, encode_home(m)});
    }
    void apply(unsigned n, StartMove& a) {
        HomeMoves::Move mv;
        mv.id = nodes_[n].moves->next_id();
        mv.to = a.to;
        mv.runs = {PageRun{a.page, 1}};
        if (a.claim) {
            // The executor's side of a claim: every other never-used page of
            // the aligned chunk goes too (Protocol::claim freezes it).
            std::vector<PageIndex> pages;
            const PageIndex first = a.page / cfg_.claim_chunk * cfg_.claim_chunk;
            for (PageIndex q = first; q < std::min<PageIndex>(cfg_.pages, first + cfg_.claim_chunk); ++q)
                if (q == a.page ? !a.chunk_only : nodes_[n].proto->claim(q, a.to)) pages.push_back(q);
            if (pages.empty()) return;
            mv.runs = to_runs(pages);
            ++res_.claims;
            res_.pages_claimed += pages.size();
        }
        mv.acks_due = cfg_.nodes - 1;
        for (unsigned j = 0; j < cfg_.nodes; ++j)
            if (j != n) send_home(n, j, HomeMsg{HomeMsg::Kind::Notice, a.to, mv.id, mv.runs, {}, {}});
        if (auto done = nodes_[n].moves->begin(mv, cfg_.bug == FaultInjection::SkipMoveAcks))
            nodes_[n].ready.push_back(std::move(*done));
    }
    void finish_move(unsigned n, const HomeMoves::Move& mv) {
        HomeMsg st{HomeMsg::Kind::State, mv.to, mv.id, mv.runs, {}, {}};
        for (const auto& run : mv.runs)
            for (PageIndex p = run.first; p < run.first + run.count; ++p) {
                auto e = nodes_[n].proto->finish_move(p, mv.to);
                if (!e) {
                    fail(fmt::format("node {} finish move: {}", n, e.error().message));
                    return;
                }
                if (*e) st.entries.push_back(**e);
            }
        send_home(n, mv.to, st);
        ++res_.moves;
    }
    void deliver_home(unsigned from, unsigned to, const std::vector<std::byte>& bytes) {
        auto m = decode_home(bytes);
        if (trace_ && m) fmt::print("{} {}->{} home kind {} to {} page {}\n", step_, from, to, static_cast<int>(m->kind), m->to, m->runs.empty() ? 999 : m->runs[0].first);
        if (!m) {
            fail(fmt::format("decode home {}->{}: {}", from, to, m.error().message));
            return;
        }
        Protocol& pr = *nodes_[to].proto;
        switch (m->kind) {
            case HomeMsg::Kind::Notice:
                for (const auto& run : m->runs)
                    for (PageIndex p = run.first; p < run.first + run.count; ++p) pr.apply_notice(p, m->to);
                send_home(to, from, HomeMsg{HomeMsg::Kind::Ack, 0, m->move_id, {}, {}, {}});
                return;
            case HomeMsg::Kind::Ack: {
                auto r = nodes_[to].moves->on_ack(m->move_id);
                if (!r) {
                    fail(fmt::format("node {} ack from {}: {}", to, from, r.error().message));
                    return;
                }
                if (*r) nodes_[to].ready.push_back(std::move(**r));
                return;
            }
            case HomeMsg::Kind::State:
                for (const auto& run : m->runs)
                    for (PageIndex p = run.first; p < run.first + run.count; ++p) {
                        const MovedDir* e = nullptr;
                        for (const auto& x : m->entries)
                            if (x.page == p) e = &x;
                        Actions acts;
                        auto r = pr.import_moved(p, e, acts);
                        execute_actions(to, acts);
                        if (!r) {
                            fail(fmt::format("node {} HomeState from {}: {}", to, from, r.error().message));
                            return;
                        }
                    }
                return;
            default: fail(fmt::format("unexpected home message {}->{}", from, to)); return;
        }
    }
    void apply(unsigned n, ResumeFaults& a) {
        for (auto& t : nodes_[n].threads)
            if (t.state == ThreadState::Blocked && t.op.page == a.page) t.state = ThreadState::Runnable;
    }
    void apply(unsigned n, WakeAt& a) { nodes_[n].timers.insert(a.at_ns); }

    void check_invariants() {
        for (unsigned p = 0; p < cfg_.pages; ++p) {
            unsigned writers = 0, readers = 0;
            for (unsigned n = 0; n < cfg_.nodes; ++n) {
                const PageCopy& c = nodes_[n].mem[p];
                if (c.prot == Prot::Write) ++writers;
                if (c.prot == Prot::Read) ++readers;
                if (c.prot == Prot::None) continue;
                for (unsigned w = 0; w < cfg_.words; ++w)
                    if (load_word(c.data, w) != ref_[p][w]) {
                        fail(fmt::format("node {} maps page {} with word {} = {}, latest write is {}", n, p, w,
                                         load_word(c.data, w), ref_[p][w]));
                        return;
                    }
            }
            if (writers > 1) {
                fail(fmt::format("page {} writable on {} nodes", p, writers));
                return;
            }
            if (writers == 1 && readers > 0) {
                fail(fmt::format("page {} writable on one node and readable on {} others", p, readers));
                return;
            }
        }
    }

    void check_quiescent() {
        for (const auto& ch : chans_)
            if (!ch.empty()) {
                fail("messages left in the network at the end");
                return;
            }
        for (unsigned n = 0; n < cfg_.nodes; ++n)
            if (!nodes_[n].proto->quiescent()) {
                fail(fmt::format("node {} protocol not quiescent at the end", n));
                return;
            }
        for (unsigned p = 0; p < cfg_.pages; ++p) {
            NodeId home = nodes_[0].proto->home_of(p);
            for (unsigned n = 0; n < cfg_.nodes; ++n)
                if (nodes_[n].proto->home_of(p) != home || nodes_[n].proto->frozen(p)) {
                    fail(fmt::format("page {}: node {} routes to node {} (frozen {}), node 0 to node {}", p, n,
                                     nodes_[n].proto->home_of(p), nodes_[n].proto->frozen(p), home));
                    return;
                }
            DirectoryView d = nodes_[home].proto->directory(p);
            for (unsigned n = 0; n < cfg_.nodes; ++n) {
                LocalState ls = nodes_[n].proto->local_state(p);
                bool dir_m = d.state == DirState::Modified && d.owner == n;
                bool dir_s = d.state == DirState::Shared && (d.sharers >> n & 1);
                Prot want = ls == LocalState::Modified ? Prot::Write
                            : ls == LocalState::Shared ? Prot::Read
                                                       : Prot::None;
                if ((ls == LocalState::Modified) != dir_m || (ls == LocalState::Shared) != dir_s ||
                    nodes_[n].mem[p].prot != want) {
                    fail(fmt::format("page {}: node {} is {} but directory says {} owner {} sharers {:#x}", p, n,
                                     to_string(ls), to_string(d.state), d.owner, d.sharers));
                    return;
                }
            }
        }
    }

    SimConfig cfg_;
    bool trace_ = std::getenv("DSM_SIM_TRACE") != nullptr;
    std::mt19937_64 rng_;  // fully specified by the standard: same sequence everywhere
    std::size_t page_size_ = 0;
    std::vector<Node> nodes_;
    struct Packet {
        bool home = false;  // a home-move message (encode_home), else a coherence message
        std::vector<std::byte> bytes;
        bool fill = false;  // --link-fill: node 0's fill of `page` for node 1 (no bytes)
        PageIndex page = 0;
    };
    std::vector<std::deque<Packet>> chans_;  // index from * nodes + to
    std::vector<std::vector<std::uint32_t>> ref_;            // reference memory
    // --ride: whether node n's filler of page p is the mapped file, pages
    // mapped, node 1's fills held, and whether node 1 has started.
    std::vector<std::vector<bool>> file_;
    std::vector<bool> mapped_;
    std::vector<PageIndex> held_;
    std::vector<PageIndex> unsent_;  // --link-fill under fill-after-ask: asked, not queued yet
    bool started1_ = true;
    std::uint32_t next_value_ = 0;
    TimeNs now_ = 1;
    std::uint64_t step_ = 0;
    std::string failure_;
    SimResult res_;
};

}  // namespace

SimResult run_simulation(const SimConfig& cfg) { return Simulation(cfg).run(); }

std::string repro_command(const SimConfig& cfg) {
    std::string s = fmt::format("dsm_sim --seed {} --nodes {} --pages {} --words {} --threads {} --steps {}", cfg.seed,
                                cfg.nodes, cfg.pages, cfg.words, cfg.threads, cfg.steps);
    if (cfg.hold_ns) s += fmt::format(" --hold {}", cfg.hold_ns);
    if (cfg.home != "interleave") s += fmt::format(" --home {}", cfg.home);
    if (cfg.initial_owner) s += " --initial-owner";
    if (cfg.dynamic_homes) s += " --dynamic-homes";
    if (cfg.migrate) s += fmt::format(" --migrate {}", cfg.migrate);
    if (cfg.bug != FaultInjection::None) s += fmt::format(" --bug {}", to_string(cfg.bug));
    if (cfg.runs) s += " --runs";
    if (cfg.claims) s += fmt::format(" --claims --claim-chunk {}", cfg.claim_chunk);
    if (cfg.fill) s += " --fill";
    if (cfg.ride) s += " --ride";
    if (cfg.link_fill) s += " --link-fill";
    if (cfg.discard) s += " --discard";
    return s;
}

}  // namespace spanvm::dsm::sim
