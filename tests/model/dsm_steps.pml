/* The steps a node of dsm.pml may take, one macro each: receive a message
 * (RECV), run a thread's next access (THREAD), and the optional steps of the
 * configurations (-DAHEAD, -DMOVES, -DHANDOVER, -DRUNS, -DRIDE, -DDISCARD). Included by
 * dsm.pml just before proctype Node, whose do-loop offers them; they use its
 * locals and the globals and inlines defined above that point. run_spin.sh
 * copies every .pml of this folder next to the model it checks. */
#define RECV(f) \
    :: atomic { nempty(ch[(f) * N + me]) -> \
        ch[(f) * N + me]?mt, pg, dk, vr, rq, ak; inflight--; \
        handle(me, f, mt, pg, dk, vr, rq, ak); check_invariants() }

#define THREAD(t) \
    :: atomic { tst[me * T + (t)] == IDLE && ops_left[me] > 0 && MAY_RUN(me) -> \
        ops_left[me]--; \
        select(pg : 0 .. P - 1); tpage[me * T + (t)] = pg; \
        if :: tacc[me * T + (t)] = RD :: tacc[me * T + (t)] = WR fi; \
        attempt(me, t); check_invariants() } \
    :: atomic { tst[me * T + (t)] == RUNNABLE -> attempt(me, t); check_invariants() }

/* A request no thread waits for (read-, write-, zero-fill-ahead). */
#ifdef BUG_SILENT_FILL
#define SILENT_FILL(me, pg) \
    :: lstate[(me) * P + (pg)] == I && HOMEAT(me, pg) == (me) && dstate[pg] == D_UNCACHED -> \
        lstate[(me) * P + (pg)] = M; lver[(me) * P + (pg)] = 0
#else
#define SILENT_FILL(me, pg)
#endif
#define AHEAD_REQUEST \
    :: atomic { ahead_left[me] > 0 && MAY_RUN(me) -> \
        ahead_left[me]--; ahead_total--; \
        select(pg : 0 .. P - 1); \
        if \
        :: lstate[me * P + pg] == I -> on_fault(me, pg, RD) \
        :: lstate[me * P + pg] == I || lstate[me * P + pg] == S -> on_fault(me, pg, WR) \
        SILENT_FILL(me, pg) \
        :: else -> skip \
        fi; \
        check_invariants() }

#if HANDOVER
/* A home hands page pg over to a node it picks (any other). */
#define MOVE_START \
    :: atomic { moves_left > 0 -> \
        moves_left--; \
        select(pg : 0 .. P - 1); \
        idx = me * P + pg; \
        if \
        :: HOMEAT(me, pg) == me && !FROZEN(me, pg) && !moving[pg] && busy[pg] == NONE && \
           (wait_r[pg] | wait_w[pg]) == 0 && (lstate[idx] == I || lstate[idx] == S || lstate[idx] == M) -> \
            select(nr : 0 .. N - 1); \
            if \
            :: nr == me -> nr = (me + 1) % N \
            :: else -> skip \
            fi; \
            FROZEN(me, pg) = true; moving[pg] = true; mto[pg] = nr; minit[pg] = me; macks[pg] = N - 1; \
            for (si : 0 .. N - 1) { \
                if \
                :: si != me -> send(me, si, HomeNotice, pg, DK_NONE, 0, nr, 0) \
                :: else -> skip \
                fi \
            } \
            MOVE_EARLY(pg) \
        :: else -> skip \
        fi; \
        check_invariants() }
#ifdef BUG_SKIP_MOVE_ACKS
#define MOVE_EARLY(p) mready[p] = true
#else
#define MOVE_EARLY(p) skip
#endif
#ifdef BUG_LOSE_MOVED_REQUESTS
#define LOSE_QUEUED(p) wait_r[p] = 0; wait_w[p] = 0
#else
#define LOSE_QUEUED(p) skip
#endif
/* All acks in and the node's channel to itself drained: HomeState. */
#define MOVE_FINISH(p) \
    :: atomic { mready[p] && minit[p] == me && empty(ch[me * N + me]) -> \
        mready[p] = false; \
        LOSE_QUEUED(p); \
        HOMEAT(me, p) = mto[p]; FROZEN(me, p) = false; \
        send(me, mto[p], HomeState, p, DK_NONE, 0, 0, 0); \
        check_invariants() }
#endif
/* A run of pages pg .. P-1 asked for with no thread waiting (request_ahead). */
#define RUN_REQUEST \
    :: atomic { runs_left[me] > 0 && MAY_RUN(me) -> \
        runs_left[me]--; runs_total--; \
        select(pg : 0 .. P - 1); \
        if :: ak = RD :: ak = WR fi; \
        do \
        :: pg < P -> \
            idx = me * P + pg; \
            if \
            :: lstate[idx] == I && ak == RD -> lstate[idx] = IS; send(me, HOMEAT(me, pg), RunReadReq, pg, DK_NONE, 0, 0, 0) \
            :: lstate[idx] == I && ak == WR -> lstate[idx] = IM; send(me, HOMEAT(me, pg), RunWriteReq, pg, DK_NONE, 0, 0, 0) \
            :: lstate[idx] == S && ak == WR -> lstate[idx] = SM; send(me, HOMEAT(me, pg), RunWriteReq, pg, DK_NONE, 0, 0, 0) \
            :: else -> skip \
            fi; \
            pg++ \
        :: else -> break \
        od; \
        check_invariants() }

#if RIDE
/* The origin maps the file over page 0, pristine (never granted: a request
 * may be on its way); the fill for node 1 is held. Node 1 starts (the
 * Spawn applies what is held first), or the held change arrives with the
 * Resume of node 1's thread. */
#ifdef BUG_RIDE_LATE
#define START_APPLIES skip
#else
#define START_APPLIES if :: rheld -> fver[1] = 100; rheld = false :: else -> skip fi
#endif
#if LINKFILL
/* F7: the origin sends the Fill to node 1 and asks the home (itself) in
 * one step; under -DBUG_FILL_AFTER_ASK it asks first and sends later. */
#ifdef BUG_FILL_AFTER_ASK
#define FILL_SEND fpending = true
#define FILL_LATE :: atomic { me == 0 && fpending -> send(0, 1, Fill, 0, 0, 0, 0, 0); fpending = false; check_invariants() }
#else
#define FILL_SEND send(0, 1, Fill, 0, 0, 0, 0, 0)
#define FILL_LATE
#endif
#define RIDE_STEPS \
    :: atomic { me == 0 && !mapped && HOMEAT(0, 0) == 0 && dstate[0] == D_UNCACHED && busy[0] == NONE -> \
        FILL_SEND; mapped = true; fver[0] = 100; latest[0] = 100; check_invariants() } \
    FILL_LATE
#else
#define RIDE_STEPS \
    :: atomic { me == 0 && !mapped && dstate[0] == D_UNCACHED && busy[0] == NONE && \
                (!started || tst[T] == IDLE) -> \
        mapped = true; fver[0] = 100; latest[0] = 100; \
        if :: !started || RIDES_WHILE_RUNNING -> rheld = true :: else -> fver[1] = 100 fi; \
        check_invariants() } \
    :: atomic { me == 1 && !started -> START_APPLIES; started = true; check_invariants() } \
    :: atomic { me == 1 && started && rheld -> fver[1] = 100; rheld = false; check_invariants() }
#endif
#endif

#if DISCARD > 0
/* A discard at the page's home (the origin's munmap or MADV_DONTNEED,
 * docs/dsm-protocol.md "Discards"; the model lets any home do it): the
 * page reads as its filler (version FILLER, the discard's zeros) from now
 * on. Where the home alone holds it (Modified, or Shared with no other
 * sharer), no transaction is in progress, nobody waits and no move is
 * under way, the home drops its copy and the directory forgets it
 * (Protocol::reclaim_zero); otherwise the origin zeroes it through the
 * coherent mapping, an ordinary write (THREAD's writes). Planted bug
 * -DBUG_RECLAIM_SHARED: the home also reclaims a page it shares with
 * others, whose copies keep the old version. */
#ifdef BUG_RECLAIM_SHARED
#define ONLY_SHARER(me, pg) ((dsharers[pg] & BIT(me)) != 0)
#else
#define ONLY_SHARER(me, pg) (dsharers[pg] == BIT(me))
#endif
#define DISCARD_STEP \
    :: atomic { discards_left > 0 -> \
        discards_left--; \
        select(pg : 0 .. P - 1); \
        idx = me * P + pg; \
        if \
        :: HOMEAT(me, pg) == me && !FROZEN(me, pg) && !MOVING(pg) && busy[pg] == NONE && \
           (wait_r[pg] | wait_w[pg]) == 0 && \
           ((dstate[pg] == D_MODIFIED && downer[pg] == me && lstate[idx] == M) || \
            (dstate[pg] == D_SHARED && ONLY_SHARER(me, pg) && lstate[idx] == S)) -> \
            lstate[idx] = I; lver[idx] = 0; \
            dstate[pg] = D_UNCACHED; dsharers[pg] = 0; downer[pg] = ZERO; \
            latest[pg] = FILLER(me) \
        :: else -> skip \
        fi; \
        check_invariants() }
#endif
