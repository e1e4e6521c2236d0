#include "vmm/process/signals/signal_fd.hpp"

#include <poll.h>
#include <unistd.h>

#include <algorithm>

namespace spanvm::process {

SignalFd::~SignalFd() {
    if (notify_fd_ >= 0) ::close(notify_fd_);
}

void SignalFd::notify() const {
    const uint64_t one = 1;
    // A full count (EAGAIN, or a blocking eventfd at its maximum) is as
    // readable as it gets: nothing to do. Never reached in practice.
    pollfd p{notify_fd_, POLLOUT, 0};
    if (::poll(&p, 1, 0) == 1 && (p.revents & POLLOUT)) (void)!::write(notify_fd_, &one, sizeof one);
}

void SignalFd::clear() const {
    uint64_t count = 0;
    pollfd p{notify_fd_, POLLIN, 0};
    if (::poll(&p, 1, 0) == 1 && (p.revents & POLLIN)) (void)!::read(notify_fd_, &count, sizeof count);
}

void SignalFdList::add(const std::shared_ptr<SignalFd>& s) {
    std::lock_guard lk(mu_);
    fds_.push_back(s);
    any_.store(true);
}

void SignalFdList::notify(int sig) {
    const uint64_t bit = uint64_t{1} << (sig - 1);
    std::lock_guard lk(mu_);
    std::erase_if(fds_, [](const std::weak_ptr<SignalFd>& w) { return w.expired(); });
    for (const auto& w : fds_)
        if (auto s = w.lock(); s && (s->mask() & bit)) s->notify();
    any_.store(!fds_.empty());
}

}  // namespace spanvm::process
