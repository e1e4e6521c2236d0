#include "vmm/base/fatal_exit.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdlib>

namespace spanvm {

void exit_fatally(const std::function<void()>& last_words) {
    static std::atomic<bool> failing{false};
    // A caller re-entering from its own last words exits at once.
    thread_local bool failing_here = false;
    if (failing_here) std::_Exit(kFatalExitStatus);
    failing_here = true;
    if (failing.exchange(true)) {
        // Another thread failed first and may still be writing its line:
        // exiting here would cut it off (the flaky `failure.unreachable`,
        // empty stderr and status 70: the transport's I/O thread and the
        // starting thread failed together). The first caller always reaches
        // _Exit below, so wait for it.
        for (;;) pause();
    }
    if (last_words) last_words();
    std::_Exit(kFatalExitStatus);
}

}  // namespace spanvm
