#pragma once
// The thread table of the process-sharing design: one row per guest thread.
// Authoritative at the origin. Thread-safe: one mutex; rows are never erased
// (exited threads stay for --stats), so row pointers stay valid.
// report() copies the rows out as plain structs (vmm/report), which the
// process's creator renders for --stats and --json.
#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "vmm/process/signals/signal_frame.hpp"
#include "vmm/report/run_report.hpp"

namespace spanvm::process {

namespace seccomp {
struct Filter;
}

enum class ThreadState { starting, running, in_syscall, blocked, exited };
const char* to_string(ThreadState s);

struct ThreadRow {
    int tid = 0;                 // guest tid (main thread: tid == pid)
    std::atomic<unsigned> vcpu_id{0};  // KVM vCPU id == APIC id (changes when it migrates)
    std::atomic<unsigned> node_id{0};  // host (node) the vCPU runs on; changes when it migrates
    // `--place auto`: the node the thread should move to at its next exit
    // (kNoMove: none), set by the placement, taken by the thread itself.
    static constexpr int kNoMove = -1;
    std::atomic<int> move_to{kNoMove};
    std::atomic<uint64_t> migrations{0};  // moves done (written by the thread itself)
    // execve in another thread of the process (Linux's de_thread): this
    // thread ends before it runs guest code again (GuestThread::run).
    std::atomic<bool> end_requested{false};
    int host_tid = 0;            // host thread running the vCPU
    std::atomic<ThreadState> state{ThreadState::starting};
    // Counters are written only by the thread's own vCPU thread.
    std::atomic<uint64_t> syscalls{0};
    std::atomic<uint64_t> exits_io{0};
    std::atomic<uint64_t> exits_exception{0};
    std::atomic<uint64_t> exits_other{0};
    // Distributed mode: syscalls of a thread on another node, all run by its
    // executor here (host_tid above is then the executor's host thread).
    std::atomic<uint64_t> forwarded{0};
    std::atomic<int> remote_host_tid{0};
    // Distributed mode: DSM read/write faults of the thread (on its node,
    // plus its executor's here), refreshed before the table is printed.
    std::atomic<uint64_t> remote_local_syscalls{0};  // run on the thread's node
    std::atomic<uint64_t> remote_read_faults{0};
    std::atomic<uint64_t> remote_write_faults{0};
    // What the thread's earlier nodes reported before it migrated away
    // (written by the thread itself when it moves).
    std::atomic<uint64_t> banked_read_faults{0};
    std::atomic<uint64_t> banked_write_faults{0};
    std::atomic<uint64_t> banked_local_syscalls{0};
    std::atomic<uint64_t> read_faults{0};
    std::atomic<uint64_t> write_faults{0};
    uint64_t clear_child_tid = 0;  // CLONE_CHILD_CLEARTID / set_tid_address
    uint64_t robust_list = 0;
    uint64_t robust_list_len = 0;
    // Signals (bit sig-1). sigmask is written by the thread itself and read
    // by senders choosing a target; sig_pending is set by senders and
    // cleared by the thread, both lock-free; sig_info is under SignalTable::mu_.
    std::atomic<uint64_t> sigmask{0};
    std::atomic<uint64_t> sig_pending{0};
    std::array<SigInfoFields, 65> sig_info{};
    AltStack altstack{};  // sigaltstack; only the thread itself touches it
    // seccomp (process_syscalls_seccomp.cpp): the mode (0 none, 1 strict, 2
    // filter) and the head of the thread's filter chain, which the Process
    // keeps for its whole life. Written by the thread itself, or by another
    // thread of the process under Process::seccomp_mutex() (TSYNC), filter
    // first, mode last (release); read at each of the thread's calls.
    std::atomic<uint8_t> seccomp_mode{0};
    std::atomic<const seccomp::Filter*> seccomp_filter{nullptr};
    void sigaltstack_reset() { altstack = AltStack{}; }
    int exit_code = 0;
    // Real-time signals pending more than once: the instances after the one
    // in sig_info, oldest first (SignalTable::post; under its mu_).
    std::vector<std::pair<int, SigInfoFields>> sig_queue;
};

class ThreadTable {
public:
    explicit ThreadTable(int pid) : next_tid_(pid) {}
    // Allocates the next tid (the first one is the pid) and a row.
    ThreadRow& add(unsigned vcpu_id, unsigned node_id);
    size_t live_threads() const;
    // The row of a live (not exited) thread, or null.
    ThreadRow* find_live(int tid);
    // Live rows, for choosing the target of a process-directed signal.
    std::vector<ThreadRow*> live_rows();
    // Distributed mode: sets every row's read/write faults to those the
    // origin saw for its host thread (`local`) plus those of its node.
    void refresh_faults(const std::function<std::pair<uint64_t, uint64_t>(int host_tid)>& local);
    size_t total_threads() const;
    // Distributed mode, over every row: system calls the threads' nodes ran
    // themselves, and those forwarded to their executors here.
    std::pair<uint64_t, uint64_t> remote_syscalls() const;
    // Copies of the rows for --stats and --json (vmm/report renders them).
    std::vector<report::ThreadReport> report() const;

    // fork: held across the host fork(). In the child (table lock held by
    // the forking thread), every row but `keep` is marked exited (those
    // threads did not come along) and `keep` becomes the main thread, tid
    // `pid`; later tids follow it.
    std::mutex& fork_mutex() const { return mu_; }
    void keep_only_in_child(ThreadRow& keep, int pid);
    // execve by a thread other than the first, once every other thread
    // has exited: `row` takes the first thread's tid, `pid`.
    void make_leader(ThreadRow& row, int pid);
    // A fork in a cluster: a live thread other than `except` runs on a
    // node other than the origin. Caller holds fork_mutex().
    bool any_live_remote_locked(const ThreadRow* except) const;

private:
    mutable std::mutex mu_;
    std::deque<ThreadRow> rows_;  // deque: stable addresses
    int next_tid_;
};

}  // namespace spanvm::process
