// Process: the guest's view of its own /proc status and stat files. The
// host's lines describe spanvm's host process (its helper threads, its
// signal masks and handlers); these are the guest's
// (syscalls/proc_status.hpp and proc_stat.hpp rewrite them).
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vmm/process/process.hpp"
#include "vmm/process/seccomp/seccomp_filter.hpp"
#include "vmm/process/syscalls/proc_stat.hpp"
#include "vmm/process/syscalls/proc_status.hpp"

namespace spanvm::process {

std::string Process::proc_view(std::string_view host, OwnProcFile file, bool thread_self) {
    const int me = static_cast<int>(::syscall(SYS_gettid));
    const std::vector<ThreadRow*> rows = threads_.live_rows();
    const ThreadRow* row = nullptr;
    for (const ThreadRow* r : rows) {
        if (thread_self ? r->host_tid == me : r->tid == pid_) row = r;
    }
    if (!row)  // the main thread has ended: the caller's row
        for (const ThreadRow* r : rows)
            if (r->host_tid == me) row = r;
    StatusFields f;
    f.threads = static_cast<int>(rows.size());
    f.shared_pending = signals_.shared_pending();
    for (int sig = 1; sig <= SignalTable::kMaxSignal; ++sig) {
        const uint64_t h = signals_.get(sig).handler;
        if (h == reinterpret_cast<uint64_t>(SIG_IGN)) f.ignored |= sig_bit(sig);
        else if (h != reinterpret_cast<uint64_t>(SIG_DFL)) f.caught |= sig_bit(sig);
    }
    if (row) {
        f.sig_pending = row->sig_pending.load();
        f.blocked = row->sigmask.load();
        f.seccomp_mode = row->seccomp_mode.load();
        for (const seccomp::Filter* c = row->seccomp_filter.load(); c; c = c->prev.get()) ++f.seccomp_filters;
    }
    return file == OwnProcFile::stat ? rewrite_stat(host, f) : rewrite_status(host, f);
}

}  // namespace spanvm::process
