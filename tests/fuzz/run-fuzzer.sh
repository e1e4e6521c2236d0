#!/usr/bin/env bash
# run-fuzzer.sh SOURCE OUTDIR SECONDS
# Builds one libFuzzer target with clang (ASan + UBSan) from SOURCE, whose
# first line names the project sources it needs:
#   // fuzz-sources: vmm/process/loader/elf_file.cpp ...
# and, optionally on its second line, extra libraries to link:
#   // fuzz-libs: -lcrypto
# and runs it for SECONDS. Any crash, leak or sanitizer report fails.
set -euo pipefail
src=$1 out=$2 secs=$3
root=$(cd "$(dirname "$0")/../.." && pwd)
name=$(basename "$src" .cpp)
deps=$(head -1 "$src" | sed -n 's|^// fuzz-sources:||p')
libs=$(sed -n '2s|^// fuzz-libs:||p' "$src")
[ -n "$deps" ] || { echo "run-fuzzer: $src: first line must be '// fuzz-sources: ...'" >&2; exit 1; }
mkdir -p "$out/$name.corpus"
bin="$out/$name"
srcs=()
for d in $deps; do srcs+=("$root/$d"); done
clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$root" "$src" "${srcs[@]}" -lfmt -ltomlplusplus $libs -o "$bin"
# Seed corpus: any files in tests/fuzz/corpus/<name>/ plus a few real ELFs for the ELF parser.
seeds=()
[ -d "$root/tests/fuzz/corpus/$name" ] && seeds+=("$root/tests/fuzz/corpus/$name")
if [ "$name" = fuzz_elf ]; then
    mkdir -p "$out/$name.seeds"
    cp -f /bin/true "$out/$name.seeds/true" 2>/dev/null || true
    cp -f /lib64/ld-linux-x86-64.so.2 "$out/$name.seeds/ld.so" 2>/dev/null || true
    seeds+=("$out/$name.seeds")
fi
cd "$out"
"$bin" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    "$out/$name.corpus" "${seeds[@]}" 2>"$out/$name.log" || { tail -40 "$out/$name.log" >&2; exit 1; }
grep -E 'stat::number_of_executed_units|Done' "$out/$name.log" | tail -2
