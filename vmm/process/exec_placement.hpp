#pragma once
// What the process layer asks of whoever places new program images on other
// hosts (`spanvm run --place-exec`; docs/ARCHITECTURE.md, "An exec placed
// on another node"). The process layer owns this interface; the CLI
// implements it (vmm/cli/exec_deputies.hpp) and hands it to the run's
// Process (ProcessConfig::exec_placer), whose forked children inherit it.
//
// At an execve in a process that is not the run's own and not already in
// a cluster of its own, Process::exec asks place_exec() for a node. For a
// node k != 0 it calls start_deputy(k, ram, prot, tid) at the point of no return,
// after the old image's memory was discarded and before the new one is
// loaded: this host process becomes the *deputy* (it keeps the pid, fds,
// cwd, credentials, signal tables and parent) and the origin of a cluster
// of two, whose node 1 is a session that host k's spanvm node started; the new
// image's thread then moves there, and its system calls come back to the
// deputy exactly as a remote thread's come to its executor.
// Thread-safety: each method is called by the exec'ing (or exiting)
// thread of one process; implementations share state between processes
// only through memory they map shared before the run starts.
#include <cstdint>
#include <string_view>

#include "vmm/memory/guest_memory.hpp"
#include "vmm/memory/guest_protection.hpp"
#include "vmm/process/remote_threads.hpp"

namespace spanvm::process {

class ExecPlacer {
public:
    virtual ~ExecPlacer() = default;
    // The node the next image, of `program` (its resolved path), starts on
    // (0: here, the origin host). Counts one running image on that node
    // until exec_gone(node, ...). `parent_node`: the node the exec'ing
    // process's parent is counted on when that parent is blocked in the
    // vfork (posix_spawn) that made this process, and will most likely wait
    // for it; -1 otherwise.
    virtual unsigned place_exec(std::string_view program, int parent_node) = 0;
    // This process becomes the deputy of a new image on node `node` (!= 0):
    // returns the RemoteThreads of a cluster of two (node 1 is host `node`)
    // with `ram` already attached, or null after one logged line (the image
    // then runs here). Lives as long as the host process. `tid` is the
    // exec'ing thread's guest tid: the session dials its syscall channel as
    // soon as it has joined, while the image loads here.
    virtual RemoteThreads* start_deputy(unsigned node, memory::GuestMemory& ram, memory::GuestProtection& prot,
                                        int tid) = 0;
    // The image counted on `node` starts (true) or stops (false) blocking
    // in a wait for a child (wait4, waitid): a waiting image is not running.
    virtual void exec_waiting(unsigned node, bool waiting) = 0;
    // An image of `program` (as given to place_exec) forked a child: the
    // program spawns, which place_exec weighs (exec_balance.hpp).
    virtual void exec_forked(std::string_view program) = 0;
    // The image counted on `node` by place_exec() ended or exec'd again,
    // after `busy_ms` of its life not spent waiting for a child (`program`
    // as given to place_exec; empty: nothing learnt). For a deputy, called
    // after RemoteThreads::shutdown() (its session ends by itself; its
    // host's daemon reaps it).
    virtual void exec_gone(unsigned node, std::string_view program, std::uint64_t busy_ms) = 0;
};

}  // namespace spanvm::process
