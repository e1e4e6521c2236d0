#pragma once
// The system calls a node answers itself (node_answers.hpp decides which;
// this runs them). Called by NodeRunner::guest_loop on the guest thread's
// own host thread, between a syscall exit and its Trap.
//
// Path lookups are done on this host through an O_PATH descriptor opened
// with RESOLVE_NO_SYMLINKS: a walk that crosses a symlink (which could lead
// into /proc, or differ in ways the lexical check cannot see) fails with
// ELOOP and the call is forwarded; the call itself then runs on that
// descriptor (fstatat/statx/faccessat2/readlinkat with AT_EMPTY_PATH), so
// it reads the very inode the walk found. Only the walk's ENOENT, ENOTDIR,
// EACCES and ENAMETOOLONG are answered here (the same walk gives the same
// error at the origin: no symlink was crossed before it); any other
// failure is forwarded.
//
// Node files. For a thread that is its process's only one and sees every
// change to the process's fd table (SpawnMsg::sole_thread), with its path
// calls answered here: an open/openat the node walked to a regular file or
// a directory keeps the walk's O_PATH descriptor, and once the origin's
// Resume says the fd it returned is the same file (dev, ino), the node
// keeps it under that guest fd. It then answers
//  * fstat, newfstatat(fd, "", AT_EMPTY_PATH), statx(fd, "", AT_EMPTY_PATH)
//    on its descriptor: the very inode the origin's fd refers to, so the
//    same bytes;
//  * lseek (SEEK_SET, SEEK_CUR, SEEK_END), read (at the offset the node
//    tracks) and pread64 of a regular file
//    opened for reading, at most kMaxLocalRead bytes, from the node's own
//    O_RDONLY descriptor of it (opened at the first read, through the
//    O_PATH one): the same inode and page cache, so the same bytes. A read
//    moves the node's offset; the new offset rides on the next Trap
//    (TrapMsg::seeks), whose executor sets it before it handles the Trap,
//    so a forwarded call that reads or moves the offset, or shares the
//    description (dup, fork, SCM_RIGHTS: may_use_offset, which also ends
//    the node's tracking of that offset), sees Linux's. Departure: the
//    node's open of the file is a second open, which inotify/fanotify
//    watchers see (IN_OPEN, IN_CLOSE_NOWRITE); a process that took the fd
//    with pidfd_getfd shares the description and would see the origin's
//    offset lag until the next Trap;
//  * close of a file that was opened read-only (O_ACCMODE O_RDONLY or
//    O_PATH): 0, as the origin's FdTable::close answers every open fd, and
//    the fd goes with the thread's next Trap (TrapMsg::closed_fds), whose
//    executor closes it in the fd table before it handles that Trap.
//    Departure from Linux: the origin holds the file open until then, which
//    another process could see in /proc/<deputy pid>/fd or in the timing of
//    an IN_CLOSE_NOWRITE (the guest itself cannot: every call that reads
//    the fd table is a Trap; a Kick for a signal is one too).
// Before a call it forwards, the node applies fd_effect (node_answers.hpp):
// the fds it closes or replaces are forgotten, and anything that lets
// another thread or process change the table (or makes a held-back close
// visible: record locks) ends node files for the thread.
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "vmm/cluster/arg_capture.hpp"
#include "vmm/cluster/node_answers.hpp"
#include "vmm/cluster/node_brk.hpp"
#include "vmm/cluster/node_map_window.hpp"
#include "vmm/platform/vcpu.hpp"

namespace spanvm::cluster {

// A descriptor this node owns.
struct OwnedFd {
    int fd = -1;
    OwnedFd() = default;
    explicit OwnedFd(int f) : fd(f) {}
    ~OwnedFd();
    OwnedFd(OwnedFd&& o) noexcept : fd(std::exchange(o.fd, -1)) {}
    OwnedFd& operator=(OwnedFd&& o) noexcept;
    OwnedFd(const OwnedFd&) = delete;
    OwnedFd& operator=(const OwnedFd&) = delete;
};

// A file the node keeps under a guest fd ("Node files" above).
struct NodeFile {
    OwnedFd fd;             // O_PATH, on the file the origin's guest fd refers to
    bool close_here = false;  // opened read-only: its close may be answered here
    bool readable = false;    // a regular file opened for reading (not O_PATH, O_DIRECT, O_NOATIME)
    OwnedFd rd;               // this node's O_RDONLY descriptor of it, opened at the first read
    // The description's offset, while only this thread's reads here move it
    // (none forwarded since: may_use_offset); `owed`: the origin's is behind.
    std::optional<std::uint64_t> offset;
    std::optional<std::uint64_t> owed;  // the offset the origin's description must be set to
};

// The most files a node keeps for one thread (its own RLIMIT_NOFILE bounds it).
inline constexpr std::size_t kMaxNodeFiles = 256;

// One guest thread's state for its local answers (owned by its loop).
struct NodeCallState {
    int tid = 0;  // the guest tid (gettid, set_tid_address)
    NodeAnswers mode = NodeAnswers::off;
    bool paths = false;        // the shared file system is proven for this thread (shared_fs.hpp)
    std::int32_t origin_pid = 0;  // /proc/<pid>/cwd: the guest's working directory
    std::uint64_t answered = 0;   // calls answered here so far
    // Calls forwarded so far, by number: (all, of which the node had a plan
    // for but refused: a path it may not walk, an fd it does not hold...).
    std::map<std::int64_t, std::pair<std::uint64_t, std::uint64_t>> forwarded;
    // Set here, sent with the next Trap, then cleared.
    std::optional<std::uint64_t> clear_child_tid;
    std::optional<std::pair<std::uint64_t, std::uint64_t>> robust_list;
    // Node files: kept while `files` (sole_thread, and path answers on).
    bool files = false;
    std::map<std::int32_t, NodeFile> node_files;
    struct PendingOpen {
        NodeFile file;
        std::uint64_t dev = 0, ino = 0;
        bool regular = false;
    };
    std::optional<PendingOpen> pending_open;  // the forwarded open's walk, until its Resume
    std::vector<std::int32_t> closed;          // closes answered here, for the next Trap
    std::vector<std::pair<std::int32_t, std::uint64_t>> seeks;  // owed offsets taken, for the next Trap
    NodeBrk brk;  // the heap window (node_brk.hpp): brk() answered here inside it
    NodeMapWindow maps;  // the mapping window (node_map_window.hpp): mmap() answered here inside it
};

// The offsets the node's reads moved (NodeFile::owed, and those already
// taken into `st.seeks`), for the next Trap; none is owed after.
std::vector<std::pair<std::int32_t, std::uint64_t>> take_seeks(NodeCallState& st);

// Guest RAM as the node sees it, and what the guest may read and write.
struct NodeGuestRam {
    std::span<std::uint8_t> ram;  // indexed by guest address
    std::uint64_t lo = 0;         // nothing below is read or written
    ArgReadable readable;
    ArgReadable writable;
};

// Answers the call in `v`'s registers when it may be answered here: sets
// RAX (and `fs` for ARCH_SET_FS), counts it and returns true. False: it
// must be forwarded (nothing was changed). A call that ends the thread's
// path answers (ends_path_answers) clears `st.paths` and returns false.
bool answer_on_node(NodeCallState& st, platform::Vcpu& v, std::uint64_t& fs, const NodeGuestRam& mem);

// After the Resume of a forwarded call `nr` (its result `ret`, and the
// origin's ResumeMsg::opened): keeps the file an open walked here under the
// returned fd when the origin opened the same one.
void note_resume(NodeCallState& st, std::int64_t nr, std::int64_t ret,
                 const std::optional<std::pair<std::uint64_t, std::uint64_t>>& opened);

// "openat 12 (refused 3), read 8, ..." for `st.forwarded`, most first (the
// node's -v line at the thread's exit, exit_group or execve).
std::string forwarded_summary(const NodeCallState& st);

}  // namespace spanvm::cluster
