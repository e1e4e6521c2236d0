#!/bin/bash
# interleaved, 5 rounds: before (dfa0888) / after (h-pong) binary x --place-exec round-robin / origin;
# wall time per run and --json (cc1's node_pages_fetched). Needs /tmp/big/f0.c and the two binaries
# copied to /tmp/hp-before-spanvm and /tmp/hp-after-spanvm. Run twice for times.txt.
cd /tmp/big
for i in 1 2 3 4 5; do
  for b in before after; do
    for pl in round-robin origin; do
      s=$(date +%s.%N)
      /tmp/hp-$b-spanvm run --local-hosts 2 --host-cpus 1 --place-exec $pl --json /tmp/hp_time/$b-$pl-$i.json -- sh -c 'true; cc -O2 -c f0.c' >/dev/null 2>/tmp/hp_time/$b-$pl-$i.err
      rc=$?
      e=$(date +%s.%N)
      echo "$i $b $pl rc=$rc $(echo "$e - $s" | bc)"
    done
  done
done
