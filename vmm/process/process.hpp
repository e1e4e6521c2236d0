#pragma once
// One guest process: the machine (VM + guest RAM), its address space, fd
// table, futex table and thread table, and the guest threads running on
// vCPUs. In the process-sharing design this is the origin's state; every
// table here is what a remote node would forward to.
//
// Lock order (outer to inner): aspace_mu_ -> FdTable::mu_ ->
// FutexTable::mu_ -> ThreadTable::mu_ -> vcpu_pool_mu_ -> exit_mu_;
// SignalTable::mu_ is a leaf (see docs/ARCHITECTURE.md, Lock order).
// No lock is held across KVM_RUN.
#include <sys/types.h>

#include <array>
#include <atomic>
#include <chrono>
#include <csignal>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "vmm/base/result.hpp"
#include "vmm/memory/guest_protection.hpp"
#include "vmm/memory/page_access_map.hpp"
#include "vmm/process/mm/address_space.hpp"
#include "vmm/process/process_registry.hpp"
#include "vmm/process/syscalls/fd_table.hpp"
#include "vmm/process/threads/futex_table.hpp"
#include "vmm/process/mm/guest_access.hpp"
#include "vmm/process/syscalls/host_syscalls.hpp"
#include "vmm/process/syscalls/proc_maps.hpp"
#include "vmm/process/signals/interval_timer.hpp"
#include "vmm/process/signals/posix_timers.hpp"
#include "vmm/platform/platform.hpp"
#include "vmm/process/exec_placement.hpp"
#include "vmm/process/loader/image_file.hpp"
#include "vmm/process/remote_threads.hpp"
#include "vmm/process/signals/signal_fd.hpp"
#include "vmm/process/signals/signal_table.hpp"
#include "vmm/process/threads/thread_table.hpp"
#include "vmm/report/run_report.hpp"
#include "vmm/time/timekeeper.hpp"

namespace spanvm::process {

struct ProcessConfig {
    std::string program;            // path as given by the user
    std::vector<std::string> argv;  // argv[0] is `program`
    std::vector<std::string> envp;
    uint64_t mem_size = 2ull << 30;
    unsigned vcpus = 1;             // CPUs the guest is told it has
    platform::PlatformKind platform = platform::PlatformKind::automatic;
    // Set when the program spans several hosts (this is the origin): guest
    // RAM goes under the remote memory and threads may be placed on other
    // nodes. Owned by the Process's creator; outlives the Process.
    RemoteThreads* remote = nullptr;
    // `--place-exec`: where an execve in a forked process starts its new
    // image (exec_placement.hpp); null: always here. Outlives the Process.
    ExecPlacer* exec_placer = nullptr;
    // Called once as the process ends, after the remote threads stopped,
    // with the run's report (platform, exit status, thread rows; `cluster`
    // left empty for the creator, who owns the cluster, to fill). The
    // creator renders or writes it (--stats, --json). Runs on the exiting
    // thread; an exception it throws is logged and the exit goes on.
    std::function<void(report::RunReport)> report_sink;
    // The caller's open fds (>= 3) when spanvm started, as execve(2) leaves
    // them to a program: each becomes the guest fd of the same number (a
    // shell's `3<file`, make's jobserver pipe). The host fds are owned by
    // the guest's table from then on.
    std::vector<int> inherited_fds;
};

// Guest words clone() writes the new tid into before the child runs.
struct SpawnTidWrites {
    uint64_t parent_tid_addr = 0;  // CLONE_PARENT_SETTID
    uint64_t child_tid_addr = 0;   // CLONE_CHILD_SETTID
};

// Register state a new guest thread starts from.
struct ThreadStart {
    platform::Regs regs{};
    uint64_t fs_base = 0;
    uint64_t gs_base = 0;
    // What a new thread inherits from the one that made it (clone): its
    // signal mask and its seccomp mode and filter chain.
    uint64_t sigmask = 0;
    uint8_t seccomp_mode = 0;
    const seccomp::Filter* seccomp_filter = nullptr;
};

class GuestThread;

// realpath(3), or `p` unchanged when it cannot be resolved.
std::string absolute_path(const std::string& p);

class Process final : public ThreadMover {
public:
    // Builds the VM and loads the program (and its interpreter); every
    // error here is a one-line message for the user. Error::code says whose
    // fault it is: ENOENT (program or interpreter not found), another errno
    // (program cannot be executed), or 0 (spanvm itself failed).
    static Result<std::unique_ptr<Process>> create(const ProcessConfig& cfg);
    // `#!` resolution and program checks shared by create() and execve; the
    // program stays open for the loader (loader/image_file.hpp).
    struct Image {
        ProcessConfig cfg;
        ImageFile file;
    };
    static Result<Image> resolve_image(ProcessConfig cfg);
    // Linux's task name at an exec: the last component of the path given
    // (15 bytes; a #! script's own name). Names the calling host thread and,
    // with `leader`, the process's first host thread (/proc/PID/comm).
    static void name_task(std::string_view path, bool leader);
    ~Process();

    // Starts the main thread and blocks until the process exits; then hands
    // the report to cfg.report_sink and terminates the host process with the
    // guest's status.
    [[noreturn]] void run();

    // --- for guest threads and syscall handlers ---
    const ProcessConfig& config() const { return cfg_; }
    platform::Platform& platform() { return *platform_; }
    GuestAccess& mem() { return mem_; }
    // What the guest may do with each page of guest RAM (the layout).
    const memory::GuestProtection& protection() const { return *protection_; }
    FdTable& fds() { return fds_; }
    FutexTable& futexes() { return futexes_; }
    ThreadTable& threads() { return threads_; }
    SignalTable& signals() { return signals_; }
    SignalFdList& signal_fds() { return signal_fds_; }
    HostSyscallContext& host_ctx() { return host_ctx_; }
    pid_t pid() const { return pid_; }
    // One line: which platform runs and why (for --stats).
    const std::string& platform_reason() const { return platform_reason_; }
    // The address space and its lock (held by mm syscalls for their whole
    // bookkeeping + memory effect, so a concurrent munmap cannot interleave).
    std::mutex& aspace_mutex() { return aspace_mu_; }
    AddressSpace& aspace() { return *aspace_; }
    // Zeroes guest pages released by the address space (its invariant: all
    // unmapped user memory reads as zero). A range inside [resync_start,
    // resync_end) may be left at the full host protection where it was
    // remapped, or at that of guest protection `resync_prot` (>= 0): the
    // caller calls sync_host_protection over it next, under the same aspace
    // lock (mmap over old mappings, exec). [resync_start, resync_start +
    // replaced) is left alone (one host): the caller maps a file's pages or
    // shared memory over it next (map_file_pages, map_shared), which
    // replaces whatever is there.
    void discard(const std::vector<Range>& ranges, uint64_t resync_start = 0, uint64_t resync_end = 0,
                 int resync_prot = -1, uint64_t replaced = 0);
    // One host, native: discard() with a re-sync protection puts fresh
    // memory of that protection in place in one mmap, which refuses the
    // range and drops its pages at once (a thread still writing there
    // faults after it), so munmap and brk may discard before they re-sync
    // (the re-sync then finds the host right). Elsewhere they must re-sync
    // first (every node refuses the range before its pages are zeroed).
    bool discard_replaces() const;
    // madvise(MADV_DONTNEED) of `ranges` (the private ones the address
    // space released; caller holds aspace_mutex()): where a range is a
    // file's pages mapped copy-on-write (one host: file_private_),
    // the host's own MADV_DONTNEED drops the private copies and the next
    // access reads the file again, as on Linux; the rest is discard()ed to
    // zero (process_file_map.cpp).
    void dontneed(const std::vector<Range>& ranges);
    // Fresh anonymous memory [start, start+len) was just mapped for `t`: in
    // a cluster, a thread on another node gets it homed there
    // (RemoteThreads::mapped). Caller holds aspace_mutex().
    void mapped(GuestThread& t, uint64_t start, uint64_t len);
    // Heap windows (docs/dsm-protocol.md F8, process_heap_window.cpp): a
    // remote thread that is the process's only one may grow the break on
    // its node by itself, up to a limit above which nothing is mapped.
    // heap_window_top: brk growth to page-aligned `top` for such a thread
    // (else `top`): the end of the range to home at its node, the window
    // included, which the window may not pass. Caller holds aspace_mutex().
    uint64_t heap_window_top(GuestThread& t, uint64_t top);
    // After a call of `t`: the window for its Resume, where it may have one.
    void offer_heap_window(GuestThread& t);
    // The break `t`'s node moved inside its window, applied before the
    // Trap that reported it is handled.
    void node_grew_brk(GuestThread& t, uint64_t brk);
    // Mapping windows (docs/dsm-protocol.md F9, process_heap_window.cpp):
    // the same thread may place anonymous private mappings on its node by
    // itself, inside a free range homed there. After a call of `t`: the
    // window for its Resume, where it may have one.
    void offer_map_window(GuestThread& t);
    // The mappings `t`'s node made inside its window, made here (after the
    // owed break) before the Trap that reported them is handled.
    void node_made_maps(GuestThread& t, const std::vector<RemoteLink::ThreadWords::NodeMap>& maps);
    // A guest MAP_SHARED mapping at [start, start+len) (caller holds
    // aspace_mutex(), then calls sync_host_protection): host memory shared
    // with the processes this one forks, of host fd `fd` at `off`, or
    // anonymous when fd < 0. discard() puts private memory back.
    Result<void> map_shared(uint64_t start, uint64_t len, int fd, uint64_t off);
    // A System V shared-memory attach (shmat) of segment `shmid` at
    // [start, start+len), as map_shared (process_sysv_shm.cpp); shmdt()
    // finds it by its start.
    Result<void> attach_sysv_shm(uint64_t start, uint64_t len, int shmid, bool read_only, bool exec);
    // The attach that begins at `start`: its end, or 0 (caller holds aspace_mutex()).
    uint64_t sysv_attach_end(uint64_t start) const;
    // Whether guest address `a` lies in such a mapping (futexes there are the
    // host's, shared with the other processes). Takes aspace_mutex() only
    // when the process has a shared mapping at all.
    bool in_shared_mapping(uint64_t a);
    // A guest MAP_PRIVATE mapping of regular file `fd` at [start, start+len)
    // (caller holds aspace_mutex()): on one host the file's pages
    // mapped copy-on-write, as Linux does; spread over hosts the file made
    // the pages' filler on every node (fill_file_private), instead of
    // copied (process_file_map.cpp). Returns false (nothing changed) where
    // that does not apply; the caller then copies the bytes.
    bool map_file_private(uint64_t start, uint64_t len, int fd, uint64_t off);
    // The same for the loader's whole pages of an image, which lie inside
    // the file as it was when it was opened (check_load_plan): one host maps
    // them without asking the file's size again (an fstat per segment), with
    // the host protection of the segment's guest protection `prot`, so that
    // the re-sync after the load leaves them alone.
    bool map_image_pages(uint64_t start, uint64_t len, int fd, uint64_t off, int prot);
    // One host: how many bytes from the start of a private mapping
    // of `len` bytes of `fd` at `off` map_file_private maps as the file's
    // own pages (the whole pages inside a regular file); 0 where it maps
    // none (a cluster, not a regular file, `off` past its end).
    uint64_t file_pages_length(uint64_t len, int fd, uint64_t off);
    // Maps those `flen` bytes (file_pages_length) at `start`, with the host
    // protection of guest protection `prot` (-1: the full one, for a loader
    // that writes around them). False: nothing of the file is there (fresh
    // zero-filled memory is), the caller copies the bytes.
    bool map_file_pages(uint64_t start, uint64_t flen, int fd, uint64_t off, int prot);
    bool fill_file_private(uint64_t start, uint64_t len, int fd, uint64_t off);
    // Makes the host protection of guest RAM in [start, end) follow the
    // address space: mapped pages read/write, unmapped holes and PROT_NONE
    // mappings inaccessible, so a guest access there fails KVM_RUN with
    // EFAULT (reported as SIGSEGV) and the VMM refuses such pointers.
    // Guest PROT_READ-only mappings stay host-writable (the VMM fills them).
    // Caller holds aspace_mutex().
    // In a cluster the changes go to every node (RemoteThreads::layout_changed)
    // before this returns, one message per call; the second range (mremap's
    // other one) rides in the same message.
    void sync_host_protection(uint64_t start, uint64_t end, uint64_t start2 = 0, uint64_t end2 = 0);
    // The same for this host's mapping only: a change the only other node
    // made itself (node_grew_brk).
    void sync_host_protection_here(uint64_t start, uint64_t end);
    // si_code of a SIGSEGV the platform reported at guest address `addr`
    // (`code` as it reported it): where host protection refused an access
    // in guest RAM, SEGV_MAPERR when no mapping covers `addr`, SEGV_ACCERR
    // when one does, as Linux decides. Takes aspace_mutex().
    int segv_code(uint64_t addr, int code);
    // A syscall that returned to `regs.rip` trapped (regs: the thread's
    // registers there): lets the platform patch its site
    // (Platform::offer_syscall_site) when the code there is eligible.
    // Takes aspace_mutex().
    void offer_syscall_site(const platform::Regs& regs);
    // Temporarily grants host access (e.g. mremap copying out of a range the
    // address space already released); sync_host_protection undoes it.
    void host_allow(uint64_t start, uint64_t len);

    // Creates a guest thread on a vCPU (from the pool, or a new one) and
    // starts its host thread. Returns the new tid, or -errno.
    int64_t spawn_thread(const ThreadStart& start, uint64_t clear_child_tid, SpawnTidWrites writes = {});
    // execve(2) for a single-threaded guest (vmm/process/syscalls/process_exec.cpp):
    // returns -errno with the old image intact if the new program cannot be
    // loaded; otherwise rebuilds the address space, loads the program and
    // points the calling thread's registers at it, and returns 0.
    int64_t exec(GuestThread& t, ProcessConfig image);
    // execve's de_thread: ends every other thread of the process; an empty
    // string, or why it could not (process_exec.cpp).
    std::string end_other_threads(GuestThread& t);
    // /proc/PID/cmdline and /proc/PID/environ of this host process show the
    // guest's argv and envp strings (at these guest addresses, on its new
    // stack), where ps, pgrep -f and the program read them, and a rewrite
    // of that area (setproctitle) shows as on Linux (process_host_args.cpp:
    // prctl(PR_SET_MM) with CAP_SYS_RESOURCE, else PR_SET_MM_MAP). Not in a
    // cluster (the stack is DSM memory, which a reader would fault in).
    void show_args_on_host(uint64_t arg_start, uint64_t arg_end, uint64_t env_start, uint64_t env_end);

    // Generates signal `sig` for thread `tid`, or for the process when tid
    // is 0 (delivered to a thread that does not block it, preferring
    // `self`). Ignored signals are dropped; the target is kicked out of
    // KVM_RUN, a blocking host syscall or an emulated futex wait. `self` may
    // be null (timer thread). Returns 0, -EINVAL, -ESRCH (no such tid) or
    // -EAGAIN (a real-time signal's queue is full).
    int64_t send_signal(GuestThread* self, int sig, int tid, SigInfoFields info);
    // Host signal numbers spanvm's own process keeps for itself: glibc's two
    // internal ones (32, 33) and the kick (platform::Platform::kick_signal).
    // A guest's signal of that number reaches another guest process only
    // through its tables, never as a host signal (process_lifetime.cpp).
    static bool host_reserved_signal(int sig);
    // Takes host signal `sig` if it is pending for the calling host thread
    // or the process (its siginfo in `si`), without waiting: a signal the
    // forwarder would otherwise take later (process_lifetime.cpp).
    static bool take_pending_host(int sig, siginfo_t& si);
    // The host thread that takes this process's forwarded host signals,
    // where a host CPU-time timer sends its expiry: waits (at most ~1 s) for
    // a forwarder just started (a forked child's); 0 if none runs.
    pid_t forwarder_tid() const;
    // The host tid of live guest thread `tid` running on this host (waiting
    // briefly for one just created), or -1: a thread's CPU clock.
    int host_tid_of(int tid);
    // Called by a guest thread after it stored a new mask of its own
    // (old_mask before): kicks another thread for each process-directed
    // pending signal that the thread now blocks (Linux's
    // retarget_shared_pending()).
    void mask_changed(GuestThread& self, uint64_t old_mask);
    // ITIMER_REAL: fires SIGALRM at the process.
    IntervalTimer& itimer() { return *itimer_; }
    PosixTimers& posix_timers() { return posix_timers_; }

    // Called by a guest thread's host thread when the guest thread ends.
    // A local vCPU (no link) goes back to the pool; a remote thread's link
    // tells its node, and its vCPU is dropped.
    void thread_exited(ThreadRow& row, std::unique_ptr<platform::Vcpu> vcpu, RemoteLink* link, int code);
    // Linux's exit_robust_list for a thread that exits or execs, or at the
    // process's end (threads/robust_list.hpp): its robust futexes become
    // FUTEX_OWNER_DIED and a waiter is woken, here or, in a MAP_SHARED
    // mapping, in another process. Not in a cluster (process_lifetime.cpp).
    void release_robust_futexes(const ThreadRow& row);
    // Ends the whole process (exit_group, fatal signal): stops the remote
    // threads, hands the report to cfg.report_sink and _exit()s. Safe from
    // any thread; the first caller wins, later callers block until the host
    // exits. Never throws.
    [[noreturn]] void exit_process(int status);
    // Thread migration (GuestThread::migrate): a local vCPU for a thread
    // arriving here (from the pool or new; null at the platform's limit),
    // and back to the pool for one leaving.
    std::unique_ptr<platform::Vcpu> take_local_vcpu() { return take_vcpu(); }
    void pool_vcpu(std::unique_ptr<platform::Vcpu> v);
    // --- ThreadMover (for the remote threads' placement) ---
    std::vector<LiveThread> live_threads() override;
    bool request_move(int tid, unsigned node) override;

    // The process is killed by signal `sig` (a default action, a CPU
    // exception). The root exits with 128+sig (spanvm's status, unchanged);
    // a forked process dies of `sig` on the host, so its parent's wait4 sees
    // WIFSIGNALED (WCOREDUMP stays clear: spanvm writes no core file).
    [[noreturn]] void exit_process_signal(int sig);

    // fork(2), vfork(2), clone(2) without CLONE_VM|CLONE_THREAD, and
    // clone(CLONE_VM|CLONE_VFORK) as posix_spawn uses it: a guest process is
    // a spanvm host process, so a fork is a host fork() of spanvm
    // (process_fork.cpp; docs/ARCHITECTURE.md, "Processes"). Returns the
    // child's pid in the parent (or -errno), 0 in the child.
    struct ForkRequest {
        uint64_t flags = 0;  // clone flags; low byte: exit signal
        uint64_t stack = 0;  // child stack (0: the parent's RSP)
        uint64_t ptid = 0, ctid = 0, tls = 0;
    };
    int64_t fork_process(GuestThread& t, const ForkRequest& rq);
    // A vfork child that execs or exits: its parent's stack window goes back
    // to the parent, which then continues. No-op elsewhere.
    void vfork_release();
    // wait4/waitid that may block (no WNOHANG): the calling thread waits
    // for a child from begin to end. With --place-exec the image counted on
    // a node is not running meanwhile (ExecPlacer::exec_waiting), and the
    // time is not its busy time (ExecPlacer::exec_gone).
    std::chrono::steady_clock::time_point child_wait_begin();
    void child_wait_end(std::chrono::steady_clock::time_point began);
    bool is_root() const { return root_; }
    // The pid of the run's process (the root of every guest process).
    pid_t root_pid() const { return root_pid_; }
    // The host thread id that stands for guest process `pid` in a call that
    // names a process and acts on its first thread: `pid` itself (a forked
    // process's first host thread runs its first guest thread), but for
    // the run's own process, whose first guest thread has a thread of its
    // own (Process::run).
    int host_thread_of_process(int pid) const;
    // The run's first guest thread started on host thread `host_tid`.
    void first_thread_started(int host_tid);
    // Stop and continue (GuestThread::stop_process): how many host SIGCONTs
    // the forwarder has posted; and, once the process runs again, the
    // guest's SIGCONT made pending before `self` runs guest code.
    uint64_t host_continues() const;
    // The guest's CPU affinity (sched_setaffinity; the process's, not per
    // thread): every guest CPU until set. Bit i: guest CPU i.
    using CpuMask = std::array<uint64_t, 16>;
    CpuMask guest_affinity() const;
    // PR_SET_CHILD_SUBREAPER as the guest set it (not inherited by a fork).
    bool guest_subreaper() const { return guest_subreaper_.load(); }
    void set_guest_subreaper(bool on) { guest_subreaper_.store(on); }
    void set_guest_affinity(const CpuMask& m);
    void continued(GuestThread& self, uint64_t continues_before);
    // A child wait of `self` (wait4, waitid) reported a child's state
    // change: its SIGCHLD is posted before the wait returns, as on Linux
    // (process_lifetime.cpp). `stop_signal`: the signal that stopped
    // `child`, where the wait reported a stop (else 0).
    void child_reported(GuestThread& self, pid_t child, int stop_signal);
    // Host signal `sig` raised for this process before now is posted to the
    // guest before this returns (a pending one here, for `self`; one the
    // forwarder took, by it): as Linux delivers what is pending as a call
    // returns. (process_lifetime.cpp)
    void settle_host_signal(GuestThread& self, int sig);
    // Returns once the signal forwarder has posted every host signal it
    // took before this call (at most 1 s).
    void forwarder_barrier();
    // Logs "unsupported syscall" once per number.
    void report_unsupported(uint64_t nr);
    void report_unsupported_feature(const std::string& what);

    // --- seccomp (process_seccomp.cpp) ---
    // Installs `f` (whose prev is `self`'s chain) on `self`, or with `tsync`
    // on every live thread whose chain is `self`'s or an ancestor of it (or
    // none), as Linux's SECCOMP_FILTER_FLAG_TSYNC. Returns 0, or the tid of
    // a thread with another chain (then nothing is installed). Filters are
    // kept for the process's life (rows point at them; a fork copies them
    // and exec keeps them). Under fork_mu_: no fork copies half an install.
    int install_seccomp_filter(ThreadRow& self, std::shared_ptr<const seccomp::Filter> f, bool tsync);
    // The owner of a filter this process keeps (a chain to extend), or null.
    std::shared_ptr<const seccomp::Filter> seccomp_filter_owner(const seccomp::Filter* f);

    // The guest's view of its /proc status or stat file
    // (process_proc_view.cpp, syscalls/proc_status.hpp, proc_stat.hpp): the
    // host's text with the thread count, signal sets (and in status the
    // seccomp lines) of the guest; `thread_self` for the calling thread's
    // own, else the main thread's.
    std::string proc_view(std::string_view host, OwnProcFile file, bool thread_self);
    // Whether the guest's own /proc/self/maps is written from its address
    // space: on KVM and spread over hosts, where the host's does not show
    // the guest's memory at its addresses with its files.
    bool own_maps_view() const;
    // Sets `f`'s path, dev and ino (where still 0) from host fd `fd`, as
    // /proc/PID/maps shows them: an fstat, and a readlink of the fd only
    // for a file other than the one named last (ld.so maps each library
    // four or five times; the readlink costs ~11 us here).
    void name_mapped_file(int fd, FileRef& f);
    void report_out_of_memory(uint64_t len);


private:
    // sync_host_protection of one range, collecting the runs that changed.
    void sync_range(uint64_t start, uint64_t end, std::vector<memory::LayoutRun>& changed);
    explicit Process(const ProcessConfig& cfg, platform::PlatformChoice pc);
    // After execve, timekeeper_ (detached) is attached to the new vDSO page.
    Result<ThreadStart> load_program(const ImageFile& program);
    // Every shared or host-file range overlapping [start, end) gets private
    // zero-filled memory back there, at host protection `host_prot`. Caller
    // holds aspace_mu_. Returns how many bytes of [start, end) were remapped.
    uint64_t unshare(uint64_t start, uint64_t end, int host_prot);
    // unshare()'s bookkeeping alone, for a caller about to map over the
    // range itself: the overlaps of [start, end) with shared or host-file
    // ranges, no longer listed.
    std::vector<Range> forget_host_ranges(uint64_t start, uint64_t end);
    // exec, one host, native only: all of [kUserBase, end of guest RAM)
    // becomes private zero-filled memory at the full host protection in one
    // mapping, which keeps the address space's invariant (unmapped user
    // memory reads as zero) for any old layout; the caller re-syncs it all.
    // False (nothing changed, or the platform keeps guest RAM as it is:
    // KVM's memory slot, a cluster's DSM) where the caller must discard().
    bool renew_user_memory();
    std::unique_ptr<platform::Vcpu> take_vcpu();

    ProcessConfig cfg_;
    std::unique_ptr<platform::Platform> platform_;
    std::string platform_reason_;
    GuestAccess mem_;
    FdTable fds_;
    FutexTable futexes_;
    pid_t pid_;  // the host pid of this spanvm process: a guest pid is a host pid
    ThreadTable threads_;
    SignalTable signals_;
    SignalFdList signal_fds_;  // the guest's signalfds, notified by send_signal
    HostSyscallContext host_ctx_;
    std::mutex aspace_mu_;
    memory::PageAccessMap access_map_;
    // The host protection of guest RAM (under aspace_mu_ for changes; the
    // DSM engine reads pages through it in a cluster).
    std::unique_ptr<memory::GuestProtection> protection_;
    std::unique_ptr<AddressSpace> aspace_;
    // A remote thread that is the process's only one, in a cluster that
    // grants heap windows (process_heap_window.cpp).
    bool heap_window_eligible(GuestThread& t);
    // The end of the heap window last granted (homed at the thread's node),
    // 0: none; under aspace_mu_.
    uint64_t heap_window_end_ = 0;
    // The mapping window last granted (homed at the thread's node): its
    // free part is [lo, min(hi, free_until(lo))). 0, 0: none; under aspace_mu_.
    uint64_t map_window_lo_ = 0, map_window_hi_ = 0;
    // The highest a heap window above page-aligned `top` may reach: below
    // the mapping window's grant (UINT64_MAX: no limit from it).
    uint64_t heap_window_cap(uint64_t top) const;
    uint64_t vvar_addr_ = 0;  // the vDSO data page (host-writable: sync_range), 0 before load
    // The execve'd images' file pages, for the guest's own maps where it is
    // written from the address space (own_maps_view; syscalls/proc_maps.hpp).
    std::vector<ImagePages> image_pages_;
    // name_mapped_file's last file: (dev, ino) and its path; a leaf lock.
    std::mutex mapped_name_mu_;
    uint64_t mapped_name_dev_ = 0, mapped_name_ino_ = 0;
    std::string mapped_name_;
    void note_image_pages(const LoadPlan& plan, const ImageFile& file);
    std::map<uint64_t, uint64_t> shared_;  // start -> end of host-shared ranges (under aspace_mu_)
    std::atomic<size_t> shared_count_{0};  // shared_.size(), read without the lock
    std::map<uint64_t, uint64_t> file_private_;  // start -> end of host file mappings (under aspace_mu_)
    std::map<uint64_t, uint64_t> sysv_attaches_;  // start -> end of each shmat (under aspace_mu_; also in shared_)

    std::mutex vcpu_pool_mu_;
    std::vector<std::unique_ptr<platform::Vcpu>> vcpu_pool_;  // vCPUs of exited threads
    unsigned next_vcpu_id_ = 0;

    std::mutex exit_mu_;
    std::set<uint64_t> reported_syscalls_;
    std::set<std::string> reported_features_;
    std::atomic<bool> oom_reported_{false};
    std::atomic<bool> exiting_{false};
    std::atomic<int> live_{0};
    std::atomic<uint64_t> host_continues_{0};  // host SIGCONTs the forwarder has posted
    // child_reported's markers: sent, and the last the forwarder passed.
    std::atomic<uint32_t> chld_sync_req_{0}, chld_sync_ack_{0};
    // The last stop a child wait reported: (host pid << 8) | signal; 0: none.
    std::atomic<uint64_t> last_stop_{0};
    mutable std::mutex affinity_mu_;  // a leaf lock
    std::optional<CpuMask> guest_affinity_;  // unset: every guest CPU
    std::atomic<bool> guest_subreaper_{false};
    ThreadStart initial_;
    // The thread that takes a process-directed `sig` (send_signal), or null
    // when every thread blocks it; kicks `row` unless it is `self`.
    ThreadRow* shared_taker(GuestThread* self, int sig);
    void kick_row(GuestThread* self, ThreadRow& row);
    std::unique_ptr<IntervalTimer> itimer_ = make_itimer();
    std::unique_ptr<IntervalTimer> make_itimer() {
        return std::make_unique<IntervalTimer>([this] { send_signal(nullptr, SIGALRM, 0, {0x80 /* SI_KERNEL */, 0, 0}); });
    }
    // timer_create and friends (process_syscalls_timers.cpp); an expiry is
    // a guest signal with SI_TIMER siginfo (process_signals.cpp).
    PosixTimers posix_timers_{
        [this](int id, const PosixTimers::Event& ev, int overrun) { post_timer_signal(id, ev, overrun); }};
    void post_timer_signal(int id, const PosixTimers::Event& ev, int overrun);
    // The signal forwarder's host tid once it runs; in a forked child, its
    // parent's until the child's own forwarder stores its own.
    std::atomic<pid_t> forwarder_tid_{0};

    // --- processes (process_fork.cpp, process_lifetime.cpp) ---
    struct ForkedThread;  // the forking thread's state, carried into the child
    void after_fork_child(GuestThread& t, const ForkedThread& st);
    // A fork in a cluster (process_fork_cluster.cpp). Parent, every lock
    // held: why the fork cannot be done ("" when it can), after the pages
    // other nodes hold were fetched. Child, every lock held: leaves the
    // cluster (a local process over its own copy of guest RAM); then, locks
    // released: closes the cluster's host fds it inherited.
    std::string gather_for_fork(const ThreadRow& forking);
    // execve (process_exec_placed.cpp): asks the ExecPlacer where the new
    // image runs; on another node, this process becomes its deputy (a
    // cluster of two attached to guest RAM, the thread told to move there
    // once exec returns). Caller holds aspace_mutex(), past the point of no
    // return, the old image's memory discarded.
    // `vforked`: this process was made by a vfork its parent was blocked in.
    void place_exec_image(GuestThread& t, bool vforked);
    // The image counted on exec_node_ is gone: tells the ExecPlacer, with
    // its busy time (its life less its threads' child waits). Then counts
    // none.
    void exec_image_gone();
    // The node place_exec() counted this process on; -1: none.
    // Atomic: a thread in a child wait reads it while end_process clears it.
    std::atomic<int> exec_node_{-1};
    int parent_exec_node_ = -1;  // the parent's exec_node_ when it forked this process
    std::string exec_program_;   // the counted image's program
    std::chrono::steady_clock::time_point exec_started_{};
    // Its threads' time in child waits since the exec (ns), and how many of
    // them wait now. A fork's child starts with none.
    std::atomic<std::uint64_t> child_wait_ns_{0};
    std::atomic<int> child_waiters_{0};
    void leave_cluster_in_child();
    void close_cluster_fds_in_child();
    void unlock_after_fork(bool stdio = true);  // false in the child (glibc reset the stdio locks)
    // Blocks the forwarded host signals in the calling thread (inherited by
    // every thread created after it).
    static void block_forwarded_signals();
    void start_signal_forwarder();
    // Moves the forwarder to the CPU the calling thread runs on.
    void pin_forwarder_here();
    void forward_host_signals();  // the forwarder thread's body
    // A forked process's forwarder, every Timekeeper::kDefaultPeriod: ticks
    // the driven Timekeeper and ends the process if the root is gone.
    void every_period();
    // Root only: SIGKILLs every descendant still running and reaps it, until
    // none is left (the root is their subreaper).
    void end_descendants();
    // A forked process killed by `sig`: dies of it on the host (no core file).
    static void die_of_signal(int sig);
    [[noreturn]] void end_process(int status, int sig);
    pid_t root_pid_ = 0;
    bool root_ = true;              // the process `spanvm run` started (not a fork)
    int root_pidfd_ = -1;           // the root's pidfd: a child ends when the root does
    int vfork_fd_ = -1;             // vfork child: write end of the pipe its parent waits on
    uint64_t vfork_window_ = 0, vfork_window_len_ = 0;  // parent's stack bytes sent back
    std::mutex fork_mu_;            // one fork at a time; outermost lock
    std::vector<std::shared_ptr<const seccomp::Filter>> seccomp_filters_;  // under fork_mu_
    ProcessRegistry* registry_ = nullptr;  // the run's process table (shared memory; never freed)
    ProcessSlot* slot_ = nullptr;          // this process's row in it
    // Writes the guest vDSO's time record; null without a vDSO. Last member:
    // its thread stops before the guest RAM it writes goes away.
    std::unique_ptr<time::Timekeeper> timekeeper_;
    // A forked process's timekeeper_ while it is the driven one its
    // forwarder ticks (set in after_fork_child; null once load_program
    // replaces it, which then leaks the old one: the forwarder may be in
    // its tick()).
    std::atomic<time::Timekeeper*> driven_tk_{nullptr};
    // The host clocks against the TSC when create() began: the first
    // Timekeeper calibrates from it, over the time the start-up took,
    // instead of sleeping (timekeeper.hpp).
    std::optional<time::Timekeeper::Baseline> tsc_baseline_;
};

}  // namespace spanvm::process
