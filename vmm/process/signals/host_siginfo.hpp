#pragma once
// The guest's siginfo for a host signal that the process's forwarder (or a
// waiting thread) took: pid and uid where the siginfo carries them (kill,
// sigqueue, SIGCHLD; not SIGIO's band/fd or a POSIX timer's id, which share
// those bytes), a sigqueue's value, and a child's status and CPU times.
// Pure: no system call.
//
// Departure from Linux, on purpose: Linux's race (kernel/signal.c,
// do_signal_stop) lets a CLD_STOPPED siginfo carry si_status 0. The child's
// last thread to stop marks the group stopped, drops the siglock and only
// then reads group_exit_code for the parent's siginfo; a wait4(WUNTRACED)
// that comes in between reports the stop and zeroes group_exit_code.
// Natively it shows where the parent enters its wait ~10 us after its kill
// (3-9 of 2,000 stops, bench/results/session-2026-12-07); a spanvm wait
// comes about that late, and it showed in ~1% of a test's runs under load.
// Here si_status is then the stop signal the parent's wait reported for
// that child (`last_stop`), which is what the field means.
#include <signal.h>

#include <cstdint>

#include "vmm/process/signals/signal_frame.hpp"

namespace spanvm::process {

// `last_stop`: the last stop a child wait of this process reported,
// pack_stop(pid, signal); 0: none.
SigInfoFields guest_siginfo(int sig, const siginfo_t& si, uint64_t last_stop);

inline uint64_t pack_stop(pid_t child, int signal) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(child)) << 8) | static_cast<uint64_t>(signal & 0x7f);
}

}  // namespace spanvm::process
