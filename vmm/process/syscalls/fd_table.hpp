#pragma once
// FdTable: the guest's file-descriptor table. Guest fd numbers map to host
// fds the table owns, so the guest can never name (read, write, close) one of
// the VMM's own fds (KVM, sockets, logs): an unmapped guest fd is -EBADF even
// when the same number is open on the host.
//
// Ownership and lifetime (departure from a plain int->int map, on purpose):
// each host fd is held by a HostFd, shared through FdRef. close() drops only
// the table's reference; the host fd is closed when the last in-flight user
// (a vCPU thread blocked in read() on it, say) drops its FdRef. This is the
// kernel's fget/fput rule and it means a racing guest close can never make
// another vCPU's syscall land on a recycled host fd number that the VMM has
// meanwhile reused for its own purposes.
//
// Guest fds 0/1/2 start mapped to the VMM's host 0/1/2 as *borrowed* HostFds:
// the guest can close or dup2 over them, but that never closes the VMM's own
// stdio (its log goes to host fd 2).
//
// Close-on-exec is a per-guest-fd flag kept here (FD_CLOEXEC). Host fds
// themselves should always be opened O_CLOEXEC by callers; the guest's flag
// only matters to an emulated execve (close_on_exec()).
//
// Thread safety: every member takes the single mutex mu_. It is a leaf lock:
// nothing is called under it, and host fds displaced by close()/install_at()
// are released after it is dropped.
#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

namespace spanvm::process {

// A host fd open on the process's own /proc/PID/fd or /proc/PID/fdinfo
// directory (or a thread's): its listing is the guest's table, not the
// host's (proc_fd_dir.hpp).
enum class ProcFdDir : unsigned char { none, fd, fdinfo };

class SignalFd;  // vmm/process/signals/signal_fd.hpp

// What a guest fd is beyond its host fd, shared by its dups (the same open
// file description): the listing kind of a /proc fd directory; the state
// of a signalfd, whose host fd is the eventfd that polls for it.
struct FdTraits {
    ProcFdDir dir = ProcFdDir::none;
    std::shared_ptr<SignalFd> signalfd;
};

class HostFd {
public:
    HostFd(int fd, bool owned, FdTraits traits = {}) : fd_(fd), owned_(owned), traits_(std::move(traits)) {}
    ~HostFd();
    HostFd(const HostFd&) = delete;
    HostFd& operator=(const HostFd&) = delete;

    int fd() const { return fd_; }
    bool owned() const { return owned_; }
    const FdTraits& traits() const { return traits_; }
    ProcFdDir proc_fd_dir() const { return traits_.dir; }
    const std::shared_ptr<SignalFd>& signalfd() const { return traits_.signalfd; }

private:
    int fd_;
    bool owned_;  // false: borrowed (VMM stdio), never closed by us
    FdTraits traits_;
};

using FdRef = std::shared_ptr<const HostFd>;

class FdTable {
public:
    static constexpr int kDefaultLimit = 1024;  // RLIMIT_NOFILE soft default
    static constexpr int kMaxLimit = 1 << 20;   // fs.nr_open default

    // Guest 0/1/2 -> borrowed host 0/1/2 when map_stdio (tests may pass false).
    explicit FdTable(int limit = kDefaultLimit, bool map_stdio = true);
    FdTable(const FdTable&) = delete;
    FdTable& operator=(const FdTable&) = delete;

    int limit() const;
    // setrlimit(RLIMIT_NOFILE): existing fds above the new limit stay open
    // (as in Linux); only new allocations are bounded. -EINVAL if out of
    // [1, kMaxLimit] (Linux: EPERM above nr_open; the caller may remap).
    int set_limit(int limit);

    // Host fd for guest_fd; AT_FDCWD passes through unchanged; else -EBADF.
    // The number is only meaningful while the guest keeps guest_fd open;
    // syscalls should use acquire() to pin it for the duration of the call.
    int translate(int guest_fd) const;
    // Pinned host fd, or nullptr if guest_fd is not open.
    FdRef acquire(int guest_fd) const;

    // Install a host fd (ownership passes to the table in every outcome: on
    // failure the host fd is closed). Return the guest fd or a negative errno.
    //   install:      lowest free guest fd            -EMFILE at the limit
    //   install_from: lowest free guest fd >= min_fd  -EINVAL if min_fd < 0 or
    //                 >= limit, -EMFILE (F_DUPFD / F_DUPFD_CLOEXEC)
    //   install_at:   exactly guest_fd, replacing (and releasing) what was
    //                 there, atomically (dup2/dup3); -EBADF if guest_fd < 0
    //                 or >= limit
    int install(int host_fd, bool cloexec, FdTraits traits = {});
    int install_from(int min_fd, int host_fd, bool cloexec, FdTraits traits = {});
    int install_at(int guest_fd, int host_fd, bool cloexec, FdTraits traits = {});

    // close(2): drop guest_fd. 0, or -EBADF if it was not open.
    int close(int guest_fd);
    // close_range(2) without CLOSE_RANGE_UNSHARE: close (or, with
    // set_cloexec_only, mark FD_CLOEXEC) every open guest fd in [first, last].
    // Returns how many entries were affected.
    int close_range(unsigned first, unsigned last, bool set_cloexec_only);

    // FD_CLOEXEC per guest fd: get -> 1/0 or -EBADF; set -> 0 or -EBADF.
    int get_cloexec(int guest_fd) const;
    int set_cloexec(int guest_fd, bool on);
    // Emulated execve: close every FD_CLOEXEC guest fd; returns their numbers.
    std::vector<int> close_on_exec();

    bool is_open(int guest_fd) const;
    size_t open_count() const;
    // The host fds the table holds (any order, with repeats for dup'ed fds).
    std::vector<int> host_fds() const;
    // The open guest fds, ascending (a listing of /proc/self/fd).
    std::vector<int> guest_fds() const;

private:
    struct Entry {
        FdRef ref;
        bool cloexec = false;
    };
    // Lowest free index >= min_fd below limit_, or -1. Caller holds mu_.
    int lowest_free_locked(int min_fd) const;
    // Puts ref at index fd (growing entries_), returning what was there.
    FdRef place_locked(int fd, FdRef ref, bool cloexec);

public:
    // fork: held across the host fork() so the child's copy is consistent
    // (Process::fork_process takes it in the documented lock order).
    std::mutex& fork_mutex() const { return mu_; }

private:
    mutable std::mutex mu_;
    std::vector<Entry> entries_;  // index = guest fd
    int limit_;
};

}  // namespace spanvm::process
