"""bench/auth/run.py: driven by run.sh (see there). Runs every mode of every
measurement once per round, takes medians over rounds, prints a table and
writes BENCH_OUT/auth.json."""
import json, os, socket, statistics, subprocess, sys, tempfile, time

SPANVM = os.environ["SPANVM"]
OLD = os.environ.get("OLD_SPANVM", "")
FSOPS = os.environ["FSOPS"]
OUT = os.environ["BENCH_OUT"]
ROUNDS = int(os.environ.get("BENCH_AUTH_ROUNDS", "3"))
DSM_ITERS = os.environ.get("BENCH_AUTH_DSM_ITERS", "2000")
FS_ITERS = os.environ.get("BENCH_AUTH_FS_ITERS", "200")
STARTUP_RUNS = int(os.environ.get("BENCH_AUTH_STARTUP_RUNS", "5"))


def die(msg):
    print("bench/auth: FAILED: " + msg, file=sys.stderr)
    sys.exit(1)


def free_ports(n):
    ss = [socket.socket() for _ in range(n)]
    for s in ss:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in ss]
    for s in ss:
        s.close()
    return ports


def mode_cmd(mode):
    """(binary, extra args for dsm-node, extra args for run --local-hosts)"""
    if mode == "noauth":
        return OLD, [], []
    if mode == "auth":
        return SPANVM, ["--key-file", KEY], []
    return SPANVM, ["--key-file", KEY, "--encrypt"], ["--encrypt"]


def dsm(mode, workload):
    exe, extra, _ = mode_cmd(mode)
    p = free_ports(2)
    spec = "0=127.0.0.1:%d,1=127.0.0.1:%d" % tuple(p)
    jsons = [os.path.join(WORK, "%s-%s-%d.json" % (mode, workload, k)) for k in range(2)]
    procs = [subprocess.Popen([exe, "dsm-node", "--cluster", spec, "--node", str(k), "--workload", workload,
                               "--iterations", DSM_ITERS, "--json", jsons[k]] + extra,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for k in (1, 0)]
    for pr in procs:
        _, err = pr.communicate(timeout=300)
        if pr.returncode != 0:
            die("%s dsm-node %s: exit %d: %s" % (mode, workload, pr.returncode, err.decode()[-300:]))
    best = max((json.load(open(j)) for j in jsons if os.path.exists(j)), key=lambda j: j.get("samples", 0))
    return best["p50_us"], best["p99_us"]


def fsops(mode):
    exe, _, lh = mode_cmd(mode)
    out = subprocess.run([exe, "run", "--local-hosts", "2"] + lh + ["--", FSOPS, os.path.join(WORK, "fs"), FS_ITERS],
                         capture_output=True, timeout=600)
    if out.returncode != 0:
        die("%s fsops: exit %d: %s" % (mode, out.returncode, out.stderr.decode()[-300:]))
    j = json.loads(out.stdout)
    return j["op"]["open"] / 1000, j["op"]["mkdir"] / 1000, j["read"]["65536"] / 1000


def startup(mode):
    exe, _, lh = mode_cmd(mode)
    v = []
    for _ in range(STARTUP_RUNS):
        t = time.perf_counter()
        r = subprocess.run([exe, "run", "--local-hosts", "2"] + lh + ["--", "/bin/true"], capture_output=True)
        if r.returncode != 0:
            die("%s start-up: exit %d: %s" % (mode, r.returncode, r.stderr.decode()[-300:]))
        v.append((time.perf_counter() - t) * 1000)
    return statistics.median(v)


WORK = tempfile.mkdtemp(prefix="spanvm-bench-auth.")
os.makedirs(os.path.join(WORK, "fs"))
KEY = os.path.join(WORK, "cluster.key")
subprocess.run([SPANVM, "keygen", KEY], check=True)
modes = (["noauth"] if OLD else []) + ["auth", "encrypt"]
figures = {}  # name -> mode -> [values per round]


def add(name, mode, v):
    figures.setdefault(name, {}).setdefault(mode, []).append(v)


for r in range(ROUNDS):
    print("bench/auth: round %d of %d" % (r + 1, ROUNDS), file=sys.stderr)
    for mode in modes:
        for w in ("bench-remote-read", "bench-ping-pong"):
            p50, p99 = dsm(mode, w)
            add("dsm %s p50 us" % w[6:], mode, p50)
            add("dsm %s p99 us" % w[6:], mode, p99)
        o, m, rd = fsops(mode)
        add("cluster forwarded open us", mode, o)
        add("cluster forwarded mkdir us", mode, m)
        add("cluster forwarded 64 KiB read us", mode, rd)
        add("cluster start-up 2 hosts ms", mode, startup(mode))

result = {"host": os.uname().nodename, "kernel": os.uname().release, "rounds": ROUNDS,
          "dsm_iterations": int(DSM_ITERS), "fs_iterations": int(FS_ITERS), "old_spanvm": OLD or None,
          "figures": {}}
print("%-34s %10s %10s %10s %12s %13s" % ("figure (median of rounds)", "noauth", "auth", "encrypt", "auth/noauth",
                                         "encrypt/auth"))
for name, by_mode in figures.items():
    med = {m: statistics.median(v) for m, v in by_mode.items()}
    rec = {m: round(v, 2) for m, v in med.items()}
    rec["auth_over_noauth"] = round(med["auth"] / med["noauth"], 3) if "noauth" in med and med["noauth"] else None
    rec["encrypt_over_auth"] = round(med["encrypt"] / med["auth"], 3) if med["auth"] else None
    result["figures"][name] = rec
    f = lambda x: "-" if x is None else "%.2f" % x
    print("%-34s %10s %10s %10s %12s %13s" % (name, f(med.get("noauth")), f(med["auth"]), f(med["encrypt"]),
                                             f(rec["auth_over_noauth"]), f(rec["encrypt_over_auth"])))
with open(os.path.join(OUT, "auth.json"), "w") as fh:
    json.dump(result, fh, indent=1)
    fh.write("\n")
print("bench/auth: wrote %s" % os.path.join(OUT, "auth.json"), file=sys.stderr)
subprocess.run(["rm", "-rf", WORK])
