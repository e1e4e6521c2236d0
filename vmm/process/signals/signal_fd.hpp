#pragma once
// signalfd(2) of the guest. Guest signals are spanvm's (SignalTable), not
// the host's, so a host signalfd would never see them. A guest signalfd is
// a host eventfd, which the guest polls, selects and epolls as it would the
// signalfd, and this state, shared by the fd's dups (FdTraits):
//  * its mask, changed by a signalfd4 on the fd;
//  * readiness: every signal posted to the process (Process::send_signal)
//    notifies the signalfds whose mask holds it (the eventfd's count goes
//    up); a read that finds nothing of the mask pending clears it.
// Reading (GuestThread::read_signalfd) takes signals of the mask pending
// for the reading thread, then for the process, as Linux's signalfd_read;
// blocking unless the fd is O_NONBLOCK (the eventfd's own flag, so
// SFD_NONBLOCK, fcntl and FIONBIO all count).
//
// Departures: readiness may be stale (a signal of the mask taken by a
// handler or sigwait after it was posted): poll reports readable and a
// non-blocking read then fails with EAGAIN. read(2) only: readv of a
// signalfd reads the eventfd. A signalfd inherited across fork is notified
// by both processes (spuriously, as above). ssi_status and the rusage
// fields of SIGCHLD are 0 (the guest's SIGCHLD carries pid and code).
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace spanvm::process {

class SignalFd {
public:
    // `notify_fd`: a host fd of the eventfd (a dup of the guest's), owned.
    SignalFd(int notify_fd, uint64_t mask) : notify_fd_(notify_fd), mask_(mask) {}
    ~SignalFd();
    SignalFd(const SignalFd&) = delete;
    SignalFd& operator=(const SignalFd&) = delete;

    uint64_t mask() const { return mask_.load(); }
    void set_mask(uint64_t m) { mask_.store(m); }
    int notify_fd() const { return notify_fd_; }
    // Marks the fd readable (eventfd count + 1).
    void notify() const;
    // Clears readiness: takes the eventfd's count if it has one (never
    // blocks, whatever the fd's O_NONBLOCK).
    void clear() const;

private:
    int notify_fd_;
    std::atomic<uint64_t> mask_;
};

// The signalfds of one process, for Process::send_signal to notify.
// Held weakly: a signalfd lives as long as a guest fd names it.
class SignalFdList {
public:
    void add(const std::shared_ptr<SignalFd>& s);
    // Notifies every signalfd whose mask holds `sig`; drops closed ones.
    void notify(int sig);
    bool empty() const { return !any_.load(std::memory_order_relaxed); }

private:
    std::mutex mu_;  // a leaf lock
    std::vector<std::weak_ptr<SignalFd>> fds_;
    std::atomic<bool> any_{false};
};

}  // namespace spanvm::process
