// A fork in a program spread over several hosts (--cluster, --local-hosts):
// the child is a local process at the origin, over its own copy of guest
// RAM, outside the cluster (docs/ARCHITECTURE.md, "Processes across hosts").
//
// Why this is correct: the parent's guest RAM at the origin is remote
// memory (a userfaultfd region of the DSM), but a process does not share
// memory with its child. So the child needs one consistent copy of the
// parent's memory at the fork, and from then on no coherence at all:
//  * every page some node was handed is fetched to the origin first
//    (RemoteThreads::gather_for_fork), so the host fork() copies its latest
//    content; pages no node ever had are zero and stay absent;
//  * the fork is refused (ENOSYS, one line) while a thread of the parent
//    other than the forking one runs on another node: such a thread could
//    write a page between its fetch and the fork (Linux's fork is atomic
//    against the parent's other threads; the DSM has no way yet to hold
//    every page for the duration). The forking thread itself may be on
//    another node (a placed image's, process_exec_placed.cpp): it is
//    stopped in the call, and the child continues it at the origin;
//  * the child inherits neither the userfaultfd registration (the kernel
//    drops it in a child without UFFD_FEATURE_EVENT_FORK) nor the cluster's
//    threads; its inherited sockets and userfaultfds are closed, so that a
//    node sees the origin's connections end when the origin ends, not when
//    its last child does; the cluster object itself is leaked there.
// The child then runs single-host: its threads stay at the origin, its
// own children are local processes too, and host protection of guest RAM is
// enforced again (a cluster keeps holes accessible).
// Departure: a MAP_SHARED mapping the cluster parent made is private DSM
// memory there (process_syscalls_memory.cpp), so the child gets a copy of
// it, not a share; the child's own MAP_SHARED mappings are shared with its
// own children as on one host.
#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "vmm/base/log.hpp"
#include "vmm/memory/layout.hpp"
#include "vmm/process/process.hpp"

namespace spanvm::process {

std::string Process::gather_for_fork(const ThreadRow& forking) {
    if (threads_.any_live_remote_locked(&forking))
        return "fork while a thread of the process runs on another node (a fork is atomic only with every "
               "thread at the origin): fork returns ENOSYS";
    for (const Vma& v : aspace_->vmas())
        if (auto r = cfg_.remote->gather_for_fork(v.start, v.end - v.start); !r)
            return "fetching guest memory for a fork: " + r.error().message;
    return {};
}

void Process::leave_cluster_in_child() {
    cfg_.remote = nullptr;  // never called again here (remote_threads.hpp)
    sync_host_protection(memory::layout::kUserBase, platform_->memory().size());
}

void Process::close_cluster_fds_in_child() {
    // The process layer itself holds no socket and no userfaultfd outside
    // the guest's fd table, so every other one is the cluster's.
    std::vector<int> keep = fds_.host_fds();
    std::sort(keep.begin(), keep.end());
    DIR* d = ::opendir("/proc/self/fd");
    if (!d) {
        log::warn("forked process {}: cannot list its fds: {}", pid_, std::strerror(errno));
        return;
    }
    std::vector<int> doomed;
    while (const dirent* e = ::readdir(d)) {
        char* end = nullptr;
        const long fd = std::strtol(e->d_name, &end, 10);
        if (end == e->d_name || *end || fd == ::dirfd(d)) continue;
        if (std::binary_search(keep.begin(), keep.end(), static_cast<int>(fd))) continue;
        char link[64] = {};
        const std::string path = "/proc/self/fd/" + std::string(e->d_name);
        const ssize_t n = ::readlink(path.c_str(), link, sizeof link - 1);
        if (n <= 0) continue;
        const std::string what(link, static_cast<size_t>(n));
        if (what.starts_with("socket:") || what == "anon_inode:[userfaultfd]") doomed.push_back(static_cast<int>(fd));
    }
    ::closedir(d);
    for (int fd : doomed) ::close(fd);
}

}  // namespace spanvm::process
