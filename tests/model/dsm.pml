/*
 * Promela model of the spanvm DSM coherence protocol (vmm/dsm/protocol.cpp):
 * home-based directory MSI, all data through the home, one transaction per
 * page at the home with a FIFO queue behind it, per-pair FIFO channels and
 * no ordering across pairs. Checked by spin for assertion violations and
 * invalid end states (deadlock); see CMakeLists.txt for the configurations.
 *
 * Parameters (cpp macros, override with spin -DN=3 ...):
 *   N   nodes (2..3)      P   pages (1..2)
 *   T   threads per node (1..2; 2 exercises fault coalescing)
 *   OPS operations (reads/writes) issued per node
 *
 * Name map, model <-> C++ (vmm/dsm/messages.hpp, protocol_types.hpp):
 *   mtype ReadReq .. GrantModified  <-> MsgType::ReadReq .. MsgType::GrantModified
 *   DK_NONE / DK_ZERO / DK_BYTES     <-> DataKind::None / Zero / Bytes
 *   I, S, M                          <-> LocalState::Invalid, Shared, Modified
 *   IS, IM, SM                       <-> LocalState::InvalidToShared,
 *                                        InvalidToModified, SharedToModified
 *   D_UNCACHED, D_SHARED, D_MODIFIED <-> DirState::Uncached, Shared, Modified
 *   RD, WR                           <-> Access::Read, Access::Write
 *   thread BLOCKED -> RUNNABLE       <-> action ResumeFaults
 * Page data is a version number: version 0 is the zero page, every completed
 * write makes a new version. Backend actions (InstallPage, Upgrade,
 * Downgrade, Drop, Send) happen inside one atomic step with the state change
 * that emits them, which is how the C++ executor runs an action list before
 * the node handles its next event. -DBUG_SKIP_ACK / -DBUG_NO_DROP plant
 * deliberate bugs (as dsm_sim --bug does) to show the checks catch them.
 * Not modelled: the minimum hold time
 * (it only delays a cache's answer, like a slow channel) and initial_owner.
 */

#ifndef N
#define N 2
#endif
#ifndef P
#define P 1
#endif
#ifndef T
#define T 2
#endif
#ifndef OPS
#define OPS 2
#endif
#define CAP (2 * P + 1)   /* per-pair bound: per page one request/ack from a cache, grant+next msg from home */

mtype = { ReadReq, WriteReq, Forward, FwdData, Invalidate, InvAck, GrantShared, GrantModified };

#define DK_NONE  0
#define DK_ZERO  1
#define DK_BYTES 2

#define I  0
#define S  1
#define M  2
#define IS 3
#define IM 4
#define SM 5

#define D_UNCACHED 0
#define D_SHARED   1
#define D_MODIFIED 2

#define RD 0
#define WR 1

#define IDLE     0
#define BLOCKED  1
#define RUNNABLE 2

#define HOME(p)   ((p) % N)          /* HomePolicy::interleaved */
#define BIT(n)    (1 << (n))
#define HAS_COPY(st) ((st) == S || (st) == M || (st) == SM)

chan ch[N * N] = [CAP] of { mtype, byte, byte, byte };   /* index from * N + to: type, page, data kind, version */

/* cache side, index node * P + page */
byte lstate[N * P];
byte lver[N * P];
/* simulated threads, index node * T + thread */
byte tst[N * T];
byte tpage[N * T];
byte tacc[N * T];
byte ops_left[N];
/* directory at the home, index page */
byte dstate[P];
byte downer[P];
byte dsharers[P];
byte dkind[P];
byte dver[P];
bool busy[P];
byte treq[P];
byte tacc_home[P];
byte tpending[P];
bool thad[P];
byte qnode[P * N];
byte qacc[P * N];
byte qlen[P];
/* reference: version of the latest completed write per page */
byte latest[P];
byte remaining;   /* operations not yet completed */
byte inflight;    /* messages in channels */

inline send(from, to, mt, pg, dk, vr) {
    assert(nfull(ch[(from) * N + (to)]));
    ch[(from) * N + (to)]!mt, pg, dk, vr;
    inflight++
}

inline check_invariants() {
    for (ci : 0 .. P - 1) {
        cm = 0; cs = 0;
        for (cn : 0 .. N - 1) {
            if
            :: lstate[cn * P + ci] == M -> cm++
            :: lstate[cn * P + ci] == S || lstate[cn * P + ci] == SM -> cs++
            :: else -> skip
            fi;
            /* every mapped copy holds the latest completed write */
            assert(!HAS_COPY(lstate[cn * P + ci]) || lver[cn * P + ci] == latest[ci])
        }
        assert(cm <= 1);              /* single writer */
        assert(cm == 0 || cs == 0)    /* no Modified alongside Shared */
    }
}

inline resume(me, pg) {
    for (ri : 0 .. T - 1) {
        if
        :: tst[me * T + ri] == BLOCKED && tpage[me * T + ri] == pg -> tst[me * T + ri] = RUNNABLE
        :: else -> skip
        fi
    }
}

inline on_fault(me, pg, acc) {
    idx = me * P + pg;
    if
    :: lstate[idx] == I && acc == RD -> lstate[idx] = IS; send(me, HOME(pg), ReadReq, pg, DK_NONE, 0)
    :: lstate[idx] == I && acc == WR -> lstate[idx] = IM; send(me, HOME(pg), WriteReq, pg, DK_NONE, 0)
    :: lstate[idx] == S && acc == WR -> lstate[idx] = SM; send(me, HOME(pg), WriteReq, pg, DK_NONE, 0)
    :: else -> skip   /* IS/IM/SM: coalesced with the outstanding request */
    fi
}

/* A thread touches memory: completes if the mapping allows, else faults. */
inline attempt(me, th) {
    pg = tpage[me * T + th];
    idx = me * P + pg;
    if
    :: (tacc[me * T + th] == RD && (lstate[idx] == S || lstate[idx] == M)) ->
        assert(lver[idx] == latest[pg]);   /* read returns the latest write */
        tst[me * T + th] = IDLE; remaining--
    :: (tacc[me * T + th] == WR && lstate[idx] == M) ->
        latest[pg]++; lver[idx] = latest[pg];
        tst[me * T + th] = IDLE; remaining--
    :: else ->
        tst[me * T + th] = BLOCKED;
        on_fault(me, pg, tacc[me * T + th])
    fi
}

inline grant_modified(me, pg) {
    if
    :: thad[pg] -> send(me, treq[pg], GrantModified, pg, DK_NONE, 0)
    :: else -> assert(dkind[pg] != DK_NONE); send(me, treq[pg], GrantModified, pg, dkind[pg], dver[pg])
    fi;
    dstate[pg] = D_MODIFIED; downer[pg] = treq[pg]; dsharers[pg] = 0;
    dkind[pg] = DK_NONE; dver[pg] = 0;
    busy[pg] = false
}

inline start(me, pg, r, acc) {
    assert(!(dstate[pg] == D_MODIFIED && downer[pg] == r));
    treq[pg] = r; tacc_home[pg] = acc;
    if
    :: acc == RD && dstate[pg] == D_MODIFIED ->
        send(me, downer[pg], Forward, pg, DK_NONE, 0);
        busy[pg] = true; tpending[pg] = BIT(downer[pg])
    :: acc == RD && dstate[pg] != D_MODIFIED ->
        send(me, r, GrantShared, pg, dkind[pg], dver[pg]);
        dstate[pg] = D_SHARED; dsharers[pg] = dsharers[pg] | BIT(r)
    :: acc == WR ->
        if
        :: dstate[pg] == D_SHARED -> others = dsharers[pg] & ~BIT(r); thad[pg] = (dsharers[pg] & BIT(r)) != 0
        :: dstate[pg] == D_MODIFIED -> others = BIT(downer[pg]); thad[pg] = false
        :: dstate[pg] == D_UNCACHED -> others = 0; thad[pg] = false
        fi;
        busy[pg] = true; tpending[pg] = others;
        for (si : 0 .. N - 1) {
            if
            :: (others & BIT(si)) != 0 -> send(me, si, Invalidate, pg, DK_NONE, 0)
            :: else -> skip
            fi
        }
        if
        :: others == 0 -> grant_modified(me, pg)
        :: else -> skip
        fi
    fi
}

/* Start queued requests until one stays in progress. */
inline finish(me, pg) {
    do
    :: !busy[pg] && qlen[pg] > 0 ->
        nr = qnode[pg * N]; na = qacc[pg * N];
        for (qi : 1 .. N - 1) { qnode[pg * N + qi - 1] = qnode[pg * N + qi]; qacc[pg * N + qi - 1] = qacc[pg * N + qi] }
        qnode[pg * N + N - 1] = 0; qacc[pg * N + N - 1] = 0;
        qlen[pg]--;
        start(me, pg, nr, na)
    :: else -> break
    od
}

inline home_request(me, from, pg, acc) {
    assert(HOME(pg) == me);
    assert(!(busy[pg] && treq[pg] == from));   /* one request per node per page */
    if
    :: busy[pg] -> assert(qlen[pg] < N); qnode[pg * N + qlen[pg]] = from; qacc[pg * N + qlen[pg]] = acc; qlen[pg]++
    :: else -> start(me, pg, from, acc); finish(me, pg)
    fi
}

inline cache_release(me, from, mt, pg) {
    idx = me * P + pg;
    if
    :: mt == Forward ->
        assert(lstate[idx] == M);
        lstate[idx] = S;                                      /* Downgrade */
        send(me, HOME(pg), FwdData, pg, DK_BYTES, lver[idx])  /* Send{attach_page} */
    :: mt == Invalidate && lstate[idx] == M ->
        send(me, HOME(pg), InvAck, pg, DK_BYTES, lver[idx]);  /* Downgrade, Send{attach}, Drop */
        lstate[idx] = I; lver[idx] = 0
    :: mt == Invalidate && (lstate[idx] == S || lstate[idx] == SM) ->
        if                                                    /* Drop, then Send */
#ifdef BUG_NO_DROP
        :: lstate[idx] == S -> skip   /* deliberate bug: acks but keeps its copy */
#else
        :: lstate[idx] == S -> lstate[idx] = I; lver[idx] = 0
#endif
        :: lstate[idx] == SM -> lstate[idx] = IM; lver[idx] = 0   /* lost the upgrade race; WriteReq stays outstanding */
        fi;
#ifndef BUG_SKIP_ACK
        send(me, HOME(pg), InvAck, pg, DK_NONE, 0)
#else
        skip   /* deliberate bug: never acks, the home waits forever */
#endif
    :: mt == Invalidate && !HAS_COPY(lstate[idx]) ->
        assert(false)   /* the FIFO argument says this cannot happen (C++ acks defensively) */
    fi
}

inline handle(me, from, mt, pg, dk, vr) {
    idx = me * P + pg;
    if
    :: mt == ReadReq -> home_request(me, from, pg, RD)
    :: mt == WriteReq -> home_request(me, from, pg, WR)
    :: mt == FwdData ->
        assert(busy[pg] && tacc_home[pg] == RD && dstate[pg] == D_MODIFIED && downer[pg] == from && dk == DK_BYTES);
        dkind[pg] = DK_BYTES; dver[pg] = vr;
        dstate[pg] = D_SHARED; dsharers[pg] = BIT(from) | BIT(treq[pg]);
        send(me, treq[pg], GrantShared, pg, DK_BYTES, vr);
        busy[pg] = false;
        finish(me, pg)
    :: mt == InvAck ->
        assert(busy[pg] && tacc_home[pg] == WR && (tpending[pg] & BIT(from)) != 0);
        if
        :: dstate[pg] == D_MODIFIED && downer[pg] == from -> assert(dk == DK_BYTES); dkind[pg] = DK_BYTES; dver[pg] = vr
        :: else -> assert(dk == DK_NONE)
        fi;
        tpending[pg] = tpending[pg] & ~BIT(from);
        dsharers[pg] = dsharers[pg] & ~BIT(from);
        if
        :: tpending[pg] == 0 -> grant_modified(me, pg); finish(me, pg)
        :: else -> skip
        fi
    :: mt == GrantShared ->
        assert(from == HOME(pg) && lstate[idx] == IS && dk != DK_NONE);
        lstate[idx] = S;                                  /* InstallPage(Read) */
        if :: dk == DK_ZERO -> lver[idx] = 0 :: else -> lver[idx] = vr fi;
        resume(me, pg)
    :: mt == GrantModified ->
        assert(from == HOME(pg));
        if
        :: lstate[idx] == SM -> assert(dk == DK_NONE)     /* Upgrade in place */
        :: else -> assert(lstate[idx] == IM && dk != DK_NONE);
                   if :: dk == DK_ZERO -> lver[idx] = 0 :: else -> lver[idx] = vr fi   /* InstallPage(Write) */
        fi;
        lstate[idx] = M;
        resume(me, pg)
    :: mt == Invalidate || mt == Forward ->
        assert(from == HOME(pg));
        cache_release(me, from, mt, pg)
    fi
}

#define RECV(f) \
    :: atomic { nempty(ch[(f) * N + me]) -> \
        ch[(f) * N + me]?mt, pg, dk, vr; inflight--; \
        handle(me, f, mt, pg, dk, vr); check_invariants() }

#define THREAD(t) \
    :: atomic { tst[me * T + (t)] == IDLE && ops_left[me] > 0 -> \
        ops_left[me]--; \
        select(pg : 0 .. P - 1); tpage[me * T + (t)] = pg; \
        if :: tacc[me * T + (t)] = RD :: tacc[me * T + (t)] = WR fi; \
        attempt(me, t); check_invariants() } \
    :: atomic { tst[me * T + (t)] == RUNNABLE -> attempt(me, t); check_invariants() }

proctype Node(byte me) {
    byte pg, dk, vr, idx, others, nr, na;
    mtype mt;
    byte ci, cn, cm, cs, ri, si, qi;
end:
    do
    RECV(0)
    RECV(1)
#if N > 2
    RECV(2)
#endif
    THREAD(0)
#if T > 1
    THREAD(1)
#endif
    od
}

/* Runs only once everything is done: a deadlock leaves it blocked at a
 * non-end state, which spin reports as an invalid end state. */
proctype Final() {
    byte p, n;
    (remaining == 0 && inflight == 0);
    for (p : 0 .. P - 1) {
        assert(!busy[p] && qlen[p] == 0);
        for (n : 0 .. N - 1) {
            assert((lstate[n * P + p] == M) == (dstate[p] == D_MODIFIED && downer[p] == n));
            assert((lstate[n * P + p] == S) == (dstate[p] == D_SHARED && (dsharers[p] & BIT(n)) != 0))
        }
    }
}

init {
    byte n, p;
    atomic {
        for (n : 0 .. N - 1) {
            ops_left[n] = OPS
        }
        for (p : 0 .. P - 1) {
            dkind[p] = DK_ZERO
        }
        remaining = N * OPS;
        for (n : 0 .. N - 1) {
            run Node(n)
        }
        run Final()
    }
}
