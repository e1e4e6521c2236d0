// Emulated process syscalls: everything that concerns the process itself and
// so must be answered from the process's own tables (the origin's, in the
// distributed design), never by the host kernel on behalf of the VMM.
//
// Dispatch is by table (syscall_table.hpp), as for host_syscalls; the
// handlers live in one file per topic (process_syscalls_{memory,threads,
// signals,misc,sched,children,seccomp,timers}.cpp). A handler may itself return -ENOSYS (clone3, rseq,
// fork, ...): the call is then handled, i.e. answered -ENOSYS without trying
// the host table or reporting it unsupported.
#include "vmm/process/syscalls/process_syscalls_detail.hpp"

namespace spanvm::process {

namespace {

const detail::ProcessHandlerTable& handlers() {
    static const detail::ProcessHandlerTable table = [] {
        detail::ProcessHandlerTable t;
        detail::register_process_memory(t);
        detail::register_process_threads(t);
        detail::register_process_signals(t);
        detail::register_process_misc(t);
        detail::register_process_sched(t);
        detail::register_process_children(t);
        detail::register_process_seccomp(t);
        detail::register_process_timers(t);
        return t;
    }();
    return table;
}

}  // namespace

int64_t process_syscall(GuestThread& t, const SyscallRequest& r, bool& handled) {
    detail::ProcessHandler h = handlers().find(r.nr);
    handled = h != nullptr;
    return h != nullptr ? h(t, r) : -ENOSYS;
}

}  // namespace spanvm::process
