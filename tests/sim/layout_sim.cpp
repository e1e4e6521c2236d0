// layout_sim: a randomized simulator of protection rides (docs/dsm-protocol.md
// "Fillers", F6) in a cluster of two, driving the real rules
// (vmm/cluster/layout_rides) through random interleavings.
//   layout_sim --seed 1 --count 20000 --threads 2
// Actors, each step one action under the origin's layout lock:
//  - the origin's own guest thread O, making protection changes (mm calls);
//  - node 1's guest threads (up to --threads at once, spawned (a clone, a
//    migration in) and ending (an exit, a migration away) at random), each
//    trapping calls that may change the protection, served at the origin by
//    its executor: the change is held (a ride) or broadcast, then the
//    Resume takes the ride (or waits for the Layout that absorbed it);
//  - node 1's control link, FIFO each way (Layouts and Spawns to node 1,
//    LayoutAcks back), and each thread's channel, FIFO each way (Traps,
//    Resumes), in no order relative to the control link;
//  - node 1's transport I/O thread (applies Layouts in arrival order,
//    acks, starts Spawned threads) and the origin's (records acks).
// One change at a time (the Process's aspace_mu_), Layouts sent in seq
// order (layout_send_mu_). Change n is the page run [n, n+1) (in pages).
// Checked: node 1 applies changes in order, each once (so Layout seqs
// rise); a node-1 thread continues after a call (or starts after its Spawn)
// only once node 1 applied every change made before that call returned;
// no actor waits forever. A failing seed prints its reproduction command.
// --expect-failure inverts the verdict (for the planted --bug variants).
//
// --windows adds node-made changes (F8, heap windows: the real NodeBrk of
// vmm/cluster/node_brk) over a heap area of --heap-pages pages
// (layout_sim_heap.hpp). Every change then has an effect on those pages:
// O's and the threads' mm calls map or unmap a page above the break, a
// thread's brk calls move it. A Resume carries a window {break, limit} when
// its thread is the process's only live thread (O done, no other node-1
// thread, none being spawned); inside it node 1 answers brk growth itself,
// opens the pages in its host mapping at once, and the next Trap carries
// the owed break, which the executor applies (under aspace_mu_, with no
// Layout: node 1 made it) before it handles the call. A spawn (a clone or
// migration in) waits while a window is out: in a placed image a new
// thread comes from a call of the windowed thread, which its executor
// handles after the owed break (the window ends there). Checked besides: (a) the executor handles a call only with the
// break node 1's thread had at the Trap; (b) no page is opened by a
// node-made change while the origin has it in use, no origin-made change
// (nor its application at node 1) touches a page a node opened and the
// origin has not applied yet; (c) node 1's host protection equals the
// origin's on every heap page once the executor applied a windowed
// thread's Trap and when a thread continues with a window, and at the end.
//
// --maps (with --windows) adds mapping windows (F9, the real NodeMapWindow;
// layout_sim_maps.hpp) over the same area: a Resume with a heap window also
// carries a mapping window, free now (the heap window stops below it); node
// 1 answers mmap(NULL) in it, and the next Trap's owed mappings are made
// after the owed break, before the call. (a) also: every owed mapping is in
// the origin's address space then; (b) also: node-made mappings.
#include <cstdint>
#include <cstdio>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "tests/sim/layout_sim_heap.hpp"
#include "tests/sim/layout_sim_maps.hpp"
#include "tests/sim/seed_loop.hpp"
#include "vmm/cluster/layout_rides.hpp"
#include "vmm/cluster/node_brk.hpp"

namespace {

using spanvm::cluster::BrkWindow;
using spanvm::cluster::LayoutMsg;
using spanvm::cluster::LayoutRides;
using spanvm::cluster::RideCaller;
using spanvm::cluster::NodeBrk;
using spanvm::cluster::NodeMapWindow;
using spanvm::memory::LayoutRun;
using spanvm::memory::layout::page_align_up;
using spanvm::sim::kPage;
using spanvm::sim::OriginHeap;
using spanvm::sim::Owner;
using spanvm::sim::PageEffect;

enum class Bug {
    none,
    ride_absorbed,        // a Resume does not wait for the Layout that absorbed its ride
    ride_second_thread,   // a second thread on node 1 is not registered before its Spawn: rides go on
    ride_absorbed_early,  // a Layout takes the held ride before it waits for the ride in flight (until 2026-12-06)
    spawn_overtakes,      // a Spawn does not wait for the Layout that carried held changes (until 2026-12-06)
    brk_trap_first,       // --windows: the executor handles a Trap before it applies the owed break
    brk_window_shared,    // --windows: a window goes with a Resume while O or another node-1 thread lives
    map_trap_first,       // --maps: the executor handles a Trap before it makes the owed mappings
    map_window_stale,     // --maps: a Resume repeats the mapping window as granted, not as free now
    map_over_heap,        // --maps: the heap window is not kept below the mapping window
};

struct Config {
    std::uint64_t seed = 1;
    unsigned threads = 2;    // node-1 threads at once
    unsigned changes = 6;    // the origin thread's changes
    unsigned spawns = 3;     // node-1 threads started in all
    unsigned calls = 6;      // calls per node-1 thread, at most
    bool windows = false;    // F8: heap windows, node-made changes
    unsigned heap_pages = 6; // --windows: pages of the heap area
    bool maps = false;       // F9: mapping windows, node-made mappings (with --windows)
    Bug bug = Bug::none;
    bool trace = false;      // print every step
};

struct Frame {  // a message on a link
    enum Kind { layout_frame, spawn, ack, trap, resume } kind;
    LayoutMsg layout;                // layout; resume (a ride), when has_layout
    bool has_layout = false;
    std::uint64_t seq = 0;           // ack
    int tid = 0;                     // spawn
    std::uint64_t need = 0;          // spawn, resume: changes made before it
    bool mm = false, exit = false;   // trap, resume
    // --windows. trap: a brk(addr) call; the owed break; node 1's break
    // when the thread holds a window. resume: the window; the origin's
    // break (brk()'s result). spawn: the break.
    bool brk = false;
    std::uint64_t addr = 0;
    std::optional<std::uint64_t> owed, known;
    std::optional<BrkWindow> window;
    std::uint64_t brk_now = 0;
    // --maps. trap: a forwarded mmap(NULL); the owed mappings (made at the
    // origin: maps_made). resume: the mapping window.
    spanvm::sim::ForwardedMmap mmap;
    std::vector<spanvm::cluster::OwedMap> maps;
    bool maps_made = false;
    std::optional<spanvm::cluster::MapWindow> map_window;
};

class Sim {
public:
    explicit Sim(const Config& c)
        : cfg_(c), rng_(c.seed), rides_(2, true), heap_(c.heap_pages), node_prot_(heap_.prot),
          pending_(c.heap_pages, 0),
          maps_(heap_, node_prot_, pending_, [this](std::string w) { fail(std::move(w)); },
                [this](std::string w) { note(w); }) {}

    std::optional<std::string> run();
    std::uint64_t steps() const { return steps_; }
    std::uint64_t ridden() const { return ridden_; }
    std::uint64_t absorbed_waits() const { return absorbed_waits_; }
    std::uint64_t windows() const { return windows_; }
    std::uint64_t local_answers() const { return local_; }
    std::uint64_t owed_applied() const { return owed_applied_; }
    const spanvm::sim::MapWindows& maps() const { return maps_; }

private:
    // One broadcast_layout (or settle_rides' Layout) in progress.
    struct Bcast {
        enum Stage { send_lock, carry, seal, send, acks, done } stage = send_lock;
        LayoutMsg m;
        std::vector<int> owners;  // ride-absorbed-early: absorbed, not sealed yet
        std::uint64_t seq = 0;
    };
    // The origin side of a guest thread (O, or a node-1 thread's executor).
    struct Caller {
        enum Pc { idle, owed, mm, bcast, returned, resume, gone } pc = idle;
        int tid = 0;
        unsigned node = 0;
        std::uint64_t change = 0;   // the change of the call in progress
        std::uint64_t need = 0;     // changes made when the call returned
        bool exit = false;
        Bcast b;
        Frame trap;  // --windows: the Trap being served
    };
    struct NodeThread {  // node 1's side of a thread
        bool blocked = false, gone = false;
        unsigned calls = 0;
        NodeBrk nb;                 // --windows
        NodeMapWindow nm;           // --maps
        std::uint64_t brk_seen = 0; // the break as this thread last had it
    };
    struct Spawner {
        enum Pc { idle, settle, bcast, spawn_wait, spawn } pc = idle;
        int tid = 0;
        Bcast b;
    };

    bool chance(unsigned pct) { return std::uniform_int_distribution<unsigned>(0, 99)(rng_) < pct; }
    LayoutMsg change_msg(std::uint64_t n) { return LayoutMsg{0, {LayoutRun{n, n + 1, 3}}, {}, {}}; }
    // One step of a broadcast; true when it did something.
    bool step_bcast(Bcast& b, const std::string& who);
    bool step_caller(Caller& c);
    bool step_spawner();
    bool step_node_io();
    bool step_origin_io();
    bool step_node_thread(int tid);
    void apply(const LayoutMsg& m, const std::string& where);
    void check_current(int tid, std::uint64_t need, const char* what);
    unsigned live_on_node1() const;
    // --windows.
    bool o_live() const { return origin_.pc != Caller::idle || o_changes_ < cfg_.changes; }
    bool sole(int tid) const;
    void apply_owed(Caller& c, bool maps);
    void begin_handling(const Caller& c);  // and ends the window
    void check_agree(const std::string& when);
    void check_untouched(const PageEffect& e, const std::string& what);
    bool step_node_brk(int tid, NodeThread& t, Frame& f);
    void note(const std::string& what) {
        if (cfg_.trace) fmt::print("{:5} {}\n", steps_, what);
    }
    void fail(std::string why) {
        if (!failure_) failure_ = std::move(why);
    }

    Config cfg_;
    std::mt19937_64 rng_;
    LayoutRides rides_;
    std::uint64_t steps_ = 0, ridden_ = 0, absorbed_waits_ = 0;
    std::optional<std::string> failure_;
    // The origin.
    bool aspace_busy_ = false, send_busy_ = false;
    std::uint64_t made_ = 0;   // changes made (numbered 1..)
    std::uint64_t done_ = 0;   // changes whose call returned (a prefix: one at a time)
    unsigned o_changes_ = 0, spawned_ = 0;
    int next_tid_ = 100;
    Caller origin_;
    std::map<int, Caller> executors_;  // node-1 threads, by tid
    Spawner spawner_;
    // The links.
    std::deque<Frame> ctl_to1_, ctl_to0_;
    std::map<int, std::deque<Frame>> ch_to1_, ch_to0_;
    // Node 1.
    std::uint64_t applied_ = 0, applied_seq_ = 0;
    std::map<int, NodeThread> node_threads_;
    // --windows: the origin's heap; node 1's host protection of it; pages a
    // node-1 thread opened whose break the origin has not applied (its tid).
    OriginHeap heap_;
    std::vector<int> node_prot_;
    std::vector<int> pending_;
    std::map<std::uint64_t, PageEffect> effects_;  // change n's effect
    std::set<int> windows_out_;                    // threads given a window, no Trap since
    std::uint64_t windows_ = 0, local_ = 0, owed_applied_ = 0;
    spanvm::sim::MapWindows maps_;  // --maps: the origin's grant, node-made mappings
};

void Sim::apply(const LayoutMsg& m, const std::string& where) {
    // Node 1's host protection: changes 1..applied_, applied in order.
    if (m.seq <= applied_seq_)
        fail(fmt::format("{}: Layout seq {} applied after seq {}", where, m.seq, applied_seq_));
    applied_seq_ = std::max(applied_seq_, m.seq);
    for (const auto& r : m.runs) {
        if (r.start != applied_ + 1)
            fail(fmt::format("{}: change {} applied after change {} (Layout seq {})", where, r.start, applied_, m.seq));
        applied_ = std::max(applied_, r.start);
        auto e = effects_.find(r.start);
        if (e == effects_.end()) continue;
        check_untouched(e->second, fmt::format("{} applies change {}", where, r.start));
        for (std::uint64_t p = e->second.from; p < e->second.to; ++p) node_prot_[p] = e->second.prot;
    }
}

bool Sim::sole(int tid) const {
    if (o_live() || spawner_.pc != Spawner::idle) return false;
    for (const auto& [t, c] : executors_)
        if (t != tid && c.pc != Caller::gone) return false;
    return true;
}

void Sim::check_untouched(const PageEffect& e, const std::string& what) {
    // (b): an origin-made change on a page node 1 opened for a break (or,
    // --maps, a mapping) the origin has not applied yet.
    for (std::uint64_t p = e.from; p < e.to; ++p)
        if (pending_[p])
            fail(fmt::format("(b) {}: page {} is one node 1's thread {} opened for its break or a mapping, not "
                             "applied at the origin yet",
                             what, p, pending_[p]));
}

void Sim::check_agree(const std::string& when) {
    // (c): node 1's host protection is the origin's on every heap page.
    for (std::uint64_t p = 0; p < heap_.pages(); ++p)
        if (node_prot_[p] != heap_.prot[p])
            fail(fmt::format("{}: page {} has protection {} at node 1, {} at the origin", when, p, node_prot_[p],
                             heap_.prot[p]));
}

void Sim::apply_owed(Caller& c, bool maps) {
    // The executor applies the break node 1's thread moved (the same brk()
    // in the origin's address space), then, with `maps`, makes the mappings
    // it made (F9); not numbered changes: node 1 has them.
    if (c.trap.owed) {
        const std::uint64_t to = *c.trap.owed;
        const std::uint64_t end = std::min<std::uint64_t>(OriginHeap::page_of(page_align_up(to)), heap_.pages());
        if (to > heap_.brk) {
            for (std::uint64_t p = heap_.top(); p < end; ++p)
                if (heap_.owner[p] != Owner::free)  // (b)
                    fail(fmt::format("(b) thread {}'s owed break {:#x} covers page {}, which the origin has in use",
                                     c.tid, to, p));
        }
        heap_.brk_call(to);
        heap_.brk = to;  // as node 1 moved it, even over a conflict (reported above)
        for (std::uint64_t p = 0; p < end; ++p)
            if (pending_[p] == c.tid) pending_[p] = 0;
        ++owed_applied_;
        note(fmt::format("thread {}: owed break {:#x} applied at the origin", c.tid, to));
        c.trap.owed.reset();
    }
    if (maps && !c.trap.maps_made) {
        maps_.apply_owed(c.tid, c.trap.maps);
        c.trap.maps_made = true;
    }
}

void Sim::begin_handling(const Caller& c) {
    // The window ends here: from now on the call may make changes (a
    // clone: a spawn may follow).
    windows_out_.erase(c.tid);
    // (a): the origin acts on a call only with the break node 1 had then.
    if (c.trap.known && heap_.brk != *c.trap.known)
        fail(fmt::format("(a) the origin handles thread {}'s call with break {:#x}, node 1's thread had {:#x} at its "
                         "Trap",
                         c.tid, heap_.brk, *c.trap.known));
    // (a), --maps: and with every mapping it made before it.
    if (cfg_.maps) maps_.check_made(c.tid, c.trap.maps);
}

void Sim::check_current(int tid, std::uint64_t need, const char* what) {
    if (applied_ < need)
        fail(fmt::format("node 1's thread {} {} with changes 1..{} made but only 1..{} applied there", tid, what,
                         need, applied_));
}

unsigned Sim::live_on_node1() const {
    unsigned n = 0;
    for (const auto& [tid, c] : executors_) n += c.pc != Caller::gone;
    return n;
}

bool Sim::step_bcast(Bcast& b, const std::string& who) {
    switch (b.stage) {
    case Bcast::send_lock:  // layout_send_mu_
        if (send_busy_) return false;
        send_busy_ = true;
        if (cfg_.bug == Bug::ride_absorbed_early) {
            b.owners = rides_.absorb(b.m);
            b.stage = Bcast::seal;
        } else {
            b.stage = Bcast::carry;
        }
        return true;
    case Bcast::carry:  // wait for the ride in flight, then carry in the same hold
        if (rides_.in_flight()) return false;
        b.seq = rides_.carry(b.m);
        note(fmt::format("{}: carry -> Layout seq {} of {} runs", who, b.seq, b.m.runs.size()));
        b.stage = b.seq ? Bcast::send : Bcast::done;
        if (!b.seq) send_busy_ = false;
        return true;
    case Bcast::seal:  // ride-absorbed-early: the old order
        if (rides_.in_flight()) return false;
        b.seq = rides_.seal(b.m, b.owners);
        note(fmt::format("{}: seal -> Layout seq {}", who, b.seq));
        b.stage = b.seq ? Bcast::send : Bcast::done;
        if (!b.seq) send_busy_ = false;
        return true;
    case Bcast::send:
        ctl_to1_.push_back(Frame{Frame::layout_frame, b.m, true});
        send_busy_ = false;
        b.stage = Bcast::acks;
        return true;
    case Bcast::acks:
        if (!rides_.acked_by_all(b.seq)) return false;
        b.stage = Bcast::done;
        return true;
    case Bcast::done:
        return false;
    }
    return false;
}

bool Sim::step_caller(Caller& c) {
    const bool remote = c.node == 1;
    switch (c.pc) {
    case Caller::idle:
        if (remote) {  // the executor waits for its thread's Trap
            auto& q = ch_to0_[c.tid];
            if (q.empty()) return false;
            Frame f = q.front();
            q.pop_front();
            c.exit = f.exit;
            c.pc = f.mm ? Caller::mm : Caller::returned;
            if (cfg_.windows) {
                c.trap = f;
                if (f.brk || f.mmap.pages) c.pc = Caller::mm;
                if (cfg_.bug == Bug::brk_trap_first) begin_handling(c);  // the owed break after, at returned
                else c.pc = Caller::owed;
            }
            return true;
        }
        if (o_changes_ >= cfg_.changes) return false;
        ++o_changes_;
        c.pc = Caller::mm;
        return true;
    case Caller::owed:  // --windows: the owed break (and mappings) first, under aspace_mu_
        if (aspace_busy_) return false;
        apply_owed(c, cfg_.bug != Bug::map_trap_first);  // map-trap-first: the mappings after, at returned
        if (c.trap.known && sole(c.tid) && (!cfg_.maps || c.trap.maps_made))
            check_agree(fmt::format("(c) thread {}'s Trap applied", c.tid));
        begin_handling(c);
        c.pc = c.trap.mm || c.trap.brk || c.trap.mmap.pages ? Caller::mm : Caller::returned;
        return true;
    case Caller::mm: {  // change_layout, under aspace_mu_
        if (aspace_busy_) return false;
        aspace_busy_ = true;
        if (cfg_.windows) {
            const PageEffect e = remote && c.trap.brk           ? heap_.brk_call(c.trap.addr)
                                 : remote && c.trap.mmap.pages ? maps_.place(c.trap.mmap)
                                                               : heap_.map_or_unmap(rng_);
            check_untouched(e, fmt::format("thread {}'s origin-made change", c.tid));
            if (e.empty()) {  // nothing to follow
                aspace_busy_ = false;
                c.pc = Caller::returned;
                return true;
            }
            effects_[made_ + 1] = e;
        }
        c.change = ++made_;
        std::optional<RideCaller> who;
        if (remote) who = RideCaller{1, c.tid};
        const bool held = rides_.hold(change_msg(c.change), who);
        note(fmt::format("thread {}: change {} {}", c.tid, c.change, held ? "held" : "broadcast"));
        if (held) {
            done_ = c.change;
            aspace_busy_ = false;
            c.pc = Caller::returned;
        } else {
            c.b = Bcast{};
            c.b.m = change_msg(c.change);
            c.pc = Caller::bcast;
        }
        return true;
    }
    case Caller::bcast:
        if (c.b.stage != Bcast::done) return step_bcast(c.b, fmt::format("thread {}", c.tid));
        done_ = c.change;
        aspace_busy_ = false;
        c.pc = Caller::returned;
        return true;
    case Caller::returned:  // the call returned at the origin
        if (c.trap.owed || (cfg_.maps && !c.trap.maps_made)) {  // *-trap-first: what was owed only now
            if (aspace_busy_) return false;
            apply_owed(c, true);
        }
        c.need = done_;
        note(fmt::format("thread {}: call returns, changes 1..{} made", c.tid, c.need));
        c.pc = remote ? Caller::resume : Caller::idle;
        return true;
    case Caller::resume: {  // send_resume: take_ride
        if (cfg_.bug != Bug::ride_absorbed && rides_.resume_wait(1, c.tid)) {
            ++absorbed_waits_;
            return false;
        }
        auto ride = rides_.take(1, c.tid);
        Frame f{Frame::resume};
        if (ride) {
            f.layout = std::move(*ride);
            f.has_layout = true;
            ++ridden_;
        }
        f.need = c.need;
        f.exit = c.exit;
        if (cfg_.windows) {
            f.brk_now = heap_.brk;
            if (!c.exit && (sole(c.tid) || cfg_.bug == Bug::brk_window_shared)) {
                std::uint64_t limit = heap_.limit();
                if (cfg_.maps) {  // F9: the mapping window, free now; the heap window stops below it
                    f.map_window = maps_.offer(cfg_.bug == Bug::map_window_stale);
                    if (f.map_window && cfg_.bug != Bug::map_over_heap) limit = std::min(limit, f.map_window->lo);
                }
                f.window = BrkWindow{heap_.brk, limit};
                windows_out_.insert(c.tid);
                ++windows_;
            }
        }
        note(fmt::format("thread {}: Resume{}{}{}{}", c.tid, ride ? fmt::format(" with ride seq {}", f.layout.seq) : "",
                         f.window ? fmt::format(" window {:#x}..{:#x}", f.window->brk, f.window->limit) : "",
                         f.map_window ? fmt::format(" mapping window {:#x}..{:#x}", f.map_window->lo, f.map_window->hi)
                                      : "",
                         c.exit ? " (exit)" : ""));
        ch_to1_[c.tid].push_back(std::move(f));
        if (c.exit) {
            rides_.unregister_thread(c.tid);  // ~RemoteVcpu
            c.pc = Caller::gone;
        } else {
            c.pc = Caller::idle;
        }
        return true;
    }
    case Caller::gone:
        return false;
    }
    return false;
}

bool Sim::step_spawner() {
    Spawner& s = spawner_;
    switch (s.pc) {
    case Spawner::idle:
        if (spawned_ >= cfg_.spawns || live_on_node1() >= cfg_.threads) return false;
        if (!windows_out_.empty()) return false;  // a clone is a call of the windowed thread
        ++spawned_;
        s.tid = ++next_tid_;
        // register_thread, before the Spawn (set_guest_tid).
        if (cfg_.bug != Bug::ride_second_thread || live_on_node1() == 0) rides_.register_thread(s.tid, 1);
        s.pc = Spawner::settle;
        note(fmt::format("spawner: thread {} registered", s.tid));
        return true;
    case Spawner::settle:
        if (rides_.settle(1)) {
            s.b = Bcast{};
            s.pc = Spawner::bcast;
        } else {
            s.pc = Spawner::spawn_wait;
        }
        return true;
    case Spawner::bcast:
        if (s.b.stage != Bcast::done) return step_bcast(s.b, "settle");
        s.pc = Spawner::spawn_wait;
        return true;
    case Spawner::spawn_wait:
        if (cfg_.bug != Bug::spawn_overtakes && rides_.spawn_wait(1)) return false;
        s.pc = Spawner::spawn;
        return true;
    case Spawner::spawn: {
        Frame f{Frame::spawn};
        f.tid = s.tid;
        f.need = done_;
        f.brk_now = heap_.brk;
        note(fmt::format("spawner: Spawn thread {}, changes 1..{} made", s.tid, f.need));
        ctl_to1_.push_back(f);
        Caller& e = executors_[s.tid];  // serving from here
        e.tid = s.tid;
        e.node = 1;
        s.pc = Spawner::idle;
        return true;
    }
    }
    return false;
}

bool Sim::step_node_io() {
    if (ctl_to1_.empty()) return false;
    Frame f = std::move(ctl_to1_.front());
    ctl_to1_.pop_front();
    if (f.kind == Frame::layout_frame) {
        note(fmt::format("node 1 I/O: apply Layout seq {}", f.layout.seq));
        apply(f.layout, "node 1's I/O thread");
        ctl_to0_.push_back(Frame{Frame::ack, {}, false, f.layout.seq});
    } else {
        check_current(f.tid, f.need, "starts");
        node_threads_[f.tid] = NodeThread{};
        node_threads_[f.tid].brk_seen = f.brk_now;
    }
    return true;
}

bool Sim::step_origin_io() {
    if (ctl_to0_.empty()) return false;
    note(fmt::format("origin I/O: ack {}", ctl_to0_.front().seq));
    rides_.acked(1, ctl_to0_.front().seq);
    ctl_to0_.pop_front();
    return true;
}

bool Sim::step_node_thread(int tid) {
    NodeThread& t = node_threads_[tid];
    if (t.gone) return false;
    if (!t.blocked) {  // runs, then traps a call
        Frame f{Frame::trap};
        f.exit = ++t.calls >= cfg_.calls || chance(10);
        if (cfg_.windows) {
            if (step_node_brk(tid, t, f)) return true;  // answered here: runs on
        } else {
            f.mm = !f.exit && chance(60);
        }
        ch_to0_[tid].push_back(f);
        t.blocked = true;
        return true;
    }
    auto& q = ch_to1_[tid];
    if (q.empty()) return false;
    Frame f = std::move(q.front());
    q.pop_front();
    if (f.has_layout) {  // a ride: applied on the thread, acked on the control link
        note(fmt::format("node 1 thread {}: apply ride seq {}", tid, f.layout.seq));
        apply(f.layout, fmt::format("node 1's thread {}", tid));
        ctl_to0_.push_back(Frame{Frame::ack, {}, false, f.layout.seq});
    }
    if (f.exit) {
        t.gone = true;
        return true;
    }
    check_current(tid, f.need, "continues");
    if (cfg_.windows) {
        t.brk_seen = f.brk_now;
        t.nb.resumed(f.window);
        t.nm.resumed(f.map_window);
        // A window implies the thread is alone (only brk-window-shared gives
        // one otherwise: there the other threads' changes in flight are
        // no finding, the conflicts (a) and (b) are).
        if (f.window && sole(tid)) check_agree(fmt::format("(c) node 1's thread {} continues with a window", tid));
    }
    t.blocked = false;
    return true;
}

bool Sim::step_node_brk(int tid, NodeThread& t, Frame& f) {
    // --windows: a call of node 1's thread. brk() may be answered here
    // (NodeBrk): true, the thread runs on. Otherwise `f` is its Trap, with
    // the owed break.
    if (!f.exit) {
        const unsigned k = std::uniform_int_distribution<unsigned>(0, 9)(rng_);
        if (cfg_.maps && k >= 3 && k < 6) {  // mmap(NULL): answered here (NodeMapWindow) or forwarded
            if (maps_.node_call(tid, t.nm, rng_, f.mmap)) return true;
        } else if (k < (cfg_.maps ? 3u : 5u)) {
            const auto delta = std::uniform_int_distribution<std::int64_t>(-2 * std::int64_t(kPage), 3 * kPage)(rng_);
            const std::uint64_t addr = chance(10) ? 0 : std::max<std::int64_t>(0, std::int64_t(t.brk_seen) + delta);
            if (auto a = t.nb.answer(addr)) {
                note(fmt::format("node 1 thread {}: brk({:#x}) = {:#x} here, opens {:#x}..{:#x}", tid, addr, a->ret,
                                 a->open_from, a->open_to));
                for (std::uint64_t p = OriginHeap::page_of(a->open_from); p < OriginHeap::page_of(a->open_to); ++p) {
                    if (heap_.owner[p] != Owner::free)  // (b)
                        fail(fmt::format("(b) node 1's thread {} opens page {} for its break while the origin has it in "
                                         "use",
                                         tid, p));
                    if (pending_[p] && pending_[p] != tid)
                        fail(fmt::format("(b) node 1's threads {} and {} both opened page {} for their breaks", pending_[p],
                                         tid, p));
                    node_prot_[p] = spanvm::sim::kHeapProt;
                    pending_[p] = tid;
                }
                t.brk_seen = a->ret;
                ++local_;
                return true;
            }
            f.brk = true;
            f.addr = addr;
        } else {
            f.mm = k < 8;
        }
    }
    if (t.nb.has_window()) f.known = t.brk_seen;
    f.owed = t.nb.take_owed();
    f.maps = t.nm.take_owed();
    note(fmt::format("node 1 thread {}: Trap{}{}{}{}", tid, f.brk ? fmt::format(" brk({:#x})", f.addr) : "",
                     f.mmap.pages ? fmt::format(" mmap of {} pages", f.mmap.pages) : "",
                     f.owed ? fmt::format(" owing break {:#x}", *f.owed) : "",
                     f.maps.empty() ? "" : fmt::format(" owing {} mappings", f.maps.size())));
    return false;
}

std::optional<std::string> Sim::run() {
    origin_.tid = 1;
    // Node 1 may first start after some of O's changes (held for its first
    // Spawn, F6 (b)).
    for (;;) {
        std::vector<int> actors;  // 0 O, 1 spawner, 2 node I/O, 3 origin I/O, 10+i executors, 1000+i node threads
        actors.push_back(0);
        actors.push_back(1);
        actors.push_back(2);
        actors.push_back(3);
        for (const auto& [tid, c] : executors_)
            if (c.pc != Caller::gone) actors.push_back(10 + tid - 100);
        for (const auto& [tid, t] : node_threads_)
            if (!t.gone) actors.push_back(1000 + tid - 100);
        // Try actors in a random order until one moves.
        std::shuffle(actors.begin(), actors.end(), rng_);
        bool moved = false;
        for (int a : actors) {
            if (a == 0) moved = step_caller(origin_);
            else if (a == 1) moved = step_spawner();
            else if (a == 2) moved = step_node_io();
            else if (a == 3) moved = step_origin_io();
            else if (a < 1000) moved = step_caller(executors_[a - 10 + 100]);
            else moved = step_node_thread(a - 1000 + 100);
            if (moved) break;
        }
        if (failure_) return failure_;
        if (!moved) break;
        if (++steps_ > 100000) return std::string("no end after 100000 steps");
    }
    // Nothing moves: everything must have ended, none waiting.
    if (origin_.pc != Caller::idle || o_changes_ < cfg_.changes) return std::string("the origin's thread waits forever");
    if (spawner_.pc != Spawner::idle) return std::string("a Spawn waits forever");
    for (const auto& [tid, c] : executors_)
        if (c.pc != Caller::gone) return fmt::format("thread {}'s executor waits forever", tid);
    if (cfg_.windows) {  // every change followed, every owed break applied
        check_agree("(c) at the end");
        if (failure_) return failure_;
    }
    return std::nullopt;
}

std::optional<Bug> parse_bug(const std::string& s) {
    if (s == "none") return Bug::none;
    if (s == "ride-absorbed") return Bug::ride_absorbed;
    if (s == "ride-second-thread") return Bug::ride_second_thread;
    if (s == "ride-absorbed-early") return Bug::ride_absorbed_early;
    if (s == "spawn-overtakes") return Bug::spawn_overtakes;
    if (s == "brk-trap-first") return Bug::brk_trap_first;
    if (s == "brk-window-shared") return Bug::brk_window_shared;
    if (s == "map-trap-first") return Bug::map_trap_first;
    if (s == "map-window-stale") return Bug::map_window_stale;
    if (s == "map-over-heap") return Bug::map_over_heap;
    return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
    Config cfg;
    std::uint64_t count = 1;
    std::string bug = "none";
    bool expect_failure = false, quiet = false;
    CLI::App app{"randomized simulator of layout rides (docs/dsm-protocol.md, Fillers, F6)"};
    app.add_option("--seed", cfg.seed, "first seed");
    app.add_option("--count", count, "number of consecutive seeds to run")->check(CLI::Range(1ull, 100000000ull));
    app.add_option("--threads", cfg.threads, "node-1 guest threads at once, at most")->check(CLI::Range(1u, 4u));
    app.add_option("--changes", cfg.changes, "protection changes by the origin's own thread")->check(CLI::Range(0u, 64u));
    app.add_option("--spawns", cfg.spawns, "node-1 threads started in all")->check(CLI::Range(1u, 16u));
    app.add_option("--calls", cfg.calls, "calls per node-1 thread, at most")->check(CLI::Range(1u, 64u));
    app.add_flag("--windows", cfg.windows, "F8: heap windows, node 1 grows the break itself");
    app.add_option("--heap-pages", cfg.heap_pages, "--windows: pages of the heap area")->check(CLI::Range(2u, 64u));
    app.add_flag("--maps", cfg.maps, "F9 (with --windows): mapping windows, node 1 answers mmap(NULL) itself");
    app.add_option("--bug", bug,
                   "planted bug: none|ride-absorbed|ride-second-thread|ride-absorbed-early|spawn-overtakes|"
                   "brk-trap-first|brk-window-shared (with --windows)|map-trap-first|map-window-stale|map-over-heap "
                   "(with --maps)");
    app.add_flag("--expect-failure", expect_failure, "succeed only if some seed fails");
    app.add_flag("--quiet", quiet, "print only failures");
    app.add_flag("--trace", cfg.trace, "print every step");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    auto b = parse_bug(bug);
    if (!b) {
        std::fprintf(stderr, "layout_sim: unknown --bug '%s'\n", bug.c_str());
        return 2;
    }
    cfg.bug = *b;
    if ((cfg.bug == Bug::brk_trap_first || cfg.bug == Bug::brk_window_shared) && !cfg.windows) {
        std::fprintf(stderr, "layout_sim: --bug %s needs --windows\n", bug.c_str());
        return 2;
    }
    const bool map_bug =
        cfg.bug == Bug::map_trap_first || cfg.bug == Bug::map_window_stale || cfg.bug == Bug::map_over_heap;
    if ((map_bug && !cfg.maps) || (cfg.maps && !cfg.windows)) {
        std::fprintf(stderr, "layout_sim: --maps needs --windows, --bug %s needs --maps\n", bug.c_str());
        return 2;
    }
    std::uint64_t steps = 0, ridden = 0, waits = 0, windows = 0, local = 0, owed = 0, grants = 0, mapped = 0, made = 0;
    const int rc = spanvm::sim::run_seeds(
        "layout_sim", cfg.seed, count, expect_failure, bug,
        [&](std::uint64_t seed) -> std::optional<spanvm::sim::SeedFailure> {
            cfg.seed = seed;
            Sim sim(cfg);
            auto failure = sim.run();
            steps += sim.steps();
            ridden += sim.ridden();
            waits += sim.absorbed_waits();
            windows += sim.windows();
            local += sim.local_answers();
            owed += sim.owed_applied();
            grants += sim.maps().grants();
            mapped += sim.maps().answered();
            made += sim.maps().applied();
            if (!failure) return std::nullopt;
            return spanvm::sim::SeedFailure{
                *failure,
                fmt::format("layout_sim --seed {} --threads {} --changes {} --spawns {} --calls {}{} --bug {}",
                            cfg.seed, cfg.threads, cfg.changes, cfg.spawns, cfg.calls,
                            cfg.windows ? fmt::format(" --windows --heap-pages {}{}", cfg.heap_pages,
                                                      cfg.maps ? " --maps" : "")
                                        : "",
                            bug)};
        });
    if (rc != 0 || expect_failure) return rc;
    if (!quiet)
        fmt::print("layout_sim: {} seeds ok ({} node-1 threads at most): {} steps, {} rides on a Resume, {} Resume "
                   "steps waiting for an absorbing Layout\n",
                   count, cfg.threads, steps, ridden, waits);
    if (!quiet && cfg.windows)
        fmt::print("layout_sim: {} windows granted, {} brk calls answered at node 1, {} owed breaks applied\n", windows,
                   local, owed);
    if (!quiet && cfg.maps)
        fmt::print("layout_sim: {} mapping windows granted, {} mmap calls answered at node 1, {} owed mappings made\n",
                   grants, mapped, made);
    return 0;
}
