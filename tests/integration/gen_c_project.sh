#!/usr/bin/env bash
# gen_c_project.sh DIR [N] [F] : writes a C project of N (default 64) source
# files plus main.c and a Makefile into DIR. `make -C DIR -jK` builds `prog`,
# which prints one line per file and a checksum (same on every run).
# F (default 1) is the number of mixing functions per file: F = 1 is the
# tiny file every test uses (cc1 runs ~30 ms); bench/spawn/hosts.sh raises it
# to ask how long a compile must be for placing it on another host to pay.
set -euo pipefail
dir=$1
n=${2:-64}
funcs=${3:-1}
[[ "$funcs" =~ ^[1-9][0-9]*$ ]] || { echo "gen_c_project.sh: functions per file must be a positive integer, not '$funcs'" >&2; exit 2; }
mkdir -p "$dir"
{
    echo '#include <stdio.h>'
    for i in $(seq 0 $((n - 1))); do echo "unsigned long f$i(unsigned long);"; done
    echo 'int main(void) {'
    echo '    unsigned long sum = 0, v;'
    for i in $(seq 0 $((n - 1))); do
        echo "    v = f$i($i); sum = sum * 31 + v; printf(\"f$i %lu\\n\", v);"
    done
    echo '    printf("checksum %lu\n", sum);'
    echo '    return 0;'
    echo '}'
} >"$dir/main.c"
for i in $(seq 0 $((n - 1))); do
    if [ "$funcs" = 1 ]; then
        cat >"$dir/f$i.c" <<EOC
/* generated file $i of $n */
static unsigned long mix$i(unsigned long x) {
    for (int k = 0; k < 100; ++k) x = x * 6364136223846793005ul + 1442695040888963407ul + $i;
    return x >> 7;
}
unsigned long f$i(unsigned long x) { return mix$i(x) % 100003ul; }
EOC
        continue
    fi
    {
        echo "/* generated file $i of $n, $funcs functions */"
        sum=""
        for j in $(seq 0 $((funcs - 1))); do
            cat <<EOC
static unsigned long mix${i}_$j(unsigned long x) {
    for (int k = 0; k < 100; ++k) {
        x = x * 6364136223846793005ul + 1442695040888963407ul + $i + $j;
        if (x % 7 == $((j % 7))) x ^= x >> 13; else x += (x << 3) ^ $j;
    }
    switch (x % 5) { case 0: x += $j; break; case 1: x *= 3; break; case 2: x ^= 0x5555; break; default: x -= 11; }
    return x >> 7;
}
EOC
            sum="$sum + mix${i}_$j(x + $j)"
        done
        echo "unsigned long f$i(unsigned long x) { return (0$sum) % 100003ul; }"
    } >"$dir/f$i.c"
done
cat >"$dir/Makefile" <<'EOM'
SRCS := $(wildcard f*.c) main.c
OBJS := $(SRCS:.c=.o)
CFLAGS ?= -O2
prog: $(OBJS)
	$(CC) -o $@ $(OBJS)
%.o: %.c
	$(CC) $(CFLAGS) -c -o $@ $<
clean:
	rm -f $(OBJS) prog
EOM
