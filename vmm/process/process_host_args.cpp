// Process: what /proc/PID/cmdline and /proc/PID/environ of this host
// process show. The kernel reads them from the mm's argument and
// environment ranges; spanvm's own are its command line, so after each
// load they are pointed at the guest's argv and envp strings on the new
// stack (guest RAM's host mapping holds them at the same addresses), where
// ps, pgrep -f, pkill -f and the program itself read them, and a rewrite of
// that area (setproctitle) shows as on Linux. Not in a cluster (the stack
// is DSM memory, which a reader would fault in).
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <optional>
#include <string_view>

#include "vmm/process/process.hpp"
#include "vmm/process/syscalls/proc_stat.hpp"

namespace spanvm::process {

namespace {

// prctl(PR_SET_MM, PR_SET_MM_MAP): the checkpoint/restore form, which sets
// every field of the mm's layout at once and asks no CAP_SYS_RESOURCE (the
// kernel wants a capability only to change exe_fd, left at -1 here; it
// needs CONFIG_CHECKPOINT_RESTORE, as Debian's kernels have). The fields
// other than the argument and environment ranges must be given back as
// they are: the code, data and stack ones from /proc/self/stat, read once
// per process (spanvm's host process never execs, so they never change;
// a fork keeps them), and the break from brk(0) just before the call.
// Invariant: no other host thread of this process moves the break between
// those two calls (the kernel would take the old one back): only glibc's
// main arena does, which only the run's first host thread uses, and every
// exec runs on a vCPU thread with every other guest thread ended.
bool set_mm_map_args(uint64_t arg_start, uint64_t arg_end, uint64_t env_start, uint64_t env_end) {
    static const std::optional<StatMmFields> fields = [] () -> std::optional<StatMmFields> {
        char buf[2048];
        const int fd = ::open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
        if (fd < 0) return std::nullopt;
        const ssize_t n = ::read(fd, buf, sizeof buf);
        ::close(fd);
        return n > 0 ? parse_stat_mm(std::string_view(buf, static_cast<size_t>(n))) : std::nullopt;
    }();
    if (!fields) return false;
    prctl_mm_map m{};
    m.start_code = fields->start_code;
    m.end_code = fields->end_code;
    m.start_data = fields->start_data;
    m.end_data = fields->end_data;
    m.start_brk = fields->start_brk;
    m.start_stack = fields->start_stack;
    m.arg_start = arg_start;
    m.arg_end = arg_end;
    m.env_start = env_start;
    m.env_end = env_end;
    m.exe_fd = static_cast<uint32_t>(-1);
    m.brk = static_cast<uint64_t>(::syscall(SYS_brk, 0));
    return ::prctl(PR_SET_MM, PR_SET_MM_MAP, reinterpret_cast<unsigned long>(&m), sizeof m, 0) == 0;
}

}  // namespace

void Process::show_args_on_host(uint64_t arg_start, uint64_t arg_end, uint64_t env_start, uint64_t env_end) {
    // Each way refused once, refused for good: no failing calls at every
    // exec of the run's processes (forks inherit the flags).
    static std::atomic<bool> refused{false}, map_refused{false};
    // Host addresses only (the run's first load comes before the guest's
    // protections are synced, so a checked pointer would be refused): the
    // strings are in guest RAM's host mapping, where the kernel reads them.
    if (arg_end <= arg_start || env_end <= env_start || arg_start < mem_.lo() || env_end > mem_.hi()) return;
    const uint8_t* a = mem_.ptr(arg_start, 0);
    const uint8_t* e = mem_.ptr(env_start, 0);
    if (!refused.load(std::memory_order_relaxed)) {
        bool denied = false;
        auto set = [&denied](int opt, const uint8_t* p) {
            if (::prctl(PR_SET_MM, opt, reinterpret_cast<unsigned long>(p), 0, 0) == 0) return true;
            denied |= errno == EPERM;
            return false;
        };
        // Each call must leave start < end: the end first where the new range
        // lies above the old one, else the start first.
        auto range = [&](int start_opt, int end_opt, const uint8_t* lo, const uint8_t* hi) {
            if (!(set(end_opt, hi) && set(start_opt, lo))) (void)(set(start_opt, lo) && set(end_opt, hi));
        };
        range(PR_SET_MM_ARG_START, PR_SET_MM_ARG_END, a, a + (arg_end - arg_start));
        if (!denied) {
            range(PR_SET_MM_ENV_START, PR_SET_MM_ENV_END, e, e + (env_end - env_start));
            return;
        }
        refused.store(true, std::memory_order_relaxed);
    }
    // No CAP_SYS_RESOURCE (a container's default): the checkpoint/restore form.
    if (map_refused.load(std::memory_order_relaxed)) return;
    const auto host = [](const uint8_t* p) { return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p)); };
    if (!set_mm_map_args(host(a), host(a) + (arg_end - arg_start), host(e), host(e) + (env_end - env_start)))
        map_refused.store(true, std::memory_order_relaxed);
}

}  // namespace spanvm::process
