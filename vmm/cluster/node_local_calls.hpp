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
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <utility>

#include "vmm/cluster/arg_capture.hpp"
#include "vmm/cluster/node_answers.hpp"
#include "vmm/platform/vcpu.hpp"

namespace spanvm::cluster {

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
};

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

// "openat 12 (refused 3), read 8, ..." for `st.forwarded`, most first (the
// node's -v line at the thread's exit, exit_group or execve).
std::string forwarded_summary(const NodeCallState& st);

}  // namespace spanvm::cluster
