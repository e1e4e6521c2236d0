#pragma once
// The one way a spanvm process ends on a fatal failure: one line, then
// _Exit(kFatalExitStatus), however many threads fail at once.
//
// Several failure paths share it: the DSM's (dsm::UffdRegion::fail_all:
// protocol violations, failed uffd ioctls, unanswered faults) and the
// cluster's (cluster::ClusterFailure: a lost node, a broken syscall
// channel, the origin's Abort). They often fire together (a node dies: the
// transport reports it while a send to it fails on another thread), and the
// user must still see one line. So the first caller in the process runs its
// `last_words` (log the line, tell the peers) and exits; any other caller
// blocks, without its own words, until the first has exited (exiting at
// once could cut the first caller's line off).
//
// _Exit, not exit: no static destructors racing with threads still running,
// and the kernel kills threads blocked in handle_userfault().
#include <functional>

namespace spanvm {

inline constexpr int kFatalExitStatus = 70;  // EX_SOFTWARE

// Thread-safe. `last_words` runs at most once per process, and must end (it
// may block other failing threads); if it calls exit_fatally itself, that
// call exits at once.
[[noreturn]] void exit_fatally(const std::function<void()>& last_words);

}  // namespace spanvm
