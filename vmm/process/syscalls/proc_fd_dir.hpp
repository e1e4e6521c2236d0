#pragma once
// The process's own /proc/PID/fd and /proc/PID/fdinfo directories as the
// guest sees them. The host's list the spanvm process's fds: the guest's,
// under other numbers, and spanvm's own. Opened by the guest (openat with
// O_DIRECTORY), such a directory is marked (HostFd::proc_fd_dir) and
// getdents64 on it lists the guest's table instead: ".", "..", then one
// entry per open guest fd, ascending. Entries by name (readlink, stat,
// open of /proc/self/fd/N) were already the guest's (guest_path).
//
// The listing position is the host directory's file offset (entry index;
// procfs keeps any value lseek sets), so a listing read in several calls,
// rewinddir and telldir/seekdir behave as on Linux. The guest's table may
// change between calls, as Linux's may.
//
// Departure: another process's /proc/PID/fd lists the host's.
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "vmm/process/syscalls/fd_table.hpp"

namespace spanvm::process {

// Which own directory `link` (the readlink of an open directory's
// /proc/self/fd entry) names for host process `pid`: /proc/PID/fd,
// /proc/PID/fdinfo, or /proc/PID/task/TID/... of them; none otherwise.
ProcFdDir classify_proc_fd_dir(std::string_view link, int pid);

// Writes linux_dirent64 records for the listing of `guest_fds` (ascending)
// from position `pos` into `out`; returns the bytes written and sets `pos`
// past the last entry written. Positions are Linux's: 0 and 1 for "." and
// "..", fd + 2 for fd (an entry's d_off, the position after it, is fd + 3),
// so a listing resumed after fds were closed skips none that remain.
// -EINVAL when not even one entry fits (getdents64(2)); 0 at the end.
int64_t write_fd_dirents(std::span<uint8_t> out, uint64_t& pos, const std::vector<int>& guest_fds, ProcFdDir dir);

}  // namespace spanvm::process
