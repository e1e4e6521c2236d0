/*
 * Promela model of how the survivors of a lost DSM node name it
 * (docs/dsm-protocol.md, "Failure"; vmm/dsm/control_plane.cpp and
 * net::Transport::last_words). Three nodes; node 1 is killed at the start,
 * possibly with a message still on its way to each peer. Every survivor
 * reads its incoming connections in any interleaving, each in FIFO order.
 * A node that sees a connection END, or hears a peer's last words
 * FAILED(k) first, fails naming that node, says FAILED(named) to the
 * others, and ends its own connections. Checked: every survivor names
 * node 1, and nobody hangs (invalid end states).
 *
 * Planted bugs (each must be found):
 *   BUG_NO_LAST_WORDS  a failing node says nothing before it ends its
 *                      connections: node 0 may see node 2's END first.
 *   BUG_WRITE_FIRST    a node may notice a peer's end through a failed write
 *                      (at any time after the peer ended), before its read
 *                      side got to the last words queued ahead of the END.
 */
#define N 3
#define KILLED 1

mtype = { DATA, FAILED, END };

chan link[N * N] = [3] of { mtype, byte };  /* link[from * N + to], FIFO per ordered pair */
bool ended[N];                              /* the node's connections are closed */
byte named[N];                              /* whom each survivor's line names */
bool failed[N];

inline fail_naming(me, k) {
    failed[me] = true;
    named[me] = k;
    assert(k == KILLED);
#ifndef BUG_NO_LAST_WORDS
    for (q : 0 .. N - 1) {
        if
        :: q != me && !ended[q] -> link[me * N + q]!FAILED, k
        :: else -> skip
        fi
    }
#endif
    for (q : 0 .. N - 1) {
        if
        :: q != me && !ended[q] -> link[me * N + q]!END, 0
        :: else -> skip
        fi
    }
    ended[me] = true
}

proctype Survivor(byte me) {
    byte p, q, k;
    mtype m;
    do
    :: failed[me] -> break
    :: else ->
        atomic {
            select(p : 0 .. N - 1);
            if
            :: p != me && nempty(link[p * N + me]) ->
                link[p * N + me]?m, k;
                if
                :: m == DATA -> skip
                :: m == FAILED -> fail_naming(me, k)
                :: m == END -> fail_naming(me, p)
                fi
#ifdef BUG_WRITE_FIRST
            :: p != me && ended[p] -> fail_naming(me, p)
#endif
            :: else -> skip
            fi
        }
    od
}

init {
    byte q;
    atomic {
        /* Node 1 dies: whatever it had sent is followed by the end of its connections. */
        for (q : 0 .. N - 1) {
            if
            :: q != KILLED ->
                if
                :: link[KILLED * N + q]!DATA, 0
                :: skip
                fi;
                link[KILLED * N + q]!END, 0
            :: else -> skip
            fi
        }
        ended[KILLED] = true;
        run Survivor(0);
        run Survivor(2)
    }
}
