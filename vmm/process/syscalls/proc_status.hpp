#pragma once
// The guest's own view of /proc/self/status (and /proc/thread-self/status,
// /proc/PID/status of its own pid), as pure text work: the host's text
// with the lines that describe spanvm rather than the guest replaced.
// Linux computes them from the task (fs/proc/array.c); the host's task is
// spanvm's: its thread count includes spanvm's helper threads, its signal
// masks and dispositions are spanvm's, and seccomp is spanvm's own
// (process_syscalls_seccomp.cpp). Every other line is the host's, which is
// the guest's (memory, credentials, capabilities, cpus allowed).
#include <cstdint>
#include <string>
#include <string_view>

namespace spanvm::process {

struct StatusFields {
    int threads = 1;          // Threads:
    uint64_t sig_pending = 0;  // SigPnd: (the thread's own)
    uint64_t shared_pending = 0;  // ShdPnd:
    uint64_t blocked = 0;      // SigBlk:
    uint64_t ignored = 0;      // SigIgn:
    uint64_t caught = 0;       // SigCgt:
    int seccomp_mode = 0;      // Seccomp:
    int seccomp_filters = 0;   // Seccomp_filters:
};

// `host` with those lines replaced (each kept in place and in the kernel's
// format: a tab after the colon, masks as 16 hex digits); lines the host
// lacks stay absent.
std::string rewrite_status(std::string_view host, const StatusFields& f);

// Whether `path` (an absolute guest path, as opened) names the caller's own
// status: /proc/self/status, /proc/thread-self/status or /proc/PID/status
// with PID == `pid`. `thread_self` tells the thread's view (thread-self)
// from the process's. (/proc/PID/task/TID/status is left to the host: the
// tids of a guest's other threads are spanvm's, not the host's.)
bool is_own_status_path(std::string_view path, int pid, bool& thread_self);

// The same for any file `name` of the caller's own /proc directory
// (/proc/self/NAME, /proc/thread-self/NAME, /proc/PID/NAME).
bool is_own_proc_file(std::string_view path, std::string_view name, int pid, bool& thread_self);

}  // namespace spanvm::process
