#!/usr/bin/env bash
# bench/cluster/run.sh BUILD_DIR : the distributed process mode, replaying the
# process-sharing paper's measurements plus throughput, in one run, on the
# first platform this host can run. All hosts are processes on this machine
# (`spanvm run --local-hosts 2`, loopback TCP).
#
#   Table 1   open, close, mkdir, rmdir, symlink, flock from a worker thread:
#             A native, B spanvm on one host, C forwarded from node 1.
#             Prints B/A (the paper: ~0.5% overhead) and (C-B) against the TCP
#             round trip measured in the same run (target C-B <= 1.5x RTT).
#   Figure 9  a thread on node 1 reads 4..64 KiB files with one forwarded
#             read(): time per size and the cost per extra 4 KiB page (least
#             squares; the paper: ~0.4 ms per page on 1 GbE).
#   Scaling   bench_cpu_bound with 2 threads across 2 hosts against native 2
#             threads on this machine (target >= 0.9), about 4 s of work so the
#             fixed start-up (nodes start and join) does not decide it; the
#             start-up itself is reported: `/bin/true` on 2 hosts vs 1 host.
#   Stock     pigz -p 2, xz -T2, zstd -T2 on BENCH_STOCK_MIB of text across 2
#             hosts against native (target >= 0.7 each), with the origin's page
#             faults and bytes moved per MiB of input.
# Then bench/cluster/scaling.sh: H hosts x C cores against native on C cores
# (bench/out/scaling.json and scaling.png; its knobs are in its header; skip
# it with BENCH_SCALING=0).
# Writes bench/out/cluster.json and bench/out/cluster.png. The programs'
# JSON (bench_fsops, `spanvm run --json`) is read by bench/cluster/report.py,
# which computes the figures (statistics: bench/lib/stats.py) and writes the
# JSON; this script only runs and times things.
# Knobs: SPANVM, BENCH_OUT, BENCH_FS_ITERS [200], BENCH_STOCK_MIB [16],
# BENCH_CPU_ITERS [2000000000], BENCH_STARTUP_RUNS [5], BENCH_ENCRYPT [0; 1
# gives every multi-host run --encrypt; bench/auth/run.sh compares in one run]. A quick check of the
# script: BENCH_FS_ITERS=5 BENCH_STOCK_MIB=1 BENCH_CPU_ITERS=1000000 BENCH_STARTUP_RUNS=1.
set -euo pipefail
. "$(dirname "$0")/../lib/common.sh"
bench_init cluster "$@"
ITERS="${BENCH_FS_ITERS:-200}"
STOCK_MIB="${BENCH_STOCK_MIB:-16}"
CPU_ITERS="${BENCH_CPU_ITERS:-2000000000}"
STARTUP_RUNS="${BENCH_STARTUP_RUNS:-5}"
FSOPS="$BUILD/bench/cluster/bench_fsops"
CPU_BIN="$BUILD/bench/process/bench_cpu_bound"
for f in "$SPANVM" "$FSOPS" "$CPU_BIN"; do [ -x "$f" ] || die "$f is not built"; done
for t in pigz xz zstd gnuplot python3 jq awk; do command -v "$t" >/dev/null || die "$t is not installed"; done
log() { echo "bench/cluster: $*" >&2; }
# LH: how every multi-host run starts its hosts.
LH=(--local-hosts 2)
[ "${BENCH_ENCRYPT:-0}" = 1 ] && LH+=(--encrypt)
WORK="$(mktemp -d "${TMPDIR:-/tmp}/spanvm-bench-cluster.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT" "$WORK/fs"

# --- TCP round trip on loopback, 64-byte ping-pong -------------------------
# The round-trip times after a warm-up, in seconds, as a JSON array.
python3 - >"$WORK/rtt.json" <<'PY'
import json, socket, threading, time
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
port = srv.getsockname()[1]
def echo():
    c, _ = srv.accept(); c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while True:
        d = c.recv(64)
        if not d: return
        c.sendall(d)
threading.Thread(target=echo, daemon=True).start()
s = socket.create_connection(("127.0.0.1", port)); s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
m = b"x" * 64; v = []
for i in range(3000):
    t = time.perf_counter(); s.sendall(m); n = 0
    while n < 64: n += len(s.recv(64 - n))
    v.append(time.perf_counter() - t)
json.dump(v[500:], open(1, "w"))
PY
rtt_us="$(python3 "$HERE/../lib/stats.py" median <"$WORK/rtt.json" | jq '. * 1e6 * 10 | round / 10')"
log "TCP loopback round trip p50: $rtt_us us"

# --- Table 1 and Figure 9 ---------------------------------------------------
"$FSOPS" "$WORK/fs" "$ITERS" >"$WORK/a.json" || die "native fsops failed"
"$SPANVM" run -- "$FSOPS" "$WORK/fs" "$ITERS" >"$WORK/b.json" || die "one-host fsops failed"
"$SPANVM" run "${LH[@]}" -- "$FSOPS" "$WORK/fs" "$ITERS" >"$WORK/c.json" || die "two-host fsops failed"
for f in a b c; do jq -e '.op.open and .read["65536"]' "$WORK/$f.json" >/dev/null || die "fsops wrote no figures to $f.json"; done

# --- Scaling: CPU-bound, 2 threads ------------------------------------------
# timed KEY CMD... : runs CMD (output discarded) and appends its wall time in
# nanoseconds to times.jsonl under KEY.
timed() {
    local key=$1 s e
    shift
    s=$(date +%s%N)
    "$@" >/dev/null 2>&1 || die "'$*' failed"
    e=$(date +%s%N)
    jq -nc --arg key "$key" --argjson ns $((e - s)) '{key: $key, ns: $ns}' >>"$WORK/times.jsonl"
}
: >"$WORK/times.jsonl"
timed cpu_native "$CPU_BIN" "$CPU_ITERS"
timed cpu_cluster "$SPANVM" run "${LH[@]}" -- "$CPU_BIN" "$CPU_ITERS"
# Start-up: the median of STARTUP_RUNS runs of /bin/true, on one host and on two.
for _ in $(seq "$STARTUP_RUNS"); do timed start_1 "$SPANVM" run -- /bin/true; done
for _ in $(seq "$STARTUP_RUNS"); do timed start_2 "$SPANVM" run "${LH[@]}" -- /bin/true; done
log "cpu_bound and start-up timed"

# --- Stock compressors across 2 hosts ---------------------------------------
bench_text "$STOCK_MIB" >"$WORK/input.txt"
for tool in "pigz -p 2 -c" "xz -T2 --block-size=1MiB -c" "zstd -T2 -q -c"; do
    name="${tool%% *}"
    s=$(date +%s%N)
    $tool <"$WORK/input.txt" >"$WORK/$name.native" || die "native $name failed"
    e=$(date +%s%N)
    jq -nc --arg key "${name}_native" --argjson ns $((e - s)) '{key: $key, ns: $ns}' >>"$WORK/times.jsonl"
    # --json: the machine table (bytes the origin moved, every node's faults).
    s=$(date +%s%N)
    "$SPANVM" run "${LH[@]}" --stats --json "$WORK/$name.run.json" -- $tool <"$WORK/input.txt" \
        >"$WORK/$name.cluster" 2>"$WORK/$name.err" || die "2-host $name failed: $(tail -n 3 "$WORK/$name.err")"
    e=$(date +%s%N)
    jq -nc --arg key "${name}_cluster" --argjson ns $((e - s)) '{key: $key, ns: $ns}' >>"$WORK/times.jsonl"
    cmp -s "$WORK/$name.native" "$WORK/$name.cluster" || die "$name output differs from native"
    log "$name: timed natively and on 2 hosts"
done

# --- report -----------------------------------------------------------------
jq -n --argjson fs "$ITERS" --argjson mib "$STOCK_MIB" --argjson cpu "$CPU_ITERS" \
    '{fs_iters: $fs, stock_mib: $mib, cpu_iters: $cpu}' >"$WORK/params.json"
python3 "$HERE/report.py" "$WORK" "$OUT/cluster.json" >"$WORK/summary.txt" || die "report.py failed"
gnuplot <<GP || die "gnuplot failed"
set terminal png size 1200,450
set output "$OUT/cluster.png"
set multiplot layout 1,3 title "spanvm across 2 hosts (loopback; RTT $rtt_us us)"
set style fill solid 0.6 border -1
set boxwidth 0.6
set title "Table 1: (C - B) / RTT (target <= 1.5)"
set yrange [0:*]
plot "$WORK/t1.dat" using 0:2:xtic(1) with boxes notitle, 1.5 with lines lc rgb "red" title "target"
set title "Figure 9: forwarded read() from node 1"
set xlabel "KiB"; set ylabel "us"
plot "$WORK/fig9c.dat" using 1:2 with linespoints title "forwarded (C)", "$WORK/fig9b.dat" using 1:2 with linespoints title "one host (B)"
unset xlabel; unset ylabel
set title "Stock, 2 hosts / native (target >= 0.7)"
plot "$WORK/stock.dat" using 0:2:xtic(1) with boxes notitle, 0.7 with lines lc rgb "red" title "target"
unset multiplot
GP

cat "$WORK/summary.txt"
log "wrote $OUT/cluster.json and $OUT/cluster.png"

# --- Scaling: H hosts x C cores against native on C cores -------------------
if [ "${BENCH_SCALING:-1}" != 0 ]; then
    SPANVM="$SPANVM" BENCH_OUT="$OUT" bash "$HERE/scaling.sh" "$BUILD" || die "scaling.sh failed"
fi
