#include "vmm/base/fatal_exit.hpp"

#include <atomic>
#include <cstdlib>

namespace spanvm {

void exit_fatally(const std::function<void()>& last_words) {
    static std::atomic<bool> failing{false};
    if (!failing.exchange(true) && last_words) last_words();
    std::_Exit(kFatalExitStatus);
}

}  // namespace spanvm
