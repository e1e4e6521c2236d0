#!/usr/bin/env bash
# gen_c_project.sh DIR [N] : writes a C project of N (default 64) source
# files plus main.c and a Makefile into DIR. `make -C DIR -jK` builds `prog`,
# which prints one line per file and a checksum (same on every run).
set -euo pipefail
dir=$1
n=${2:-64}
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
    cat >"$dir/f$i.c" <<EOC
/* generated file $i of $n */
static unsigned long mix$i(unsigned long x) {
    for (int k = 0; k < 100; ++k) x = x * 6364136223846793005ul + 1442695040888963407ul + $i;
    return x >> 7;
}
unsigned long f$i(unsigned long x) { return mix$i(x) % 100003ul; }
EOC
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
