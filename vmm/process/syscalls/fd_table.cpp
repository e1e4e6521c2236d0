#include "vmm/process/syscalls/fd_table.hpp"

#include <cerrno>
#include <fcntl.h>
#include <unistd.h>

#include <utility>

namespace spanvm::process {

HostFd::~HostFd() {
    // close(2) errors cannot be reported to anyone by now (the guest's close
    // already returned); this is the documented departure of FdTable.
    if (owned_ && fd_ >= 0) ::close(fd_);
}

FdTable::FdTable(int limit, bool map_stdio)
    : limit_(limit < 1 ? 1 : (limit > kMaxLimit ? kMaxLimit : limit)) {
    if (map_stdio) {
        for (int fd = 0; fd < 3 && fd < limit_; ++fd) {
            place_locked(fd, std::make_shared<const HostFd>(fd, false), false);
        }
    }
}

int FdTable::limit() const {
    std::lock_guard lock(mu_);
    return limit_;
}

int FdTable::set_limit(int limit) {
    if (limit < 1 || limit > kMaxLimit) return -EINVAL;
    std::lock_guard lock(mu_);
    limit_ = limit;
    return 0;
}

int FdTable::translate(int guest_fd) const {
    if (guest_fd == AT_FDCWD) return AT_FDCWD;
    FdRef r = acquire(guest_fd);
    return r ? r->fd() : -EBADF;
}

FdRef FdTable::acquire(int guest_fd) const {
    std::lock_guard lock(mu_);
    if (guest_fd < 0 || static_cast<size_t>(guest_fd) >= entries_.size()) return nullptr;
    return entries_[static_cast<size_t>(guest_fd)].ref;
}

int FdTable::lowest_free_locked(int min_fd) const {
    for (int fd = min_fd; fd < limit_; ++fd) {
        if (static_cast<size_t>(fd) >= entries_.size() || !entries_[static_cast<size_t>(fd)].ref) return fd;
    }
    return -1;
}

FdRef FdTable::place_locked(int fd, FdRef ref, bool cloexec) {
    const auto i = static_cast<size_t>(fd);
    if (i >= entries_.size()) entries_.resize(i + 1);
    FdRef old = std::move(entries_[i].ref);
    entries_[i].ref = std::move(ref);
    entries_[i].cloexec = cloexec;
    return old;
}

int FdTable::install(int host_fd, bool cloexec, FdTraits traits) {
    return install_from(0, host_fd, cloexec, std::move(traits));
}

int FdTable::install_from(int min_fd, int host_fd, bool cloexec, FdTraits traits) {
    // Allocated before locking so nothing allocates or closes under mu_
    // except the vector growth in place_locked.
    auto ref = std::make_shared<const HostFd>(host_fd, true, std::move(traits));
    std::unique_lock lock(mu_);
    if (min_fd < 0 || min_fd >= limit_) {
        lock.unlock();
        return -EINVAL;  // ref's destructor closes host_fd
    }
    int fd = lowest_free_locked(min_fd);
    if (fd < 0) {
        lock.unlock();
        return -EMFILE;
    }
    place_locked(fd, std::move(ref), cloexec);
    return fd;
}

int FdTable::install_at(int guest_fd, int host_fd, bool cloexec, FdTraits traits) {
    auto ref = std::make_shared<const HostFd>(host_fd, true, std::move(traits));
    FdRef old;
    {
        std::lock_guard lock(mu_);
        if (guest_fd < 0 || guest_fd >= limit_) return -EBADF;  // ref closes host_fd after unlock
        old = place_locked(guest_fd, std::move(ref), cloexec);
    }
    return guest_fd;  // old released here, outside mu_
}

int FdTable::close(int guest_fd) {
    FdRef old;
    {
        std::lock_guard lock(mu_);
        if (guest_fd < 0 || static_cast<size_t>(guest_fd) >= entries_.size()) return -EBADF;
        auto& e = entries_[static_cast<size_t>(guest_fd)];
        if (!e.ref) return -EBADF;
        old = std::move(e.ref);
        e.ref.reset();
        e.cloexec = false;
    }
    return 0;
}

int FdTable::close_range(unsigned first, unsigned last, bool set_cloexec_only) {
    std::vector<FdRef> released;
    int n = 0;
    {
        std::lock_guard lock(mu_);
        for (size_t i = first; i < entries_.size() && i <= last; ++i) {
            auto& e = entries_[i];
            if (!e.ref) continue;
            ++n;
            if (set_cloexec_only) {
                e.cloexec = true;
            } else {
                released.push_back(std::move(e.ref));
                e.ref.reset();
                e.cloexec = false;
            }
        }
    }
    return n;
}

int FdTable::get_cloexec(int guest_fd) const {
    std::lock_guard lock(mu_);
    if (guest_fd < 0 || static_cast<size_t>(guest_fd) >= entries_.size()) return -EBADF;
    const auto& e = entries_[static_cast<size_t>(guest_fd)];
    if (!e.ref) return -EBADF;
    return e.cloexec ? 1 : 0;
}

int FdTable::set_cloexec(int guest_fd, bool on) {
    std::lock_guard lock(mu_);
    if (guest_fd < 0 || static_cast<size_t>(guest_fd) >= entries_.size()) return -EBADF;
    auto& e = entries_[static_cast<size_t>(guest_fd)];
    if (!e.ref) return -EBADF;
    e.cloexec = on;
    return 0;
}

std::vector<int> FdTable::close_on_exec() {
    std::vector<FdRef> released;
    std::vector<int> closed;
    {
        std::lock_guard lock(mu_);
        for (size_t i = 0; i < entries_.size(); ++i) {
            auto& e = entries_[i];
            if (!e.ref || !e.cloexec) continue;
            released.push_back(std::move(e.ref));
            e.ref.reset();
            e.cloexec = false;
            closed.push_back(static_cast<int>(i));
        }
    }
    return closed;
}

bool FdTable::is_open(int guest_fd) const { return acquire(guest_fd) != nullptr; }

size_t FdTable::open_count() const {
    std::lock_guard lock(mu_);
    size_t n = 0;
    for (const auto& e : entries_) n += e.ref ? 1 : 0;
    return n;
}

std::vector<int> FdTable::host_fds() const {
    std::lock_guard lock(mu_);
    std::vector<int> out;
    for (const auto& e : entries_)
        if (e.ref) out.push_back(e.ref->fd());
    return out;
}

std::vector<int> FdTable::guest_fds() const {
    std::lock_guard lock(mu_);
    std::vector<int> out;
    for (size_t i = 0; i < entries_.size(); ++i)
        if (entries_[i].ref) out.push_back(static_cast<int>(i));
    return out;
}

}  // namespace spanvm::process
