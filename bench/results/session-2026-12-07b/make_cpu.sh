#!/bin/bash
# make_cpu.sh PROJ LABEL RUNNER... : a clean `make -j2` of the generated
# project PROJ (tests/integration/gen_c_project.sh PROJ 64) under RUNNER
# (`env` for native, `SPANVM run --platform native --`); prints its wall and
# CPU seconds (user + system of make and its children). Interleave binaries
# (A B B A) and compare means: single runs swing +-5% on this host.
proj=$1 label=$2; shift 2
make -s -C "$proj" clean >/dev/null
python3 - "$label" "$@" make -s -C "$proj" -j2 <<'EOP'
import resource, subprocess, sys, time
t0 = time.monotonic(); subprocess.run(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); t1 = time.monotonic()
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"{sys.argv[1]:10s} wall {t1 - t0:.3f} cpu {r.ru_utime + r.ru_stime:.3f}")
EOP
