// Emulated process syscalls, scheduling and priority: nice values
// (getpriority, setpriority), scheduling policies and parameters
// (sched_{get,set}{scheduler,param,attr}, sched_get_priority_{min,max},
// sched_rr_get_interval), I/O priorities (ioprio_{get,set}) and NUMA
// memory policies (get_mempolicy, set_mempolicy, mbind: one node).
//
// Each is the host's call for the host thread that runs the guest thread it
// names, so that nice, renice, chrt and ionice act on what really runs:
//  * 0, or the caller's own tid: the calling host thread (a thread on
//    another node: its executor here; departure, the node's thread keeps
//    its priority);
//  * a tid of another thread of this process: that thread's host thread;
//  * any other id: a process, whose first guest thread runs on the host
//    thread Process::host_thread_of_process names (guest pid == host pid
//    at the origin). A placed image's id names its deputy here
//    (departure, as above).
// Process groups and users (PRIO_PGRP, PRIO_USER, IOPRIO_WHO_PGRP,
// IOPRIO_WHO_USER) are the host's too: guest pgids and uids are host ones.
#include <linux/ioprio.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "vmm/process/process.hpp"
#include "vmm/process/syscalls/host_syscalls_detail.hpp"  // raw, P
#include "vmm/process/syscalls/process_syscalls_detail.hpp"
#include "vmm/process/threads/guest_thread.hpp"

namespace spanvm::process::detail {

namespace {

// struct sched_param and the sizes of struct sched_attr the kernel knows
// (SCHED_ATTR_SIZE_VER0 .. VER1; a larger one must end in zeros).
constexpr uint64_t kSchedParamSize = 4;
constexpr uint64_t kTimespecSize = 16;
constexpr uint64_t kSchedAttrMaxSize = 4096;  // a page, as sched_setattr reads at most

// The host thread id for guest id `who` (see the file comment); negative
// ids are passed on for the host to refuse as Linux does.
long host_id(GuestThread& t, uint64_t who_arg) {
    const int who = static_cast<int>(who_arg);
    if (who == 0 || who == t.row().tid) return 0;
    for (const LiveThread& lt : t.process().live_threads())
        if (lt.tid == who) return lt.host_tid;
    return who > 0 ? t.process().host_thread_of_process(who) : who;
}

int64_t sys_getpriority(GuestThread& t, const SyscallRequest& r) {
    const long who = static_cast<int>(r.args[0]) == PRIO_PROCESS ? host_id(t, r.args[1]) : static_cast<int>(r.args[1]);
    return raw(SYS_getpriority, static_cast<int>(r.args[0]), who);
}

int64_t sys_setpriority(GuestThread& t, const SyscallRequest& r) {
    const long who = static_cast<int>(r.args[0]) == PRIO_PROCESS ? host_id(t, r.args[1]) : static_cast<int>(r.args[1]);
    return raw(SYS_setpriority, static_cast<int>(r.args[0]), who, static_cast<int>(r.args[2]));
}

int64_t sys_sched_getscheduler(GuestThread& t, const SyscallRequest& r) {
    return raw(SYS_sched_getscheduler, host_id(t, r.args[0]));
}

int64_t sys_sched_setscheduler(GuestThread& t, const SyscallRequest& r) {
    const uint8_t* param = t.process().mem().ptr(r.args[2], kSchedParamSize);
    if (!param) return -EFAULT;
    return raw(SYS_sched_setscheduler, host_id(t, r.args[0]), static_cast<int>(r.args[1]), P(param));
}

int64_t sys_sched_getparam(GuestThread& t, const SyscallRequest& r) {
    uint8_t* param = t.process().mem().wptr(r.args[1], kSchedParamSize);
    if (!param) return -EFAULT;
    return raw(SYS_sched_getparam, host_id(t, r.args[0]), P(param));
}

int64_t sys_sched_setparam(GuestThread& t, const SyscallRequest& r) {
    const uint8_t* param = t.process().mem().ptr(r.args[1], kSchedParamSize);
    if (!param) return -EFAULT;
    return raw(SYS_sched_setparam, host_id(t, r.args[0]), P(param));
}

int64_t sys_sched_getattr(GuestThread& t, const SyscallRequest& r) {
    const uint64_t size = static_cast<uint32_t>(r.args[2]);
    if (size > kSchedAttrMaxSize) return -EINVAL;
    uint8_t* attr = t.process().mem().wptr(r.args[1], size);
    if (!attr) return -EFAULT;
    return raw(SYS_sched_getattr, host_id(t, r.args[0]), P(attr), static_cast<long>(size),
               static_cast<long>(static_cast<uint32_t>(r.args[3])));
}

int64_t sys_sched_setattr(GuestThread& t, const SyscallRequest& r) {
    // The size is the struct's first field: read it, then the whole struct.
    auto size = t.process().mem().read<uint32_t>(r.args[1]);
    if (!size) return -EFAULT;
    const uint64_t bytes = *size == 0 ? 48 : *size;  // 0: SCHED_ATTR_SIZE_VER0, as the kernel takes it
    if (bytes > kSchedAttrMaxSize) return -E2BIG;
    const uint8_t* attr = t.process().mem().ptr(r.args[1], bytes);
    if (!attr) return -EFAULT;
    return raw(SYS_sched_setattr, host_id(t, r.args[0]), P(attr), static_cast<long>(static_cast<uint32_t>(r.args[2])));
}

int64_t sys_sched_rr_get_interval(GuestThread& t, const SyscallRequest& r) {
    uint8_t* ts = t.process().mem().wptr(r.args[1], kTimespecSize);
    if (!ts) return -EFAULT;
    return raw(SYS_sched_rr_get_interval, host_id(t, r.args[0]), P(ts));
}

int64_t sys_sched_get_priority_max(GuestThread&, const SyscallRequest& r) {
    return raw(SYS_sched_get_priority_max, static_cast<int>(r.args[0]));
}

int64_t sys_sched_get_priority_min(GuestThread&, const SyscallRequest& r) {
    return raw(SYS_sched_get_priority_min, static_cast<int>(r.args[0]));
}

int64_t sys_ioprio_get(GuestThread& t, const SyscallRequest& r) {
    const int which = static_cast<int>(r.args[0]);
    const long who = which == IOPRIO_WHO_PROCESS ? host_id(t, r.args[1]) : static_cast<int>(r.args[1]);
    return raw(SYS_ioprio_get, which, who);
}

int64_t sys_ioprio_set(GuestThread& t, const SyscallRequest& r) {
    const int which = static_cast<int>(r.args[0]);
    const long who = which == IOPRIO_WHO_PROCESS ? host_id(t, r.args[1]) : static_cast<int>(r.args[1]);
    return raw(SYS_ioprio_set, which, who, static_cast<int>(r.args[2]));
}

// NUMA memory policy: where guest memory lives is spanvm's placement, so
// the guest sees one node (0) with the default policy, as on a machine
// without NUMA; policies it sets (set_mempolicy, mbind) are accepted and
// have no effect. get_mempolicy(mode, nodemask, maxnode, addr, flags):
// MPOL_F_NODE asks for a node number (0), MPOL_F_MEMS_ALLOWED for the
// allowed nodes (node 0).
constexpr uint64_t kMpolFNode = 1, kMpolFAddr = 2, kMpolFMemsAllowed = 4;

int64_t sys_get_mempolicy(GuestThread& t, const SyscallRequest& r) {
    Process& p = t.process();
    const uint64_t flags = r.args[4], maxnode = r.args[2];
    if (flags & ~(kMpolFNode | kMpolFAddr | kMpolFMemsAllowed)) return -EINVAL;
    if ((flags & kMpolFMemsAllowed) && (flags & (kMpolFNode | kMpolFAddr))) return -EINVAL;
    if ((flags & kMpolFAddr) && !p.mem().valid(r.args[3], 1)) return -EFAULT;
    if (r.args[0] && !p.mem().write(r.args[0], int32_t{0})) return -EFAULT;  // MPOL_DEFAULT, or node 0
    if (r.args[1]) {
        if (maxnode < 1) return -EINVAL;
        const uint64_t words = (maxnode + 63) / 64;
        uint8_t* mask = p.mem().wptr(r.args[1], words * 8);
        if (!mask) return -EFAULT;
        std::memset(mask, 0, words * 8);
        if (flags & kMpolFMemsAllowed) mask[0] = 1;  // node 0 (MPOL_DEFAULT's mask is empty)
    }
    return 0;
}

int64_t sys_accept_mempolicy(GuestThread&, const SyscallRequest&) { return 0; }

}  // namespace

void register_process_sched(ProcessHandlerTable& t) {
    t.add(SYS_get_mempolicy, sys_get_mempolicy);
    t.add(SYS_set_mempolicy, sys_accept_mempolicy);
    t.add(SYS_mbind, sys_accept_mempolicy);
    t.add(SYS_getpriority, sys_getpriority);
    t.add(SYS_setpriority, sys_setpriority);
    t.add(SYS_sched_getscheduler, sys_sched_getscheduler);
    t.add(SYS_sched_setscheduler, sys_sched_setscheduler);
    t.add(SYS_sched_getparam, sys_sched_getparam);
    t.add(SYS_sched_setparam, sys_sched_setparam);
    t.add(SYS_sched_getattr, sys_sched_getattr);
    t.add(SYS_sched_setattr, sys_sched_setattr);
    t.add(SYS_sched_rr_get_interval, sys_sched_rr_get_interval);
    t.add(SYS_sched_get_priority_max, sys_sched_get_priority_max);
    t.add(SYS_sched_get_priority_min, sys_sched_get_priority_min);
    t.add(SYS_ioprio_get, sys_ioprio_get);
    t.add(SYS_ioprio_set, sys_ioprio_set);
}

}  // namespace spanvm::process::detail
