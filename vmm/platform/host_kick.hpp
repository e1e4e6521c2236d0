#pragma once
// Host system calls that a kick cannot slip past.
//
// A sender posts a guest signal and then kicks the target's host thread
// (Platform::kick_signal, no SA_RESTART). In guest code the kick makes the
// vCPU leave the guest; in a blocking host call it ends the call with
// EINTR. Between the two lies VMM code: a kick that lands there, after the
// thread last tested for deliverable signals and before the kernel takes
// its blocking call, runs its handler in VMM code and is gone, and the call
// then sleeps with a deliverable signal (a read, wait4 or futex wait that
// nothing else ends never returns). The poll family closes that window with
// a signal mask the host call unblocks atomically (ppoll's sigmask); calls
// without a mask argument use this instead, as glibc's and musl's
// cancellation points do:
//
//   uint32_t seen = host_kicks();   // 1. before testing for a signal
//   if (signal deliverable) -> EINTR;  // 2.
//   cancellable_syscall(seen, nr, ...)  // 3.
//
// The call's code compares the thread's kick count with `seen` and then
// executes `syscall`; a kick handled anywhere from step 1 on either changed
// the count (the comparison sees it) or interrupted the call's code before
// its `syscall` instruction completed (the handler moves the interrupted
// RIP to the cancel exit) or interrupted the call itself (EINTR). In the
// first two cases the call was not made and kNotMade returns.
//
// Pure mechanism, no policy: what counts as a deliverable signal and which
// calls may block is the process layer's.
#include <cstdint>

namespace spanvm::platform {

// Linux's ERESTARTNOINTR (include/linux/errno.h): the kernel's own "the call
// did not happen, make it again", which it never returns to user space, so
// it cannot be mistaken for a host call's result. Negated, as results are.
inline constexpr long kNotMade = -513;

// Kicks that reached this host thread in VMM code so far (wraps).
uint32_t host_kicks();

// The host call `nr` with up to six arguments, made only if no kick reached
// this thread since host_kicks() returned `seen`: its result (-errno on
// failure), or kNotMade when it was not made.
long cancellable_syscall(uint32_t seen, long nr, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0,
                         long f = 0);

// For the platforms' kick handlers, when the kick reached VMM code (not the
// guest): counts it, and if it interrupted cancellable_syscall before its
// `syscall` instruction completed, moves `ucontext`'s RIP to the cancel
// exit. Async-signal-safe.
void on_host_kick(void* ucontext);

}  // namespace spanvm::platform
