// Emulated process syscalls: everything that concerns the process itself and
// so must be answered from the process's own tables (the origin's, in the
// distributed design), never by the host kernel on behalf of the VMM.
#include <linux/futex.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <asm/prctl.h>
#include <algorithm>
#include <atomic>
#include <climits>
#include <chrono>
#include <csignal>
#include <cstring>

#include "vmm/base/log.hpp"
#include "vmm/process/threads/guest_thread.hpp"
#include "vmm/process/process.hpp"
#include "vmm/process/syscalls/syscall_gate.hpp"
#include "vmm/process/syscalls/syscall_names.hpp"

namespace spanvm::process {

namespace {

constexpr uint64_t kCloneThreadFlags = CLONE_VM | CLONE_THREAD | CLONE_SIGHAND;

int64_t err(const Error& e) { return -(e.code ? e.code : EINVAL); }

// ---- memory ----------------------------------------------------------------

int64_t sys_mmap(Process& p, const SyscallRequest& r) {
    const uint64_t addr = r.args[0], len = r.args[1];
    const int prot = static_cast<int>(r.args[2]), flags = static_cast<int>(r.args[3]);
    const int fd = static_cast<int>(r.args[4]);
    const uint64_t off = r.args[5];
    const bool anon = flags & MAP_ANONYMOUS;
    if (len == 0) return -EINVAL;
    if (!anon && (off % layout::kPageSize)) return -EINVAL;
    FdRef file;
    std::optional<FileRef> fref;
    if (!anon) {
        file = p.fds().acquire(fd);
        if (!file) return -EBADF;
        // A writable shared file mapping would need write-back to the file;
        // spanvm copies file contents into guest RAM instead of mapping them.
        if ((flags & MAP_TYPE) != MAP_PRIVATE && (prot & PROT_WRITE)) {
            p.report_unsupported_feature("writable MAP_SHARED file mappings");
            return -ENODEV;
        }
        fref = FileRef{fd, off, {}};
    }
    std::lock_guard lk(p.aspace_mutex());
    auto m = p.aspace().map(addr, len, prot, flags, fref);
    if (!m) {
        if (m.error().code == ENOMEM) p.report_out_of_memory(len);
        return err(m.error());
    }
    p.discard(m->released);
    p.sync_host_protection(m->addr, m->addr + len);
    if (file) {
        // Copy the file's bytes; the tail past EOF stays zero (the address
        // space invariant guarantees fresh ranges read as zero).
        uint8_t* dst = p.platform().memory().host_ptr(m->addr, layout::page_align_up(len));
        uint64_t done = 0;
        while (done < len) {
            ssize_t n = ::pread(file->fd(), dst + done, len - done, static_cast<off_t>(off + done));
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) {
                int e = errno;
                auto rel = p.aspace().unmap(m->addr, len);
                if (rel) p.discard(*rel);
                p.sync_host_protection(m->addr, m->addr + len);
                return -e;
            }
            if (n == 0) break;
            done += static_cast<uint64_t>(n);
        }
    }
    return static_cast<int64_t>(m->addr);
}

int64_t sys_munmap(Process& p, const SyscallRequest& r) {
    std::lock_guard lk(p.aspace_mutex());
    auto rel = p.aspace().unmap(r.args[0], r.args[1]);
    if (!rel) return err(rel.error());
    p.discard(*rel);
    p.sync_host_protection(r.args[0], r.args[0] + r.args[1]);
    return 0;
}

int64_t sys_mprotect(Process& p, const SyscallRequest& r) {
    std::lock_guard lk(p.aspace_mutex());
    auto res = p.aspace().protect(r.args[0], r.args[1], static_cast<int>(r.args[2]));
    if (!res) return err(res.error());
    p.sync_host_protection(r.args[0], r.args[0] + r.args[1]);
    return 0;
}

int64_t sys_mremap(Process& p, const SyscallRequest& r) {
    std::lock_guard lk(p.aspace_mutex());
    auto plan = p.aspace().remap(r.args[0], r.args[1], r.args[2], static_cast<int>(r.args[3]), r.args[4]);
    if (!plan) {
        if (plan.error().code == ENOMEM) p.report_out_of_memory(r.args[2]);
        return err(plan.error());
    }
    const uint64_t old_addr = r.args[0], old_len = r.args[1], new_len = r.args[2];
    // The old range may already be released in the bookkeeping while its
    // bytes are still to be copied: allow both ranges, copy, then re-sync.
    p.host_allow(plan->new_addr, layout::page_align_up(new_len));
    if (plan->copy) {
        auto& c = *plan->copy;
        auto& mem = p.platform().memory();
        p.host_allow(c.from, layout::page_align_up(c.len));
        std::memmove(mem.host_ptr(c.to, c.len), mem.host_ptr(c.from, c.len), c.len);
    }
    p.discard(plan->released);
    p.sync_host_protection(old_addr, old_addr + layout::page_align_up(old_len));
    p.sync_host_protection(plan->new_addr, plan->new_addr + layout::page_align_up(new_len));
    return static_cast<int64_t>(plan->new_addr);
}

int64_t sys_brk(Process& p, const SyscallRequest& r) {
    std::lock_guard lk(p.aspace_mutex());
    const uint64_t before = p.aspace().brk_end();
    auto b = p.aspace().brk(r.args[0]);
    p.discard(b.released);
    if (b.brk != before)
        p.sync_host_protection(std::min(before, b.brk), std::max(before, b.brk));
    return static_cast<int64_t>(b.brk);
}

// Departure: MADV_DONTNEED on a private *file* mapping zeroes the range
// instead of re-reading the file (spanvm copies file contents at mmap time
// and keeps no file reference). glibc and the workloads spanvm targets only
// use it on anonymous memory.
int64_t sys_madvise(Process& p, const SyscallRequest& r) {
    if (static_cast<int>(r.args[2]) != MADV_DONTNEED) return 0;  // advice only
    std::lock_guard lk(p.aspace_mutex());
    auto rel = p.aspace().madvise_dontneed(r.args[0], r.args[1]);
    if (!rel) return err(rel.error());
    p.discard(*rel);
    return 0;
}

// Every mapped guest page is resident (guest RAM is host memory; a page not
// yet touched is still "in core" in the sense that touching it never waits
// for I/O). Unmapped ranges give ENOMEM as on Linux.
int64_t sys_mincore(Process& p, const SyscallRequest& r) {
    const uint64_t addr = r.args[0], len = r.args[1];
    if (addr % layout::kPageSize) return -EINVAL;
    const uint64_t pages = layout::page_align_up(len) / layout::kPageSize;
    if (len == 0) return 0;
    uint8_t* vec = p.mem().ptr(r.args[2], pages);
    if (!vec) return -EFAULT;
    {
        std::lock_guard lk(p.aspace_mutex());
        if (!p.aspace().covers(addr, layout::page_align_up(len))) return -ENOMEM;
    }
    std::memset(vec, 1, pages);
    return 0;
}

// ---- threads -----------------------------------------------------------------

int64_t sys_clone(GuestThread& t, const SyscallRequest& r) {
    const uint64_t flags = r.args[0], stack = r.args[1], ptid = r.args[2], ctid = r.args[3], tls = r.args[4];
    Process& p = t.process();
    if ((flags & kCloneThreadFlags) != kCloneThreadFlags) {
        p.report_unsupported_feature("fork/clone without CLONE_VM|CLONE_THREAD (new processes)");
        return -ENOSYS;
    }
    ThreadStart start;
    start.regs = t.regs();
    start.regs.rax = 0;
    start.regs.rip = start.regs.rcx;  // the child returns from the syscall too
    start.regs.rflags = start.regs.r11;
    if (stack) start.regs.rsp = stack;
    auto fs = t.fs_base();
    auto gs = t.gs_base();
    if (!fs || !gs) return -EAGAIN;
    start.fs_base = (flags & CLONE_SETTLS) ? tls : *fs;
    start.gs_base = *gs;
    const uint64_t clear_tid = (flags & CLONE_CHILD_CLEARTID) ? ctid : 0;
    if ((flags & CLONE_PARENT_SETTID) && !p.mem().valid(ptid, 4)) return -EFAULT;
    if ((flags & CLONE_CHILD_SETTID) && !p.mem().valid(ctid, 4)) return -EFAULT;
    // The tid words are written before the child can run: spawn_thread
    // writes them between allocating the tid and starting the host thread.
    SpawnTidWrites w{(flags & CLONE_PARENT_SETTID) ? ptid : 0, (flags & CLONE_CHILD_SETTID) ? ctid : 0};
    return p.spawn_thread(start, clear_tid, w);
}

int64_t sys_exit(GuestThread& t, const SyscallRequest& r) {
    t.request_exit(static_cast<int>(r.args[0] & 0xFF));
    return 0;
}

// ---- futex -------------------------------------------------------------------

std::optional<FutexTable::Clock::time_point> futex_deadline(Process& p, uint64_t ts_addr, bool absolute, bool realtime,
                                                           int64_t& error) {
    error = 0;
    if (!ts_addr) return std::nullopt;
    auto ts = p.mem().read<struct timespec>(ts_addr);
    if (!ts) {
        error = -EFAULT;
        return std::nullopt;
    }
    if (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000L) {
        error = -EINVAL;
        return std::nullopt;
    }
    using namespace std::chrono;
    auto d = seconds(ts->tv_sec) + nanoseconds(ts->tv_nsec);
    auto now = FutexTable::Clock::now();
    if (!absolute) return now + duration_cast<FutexTable::Clock::duration>(d);
    struct timespec cur {};
    ::clock_gettime(realtime ? CLOCK_REALTIME : CLOCK_MONOTONIC, &cur);
    auto rel = d - (seconds(cur.tv_sec) + nanoseconds(cur.tv_nsec));
    return now + duration_cast<FutexTable::Clock::duration>(rel);
}

int64_t futex_wake_op(Process& p, const SyscallRequest& r) {
    const uint64_t uaddr = r.args[0], uaddr2 = r.args[4];
    const int nr_wake = static_cast<int>(r.args[2]), nr_wake2 = static_cast<int>(r.args[3]);
    const uint32_t encoded = static_cast<uint32_t>(r.args[5]);
    uint8_t* w2 = p.mem().ptr(uaddr2, 4);
    if (!w2 || (uaddr2 & 3)) return -EFAULT;
    int op = (encoded >> 28) & 7, cmp = (encoded >> 24) & 15;
    uint32_t oparg = (encoded >> 12) & 0xFFF, cmparg = encoded & 0xFFF;
    if (encoded & (8u << 28)) oparg = 1u << (oparg & 31);
    std::atomic_ref<uint32_t> word(*reinterpret_cast<uint32_t*>(w2));
    uint32_t old = word.load(), next;
    do {
        switch (op) {
            case FUTEX_OP_SET: next = oparg; break;
            case FUTEX_OP_ADD: next = old + oparg; break;
            case FUTEX_OP_OR: next = old | oparg; break;
            case FUTEX_OP_ANDN: next = old & ~oparg; break;
            case FUTEX_OP_XOR: next = old ^ oparg; break;
            default: return -ENOSYS;
        }
    } while (!word.compare_exchange_weak(old, next));
    const int32_t o = static_cast<int32_t>(old), c = static_cast<int32_t>(cmparg);
    bool hit = false;
    switch (cmp) {
        case FUTEX_OP_CMP_EQ: hit = o == c; break;
        case FUTEX_OP_CMP_NE: hit = o != c; break;
        case FUTEX_OP_CMP_LT: hit = o < c; break;
        case FUTEX_OP_CMP_LE: hit = o <= c; break;
        case FUTEX_OP_CMP_GT: hit = o > c; break;
        case FUTEX_OP_CMP_GE: hit = o >= c; break;
        default: return -ENOSYS;
    }
    int64_t n = p.futexes().wake(uaddr, nr_wake, FUTEX_BITSET_MATCH_ANY);
    if (hit) n += p.futexes().wake(uaddr2, nr_wake2, FUTEX_BITSET_MATCH_ANY);
    return n;
}

int64_t sys_futex(GuestThread& t, const SyscallRequest& r) {
    Process& p = t.process();
    const uint64_t uaddr = r.args[0];
    const int op = static_cast<int>(r.args[1]);
    const int cmd = op & FUTEX_CMD_MASK;
    const uint32_t val = static_cast<uint32_t>(r.args[2]);
    if (uaddr & 3) return -EINVAL;
    auto reader = [&p](uint64_t a) -> std::optional<uint32_t> {
        uint8_t* w = p.mem().ptr(a, 4);
        if (!w) return std::nullopt;
        return std::atomic_ref<uint32_t>(*reinterpret_cast<uint32_t*>(w)).load();
    };
    switch (cmd) {
        case FUTEX_WAIT:
        case FUTEX_WAIT_BITSET: {
            int64_t e;
            const bool bitset = cmd == FUTEX_WAIT_BITSET;
            auto deadline = futex_deadline(p, r.args[3], bitset, op & FUTEX_CLOCK_REALTIME, e);
            if (e) return e;
            t.row().state = ThreadState::blocked;
            ThreadRow& row = t.row();
            const std::function<bool()> signalled = [&p, &row] { return p.signals().deliverable(row) != 0; };
            int64_t res = p.futexes().wait(uaddr, val, bitset ? static_cast<uint32_t>(r.args[5]) : FUTEX_BITSET_MATCH_ANY,
                                           deadline, reader, row.tid, &signalled);
            t.row().state = ThreadState::in_syscall;
            return res;
        }
        case FUTEX_WAKE:
            return p.futexes().wake(uaddr, static_cast<int>(val), FUTEX_BITSET_MATCH_ANY);
        case FUTEX_WAKE_BITSET:
            return p.futexes().wake(uaddr, static_cast<int>(val), static_cast<uint32_t>(r.args[5]));
        case FUTEX_REQUEUE:
            return p.futexes().requeue(uaddr, r.args[4], static_cast<int>(val), static_cast<int>(r.args[3]), std::nullopt,
                                       reader);
        case FUTEX_CMP_REQUEUE:
            return p.futexes().requeue(uaddr, r.args[4], static_cast<int>(val), static_cast<int>(r.args[3]),
                                       static_cast<uint32_t>(r.args[5]), reader);
        case FUTEX_WAKE_OP:
            return futex_wake_op(p, r);
        default:
            p.report_unsupported_feature(fmt::format("futex operation {}", cmd));
            return -ENOSYS;
    }
}

// ---- signals -------------------------------------------------------------------

int64_t sys_rt_sigaction(Process& p, const SyscallRequest& r) {
    if (r.args[3] != 8) return -EINVAL;
    KernelSigaction act{}, old{};
    const KernelSigaction* actp = nullptr;
    if (r.args[1]) {
        auto a = p.mem().read<KernelSigaction>(r.args[1]);
        if (!a) return -EFAULT;
        act = *a;
        actp = &act;
    }
    int64_t res = p.signals().exchange(static_cast<int>(r.args[0]), actp, r.args[2] ? &old : nullptr);
    if (res == 0 && r.args[2] && !p.mem().write(r.args[2], old)) return -EFAULT;
    return res;
}

int64_t sys_rt_sigprocmask(GuestThread& t, const SyscallRequest& r) {
    if (r.args[3] != 8) return -EINVAL;
    Process& p = t.process();
    std::atomic<uint64_t>& mask = t.row().sigmask;
    const uint64_t old = mask.load();
    if (r.args[1]) {
        auto set = p.mem().read<uint64_t>(r.args[1]);
        if (!set) return -EFAULT;
        uint64_t m = old;
        switch (r.args[0]) {
            case SIG_BLOCK: m |= *set; break;
            case SIG_UNBLOCK: m &= ~*set; break;
            case SIG_SETMASK: m = *set; break;
            default: return -EINVAL;
        }
        // Signals this unblocks are delivered on the way out of this call.
        mask = m & ~SignalTable::kUnblockable;
    }
    if (r.args[2] && !p.mem().write(r.args[2], old)) return -EFAULT;
    return 0;
}

SigInfoFields user_info(Process& p, int code) { return {code, p.pid(), static_cast<uint32_t>(::getuid())}; }

int64_t sys_sigaltstack(GuestThread& t, const SyscallRequest& r) {
    Process& p = t.process();
    AltStack& as = t.row().altstack;
    const uint64_t sp = t.regs().rsp;
    const bool on = !(as.flags & SS_DISABLE) && sp > as.sp && sp - as.sp <= as.size;
    if (r.args[1]) {
        stack_t old{};
        old.ss_sp = reinterpret_cast<void*>(as.sp);
        old.ss_size = as.size;
        old.ss_flags = on ? SS_ONSTACK : (as.flags & SS_DISABLE);
        if (!p.mem().write(r.args[1], old)) return -EFAULT;
    }
    if (r.args[0]) {
        auto ns = p.mem().read<stack_t>(r.args[0]);
        if (!ns) return -EFAULT;
        if (on) return -EPERM;
        constexpr int kSsAutodisarm = 1 << 31;  // accepted; departure: not honoured
        const int mode = ns->ss_flags & ~kSsAutodisarm;
        if (mode != 0 && mode != SS_DISABLE && mode != SS_ONSTACK) return -EINVAL;
        if (mode == SS_DISABLE) {
            as = AltStack{};
        } else {
            if (ns->ss_size < static_cast<size_t>(MINSIGSTKSZ)) return -ENOMEM;
            as = AltStack{reinterpret_cast<uint64_t>(ns->ss_sp), ns->ss_size, 0};
        }
    }
    return 0;
}

// timeval <-> IntervalTimer::Duration (microseconds).
IntervalTimer::Duration from_timeval(const struct timeval& tv) {
    return std::chrono::seconds(tv.tv_sec) + std::chrono::microseconds(tv.tv_usec);
}
struct timeval to_timeval(IntervalTimer::Duration d) {
    struct timeval tv {};
    tv.tv_sec = d.count() / 1000000;
    tv.tv_usec = d.count() % 1000000;
    return tv;
}

// Only ITIMER_REAL is emulated; ITIMER_VIRTUAL/PROF would need per-vCPU
// CPU-time accounting (departure: EINVAL, logged once).
int64_t sys_setitimer(Process& p, const SyscallRequest& r) {
    if (static_cast<int>(r.args[0]) != ITIMER_REAL) {
        p.report_unsupported_feature("setitimer(ITIMER_VIRTUAL/ITIMER_PROF)");
        return -EINVAL;
    }
    IntervalTimer::Value nv{};
    if (r.args[1]) {
        auto v = p.mem().read<struct itimerval>(r.args[1]);
        if (!v) return -EFAULT;
        for (const auto& tv : {v->it_value, v->it_interval})
            if (tv.tv_sec < 0 || tv.tv_usec < 0 || tv.tv_usec >= 1000000) return -EINVAL;
        nv = {from_timeval(v->it_value), from_timeval(v->it_interval)};
    }
    auto old = r.args[1] ? p.itimer().set(nv) : p.itimer().get();
    if (r.args[2]) {
        struct itimerval ov {};
        ov.it_value = to_timeval(old.value);
        ov.it_interval = to_timeval(old.interval);
        if (!p.mem().write(r.args[2], ov)) return -EFAULT;
    }
    return 0;
}

int64_t sys_getitimer(Process& p, const SyscallRequest& r) {
    if (static_cast<int>(r.args[0]) != ITIMER_REAL) {
        p.report_unsupported_feature("getitimer(ITIMER_VIRTUAL/ITIMER_PROF)");
        return -EINVAL;
    }
    auto v = p.itimer().get();
    struct itimerval ov {};
    ov.it_value = to_timeval(v.value);
    ov.it_interval = to_timeval(v.interval);
    return p.mem().write(r.args[1], ov) ? 0 : -EFAULT;
}

// alarm(2): seconds left on the previous alarm, rounded to nearest (never 0
// for an armed one), as Linux does.
int64_t sys_alarm(Process& p, const SyscallRequest& r) {
    const auto secs = std::chrono::seconds(static_cast<unsigned>(r.args[0]));
    auto old = p.itimer().set({std::chrono::duration_cast<IntervalTimer::Duration>(secs), {}});
    if (old.value.count() == 0) return 0;
    const int64_t left = (old.value.count() + 500000) / 1000000;
    return left ? left : 1;
}

// ---- identity, limits, scheduling ---------------------------------------------

int64_t sys_prlimit(Process& p, const SyscallRequest& r) {
    if (r.args[0] != 0 && static_cast<pid_t>(r.args[0]) != p.pid()) return -ESRCH;
    const int res = static_cast<int>(r.args[1]);
    struct rlimit cur {};
    switch (res) {
        case RLIMIT_STACK: cur = {layout::kDefaultStackSize, RLIM_INFINITY}; break;
        case RLIMIT_NOFILE: cur = {static_cast<rlim_t>(p.fds().limit()), static_cast<rlim_t>(FdTable::kMaxLimit)}; break;
        case RLIMIT_AS:
        case RLIMIT_DATA: cur = {p.config().mem_size, p.config().mem_size}; break;
        default:
            if (::getrlimit(res, &cur) != 0) return -errno;
    }
    if (r.args[3] && !p.mem().write(r.args[3], cur)) return -EFAULT;
    if (r.args[2]) {
        auto nl = p.mem().read<struct rlimit>(r.args[2]);
        if (!nl) return -EFAULT;
        if (nl->rlim_cur > nl->rlim_max) return -EINVAL;
        if (res == RLIMIT_NOFILE) p.fds().set_limit(static_cast<int>(std::min<rlim_t>(nl->rlim_cur, FdTable::kMaxLimit)));
        // Other limits are recorded nowhere: the guest's memory and stack
        // are bounded by --mem, not by rlimits.
    }
    return 0;
}

int64_t sys_sched_getaffinity(Process& p, const SyscallRequest& r) {
    const uint64_t len = r.args[1];
    const unsigned n = p.config().vcpus;
    const uint64_t bytes = ((n + 63) / 64) * 8;
    if (len < bytes || (len & 7)) return -EINVAL;
    uint8_t* out = p.mem().ptr(r.args[2], bytes);
    if (!out) return -EFAULT;
    std::memset(out, 0, bytes);
    for (unsigned i = 0; i < n; ++i) out[i / 8] |= static_cast<uint8_t>(1u << (i % 8));
    return static_cast<int64_t>(bytes);
}

int64_t sys_arch_prctl(GuestThread& t, const SyscallRequest& r) {
    Process& p = t.process();
    switch (r.args[0]) {
        case ARCH_SET_FS: return t.set_fs_base(r.args[1]) ? 0 : -EINVAL;
        case ARCH_SET_GS: return t.set_gs_base(r.args[1]) ? 0 : -EINVAL;
        case ARCH_GET_FS:
        case ARCH_GET_GS: {
            auto v = r.args[0] == ARCH_GET_FS ? t.fs_base() : t.gs_base();
            if (!v) return -EINVAL;
            return p.mem().write(r.args[1], *v) ? 0 : -EFAULT;
        }
        default: return -EINVAL;
    }
}

// NULL-terminated array of guest string pointers (argv/envp of execve).
Result<std::vector<std::string>> read_string_array(Process& p, uint64_t addr) {
    std::vector<std::string> out;
    if (!addr) return out;
    constexpr size_t kMaxStrings = 1u << 17, kMaxString = 128u << 10;
    for (size_t i = 0; i < kMaxStrings; ++i) {
        auto ptr = p.mem().read<uint64_t>(addr + i * 8);
        if (!ptr) return make_error(EFAULT, "bad argv/envp array");
        if (*ptr == 0) return out;
        auto str = p.mem().cstring(*ptr, kMaxString);
        if (!str) return str.error();
        out.emplace_back(*str);
    }
    return make_error(E2BIG, "argv/envp too long");
}

int64_t sys_execve(GuestThread& t, const SyscallRequest& r) {
    Process& p = t.process();
    auto path = p.mem().cstring(r.args[0], PATH_MAX);
    if (!path) return err(path.error());
    auto argv = read_string_array(p, r.args[1]);
    if (!argv) return err(argv.error());
    auto envp = read_string_array(p, r.args[2]);
    if (!envp) return err(envp.error());
    ProcessConfig image;
    image.program = std::string(*path);
    image.argv = std::move(*argv);
    image.envp = std::move(*envp);
    return p.exec(t, std::move(image));
}

}  // namespace

int64_t process_syscall(GuestThread& t, const SyscallRequest& r, bool& handled) {
    Process& p = t.process();
    handled = true;
    switch (r.nr) {
        case SYS_mmap: return sys_mmap(p, r);
        case SYS_munmap: return sys_munmap(p, r);
        case SYS_mprotect: return sys_mprotect(p, r);
        case SYS_mremap: return sys_mremap(p, r);
        case SYS_brk: return sys_brk(p, r);
        case SYS_madvise: return sys_madvise(p, r);
        case SYS_mincore: return sys_mincore(p, r);
        case SYS_msync: case SYS_mlock: case SYS_munlock: case SYS_mlockall: case SYS_munlockall:
            return 0;
        case SYS_clone: return sys_clone(t, r);
        case SYS_clone3:  // glibc falls back to clone(2) on ENOSYS
        case SYS_rseq:    // glibc runs without rseq on ENOSYS
            return -ENOSYS;
        case SYS_execve: return sys_execve(t, r);
        case SYS_fork: case SYS_vfork: case SYS_execveat:
            p.report_unsupported_feature(fmt::format("{} (spanvm runs a single process)", syscall_name(r.nr)));
            return -ENOSYS;
        case SYS_exit: return sys_exit(t, r);
        case SYS_exit_group:
            t.row().state = ThreadState::exited;
            p.exit_process(static_cast<int>(r.args[0] & 0xFF));
        case SYS_set_tid_address:
            t.row().clear_child_tid = r.args[0];
            return t.row().tid;
        case SYS_set_robust_list:
            if (r.args[1] != 24) return -EINVAL;
            t.row().robust_list = r.args[0];
            t.row().robust_list_len = r.args[1];
            return 0;
        case SYS_get_robust_list: {
            if (r.args[0] != 0 && static_cast<int>(r.args[0]) != t.row().tid) return -ESRCH;
            if (!p.mem().write(r.args[1], t.row().robust_list) || !p.mem().write(r.args[2], t.row().robust_list_len))
                return -EFAULT;
            return 0;
        }
        case SYS_futex: return sys_futex(t, r);
        case SYS_rt_sigaction: return sys_rt_sigaction(p, r);
        case SYS_rt_sigprocmask: return sys_rt_sigprocmask(t, r);
        case SYS_sigaltstack: return sys_sigaltstack(t, r);
        case SYS_rt_sigreturn: return t.sigreturn();
        case SYS_rt_sigpending: {
            if (r.args[1] != 8) return -EINVAL;
            const uint64_t pend = p.signals().pending(t.row()) & t.row().sigmask.load();
            return p.mem().write(r.args[0], pend) ? 0 : -EFAULT;
        }
        case SYS_pause: return t.wait_for_signal(std::nullopt);
        case SYS_rt_sigsuspend: {
            if (r.args[1] != 8) return -EINVAL;
            auto m = p.mem().read<uint64_t>(r.args[0]);
            if (!m) return -EFAULT;
            return t.wait_for_signal(*m);
        }
        case SYS_kill: {
            // The guest is the only process: pid, 0 (its group) and -1 (all
            // it may signal) all mean itself.
            const pid_t pid = static_cast<pid_t>(r.args[0]);
            if (pid != p.pid() && pid != 0 && pid != -1 && pid != -p.pid()) return -ESRCH;
            return p.send_signal(&t, static_cast<int>(r.args[1]), 0, user_info(p, SI_USER));
        }
        case SYS_tgkill:
            if (static_cast<pid_t>(r.args[0]) != p.pid()) return static_cast<int>(r.args[0]) <= 0 ? -EINVAL : -ESRCH;
            if (static_cast<int>(r.args[1]) <= 0) return -EINVAL;
            return p.send_signal(&t, static_cast<int>(r.args[2]), static_cast<int>(r.args[1]), user_info(p, SI_TKILL));
        case SYS_tkill:
            if (static_cast<int>(r.args[0]) <= 0) return -EINVAL;
            return p.send_signal(&t, static_cast<int>(r.args[1]), static_cast<int>(r.args[0]), user_info(p, SI_TKILL));
        case SYS_alarm: return sys_alarm(p, r);
        case SYS_setitimer: return sys_setitimer(p, r);
        case SYS_getitimer: return sys_getitimer(p, r);
        case SYS_getpid: return p.pid();
        case SYS_gettid: return t.row().tid;
        case SYS_getppid: return ::getppid();
        case SYS_getpgrp: return ::getpgrp();
        case SYS_getsid: return ::getsid(0);
        case SYS_getpgid: return ::getpgid(0);
        case SYS_setpgid: {
            // The guest process is the VMM process: only "self" is valid.
            const pid_t pid = static_cast<pid_t>(r.args[0]), pgid = static_cast<pid_t>(r.args[1]);
            if (pid != 0 && pid != p.pid()) return -ESRCH;
            if (pgid != 0 && pgid != p.pid() && pgid != ::getpgrp()) return -EPERM;
            return ::setpgid(0, pgid == p.pid() ? 0 : pgid) == 0 ? 0 : -errno;
        }
        case SYS_setsid: return ::setsid() >= 0 ? p.pid() : -errno;
        case SYS_wait4: case SYS_waitid: return -ECHILD;
        case SYS_prlimit64: return sys_prlimit(p, r);
        case SYS_getrlimit: return sys_prlimit(p, SyscallRequest{SYS_prlimit64, {0, r.args[0], 0, r.args[1], 0, 0}});
        case SYS_setrlimit: return sys_prlimit(p, SyscallRequest{SYS_prlimit64, {0, r.args[0], r.args[1], 0, 0, 0}});
        case SYS_uname: {
            auto* u = p.mem().ptr(r.args[0], sizeof(struct utsname));
            if (!u) return -EFAULT;
            return ::uname(reinterpret_cast<struct utsname*>(u)) == 0 ? 0 : -errno;
        }
        case SYS_sched_getaffinity: return sys_sched_getaffinity(p, r);
        case SYS_sched_setaffinity: return 0;  // placement is spanvm's, not the guest's
        case SYS_sched_yield: ::sched_yield(); return 0;
        case SYS_getcpu: {
            const uint32_t cpu = t.row().vcpu_id % std::max(1u, p.config().vcpus), node = 0;
            if (r.args[0] && !p.mem().write(r.args[0], cpu)) return -EFAULT;
            if (r.args[1] && !p.mem().write(r.args[1], node)) return -EFAULT;
            return 0;
        }
        case SYS_arch_prctl: return sys_arch_prctl(t, r);
        case SYS_personality: return 0;
        case SYS_prctl:
            // PR_SET_NAME / PR_GET_NAME and friends: accepted, no effect.
            return r.args[0] == PR_GET_NAME ? (p.mem().write(r.args[1], std::array<char, 16>{'g', 'u', 'e', 's', 't'}) ? 0 : -EFAULT) : 0;
        default:
            handled = false;
            return -ENOSYS;
    }
}

}  // namespace spanvm::process
