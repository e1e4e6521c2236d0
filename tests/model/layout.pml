/*
 * Promela model of protection rides (docs/dsm-protocol.md "Fillers", F6;
 * the rules of vmm/cluster/layout_rides, used by OriginCluster) in a
 * cluster of two. The origin's own thread O makes OCH protection changes;
 * node 1's threads 1..T are spawned by the origin (a clone, a migration in)
 * and make CALLS calls each, any of which may change the protection, the
 * last one ending the thread (an exit, a migration away). Changes are made
 * one at a time (the Process's aspace_mu_) and numbered 1, 2, ...; a
 * change is held for a ride or broadcast as a Layout, Layouts are sent in
 * seq order (layout_send_mu_). Node 1's control link (Layouts and Spawns to
 * it, LayoutAcks back) is FIFO each way, as is each thread's channel
 * (Traps, Resumes), in no order relative to the control link. Node 1's I/O
 * thread applies Layouts in arrival order, a thread applies the ride its
 * Resume carries; each is acked on the control link.
 * Checked: node 1 applies changes in order, each once, and Layout seqs
 * rise; a thread continues after a call (starts after its Spawn) only once
 * node 1 has applied every change whose call returned before that call
 * returned (the Spawn was sent); nobody waits forever (invalid end states).
 *
 * Planted bugs (each must be found):
 *   BUG_RIDE_ABSORBED        a Resume does not wait for the Layout that
 *                            carried ("absorbed") its thread's held ride.
 *   BUG_RIDE_SECOND_THREAD   a ride is held although a second thread is
 *                            registered for node 1.
 *   BUG_RIDE_ABSORBED_EARLY  a Layout takes the held ride out before it
 *                            waits for the ride in flight, and gets its seq
 *                            (and the owner's absorbed seq) only after.
 *   BUG_SPAWN_OVERTAKES      a Spawn does not wait for another caller's
 *                            Layout that carried held changes.
 *
 * -DBRK=1: heap windows (docs/dsm-protocol.md F8; vmm/cluster/node_brk).
 * One page H lies above the break. Every change may set H: O's map or
 * unmap it (another mapping), a node-1 thread's calls that change the
 * protection are brk calls (a shrink frees H, a growth over a free H
 * makes it heap). A Resume to the process's only thread (O done, no other
 * thread registered) carries a window: the break, and whether H is free.
 * Inside it the thread may grow the break over H itself (NodeBrk::answer):
 * node 1 opens H at once, and the thread's next Trap carries the owed
 * break, which the executor applies (under aspace_mu_) before it handles
 * the call. A Spawn (a clone: a call of the windowed thread) waits until
 * no window is out. Checked besides: (a) the executor handles a call only
 * with the break node 1's thread had at its Trap; (b) node 1 opens H only
 * while the origin has it free, and no origin-made change sets H (nor
 * does node 1 apply one) while H is opened by node 1 and not applied at
 * the origin; (c) a thread that continues with a window finds node 1's
 * protection of H equal to the origin's.
 *   BUG_BRK_TRAP_FIRST       the executor handles the Trap before it
 *                            applies the owed break.
 *   BUG_BRK_WINDOW_SHARED    a window goes with the Resume while O or a
 *                            second thread lives.
 *
 * -DMAPW=1: mapping windows (docs/dsm-protocol.md F9;
 * vmm/cluster/node_map_window), alone or with BRK=1 (then in a page of its
 * own: the heap window stops below the mapping window). One page M lies in
 * the origin's mapping grant (granted at a windowed Resume that finds M
 * free; the rest of the window, abstracted away, keeps the grant alive).
 * Every change may set M: O's calls and the node-1 threads' forwarded ones
 * (an mmap(NULL) the origin places on M, MAP_FIXED, munmap) map or unmap
 * it. The windows go with the same Resumes as BRK's (the only thread, none
 * to a clone), and say whether M is in the window as free *now* (the grant
 * recomputed as [lo, min(hi, free_until(lo)))). Inside it the thread may map
 * M itself (NodeMapWindow::answer): node 1 opens M at once, and the next
 * Trap carries the owed mapping, which the executor makes (under
 * aspace_mu_) after the owed break and before it handles the call. Checked
 * besides: (a) the executor handles a call only once the mapping its Trap
 * carried is in the origin's address space; (b) node 1 maps M only while
 * the origin has it free, the owed mapping finds M free at the origin, and
 * no origin-made change sets M (nor does node 1 apply one) while node 1
 * mapped it and the origin has not made it yet; (c) a thread that
 * continues with a window finds node 1's protection of M equal to the
 * origin's.
 *   BUG_MAP_TRAP_FIRST       the executor handles the Trap before it makes
 *                            the owed mapping.
 *   BUG_MAP_WINDOW_STALE     the Resume repeats the window as granted, not
 *                            as free now (M in it although the origin has
 *                            mapped it since).
 */
#ifndef OCH
#define OCH 2     /* the origin thread's changes */
#endif
#ifndef T
#define T 1       /* node 1's threads, spawned one after the other */
#endif
#ifndef CALLS
#define CALLS 2   /* calls per node-1 thread, the last one its end */
#endif
#ifndef BRK
#define BRK 0     /* 1: heap windows (F8) */
#endif
#ifndef MAPW
#define MAPW 0    /* 1: mapping windows (F9) */
#endif
#define WIN (BRK || MAPW)  /* windows of either kind: the same Resumes carry them */
#define MAXC (OCH + T * CALLS + 1)

mtype = { LAYOUT, SPAWN };

chan ctl_to1 = [4] of { mtype, byte, byte, byte };  /* LAYOUT seq lo hi | SPAWN tid need 0 */
chan ctl_to0 = [4] of { byte };                     /* LayoutAck seq */
/* thread -> origin: mm, end; BRK: known, owed; MAPW: M's mapping owed */
chan trap[T + 1] = [1] of { bool, bool, byte, bool, bool };
/* origin -> thread: ride seq (0: none) lo hi, need, end; BRK: window, H
   free in it, the origin's break (above H); MAPW: M free in the window */
chan resume[T + 1] = [1] of { byte, byte, byte, byte, bool, bool, bool, bool, bool };

/* The origin: locks, changes. */
bool aspace, sendmu;
byte made, done;      /* changes made; changes whose call returned (a prefix: one at a time) */
/* LayoutRides. */
byte seq, acked;      /* the last Layout seq given; node 1's last ack */
bool held;            /* a ride held: changes rlo..rhi, for rtid (0: the first Spawn, (b)) */
byte rtid, rlo, rhi;
byte sent;            /* the seq of the last ride taken by a Resume */
byte abs_tid, abs_seq;  /* absorbed: the owner's Resume waits for abs_seq */
byte carried;         /* the last Layout that carried a held ride (a Spawn waits for it) */
bool spawned;         /* a Spawn went to node 1 */
bool reg[T + 1];      /* registered node-1 threads */
byte nreg;
bool serving[T + 1];  /* its Spawn is sent: the executor serves its Traps */
bool started[T + 1];
/* Node 1. */
byte applied, applied_seq;

/* BRK: page H, as the origin has it (oh) and in node 1's host mapping (nh). */
#define FREE 0
#define HEAP 1    /* below the break */
#define MAPPED 2  /* another mapping */
byte oh, nh;
bool pending;     /* node 1 opened H for its break; the origin has not applied it */
byte eff[MAXC];   /* change c sets H to eff[c] - 1 (0: H untouched) */
bool odone;       /* O made all its changes: no origin guest thread */
byte wout;        /* windows out: Resumes with one whose thread's next call is not handled yet */
byte ai;          /* apply's loop index (inside atomic only) */
/* MAPW: page M, as the origin has it (om) and in node 1's host mapping (nm). */
byte om, nm;
bool mpending;    /* node 1 mapped M itself; the origin has not made the mapping */
bool mgrant;      /* the origin's mapping grant covers M */
byte effm[MAXC];  /* change c sets M to effm[c] - 1 (0: M untouched) */

inline apply(s, lo, hi) {
    assert(s > applied_seq);
    applied_seq = s;
    assert(lo == applied + 1);
    applied = hi;
#if WIN
    ai = lo;
    do
    :: ai <= hi ->
        if
        :: eff[ai] != 0 -> assert(!pending); nh = eff[ai] - 1  /* (b) */
        :: else -> skip
        fi;
#if MAPW
        if
        :: effm[ai] != 0 -> assert(!mpending); nm = effm[ai] - 1  /* (b) */
        :: else -> skip
        fi;
#endif
        ai++
    :: else -> break
    od;
    ai = 0
#endif
}

/* BRK: an origin-made change c on H; (b) never on H opened by node 1 and
   not applied here. */
inline set_h(c, to) {
    assert(!pending);
    eff[c] = to + 1;
    oh = to
}

/* MAPW: an origin-made change c on M; (b) never on M mapped by node 1 and
   not made here. */
inline set_m(c, to) {
    assert(!mpending);
    effm[c] = to + 1;
    om = to
}

/* MAPW: the executor makes the owed mapping of M (MAP_FIXED_NOREPLACE). */
inline apply_owed_m(mowed) {
    if
    :: mowed -> assert(om == FREE); om = MAPPED; mpending = false; mowed = false  /* (b) */
    :: else -> skip
    fi
}

/* BRK: the executor applies the owed break (a growth over H). */
inline apply_owed(owed) {
    if
    :: owed -> assert(oh == FREE); oh = HEAP; pending = false; owed = false  /* (b) */
    :: else -> skip
    fi
}

/* WIN: the executor starts handling a call; its window, if any, ends. (a):
   with the break node 1's thread had, and (MAPW) the mapping it made (mk). */
inline begin(known, mk) {
    if
    :: known != 0 -> wout--; assert((oh == HEAP) == (known == 2))
    :: else -> skip
    fi;
    assert(!mk || om == MAPPED)
}

/* LayoutRides::hold for change c made by caller `who` (0: the origin's
   thread); h: held. */
inline hold(c, who, h) {
    h = false;
    if
    :: !spawned -> h = !held || rtid == 0  /* (b): owner 0 */
#ifdef BUG_RIDE_SECOND_THREAD
    :: spawned && who != 0 && reg[who] ->
#else
    :: spawned && who != 0 && reg[who] && nreg == 1 ->
#endif
        h = !held || rtid == who  /* (a) */
    :: else -> skip
    fi;
    if
    :: h ->
        if :: !held -> rlo = c :: else -> skip fi;
        rhi = c; held = true;
        if :: spawned -> rtid = who :: else -> rtid = 0 fi
    :: else -> skip
    fi
}

/* LayoutRides::absorb into [mlo, mhi] (mlo = 0: empty), owner: the ride's
   owner (own = true when a ride was carried). */
inline absorb(mlo, mhi, own, owner) {
    own = held;
    if
    :: held -> owner = rtid; mlo = rlo; if :: mhi == 0 -> mhi = rhi :: else -> skip fi; held = false
    :: else -> skip
    fi
}

inline seal(mlo, bseq, own, owner) {
    if
    :: mlo == 0 -> bseq = 0
    :: else ->
        seq++; bseq = seq;
        if
        :: own -> carried = seq; if :: owner != 0 -> abs_tid = owner; abs_seq = seq :: else -> skip fi
        :: else -> skip
        fi
    fi
}

/* broadcast_layout: [mlo, mhi] plus what is held, after a ride in flight is
   acked; waits for the ack. */
inline broadcast(mlo, mhi, bseq, own, owner) {
    atomic { !sendmu -> sendmu = true }
#ifdef BUG_RIDE_ABSORBED_EARLY
    atomic { absorb(mlo, mhi, own, owner) }
    atomic { acked >= sent -> seal(mlo, bseq, own, owner) }
#else
    atomic { acked >= sent -> absorb(mlo, mhi, own, owner); seal(mlo, bseq, own, owner) }
#endif
    if
    :: bseq != 0 -> ctl_to1!LAYOUT, bseq, mlo, mhi
    :: else -> skip
    fi;
    sendmu = false;
    acked >= bseq
}

proctype Origin() {
    byte n, c, mlo, mhi, bseq, owner;
    bool h, own;
    do
    :: n < OCH ->
        n++;
        atomic {
            !aspace -> aspace = true; made++; c = made; hold(c, 0, h);
#if WIN
            if  /* an mmap of H or M, an munmap of it, or a change elsewhere */
#if BRK
            :: oh == FREE -> set_h(c, MAPPED)
            :: oh == MAPPED -> set_h(c, FREE)
#endif
#if MAPW
            :: om == FREE -> set_m(c, MAPPED)
            :: om == MAPPED -> set_m(c, FREE)
#endif
            :: true -> skip
            fi
#endif
        }
        if
        :: !h -> mlo = c; mhi = c; broadcast(mlo, mhi, bseq, own, owner)
        :: else -> skip
        fi;
        atomic { done = c; aspace = false }
    :: else -> break
    od;
#if WIN
    odone = true
#endif
}

proctype Spawner() {
    byte t, mlo, mhi, bseq, owner;
    bool must, own;
    for (t : 1 .. T) {
#if WIN
        atomic { wout == 0 -> reg[t] = true; nreg++ }  /* a clone: after the windowed thread's Trap */
#else
        atomic { reg[t] = true; nreg++ }  /* register_thread, before the Spawn */
#endif
        atomic { spawned = true; must = held || acked < sent }  /* settle */
        if
        :: must -> mlo = 0; mhi = 0; broadcast(mlo, mhi, bseq, own, owner)
        :: else -> skip
        fi;
#ifndef BUG_SPAWN_OVERTAKES
        acked >= carried;
#endif
        atomic { ctl_to1!SPAWN, t, done, 0; serving[t] = true }
    }
}

proctype Executor(byte t) {
    byte c, need, mlo, mhi, bseq, owner, rs, lo, hi, known;
    bool mm, fin, h, own, owed, win, wgrow, mowed, mk, mwin;
    serving[t];
    do
    :: trap[t]?mm, fin, known, owed, mowed ->
#if WIN
#if defined(BUG_BRK_TRAP_FIRST)
        atomic { mk = mowed; begin(known, mk) }
#elif defined(BUG_MAP_TRAP_FIRST)
        atomic { !aspace -> mk = mowed; apply_owed(owed); begin(known, mk) }
#else
        atomic { !aspace -> mk = mowed; apply_owed(owed); apply_owed_m(mowed); begin(known, mk) }
#endif
#endif
        if
        :: mm ->
            atomic {
                !aspace -> aspace = true; made++; c = made; hold(c, t, h);
#if WIN
                if
#if BRK  /* brk: a shrink frees H, a growth takes a free H, over a mapping it fails */
                :: oh == HEAP -> set_h(c, FREE)
                :: oh == FREE -> set_h(c, HEAP)
#endif
#if MAPW  /* a forwarded mmap(NULL) placed on M (or MAP_FIXED); munmap */
                :: om == FREE -> set_m(c, MAPPED)
                :: om == MAPPED -> set_m(c, FREE)
#endif
                :: else -> skip
                fi
#endif
            }
            if
            :: !h -> mlo = c; mhi = c; broadcast(mlo, mhi, bseq, own, owner)
            :: else -> skip
            fi;
            atomic { done = c; aspace = false }
        :: else -> skip
        fi;
        need = done;  /* the call returned */
#if BRK && defined(BUG_BRK_TRAP_FIRST)
        atomic { !aspace -> apply_owed(owed) }
#endif
#if MAPW && (defined(BUG_BRK_TRAP_FIRST) || defined(BUG_MAP_TRAP_FIRST))
        atomic { !aspace -> apply_owed_m(mowed) }
#endif
        atomic {
#ifndef BUG_RIDE_ABSORBED
            !(abs_tid == t && acked < abs_seq) ->
#endif
            if :: abs_tid == t -> abs_tid = 0 :: else -> skip fi;  /* take */
            rs = 0; lo = 0; hi = 0;
            if
            :: held && rtid == t -> seq++; rs = seq; sent = seq; lo = rlo; hi = rhi; held = false
            :: else -> skip
            fi;
            win = false;
#if WIN
#ifdef BUG_BRK_WINDOW_SHARED
            win = !fin;
#else
            win = !fin && odone && nreg == 1;  /* the process's only thread */
#endif
            if :: win -> wout++ :: else -> skip fi;
#endif
            wgrow = win && oh == FREE;
            mwin = false;
#if MAPW
            if :: win && om == FREE -> mgrant = true :: else -> skip fi;  /* granted where M is free */
#ifdef BUG_MAP_WINDOW_STALE
            mwin = win && mgrant;  /* as granted */
#else
            mwin = win && mgrant && om == FREE;  /* [lo, min(hi, free_until(lo))) */
#endif
#endif
            resume[t]!rs, lo, hi, need, fin, win, wgrow, oh == HEAP, mwin
        }
        if
        :: fin -> atomic { reg[t] = false; nreg-- }; break
        :: else -> skip
        fi
    od
}

/* BRK: the break node 1's thread has, when it holds a window (0: none). */
#define KNOWN (win -> nbrk + 1 : 0)

proctype NodeThread(byte t) {
    byte n, rs, lo, hi, need;
    bool fin, win, wgrow, nbrk, owed, mwin, mowed;
    started[t];
    do
    :: true ->
#if BRK
        if
        :: win && wgrow && !nbrk ->  /* brk() grown over H here (NodeBrk::answer) */
            atomic { assert(oh == FREE); nh = HEAP; pending = true; nbrk = true; owed = true; wgrow = false }  /* (b) */
        :: true -> skip
        fi;
#endif
#if MAPW
        if
        :: mwin ->  /* mmap(NULL) placed on M here (NodeMapWindow::answer) */
            atomic { assert(om == FREE && !mpending); nm = MAPPED; mpending = true; mowed = true; mwin = false }  /* (b) */
        :: true -> skip
        fi;
#endif
        if
        :: n < CALLS - 1 -> n++; if :: trap[t]!true, false, KNOWN, owed, mowed :: trap[t]!false, false, KNOWN, owed, mowed fi
        :: else -> trap[t]!false, true, KNOWN, owed, mowed
        fi;
#if WIN
        owed = false;  /* NodeBrk::take_owed */
        mowed = false;  /* NodeMapWindow::take_owed */
#endif
        resume[t]?rs, lo, hi, need, fin, win, wgrow, nbrk, mwin;
        atomic {
            if
            :: rs != 0 -> apply(rs, lo, hi); ctl_to0!rs
            :: else -> skip
            fi;
            assert(fin || applied >= need);  /* continues with every change returned before its call did */
            /* (c): with a window (only brk-window-shared gives one to a thread
               not alone; its finding is (a) or (b)) */
            assert(!(win && odone && nreg == 1) || (nh == oh && nm == om))
        }
        if :: fin -> break :: else -> skip fi
    od
}

proctype NodeIo() {
    mtype k;
    byte a, b, c;
end:
    do
    :: ctl_to1?k, a, b, c ->
        atomic {
            if
            :: k == LAYOUT -> apply(a, b, c); ctl_to0!a
            :: k == SPAWN -> assert(applied >= b); started[a] = true  /* starts with every change made before */
            fi
        }
    od
}

proctype OriginIo() {
    byte a;
end:
    do
    :: ctl_to0?a -> atomic { if :: a > acked -> acked = a :: else -> skip fi }
    od
}

init {
    byte t;
    atomic {
        run Origin();
        run Spawner();
        run NodeIo();
        run OriginIo();
        for (t : 1 .. T) {
            run Executor(t);
            run NodeThread(t)
        }
    }
}
