#pragma once
// The guest's view of its own /proc/self/stat, and the fields of the host's
// that prctl(PR_SET_MM, PR_SET_MM_MAP) must be given back unchanged: pure
// text work (fs/proc/array.c do_task_stat writes the line; proc(5) numbers
// its fields from 1, pid first, comm second in parentheses).
//
// Fields that describe spanvm's host process rather than the guest, and are
// replaced as in /proc/self/status (proc_status.hpp): 20 num_threads (the
// host's counts spanvm's helper threads) and 31-34 signal, blocked,
// sigignore, sigcatch (decimal bitmaps of signals 1-31, as Linux masks them
// with 0x7fffffff; signal is the thread's own pending set). Every other
// field is the host's, which is the guest's (pids, times, memory), or
// spanvm's own addresses (startcode, endcode, startstack, kstkesp, kstkeip:
// a departure).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "vmm/process/syscalls/proc_status.hpp"

namespace spanvm::process {

// `host` (one line, as the kernel writes it) with fields 20 and 31-34 set
// from `f` (threads, sig_pending, blocked, ignored, caught); a line with
// fewer than 34 fields comes back unchanged.
std::string rewrite_stat(std::string_view host, const StatusFields& f);

// Whether `path` names the caller's own stat: /proc/self/stat,
// /proc/thread-self/stat or /proc/PID/stat with PID == `pid`.
bool is_own_stat_path(std::string_view path, int pid, bool& thread_self);

// The host mm fields PR_SET_MM_MAP sets, as the kernel reports them in
// /proc/self/stat: 26 startcode, 27 endcode, 28 startstack, 45 start_data,
// 46 end_data, 47 start_brk (the break itself is not there: brk(0)).
struct StatMmFields {
    uint64_t start_code = 0, end_code = 0, start_stack = 0;
    uint64_t start_data = 0, end_data = 0, start_brk = 0;
};
std::optional<StatMmFields> parse_stat_mm(std::string_view stat);

}  // namespace spanvm::process
