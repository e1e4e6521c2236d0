#pragma once
// What the process layer asks of whatever runs some of its guest threads on
// other hosts. The process layer owns this interface; the cluster
// (vmm/cluster/origin_cluster.hpp) implements it at the origin, and the CLI
// hands it to the Process (ProcessConfig::remote). A single-host run has no
// RemoteThreads at all: no extra hop, no extra lock. Nothing here knows
// about the DSM, the network or how a node is reached.
//
// Promises and who calls what:
//  * attach_memory() once, from Process::create on the CLI's thread, before
//    the program is loaded. set_vdso_data() right after the vDSO is placed,
//    before the origin's Timekeeper starts: at load, and again on execve
//    (single-threaded guest only, from that thread).
//  * place_thread() and create_vcpu() are called by Process::spawn_thread on
//    the thread running clone() (or the main thread for the first one);
//    create_vcpu() runs under Process::vcpu_pool_mu_ and takes no lock that
//    could wait for a guest thread. Every place_thread() is matched by one
//    thread_gone(node) when the thread ends or could not be created.
//  * discard() is called under Process::aspace_mu_ by mm syscalls (any guest
//    thread), kick() by any thread that sends a signal (also the ITIMER
//    thread); both may run concurrently with everything else here.
//  * shutdown() is called once, by the thread that ends the process, then
//    thread_faults() once per thread row from that thread (for the run
//    report). Other guest threads are not stopped first: until the host
//    process exits they may still call discard(), kick(), place_thread()
//    and the rest, so every method stays safe after shutdown().
//  * start_placement() once, from Process::run before the main thread
//    starts; from then on the remote side may call the ThreadMover from its
//    own thread until the host process exits. thread_moved() is called by
//    the moving thread's host thread once its move is done.
//  * gather_for_fork() is called by a thread forking the process at the
//    origin, with every lock of the process held and no live guest thread
//    on another node; then the host fork(). In the child only the forking
//    thread exists and the process never calls this object again (it is
//    leaked there, never destroyed: its threads stayed in the parent).
//  * None of these throws.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "vmm/base/result.hpp"
#include "vmm/memory/arg_memory.hpp"
#include "vmm/memory/guest_memory.hpp"
#include "vmm/memory/guest_protection.hpp"
#include "vmm/memory/layout_table.hpp"
#include "vmm/platform/vcpu.hpp"

namespace spanvm::process {

// The process layer's handle on a guest thread that runs on another node,
// held by its executor (the GuestThread at the origin that runs the thread's
// system calls) beside the thread's platform::Vcpu. A local thread has no
// link. All methods are called by the executor's host thread only, except
// where noted.
class RemoteLink {
public:
    virtual ~RemoteLink() = default;
    // The guest tid of the thread (once, before the executor thread starts,
    // by the thread that spawned it).
    virtual void set_guest_tid(int tid) = 0;
    // The guest thread ended (SYS_exit): tell its node. The vCPU is then
    // dropped, never pooled.
    virtual void on_thread_exit() = 0;
    // The thread leaves its node (a migration): like on_thread_exit, but
    // the last call's output (what a read(2) put in the thread's buffer,
    // which the node would otherwise store when it gets the Resume) is
    // stored first, here, into `mem` through the origin's coherent mapping.
    // So it is in guest memory before the thread runs on its next node,
    // and no late store from the old node can land after it ran on there.
    // False (and nothing sent) if an output range lies outside guest RAM.
    // A range `layout` no longer lets the guest write (another thread's
    // munmap or mprotect since the call) is dropped, as the node drops it.
    virtual bool leave_node(memory::GuestMemory& mem, const memory::GuestProtection& layout) = 0;
    // The host thread on the remote node (as of the last trap).
    virtual int remote_host_tid() const = 0;
    // The node the thread runs on.
    virtual unsigned node() const = 0;
    // DSM read and write faults the thread took on its node (as of its last
    // trap).
    virtual std::pair<std::uint64_t, std::uint64_t> remote_faults() const = 0;
    // System calls the thread's node ran itself (as of its last trap).
    virtual std::uint64_t remote_local_syscalls() const = 0;
    // The words the node's own set_tid_address / set_robust_list set since
    // the previous trap (each once; the executor stores them in the
    // thread's row right after run() returns, before it handles the trap).
    struct ThreadWords {
        std::optional<std::uint64_t> clear_child_tid;
        std::optional<std::pair<std::uint64_t, std::uint64_t>> robust_list;  // head, length
        // Guest fds the node's thread closed itself, in order: the executor
        // closes them in the fd table before it handles the trap (the node
        // held them back: vmm/cluster/node_local_calls.hpp, "Node files").
        std::vector<std::int32_t> closed_fds;
        // File offsets the node's own reads moved (guest fd, offset): the
        // executor sets them (SEEK_SET) before the closes and the trap.
        std::vector<std::pair<std::int32_t, std::uint64_t>> seeks;
        // The program break the node's thread moved inside its heap window
        // (set_heap_window): the executor applies it first of all.
        std::optional<std::uint64_t> brk;
        // The anonymous mappings the node's thread made inside its mapping
        // window (set_map_window), in order: the executor makes them right
        // after the break.
        struct NodeMap {
            std::uint64_t addr = 0, len = 0;
            int prot = 0, flags = 0;
        };
        std::vector<NodeMap> maps;
    };
    virtual ThreadWords take_thread_words() = 0;
    // The heap window sent with the next Resume (docs/dsm-protocol.md F8,
    // vmm/cluster/node_brk.hpp): the break, and the page-aligned limit up to
    // which the node may grow it by itself, reporting the new break in a
    // later Trap (ThreadWords::brk). Only for the next Resume: one without
    // a window revokes the node's.
    virtual void set_heap_window(std::uint64_t brk, std::uint64_t limit) = 0;
    // The mapping window sent with the next Resume (docs/dsm-protocol.md
    // F9, vmm/cluster/node_map_window.hpp): [lo, hi), free in the address
    // space until the thread's next Trap, in which the node may place
    // anonymous private mappings by itself, reporting them in a later Trap
    // (ThreadWords::maps). Only for the next Resume.
    virtual void set_map_window(std::uint64_t lo, std::uint64_t hi) = 0;
    // The trapped open/openat returned a guest fd for the file (st_dev,
    // st_ino): sent with the Resume (the node checks it opened the same
    // file). Called before syscall_returned().
    virtual void opened_file(std::uint64_t dev, std::uint64_t ino) = 0;
    // Guest memory the trapped syscall reads or writes that the thread's
    // node handles (vmm/memory/arg_memory.hpp); valid until the next run().
    virtual memory::ArgMemory* arg_memory() = 0;
    // The trapped syscall was dispatched; the vCPU's regs().rax holds its
    // result (called before any signal delivery).
    virtual void syscall_returned() = 0;
};

// One live guest thread, for whoever places threads (`--place auto`).
struct LiveThread {
    int tid = 0;
    int host_tid = 0;  // the origin's host thread: the thread itself on node 0, else its executor
    unsigned node = 0;
};

// What the process offers whoever places its threads: the live threads,
// and a way to move one. Implemented by Process; thread-safe.
class ThreadMover {
public:
    virtual ~ThreadMover() = default;
    virtual std::vector<LiveThread> live_threads() = 0;
    // Asks thread `tid` to move to `node` the next time it leaves the guest
    // or returns from a system call, and makes a thread running guest code
    // leave it. The move itself (GuestThread::migrate) carries registers,
    // FS/GS base and the FPU image; signals and futex waits live at the
    // origin and stay. False: no such live thread.
    virtual bool request_move(int tid, unsigned node) = 0;
};

// The executor-side vCPU of a remote thread and its link. `link` is part of
// the object `vcpu` owns (the cluster's RemoteVcpu implements both), so it
// is valid exactly as long as `vcpu` is. Both null: no vCPU could be made.
struct RemoteThreadVcpu {
    std::unique_ptr<platform::Vcpu> vcpu;
    RemoteLink* link = nullptr;
};

class RemoteThreads {
public:
    virtual ~RemoteThreads() = default;
    // Puts guest RAM [user base, end) under the remote memory and waits
    // until every node has joined. `prot` keeps the host protection of
    // `mem` as the guest's layout says (both outlive this object); pages
    // are copied out through it.
    virtual Result<void> attach_memory(memory::GuestMemory& mem, const memory::GuestProtection& prot) = 0;
    // The vDSO's time page lives at `gva`: it becomes node-local (every
    // node keeps its own time record there).
    virtual Result<void> set_vdso_data(std::uint64_t gva) = 0;
    // munmap / MADV_DONTNEED of guest RAM [gpa, gpa+len), page-aligned:
    // afterwards every node reads zeros there (a file filler there is reset
    // on every node first). Pages it must zero through the coherent mapping
    // are written only after `open` (called at most once, only if there is
    // such a page) made the range host-writable; the caller puts the layout's
    // protection back only then (pages dropped or pristine need neither).
    virtual void discard(std::uint64_t gpa, std::uint64_t len, const std::function<void()>& open) = 0;
    // The guest just mapped fresh anonymous memory [gpa, gpa+len) (mmap,
    // brk growth) for a thread on `node`; called under Process::aspace_mu_
    // before the call returns to the guest, so no thread can use the range
    // yet. Its pages may be homed at `node` (dynamic homes); returns once
    // every node knows.
    virtual void mapped(std::uint64_t gpa, std::uint64_t len, unsigned node) = 0;
    // Whether a sole remote thread may get heap windows (set_heap_window):
    // a cluster of two (the node that grows the break is the only other
    // node, so the origin's own host mapping is the only one left to follow
    // when the break comes back), with dynamic homes.
    virtual bool heap_windows() const = 0;
    // A private mapping of regular file `fd` at `off` over guest
    // [gpa, gpa+len) (whole pages), called under Process::aspace_mu_ before
    // the range is accessible anywhere: the file becomes the initial content
    // (filler) of those pages on every node (docs/dsm-protocol.md
    // "Fillers"), so each node reads a page it is first to use from its own
    // copy. Returns the pages (true = index from gpa) the caller must still
    // write with the file's bytes here, because some node had them before
    // the filler was set; nullopt: no filler (a node lacks the same file, or
    // this process runs on one host), the caller writes every page.
    virtual std::optional<std::vector<bool>> fill_from_file(std::uint64_t gpa, std::uint64_t len, int fd,
                                                             std::uint64_t off) = 0;
    // Which guest pages are accessible changed (runs in order, as
    // memory::LayoutTable::set returned them); called under
    // Process::aspace_mu_ by the mm call that changed them, once per call.
    // Returns once every node has applied them to its host mapping, so the
    // call takes effect on every node before it returns to the guest.
    virtual void layout_changed(const std::vector<memory::LayoutRun>& runs) = 0;
    // The node a new guest thread runs on (0 = here, the origin).
    virtual unsigned place_thread() = 0;
    virtual void thread_gone(unsigned node) = 0;
    // The executor's vCPU for a new thread on `node` != 0: run() returns
    // when the remote thread traps, and the next run() sends the result
    // back. Also for a thread migrating there: restore_fpu() before
    // set_initial_state() makes the image travel with the start.
    virtual RemoteThreadVcpu create_vcpu(unsigned node, unsigned long vcpu_id) = 0;
    // A signal is pending for `tid` on `node`: make it leave the guest.
    virtual void kick(unsigned node, int tid) = 0;
    // The program ended with `status`: every node stops its threads.
    // Returns when they have acknowledged or a short timeout passed.
    virtual void shutdown(int status) = 0;
    // The process is about to start its main thread; `m` stays valid for
    // the rest of the process (see the promises above).
    virtual void start_placement(ThreadMover& m) = 0;
    // Thread `tid` moved from node `from` to `to`; the move took `ns`.
    virtual void thread_moved(int tid, unsigned from, unsigned to, std::uint64_t ns) = 0;
    // A guest fork at the origin: afterwards every page of guest RAM
    // [gpa, gpa+len) that any node was handed is present here with its
    // latest content (a read copy is fetched where this host has none), so
    // that the host fork() copies it into the child, whose guest RAM is no
    // longer remote memory. Pages no node ever had stay absent (zero).
    virtual Result<void> gather_for_fork(std::uint64_t gpa, std::uint64_t len) = 0;
    // Remote-memory read and write faults taken here by host thread
    // `host_tid` (an executor serving a remote thread).
    virtual std::pair<std::uint64_t, std::uint64_t> thread_faults(int host_tid) = 0;
    // Summed over the nodes other than this one, once shutdown() returned:
    // pages received with their data, pages filled from a file there.
    virtual std::pair<std::uint64_t, std::uint64_t> node_page_counts() = 0;
    // Layout changes sent so far: Layouts sent and waited for (one round
    // trip each), and Layouts that rode on a Resume (docs/dsm-protocol.md
    // "Fillers", F6).
    virtual std::pair<std::uint64_t, std::uint64_t> layout_counts() = 0;
};

}  // namespace spanvm::process
