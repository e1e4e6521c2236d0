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

mtype = { LAYOUT, SPAWN };

chan ctl_to1 = [4] of { mtype, byte, byte, byte };  /* LAYOUT seq lo hi | SPAWN tid need 0 */
chan ctl_to0 = [4] of { byte };                     /* LayoutAck seq */
chan trap[T + 1] = [1] of { bool, bool };           /* thread -> origin: mm, end */
chan resume[T + 1] = [1] of { byte, byte, byte, byte, bool };  /* origin -> thread: ride seq (0: none) lo hi, need, end */

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

inline apply(s, lo, hi) {
    assert(s > applied_seq);
    applied_seq = s;
    assert(lo == applied + 1);
    applied = hi
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
        atomic { !aspace -> aspace = true; made++; c = made; hold(c, 0, h) }
        if
        :: !h -> mlo = c; mhi = c; broadcast(mlo, mhi, bseq, own, owner)
        :: else -> skip
        fi;
        atomic { done = c; aspace = false }
    :: else -> break
    od
}

proctype Spawner() {
    byte t, mlo, mhi, bseq, owner;
    bool must, own;
    for (t : 1 .. T) {
        atomic { reg[t] = true; nreg++ }  /* register_thread, before the Spawn */
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
    byte c, need, mlo, mhi, bseq, owner, rs, lo, hi;
    bool mm, fin, h, own;
    serving[t];
    do
    :: trap[t]?mm, fin ->
        if
        :: mm ->
            atomic { !aspace -> aspace = true; made++; c = made; hold(c, t, h) }
            if
            :: !h -> mlo = c; mhi = c; broadcast(mlo, mhi, bseq, own, owner)
            :: else -> skip
            fi;
            atomic { done = c; aspace = false }
        :: else -> skip
        fi;
        need = done;  /* the call returned */
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
            resume[t]!rs, lo, hi, need, fin
        }
        if
        :: fin -> atomic { reg[t] = false; nreg-- }; break
        :: else -> skip
        fi
    od
}

proctype NodeThread(byte t) {
    byte n, rs, lo, hi, need;
    bool fin;
    started[t];
    do
    :: true ->
        if
        :: n < CALLS - 1 -> n++; if :: trap[t]!true, false :: trap[t]!false, false fi
        :: else -> trap[t]!false, true
        fi;
        resume[t]?rs, lo, hi, need, fin;
        atomic {
            if
            :: rs != 0 -> apply(rs, lo, hi); ctl_to0!rs
            :: else -> skip
            fi;
            assert(fin || applied >= need)  /* continues with every change returned before its call did */
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
