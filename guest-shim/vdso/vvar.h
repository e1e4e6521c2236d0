/* The vvar record: time data the VMM publishes for the guest vDSO.
 *
 * Shared by the guest vDSO (C, guest-shim/vdso/vdso.c) and the VMM (C++,
 * vmm/time/vdso_time.hpp), so that the conversion and the seqlock reader
 * the unit tests exercise are the very code the guest runs.
 *
 * Layout: the record sits at offset 0 of the page immediately below the vDSO
 * image (the vDSO finds it PC-relatively through the linker-script symbol
 * spanvm_vvar_page). Guest-visible ABI between spanvm and its own vDSO only.
 *
 * Time model (all clocks derive from one TSC anchor):
 *   mono(tsc) = clock[MONO].base_ns + ((tsc - tsc_base) * clock[MONO].mult >> shift)
 *   raw(tsc)  = same with clock[RAW]           (tracks host CLOCK_MONOTONIC_RAW)
 *   realtime  = mono + real_offset_ns          (tracks host CLOCK_REALTIME)
 *   boottime  = mono + boot_offset_ns          (tracks host CLOCK_BOOTTIME)
 * The product is taken in 128 bits, so no delta can overflow it.
 *
 * Seqlock protocol. Writer (VMM, one thread): seq = odd (store), full fence,
 * read the TSC (this reading becomes tsc_base), write the fields, release
 * fence, seq = even. Reader (guest): load seq with acquire; if odd, pause and
 * retry; lfence; rdtsc; lfence; read the fields; acquire fence; reload seq and
 * retry if it changed. The fences around rdtsc make "reader saw the old seq"
 * imply "reader's TSC < writer's tsc_base" and "reader saw the new record"
 * imply "reader's TSC >= tsc_base", which together with new base = old
 * extrapolation at tsc_base keeps every clock monotonic across updates.
 * A reader spins (with pause) while the writer holds seq odd; the writer's
 * odd window is a handful of stores and one rdtsc. */
#ifndef SPANVM_GUEST_SHIM_VDSO_VVAR_H
#define SPANVM_GUEST_SHIM_VDSO_VVAR_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SPANVM_VVAR_MAGIC 0x5641564e41505355ull /* "USPANVAV" little-endian */
#define SPANVM_VVAR_CLOCK_MONO 0
#define SPANVM_VVAR_CLOCK_RAW 1
#define SPANVM_VVAR_NCLOCKS 2

__extension__ typedef unsigned __int128 spanvm_u128;

struct spanvm_vvar_clock {
    uint64_t base_ns; /* clock value at tsc_base */
    uint64_t mult;    /* ns per TSC cycle, times 2^shift */
};

struct spanvm_vvar {
    uint32_t seq;     /* odd while the VMM writes */
    uint32_t shift;
    uint64_t magic;   /* SPANVM_VVAR_MAGIC once the VMM has published a record; else readers fall back */
    uint64_t tsc_base;
    struct spanvm_vvar_clock clock[SPANVM_VVAR_NCLOCKS];
    int64_t real_offset_ns;
    int64_t boot_offset_ns;
};

/* ns elapsed over `delta` cycles. */
static inline uint64_t spanvm_vvar_scale(uint64_t delta, uint64_t mult, uint32_t shift) {
    return (uint64_t)(((spanvm_u128)delta * mult) >> shift);
}

/* Value of clock `c` at `tsc`. A TSC below tsc_base (which the seqlock rules
 * out for a consistent read) is clamped to tsc_base so the result never
 * precedes base_ns. */
static inline uint64_t spanvm_vvar_clock_at(const struct spanvm_vvar_clock* c, uint64_t tsc_base, uint32_t shift,
                                            uint64_t tsc) {
    uint64_t delta = tsc > tsc_base ? tsc - tsc_base : 0;
    return c->base_ns + spanvm_vvar_scale(delta, c->mult, shift);
}

enum spanvm_vvar_kind { SPANVM_VVAR_MONO, SPANVM_VVAR_RAW, SPANVM_VVAR_REAL, SPANVM_VVAR_BOOT };

typedef uint64_t (*spanvm_vvar_tsc_fn)(void* ctx);

/* Seqlock reader. Returns 0 and the clock's ns in *out, or -1 if no record has
 * been published (the caller falls back to the syscall). `read_tsc` must be
 * ordered like `lfence; rdtsc; lfence` (the guest inlines exactly that; the
 * unit tests pass a fake that can also play a concurrent writer). `retries`,
 * if non-null, receives how many times the read was retried. */
static inline int spanvm_vvar_read(const struct spanvm_vvar* v, enum spanvm_vvar_kind kind, spanvm_vvar_tsc_fn read_tsc,
                                   void* ctx, uint64_t* out, unsigned* retries) {
    unsigned tries = 0;
    for (;;) {
        uint32_t seq = __atomic_load_n(&v->seq, __ATOMIC_ACQUIRE);
        if (seq & 1) {
            ++tries;
#if defined(__x86_64__)
            __builtin_ia32_pause();
#endif
            continue;
        }
        if (__atomic_load_n(&v->magic, __ATOMIC_RELAXED) != SPANVM_VVAR_MAGIC) return -1;
        uint64_t tsc = read_tsc(ctx);
        uint32_t shift = __atomic_load_n(&v->shift, __ATOMIC_RELAXED);
        uint64_t tsc_base = __atomic_load_n(&v->tsc_base, __ATOMIC_RELAXED);
        int clk = kind == SPANVM_VVAR_RAW ? SPANVM_VVAR_CLOCK_RAW : SPANVM_VVAR_CLOCK_MONO;
        struct spanvm_vvar_clock c;
        c.base_ns = __atomic_load_n(&v->clock[clk].base_ns, __ATOMIC_RELAXED);
        c.mult = __atomic_load_n(&v->clock[clk].mult, __ATOMIC_RELAXED);
        int64_t off = 0;
        if (kind == SPANVM_VVAR_REAL) off = __atomic_load_n(&v->real_offset_ns, __ATOMIC_RELAXED);
        if (kind == SPANVM_VVAR_BOOT) off = __atomic_load_n(&v->boot_offset_ns, __ATOMIC_RELAXED);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&v->seq, __ATOMIC_RELAXED) != seq) {
            ++tries;
            continue;
        }
        *out = spanvm_vvar_clock_at(&c, tsc_base, shift, tsc) + (uint64_t)off;
        if (retries) *retries = tries;
        return 0;
    }
}

#ifdef __cplusplus
}
#endif

#endif
