#pragma once
// This process's pid without a system call.
//
// glibc stopped caching getpid() in 2.25, and spanvm asks often: on every
// guest open or stat of a path (is it the guest's own /proc/PID/...?) and
// for every syscall-site patch, ~140 getpid(2) calls per process of a
// compiler run, each through Syscall User Dispatch's check on the native
// platform. The cached value is cleared in a fork's child by a
// pthread_atfork handler: every process spanvm creates comes from glibc's
// fork() (posix_spawn's children exec before they could ask). Where the
// handler cannot be registered, every call asks the kernel.
#include <sys/types.h>

namespace spanvm {

pid_t self_pid();

}  // namespace spanvm
