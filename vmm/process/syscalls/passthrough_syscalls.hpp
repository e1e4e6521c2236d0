#pragma once
// Pass-through syscalls: the calls a platform may answer without leaving
// the guest (platform::Vcpu::set_passthrough_syscalls; native: a patched
// site's fast path, which makes the host call itself and switches no FS).
//
// A call is pass-through only if all of these hold, checked against its
// handler in this folder:
//  * its handler is exactly the host call made by the calling host thread
//    with the guest's integer arguments (so the host kernel's answer for
//    that thread is what the slow path returns too), and reads or writes
//    none of spanvm's tables (no virtual pid/tid, no guest memory);
//  * it takes no pointer and cannot block, fail with EINTR or be restarted
//    (a kick that lands during it changes nothing);
//  * the handler runs in this host process: the thread is at the origin.
//    A thread on another node forwards its calls (RemoteVcpu ignores the
//    set) and a cluster node runs none itself (node_runner sets none).
// The set:
//   getppid, getpgrp   ::getppid(), ::getpgrp() (process_syscalls_children.cpp)
//   getuid, geteuid,   int_call<SYS_...> (host_syscalls_misc.cpp); the
//   getgid, getegid    credentials are the host thread's (setuid and
//                      friends are host calls of the same thread too)
//   sched_yield        ::sched_yield(), result 0 (process_syscalls_misc.cpp)
// Not pass-through, among others: getpid and gettid (spanvm's virtual
// pid/tid), umask (changes state spanvm's own file creation uses),
// getresuid (pointers), getcpu (vCPU id). Signal delivery and migration
// are unaffected: both come with a kick, which a pass-through call honours
// as any exit does (the call counts in the thread's syscall total).
#include <array>
#include <cstdint>

namespace spanvm::process {

inline constexpr uint64_t kPassthroughNrLimit = 128;  // bits of the mask
inline constexpr std::array<uint64_t, 7> kPassthroughSyscalls = {
    24,   // sched_yield
    102,  // getuid
    104,  // getgid
    107,  // geteuid
    108,  // getegid
    110,  // getppid
    111,  // getpgrp
};

// Whether `nr` is in kPassthroughSyscalls.
bool is_passthrough_syscall(uint64_t nr);

// The mask for a thread (bit nr set: pass-through): the whole set for a
// thread at the origin, none for one whose calls are forwarded.
std::array<uint64_t, 2> passthrough_mask(bool runs_at_origin);

}  // namespace spanvm::process
