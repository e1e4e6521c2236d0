#!/usr/bin/env python3
"""bench/process/report.py WORK OUT_JSON: turns the measurements that
bench/process/run.sh left in WORK into OUT_JSON (bench/out/process.json), the
gnuplot data WORK/ratios.dat (+ WORK/ymax) and the summary on stdout.

WORK holds params.json {repeat, pigz_mib, platforms} and samples.jsonl, one
{"key", "value"} per measurement: cpu_MODE, pigz_MODE (seconds),
sysbench_MODE (events/s), fileio_MODE (reads+writes/s), syscall_MODE (ns)
for MODE host and each platform, syscall_native_trapped (ns, native with
syscall-site patching off), syscall_native_getpid (ns, the loop of getpid,
not a pass-through call), and bare_trap, getppid_host, kvm_exit (ns).
Each figure is the median of its samples (bench/lib/stats.py).
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import stats  # noqa: E402


def main(work, out_path):
    with open(os.path.join(work, "params.json")) as f:
        params = json.load(f)
    samples = {}
    with open(os.path.join(work, "samples.jsonl")) as f:
        for line in f:
            s = json.loads(line)
            samples.setdefault(s["key"], []).append(s["value"])
    M = {k: stats.median(v) for k, v in sorted(samples.items())}
    for k, v in sorted(samples.items()):
        print("bench/process: %s: %s -> median %s" % (k, " ".join(str(x) for x in v), M[k]), file=sys.stderr)

    def ratio(a, b):
        return round(a / b, 4)

    def meets(r, op, t):
        return r >= t if op == ">=" else r <= t

    report = {"repeat": params["repeat"], "platforms": params["platforms"],
              "host": {"cpu_s": M["cpu_host"], "pigz_s": M["pigz_host"], "sysbench_eps": M["sysbench_host"],
                       "fileio_ops": M["fileio_host"], "getppid_ns": M["syscall_host"]}}
    summary = []  # (platform, [(case, ratio, target)])
    for p in params["platforms"]:
        cpu_r = ratio(M["cpu_host"], M["cpu_" + p])
        pigz_r = ratio(M["pigz_host"], M["pigz_" + p])
        sb_r = ratio(M["sysbench_" + p], M["sysbench_host"])
        fio_r = ratio(M["fileio_" + p], M["fileio_host"])
        r = {"cpu_bound": {"spanvm_s": M["cpu_" + p], "ratio": cpu_r, "ratio_is": "native_s / spanvm_s",
                           "target": ">= 0.97", "meets_target": meets(cpu_r, ">=", 0.97)},
             "pigz": {"spanvm_s": M["pigz_" + p], "input_mib": params["pigz_mib"], "ratio": pigz_r,
                      "ratio_is": "native_s / spanvm_s", "target": ">= 0.9", "meets_target": meets(pigz_r, ">=", 0.9)},
             "sysbench_cpu": {"spanvm_eps": M["sysbench_" + p], "ratio": sb_r, "ratio_is": "spanvm_eps / native_eps",
                              "target": ">= 0.97", "meets_target": meets(sb_r, ">=", 0.97)},
             "sysbench_fileio_rndrw": {"spanvm_ops": M["fileio_" + p], "ratio": fio_r,
                                       "ratio_is": "spanvm_ops / native_ops", "target": ">= 0.5",
                                       "meets_target": meets(fio_r, ">=", 0.5)}}
        cases = [("cpu", cpu_r, 0.97), ("pigz", pigz_r, 0.9), ("sysbench", sb_r, 0.97), ("fileio", fio_r, 0.5)]
        if p == "native":
            tr = ratio(M["syscall_" + p], M["bare_trap"])
            gr = ratio(M["syscall_" + p], M["syscall_host"])
            r["syscall"] = {"spanvm_ns": M["syscall_" + p], "bare_trap_ns": M["bare_trap"],
                            "native_getppid_ns": M["syscall_host"], "vs_bare_trap": tr, "target_vs_bare_trap": "<= 1.5",
                            "meets_bare_trap_target": meets(tr, "<=", 1.5), "vs_native_getppid": gr,
                            "target_vs_native_getppid": "<= 3", "meets_getppid_target": meets(gr, "<=", 3)}
            if "syscall_native_trapped" in M:
                t = M["syscall_native_trapped"]
                r["syscall"].update({"trapped_ns": t, "trapped_vs_bare_trap": ratio(t, M["bare_trap"]),
                                     "trapped_vs_native_getppid": ratio(t, M["syscall_host"]),
                                     "trapped_is": "the same loop with SPANVM_NATIVE_PATCH=off (every call a SIGSYS)"})
            if "syscall_native_getpid" in M:
                t = M["syscall_native_getpid"]
                r["syscall"].update({"getpid_ns": t, "getpid_vs_bare_trap": ratio(t, M["bare_trap"]),
                                     "getpid_is": "the loop of getpid at a patched site: not a pass-through call "
                                                  "(the guest's pid is spanvm's), so every call leaves the guest"})
            cases += [("syscall/trap", tr, 1.5), ("syscall/getppid", gr, 3)]
        else:
            er = ratio(M["syscall_" + p], M["kvm_exit"])
            r["syscall"] = {"spanvm_ns": M["syscall_" + p], "kvm_exit_ns": M["kvm_exit"], "vs_kvm_exit": er,
                            "target": "<= 1.2", "meets_target": meets(er, "<=", 1.2)}
            cases.append(("syscall/exit", er, 1.2))
        report[p] = r
        summary.append((p, cases))
    with open(out_path, "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")

    # Plot data: one bar per platform and case, the target beside it.
    x, top = 0, 0.0
    with open(os.path.join(work, "ratios.dat"), "w") as f:
        for p, cases in summary:
            for name, r, t in cases:
                f.write('%d "%s %s" %.4f %s\n' % (x, p, name, r, t))
                top = max(top, r, t)
                x += 1
    with open(os.path.join(work, "ymax"), "w") as f:
        f.write("%.2f\n" % (top * 1.2))

    print("%-10s %s" % ("platform", "ratios (cpu, pigz, sysbench cpu, fileio: spanvm/native throughput; "
                                    "syscall: cost ratio)"))
    for p, cases in summary:
        print(p + "".join(" %s %.4f" % (name, r) for name, r, _ in cases))
    floors = "host getppid %s ns" % M["syscall_host"]
    if "bare_trap" in M:
        floors += "; bare SUD trap %s ns" % M["bare_trap"]
    if "syscall_native" in M and "syscall_native_trapped" in M:
        floors += "; native getppid under spanvm %s ns patched, %s ns trapped" % (
            M["syscall_native"], M["syscall_native_trapped"])
    if "syscall_native_getpid" in M:
        floors += "; native getpid (not pass-through) under spanvm %s ns patched" % M["syscall_native_getpid"]
    if "kvm_exit" in M:
        floors += "; KVM exit %s ns" % M["kvm_exit"]
    print("bench/process: " + floors, file=sys.stderr)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
