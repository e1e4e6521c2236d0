# fidelity_probe.py SPANVM COMMANDS: runs each command (separated by lines "---") with
# bash -c natively and under `spanvm run --`, and prints those whose stdout or exit
# status differ. probe_commands.txt holds the commands this session tried.
import subprocess, sys
spanvm, path = sys.argv[1], sys.argv[2]
cmds = [c.strip('\n') for c in open(path).read().split('\n---\n') if c.strip()]
bad = 0
for i, c in enumerate(cmds, 1):
    def run(pre, t):
        try:
            p = subprocess.run(pre + ['bash', '-c', c], capture_output=True, text=True, timeout=t)
            return p.stdout + f"rc={p.returncode}", p.stderr
        except subprocess.TimeoutExpired:
            return "TIMEOUT", ""
    a, _ = run([], 20)
    b, eb = run([spanvm, 'run', '--'], 40)
    if a != b:
        bad += 1
        print(f"=== DIFF #{i}: {c[:200]}\n--- native:\n{a[:400]}\n--- spanvm:\n{b[:400]}\n{eb[:300]}")
print(f"{len(cmds)} commands, {bad} differ")
