/*
 * Promela model of the spanvm DSM coherence protocol (vmm/dsm/protocol.cpp,
 * docs/dsm-protocol.md): home-based directory MSI with direct transfers. The
 * home keeps only the directory; data goes from the node holding it straight
 * to the requester (FwdRead/FwdWrite -> Grant), InvAcks go to the requester,
 * and the home serializes one transaction per page, ending forwarded or
 * acked ones on the requester's Done. Waiting requests are masks served
 * round robin. Per-pair FIFO channels, no ordering across pairs. Checked by
 * spin for assertion violations and invalid end states (deadlock); see
 * CMakeLists.txt for the configurations.
 *
 * Parameters (cpp macros, override with spin -DN=3 ...):
 *   N   nodes (2..3)      P   pages (1..2)
 *   T   threads per node (1..2; 2 exercises fault coalescing)
 *   OPS operations (reads/writes) issued per node
 *
 * Name map, model <-> C++ (vmm/dsm/messages.hpp, protocol_types.hpp):
 *   mtype ReadReq .. Done            <-> MsgType::ReadReq .. MsgType::Done
 *   DK_NONE / DK_ZERO / DK_BYTES     <-> DataKind::None / Zero / Bytes
 *   I, S, M                          <-> LocalState::Invalid, Shared, Modified
 *   IS, IM, SM                       <-> LocalState::InvalidToShared,
 *                                        InvalidToModified, SharedToModified
 *   lgranted / lacks / ldone         <-> LocalEntry::granted / acks / done_due
 *   D_UNCACHED, D_SHARED, D_MODIFIED <-> DirState::Uncached, Shared, Modified
 *   downer ZERO                      <-> kZeroData;  busy NONE <-> Protocol::kNone
 *   wait_r / wait_w                  <-> DirEntry::wait_read / wait_write
 *   RD, WR                           <-> Access::Read, Access::Write
 *   thread BLOCKED -> RUNNABLE       <-> action ResumeFaults
 * Page data is a version number: version 0 is the zero page, every completed
 * write makes a new version. Backend actions (InstallPage, Upgrade,
 * Downgrade, Drop, Send) happen inside one atomic step with the state change
 * that emits them, which is how the C++ executor runs an action list before
 * the node handles its next event.
 *
 * Races specific to direct transfers, and the planted bugs that show the
 * checks see them (as dsm_sim --bug does):
 *  - a forward or Invalidate of the next transaction overtaking data still
 *    on its way to the requester: impossible because the home waits for Done;
 *    -DBUG_SKIP_DONE_WAIT removes the wait and the model finds a forward or
 *    Invalidate reaching a node without a copy (needs N=3: holder, requester
 *    and a third writer);
 *  - the requester receiving InvAcks before its grant, or the grant before
 *    the acks: the ack counter may go negative until the grant; with
 *    -DBUG_IGNORE_ACKS the requester takes Modified on the grant and the
 *    model finds a Modified copy next to a Shared one.
 * -DBUG_SKIP_ACK / -DBUG_NO_DROP are the older planted bugs (deadlock, a
 * copy kept after the ack).
 * Requests no thread waits for (-DAHEAD=k: k per node): the executor's
 * read-ahead (a read of a page held I), write-ahead and zero-fill-ahead (a
 * write of a page held I or S), issued at any time through the same
 * on_fault; their grants resume nobody. -DBUG_SILENT_FILL plants the bug
 * zero-fill-ahead must not have: the home maps an untouched page writable
 * without granting it through its directory, and the model finds two
 * writers or a stale copy.
 * Runs (-DRUNS=k: k per node; docs/dsm-protocol.md "Runs"): a node asks
 * for pages pg .. P-1 as a run at any time (RunReadReq/RunWriteReq for each
 * page it holds I, or S for a write), no thread waiting. The home starts a
 * run request only on an idle page (not busy, nobody waiting) and answers
 * Refuse otherwise; a refused request returns IS/IM to I and SM to S and
 * resumes waiters, which fault again. -DBUG_RUN_IGNORES_BUSY plants the bug
 * of a home that starts a run request on a busy page: two transactions of
 * one page at once, found as a message reaching a node in the wrong state
 * or an unexpected Done.
 * Claims (-DCLAIMS=1; docs/dsm-protocol.md "Claims"): a request from I to a
 * page homed elsewhere may go as ClaimReadReq/ClaimWriteReq; the home hands
 * a never-used page over with the request (see home_claim below); planted
 * bug -DBUG_CLAIM_ZERO_SHARED.
 * Fillers: DK_ZERO installs FILLER(node), the page's initial version;
 * planted bug -DBUG_FILL_OTHER_FILE (see FILLER). Rides (-DRIDE=1): a
 * file mapped over a pristine page changes the fillers during the run;
 * planted bugs -DBUG_RIDE_IN_FLIGHT, -DBUG_RIDE_LATE (see FILLER).
 * Fills on the link (-DRIDE=1 -DLINKFILL=1; F7): node 1 runs, and the
 * origin's filler change reaches it as a Fill message on the origin's
 * FIFO channel to node 1, sent before the home is asked and not waited
 * for; planted bug -DBUG_FILL_AFTER_ASK (see FILLER).
 * Discards (-DDISCARD=k: k in all, by any node that is a page's home;
 * docs/dsm-protocol.md "Discards"): a page only its home holds becomes
 * pristine again (see DISCARD_STEP in dsm_steps.pml); planted bug
 * -DBUG_RECLAIM_SHARED.
 * Not modelled: the minimum hold time (it only delays a cache's answer, like
 * a slow channel) and initial_owner.
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
#ifndef AHEAD
#define AHEAD 0
#endif
#ifndef MOVES
#define MOVES 0
#endif
#ifndef RUNS
#define RUNS 0
#endif
#ifndef CLAIMS
#define CLAIMS 0
#endif
#ifndef DISCARD
#define DISCARD 0
#endif
/* the hand-over machinery: random moves (MOVES) or claims (CLAIMS) */
#if MOVES > 0 || CLAIMS > 0
#define HANDOVER 1
#else
#define HANDOVER 0
#endif
/* per pair and page at most: a request (or run request) or Done, an InvAck,
 * a grant (or Refuse), a forward/Invalidate; with moves also a HomeNotice,
 * HomeAck and HomeState */
#if HANDOVER
#define CAP (4 * P + 3)
#else
#define CAP (4 * P)
#endif

mtype = { ReadReq, WriteReq, FwdRead, FwdWrite, Invalidate, InvAck, GrantShared, GrantModified, Done,
          HomeNotice, HomeAck, HomeState, RunReadReq, RunWriteReq, Refuse, ClaimReadReq, ClaimWriteReq, Fill };

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

#define ZERO 254
#define NONE 255

#define RD 0
#define WR 1

#define IDLE     0
#define BLOCKED  1
#define RUNNABLE 2

#define HOME(p)   ((p) % N)          /* HomePolicy::interleaved */
/* Fillers (docs/dsm-protocol.md "Fillers"): never-written data (DK_ZERO)
 * is the page's filler, version 0, which every node produces by itself
 * (zero, or its own copy of the same file). -DBUG_FILL_OTHER_FILE plants a
 * node that fills from a file that is not the origin's (the identity check
 * skipped): the last node's filler differs, found as a copy that is not the
 * latest write. */
#ifndef RIDE
#define RIDE 0
#endif
#if RIDE
/* A file mapped over page 0 while it is pristine (-DRIDE=1, N=2, P=1;
 * docs/dsm-protocol.md "Fillers", F6): the origin sets its filler to the
 * file (version 100, now the page's content), and node 1's filler change
 * is held for a ride. Correct: it is held only while node 1 has never run
 * a thread, and node 1's first start applies it before anything of node
 * 1 runs. Planted bugs: -DBUG_RIDE_IN_FLIGHT, the change rides on the
 * Resume of node 1's only thread, which is in the call (it issues nothing
 * until the Resume), while a read-ahead request node 1 sent before is
 * still in flight: the home, asked after the change, grants it as never
 * written and node 1 installs its old filler. -DBUG_RIDE_LATE, node 1's
 * thread starts before the held change is applied. */
#define FILLER(n) fver[n]
#ifndef LINKFILL
#define LINKFILL 0
#endif
/* -DLINKFILL=1 (F7, a cluster of two): node 1 runs from the start, its
 * thread and read-ahead racing the map; the origin sends the change as a
 * Fill on ch[0 -> 1], the channel of every grant it sends node 1, in the
 * same step as it asks the home (page 0's home, the origin: with claims
 * the step waits while node 1 is home, whose Query would follow the Fill
 * on that channel, not modelled). Node 1 sets its filler when it receives
 * it. Planted bug -DBUG_FILL_AFTER_ASK: the Fill is sent in a later step
 * than the ask, so a grant as never written made between the two reaches
 * node 1 first and it installs its old filler. */
#if LINKFILL
#define NODE1_STARTS true
#define RIDES_WHILE_RUNNING false
#elif defined(BUG_RIDE_IN_FLIGHT)
#define NODE1_STARTS true
#define RIDES_WHILE_RUNNING true
#else
#define NODE1_STARTS false
#define RIDES_WHILE_RUNNING false   /* once node 1 runs, a fill goes as a Layout, acked (F2) */
#endif
#elif defined(BUG_FILL_OTHER_FILE)
#define FILLER(n) ((n) == N - 1 -> 200 : 0)
#else
#define FILLER(n) 0
#endif
/* Dynamic homes (-DMOVES=k, vmm/dsm/home_table.hpp, docs/dsm-protocol.md
 * "Dynamic homes"): each node routes by its own table htab, and a home may
 * hand a page over (k times in all) whenever the engine may: not frozen, no
 * transaction, no waiting request, its own copy stable. The migration rule
 * and the origin's rehome are such handovers at chosen moments, so this
 * covers both. The directory stays one array per page: only the node that
 * is home (or is about to be, with requests parked) touches it.
 *   htab / hfrozen        <-> HomeTable entry / frozen flag
 *   HomeNotice, HomeAck, HomeState <-> HomeMsg::Kind::Notice, Ack, State
 *   moving, mto, macks, mready <-> HomeMoves (a move in progress, its new
 *                          home, acks due, all acks in: finish once the
 *                          node's own channel is drained, as the engine
 *                          drains its messages to itself first)
 * Planted bugs: BUG_SKIP_MOVE_ACKS (the home sends HomeState without waiting
 * for the acks: a request on its way reaches the former home, caught by the
 * assertion that only the next home parks requests) and
 * BUG_LOSE_MOVED_REQUESTS (the handover drops the queued requests: their
 * threads wait forever, an invalid end state). */
#if HANDOVER
#define HOMEAT(n, p)  htab[(n) * P + (p)]
#define FROZEN(n, p)  hfrozen[(n) * P + (p)]
#define NEXT_HOME(n, p) (moving[p] && mto[p] == (n))
#define MOVING(p) moving[p]
#else
#define MOVING(p) false
#define HOMEAT(n, p)  HOME(p)
#define FROZEN(n, p)  false
#define NEXT_HOME(n, p) false
#endif
#define BIT(n)    (1 << (n))
#define HAS_COPY(st) ((st) == S || (st) == M || (st) == SM)

/* index from * N + to: type, page, data kind, version, requester, acks */
chan ch[N * N] = [CAP] of { mtype, byte, byte, byte, byte, byte };

/* cache side, index node * P + page */
byte lstate[N * P];
byte lver[N * P];
bool lgranted[N * P];
short lacks[N * P];
bool ldone[N * P];
/* simulated threads, index node * T + thread */
byte tst[N * T];
byte tpage[N * T];
byte tacc[N * T];
byte ops_left[N];
byte ahead_left[N];  /* requests with no waiting thread still to issue */
byte ahead_total;    /* their sum: Final runs only once it is 0 */
byte runs_left[N];   /* run requests still to issue */
byte runs_total;
/* directory at the home, index page */
byte dstate[P];
byte downer[P];
byte dsharers[P];
byte busy[P];
byte wait_r[P];
byte wait_w[P];
byte dnext[P];
/* reference: version of the latest completed write per page */
byte latest[P];
byte remaining;   /* operations not yet completed */
#if HANDOVER
byte htab[N * P];
bool hfrozen[N * P];
bool moving[P];
byte mto[P];
byte minit[P];
byte macks[P];
bool mready[P];
byte moves_left;
#endif
byte inflight;    /* messages in channels */
byte discards_left;  /* discards still to try (-DDISCARD) */
#if RIDE
byte fver[N];     /* each node's filler of page 0 */
bool rheld;       /* node 1's filler change, held for a ride */
bool mapped;      /* the file was mapped over page 0 */
bool started;     /* node 1 runs threads (and read-ahead) */
bool fpending;    /* -DBUG_FILL_AFTER_ASK: asked, the Fill not sent yet */
#ifdef BUG_RIDE_LATE
#define MAY_RUN(me) ((me) != 1 || started)
#else
#define MAY_RUN(me) ((me) != 1 || (started && !rheld))   /* a held ride: node 1's thread is in the call */
#endif
#else
#define MAY_RUN(me) true
#endif

inline send(s_from, s_to, s_mt, s_pg, s_dk, s_vr, s_rq, s_na) {
    assert(nfull(ch[(s_from) * N + (s_to)]));
    ch[(s_from) * N + (s_to)]!s_mt, s_pg, s_dk, s_vr, s_rq, s_na;
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

/* Claims (-DCLAIMS=1): a request from I to a page homed elsewhere may go
 * as a claim (the engine chooses; the model tries both). */
#if CLAIMS > 0
#define REQ_FROM_I(me, pg, plain, claimed) \
    if \
    :: HOMEAT(me, pg) != (me) -> send(me, HOMEAT(me, pg), claimed, pg, DK_NONE, 0, 0, 0) \
    :: true -> send(me, HOMEAT(me, pg), plain, pg, DK_NONE, 0, 0, 0) \
    fi
#else
#define REQ_FROM_I(me, pg, plain, claimed) send(me, HOMEAT(me, pg), plain, pg, DK_NONE, 0, 0, 0)
#endif
inline on_fault(me, pg, acc) {
    idx = me * P + pg;
    if
    :: lstate[idx] == I && acc == RD -> lstate[idx] = IS; REQ_FROM_I(me, pg, ReadReq, ClaimReadReq)
    :: lstate[idx] == I && acc == WR -> lstate[idx] = IM; REQ_FROM_I(me, pg, WriteReq, ClaimWriteReq)
    :: lstate[idx] == S && acc == WR -> lstate[idx] = SM; send(me, HOMEAT(me, pg), WriteReq, pg, DK_NONE, 0, 0, 0)
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

/* Write complete: grant and all acks in (Upgrade), resume, Done if due. */
inline complete_write(me, pg) {
    idx = me * P + pg;
    lstate[idx] = M; lgranted[idx] = false; lacks[idx] = 0;
    resume(me, pg);
    if
    :: ldone[idx] -> send(me, HOMEAT(me, pg), Done, pg, DK_NONE, 0, 0, 0)
    :: else -> skip
    fi;
    ldone[idx] = false
}

inline popcount(pc_v, pc_out) {
    pc_out = 0;
    for (pi : 0 .. N - 1) {
        if
        :: (pc_v & BIT(pi)) != 0 -> pc_out++
        :: else -> skip
        fi
    }
}

/* Home: emit the transaction's messages, final directory state at once. */
inline start(me, pg, r, acc) {
    assert(!(dstate[pg] == D_MODIFIED && downer[pg] == r));
    zero = (dstate[pg] == D_UNCACHED || (dstate[pg] == D_SHARED && downer[pg] == ZERO));
    if
    :: (dsharers[pg] & BIT(me)) != 0 -> holder = me
    :: else -> holder = downer[pg]
    fi;
    waitdone = false;
    if
    :: acc == RD ->
        if
        :: zero -> send(me, r, GrantShared, pg, DK_ZERO, 0, 0, 0); downer[pg] = ZERO
        :: !zero && dstate[pg] == D_SHARED ->
            assert((dsharers[pg] & BIT(holder)) != 0);
            send(me, holder, FwdRead, pg, DK_NONE, 0, r, 0); waitdone = true
        :: !zero && dstate[pg] == D_MODIFIED ->
            send(me, downer[pg], FwdRead, pg, DK_NONE, 0, r, 0); dsharers[pg] = BIT(downer[pg]); waitdone = true
        fi;
        dstate[pg] = D_SHARED; dsharers[pg] = dsharers[pg] | BIT(r)
    :: acc == WR ->
        if
        :: dstate[pg] == D_SHARED -> others = dsharers[pg] & ~BIT(r); had = (dsharers[pg] & BIT(r)) != 0
        :: else -> others = 0; had = false
        fi;
        if
        :: dstate[pg] == D_MODIFIED ->
            send(me, downer[pg], FwdWrite, pg, DK_NONE, 0, r, 0); waitdone = true
        :: dstate[pg] != D_MODIFIED && (had || zero) ->
            popcount(others, nacks);
            if
            :: had -> send(me, r, GrantModified, pg, DK_NONE, 0, 0, nacks)
            :: else -> send(me, r, GrantModified, pg, DK_ZERO, 0, 0, nacks)
            fi;
            waitdone = (nacks != 0)
        :: dstate[pg] != D_MODIFIED && !had && !zero ->
            others = others & ~BIT(holder);
            popcount(others, nacks);
            send(me, holder, FwdWrite, pg, DK_NONE, 0, r, nacks); waitdone = true
        fi;
        for (si : 0 .. N - 1) {
            if
            :: (others & BIT(si)) != 0 -> send(me, si, Invalidate, pg, DK_NONE, 0, r, 0)
            :: else -> skip
            fi
        }
        dstate[pg] = D_MODIFIED; downer[pg] = r; dsharers[pg] = 0
    fi;
#ifndef BUG_SKIP_DONE_WAIT
    if
    :: waitdone -> busy[pg] = r
    :: else -> skip
    fi
#else
    skip   /* deliberate bug: the next transaction may start before the data arrived */
#endif
}

/* Start waiting requests, round robin, until one stays in progress. */
inline serve_waiting(me, pg) {
    do
    :: busy[pg] == NONE && (wait_r[pg] | wait_w[pg]) != 0 && !FROZEN(me, pg) && HOMEAT(me, pg) == me ->
        for (qi : 1 .. N) {
            nr = (dnext[pg] + qi) % N;
            if
            :: busy[pg] == NONE && ((wait_r[pg] | wait_w[pg]) & BIT(nr)) != 0 ->
                if
                :: (wait_r[pg] & BIT(nr)) != 0 -> na = RD
                :: else -> na = WR
                fi;
                wait_r[pg] = wait_r[pg] & ~BIT(nr); wait_w[pg] = wait_w[pg] & ~BIT(nr);
                dnext[pg] = nr;
                start(me, pg, nr, na);
                qi = N   /* break out of the scan */
            :: else -> skip
            fi
        }
    :: else -> break
    od
}

inline home_request(me, from, pg, acc) {
    /* only the home takes requests; with moves also the page's next home,
     * which parks them until its HomeState arrives */
    assert(HOMEAT(me, pg) == me || NEXT_HOME(me, pg));
    assert(busy[pg] != from && ((wait_r[pg] | wait_w[pg]) & BIT(from)) == 0);   /* one request per node per page */
    if
    :: busy[pg] != NONE || FROZEN(me, pg) || HOMEAT(me, pg) != me ->
        if
        :: acc == RD -> wait_r[pg] = wait_r[pg] | BIT(from)
        :: else -> wait_w[pg] = wait_w[pg] | BIT(from)
        fi
    :: else -> start(me, pg, from, acc); serve_waiting(me, pg)
    fi
}

#if CLAIMS > 0
/* A claim (docs/dsm-protocol.md "Claims"): the home hands a page no node
 * ever had (directory Uncached, its own copy I) to the claimant, whose
 * request goes with it (queued, handed over in HomeState) and is served by
 * the claimant as the new home; any other page is an ordinary request. The
 * model's chunk is the page itself: the executor claims a chunk's other
 * pages by the same rule in the same step (tests/sim covers chunks).
 * -DBUG_CLAIM_ZERO_SHARED plants the bug of a home that takes "still zero"
 * for "never used": a page read as the zero page (Shared, never written) is
 * handed over with its sharers forgotten, and the new home grants it
 * writable while those copies stay mapped. */
#define MOVABLE(me, pg) (HOMEAT(me, pg) == me && !FROZEN(me, pg) && !moving[pg] && busy[pg] == NONE && \
    (wait_r[pg] | wait_w[pg]) == 0 && (lstate[(me) * P + (pg)] == I || lstate[(me) * P + (pg)] == S || lstate[(me) * P + (pg)] == M))
#define PRISTINE(me, pg) (dstate[pg] == D_UNCACHED && lstate[(me) * P + (pg)] == I)
#ifdef BUG_CLAIM_ZERO_SHARED
#define CLAIMABLE(me, pg) (MOVABLE(me, pg) && (PRISTINE(me, pg) || (dstate[pg] == D_SHARED && downer[pg] == ZERO)))
#define CLAIM_FORGET(pg) dstate[pg] = D_UNCACHED; dsharers[pg] = 0; downer[pg] = ZERO
#else
#define CLAIMABLE(me, pg) (MOVABLE(me, pg) && PRISTINE(me, pg))
#define CLAIM_FORGET(pg) skip
#endif
inline home_claim(me, from, pg, acc) {
    assert(HOMEAT(me, pg) == me || NEXT_HOME(me, pg));
    if
    :: from != me && CLAIMABLE(me, pg) ->
        assert(busy[pg] != from && ((wait_r[pg] | wait_w[pg]) & BIT(from)) == 0);
        CLAIM_FORGET(pg);
        if
        :: acc == RD -> wait_r[pg] = wait_r[pg] | BIT(from)
        :: else -> wait_w[pg] = wait_w[pg] | BIT(from)
        fi;
        FROZEN(me, pg) = true; moving[pg] = true; mto[pg] = from; minit[pg] = me; macks[pg] = N - 1;
        for (si : 0 .. N - 1) {
            if
            :: si != me -> send(me, si, HomeNotice, pg, DK_NONE, 0, from, 0)
            :: else -> skip
            fi
        }
    :: else -> home_request(me, from, pg, acc)
    fi
}
#endif

/* A run request: started only on an idle page, else refused (R1, R2); with
 * moves also refused on a frozen page or one this node is not home of (R6:
 * the route the requester took is stale). */
#ifdef BUG_RUN_STALE_ROUTE
#define RUN_ROUTED(me, pg) true
#else
#define RUN_ROUTED(me, pg) (!FROZEN(me, pg) && HOMEAT(me, pg) == me)
#endif
inline home_run_request(me, from, pg, acc) {
    assert(HOMEAT(me, pg) == me || NEXT_HOME(me, pg));
    assert(busy[pg] != from && ((wait_r[pg] | wait_w[pg]) & BIT(from)) == 0);   /* one request per node per page */
    if
    :: !RUN_ROUTED(me, pg) -> send(me, from, Refuse, pg, DK_NONE, 0, 0, 0)
#ifndef BUG_RUN_IGNORES_BUSY
    :: busy[pg] != NONE || (wait_r[pg] | wait_w[pg]) != 0 -> send(me, from, Refuse, pg, DK_NONE, 0, 0, 0)
#endif
    :: else -> start(me, pg, from, acc)
    fi
}

inline handle(me, from, mt, pg, dk, vr, rq, ak) {
    idx = me * P + pg;
    if
#if RIDE
    :: mt == Fill -> fver[me] = 100   /* F7: this node's filler is the file from here on */
#endif
    :: mt == RunReadReq -> home_run_request(me, from, pg, RD)
    :: mt == RunWriteReq -> home_run_request(me, from, pg, WR)
    :: mt == Refuse ->
        /* R3: back to where the request took the page from */
        /* with moves a former home's Refuse may arrive after its HomeNotice */
        assert((HANDOVER || from == HOMEAT(me, pg)) && !lgranted[idx] && lacks[idx] == 0 &&
               (lstate[idx] == IS || lstate[idx] == IM || lstate[idx] == SM));
        if
        :: lstate[idx] == SM -> lstate[idx] = S
        :: else -> lstate[idx] = I
        fi;
        resume(me, pg)
    :: mt == ReadReq -> home_request(me, from, pg, RD)
    :: mt == WriteReq -> home_request(me, from, pg, WR)
#if CLAIMS > 0
    :: mt == ClaimReadReq -> home_claim(me, from, pg, RD)
    :: mt == ClaimWriteReq -> home_claim(me, from, pg, WR)
#endif
    :: mt == Done ->
        assert(HOMEAT(me, pg) == me);
#ifndef BUG_SKIP_DONE_WAIT
        assert(busy[pg] == from);
#endif
        if
        :: busy[pg] == from -> busy[pg] = NONE; serve_waiting(me, pg)
        :: else -> skip
        fi
    :: mt == FwdRead ->
        assert(from == HOMEAT(me, pg) && HAS_COPY(lstate[idx]));   /* nothing overtakes data in flight */
        if
        :: lstate[idx] == M -> lstate[idx] = S               /* Downgrade */
        :: else -> skip
        fi;
        send(me, rq, GrantShared, pg, DK_BYTES, lver[idx], 0, 0)   /* Send{attach_page} */
    :: mt == FwdWrite ->
        assert(from == HOMEAT(me, pg) && HAS_COPY(lstate[idx]) && !lgranted[idx]);
        send(me, rq, GrantModified, pg, DK_BYTES, lver[idx], 0, ak);   /* Downgrade, Send{attach}, Drop */
        if
        :: lstate[idx] == SM -> lstate[idx] = IM   /* lost the upgrade race; WriteReq stays queued */
        :: else -> lstate[idx] = I
        fi;
        lver[idx] = 0
    :: mt == Invalidate ->
        assert(from == HOMEAT(me, pg) && (lstate[idx] == S || lstate[idx] == SM) && !lgranted[idx]);
        if                                                    /* Drop, then Send */
#ifdef BUG_NO_DROP
        :: lstate[idx] == S -> skip   /* deliberate bug: acks but keeps its copy */
#else
        :: lstate[idx] == S -> lstate[idx] = I; lver[idx] = 0
#endif
        :: lstate[idx] == SM -> lstate[idx] = IM; lver[idx] = 0
        fi;
#ifndef BUG_SKIP_ACK
        send(me, rq, InvAck, pg, DK_NONE, 0, 0, 0)
#else
        skip   /* deliberate bug: never acks, the writer waits forever */
#endif
    :: mt == InvAck ->
        if
        :: lstate[idx] == IM || lstate[idx] == SM ->
            assert(!lgranted[idx] || lacks[idx] > 0);
            lacks[idx]--;
            if
            :: lgranted[idx] && lacks[idx] == 0 -> complete_write(me, pg)   /* Upgrade */
            :: else -> skip
            fi
        :: else ->
#ifdef BUG_IGNORE_ACKS
            skip   /* a late ack after the early completion */
#else
            assert(false)   /* an ack outside our own write */
#endif
        fi
#if HANDOVER
    :: mt == HomeNotice ->            /* rq: the new home */
        assert(HOMEAT(me, pg) == from && moving[pg] && minit[pg] == from);
        HOMEAT(me, pg) = rq;
        FROZEN(me, pg) = (rq == me);
        send(me, from, HomeAck, pg, DK_NONE, 0, 0, 0)
    :: mt == HomeAck ->
        assert(minit[pg] == me && macks[pg] > 0);
        macks[pg]--;
#ifndef BUG_SKIP_MOVE_ACKS
        if
        :: macks[pg] == 0 -> mready[pg] = true
        :: else -> skip
        fi
#else
        skip   /* deliberate bug: finished without waiting (mready set at the start) */
#endif
    :: mt == HomeState ->
        assert(HOMEAT(me, pg) == me && FROZEN(me, pg) && mto[pg] == me && busy[pg] == NONE);
        FROZEN(me, pg) = false;
        moving[pg] = false;
        serve_waiting(me, pg)
#endif
    :: mt == GrantShared ->
        assert(lstate[idx] == IS && dk != DK_NONE && (dk == DK_BYTES || from == HOMEAT(me, pg)));
        lstate[idx] = S;                                  /* InstallPage(Read) */
        if :: dk == DK_ZERO -> lver[idx] = FILLER(me) :: else -> lver[idx] = vr fi;
        resume(me, pg);
        if
        :: dk == DK_BYTES -> send(me, HOMEAT(me, pg), Done, pg, DK_NONE, 0, 0, 0)
        :: else -> skip
        fi
    :: mt == GrantModified ->
        assert(!lgranted[idx] && (dk == DK_BYTES || from == HOMEAT(me, pg)));
        if
        :: dk == DK_NONE -> assert(lstate[idx] == SM)      /* upgrade in place */
        :: else -> assert(lstate[idx] == IM);
                   if :: dk == DK_ZERO -> lver[idx] = FILLER(me) :: else -> lver[idx] = vr fi   /* InstallPage */
        fi;
        lstate[idx] = SM;   /* mapped read-only until the write completes */
        lgranted[idx] = true;
        lacks[idx] = lacks[idx] + ak;
        assert(lacks[idx] >= 0);
        ldone[idx] = (dk == DK_BYTES || ak != 0);
#ifdef BUG_IGNORE_ACKS
        complete_write(me, pg)   /* deliberate bug: Modified before the other copies are gone */
#else
        if
        :: lacks[idx] == 0 -> complete_write(me, pg)
        :: else -> skip
        fi
#endif
    fi
}

#include "dsm_steps.pml"
proctype Node(byte me) {
    byte pg, dk, vr, rq, ak, idx, others, nr, na, holder, nacks;
    bool zero, had, waitdone;
    mtype mt;
    byte ci, cn, cm, cs, ri, si, qi, pi;
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
#if AHEAD > 0
    AHEAD_REQUEST
#endif
#if MOVES > 0
    MOVE_START
#endif
#if HANDOVER
    MOVE_FINISH(0)
#if P > 1
    MOVE_FINISH(1)
#endif
#endif
#if RUNS > 0
    RUN_REQUEST
#endif
#if RIDE
    RIDE_STEPS
#endif
#if DISCARD > 0
    DISCARD_STEP
#endif
    od
}

#if HANDOVER
#define MOVES_DONE && moves_left == 0 && !moving[0] && !mready[0] && (P < 2 || (!moving[P - 1] && !mready[P - 1]))
#else
#define MOVES_DONE
#endif
/* Runs only once everything is done: a deadlock leaves it blocked at a
 * non-end state, which spin reports as an invalid end state. */
proctype Final() {
    byte p, n;
    (remaining == 0 && inflight == 0 && ahead_total == 0 && runs_total == 0 && discards_left == 0 MOVES_DONE);
    for (p : 0 .. P - 1) {
        assert(busy[p] == NONE && wait_r[p] == 0 && wait_w[p] == 0);
#if HANDOVER
        assert(!moving[p] && !mready[p]);
        for (n : 0 .. N - 1) {
            assert(htab[n * P + p] == htab[p] && !hfrozen[n * P + p])
        }
#endif
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
            ops_left[n] = OPS;
            ahead_left[n] = AHEAD;
            runs_left[n] = RUNS
        }
        ahead_total = N * AHEAD;
        runs_total = N * RUNS;
        for (p : 0 .. P - 1) {
            downer[p] = ZERO;
            busy[p] = NONE
        }
#if HANDOVER
        moves_left = MOVES;
        for (p : 0 .. P - 1) {
            for (n : 0 .. N - 1) {
                htab[n * P + p] = HOME(p)
            }
        }
#endif
        remaining = N * OPS;
        discards_left = DISCARD;
#if RIDE
        started = NODE1_STARTS;
#endif
        for (n : 0 .. N - 1) {
            run Node(n)
        }
        run Final()
    }
}
