// execve(2): a new program image in the same VM, same pid, same vCPU.
//
// In a multithreaded process the other threads end first, as Linux's
// de_thread kills them (end_other_threads; rustup's proxies, Python's
// os.execv from a program with threads).
#include <sys/mman.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <string>

#include "vmm/base/log.hpp"
#include "vmm/memory/layout.hpp"
#include "vmm/process/threads/guest_thread.hpp"
#include "vmm/base/latency_trace.hpp"
#include "vmm/process/process.hpp"

namespace spanvm::process {

namespace {
constexpr auto kDeThreadLimit = std::chrono::seconds(10);
}  // namespace

std::string Process::end_other_threads(GuestThread& t) {
    // Linux's de_thread: every other thread ends before the new image
    // runs. Each is asked to end (ThreadRow::end_requested) and kicked out
    // of the guest or of a blocking call; it ends before it runs guest code
    // again (GuestThread::run) and the last of them drops live_ to one.
    // Rescanned until then: a thread another one was creating meanwhile is
    // asked too. Threads on other nodes cannot be ended from here yet.
    if (cfg_.remote && threads_.any_live_remote_locked(&t.row()))
        return "execve from a guest with threads on other nodes: ENOSYS";
    const auto give_up = std::chrono::steady_clock::now() + kDeThreadLimit;
    while (live_.load() > 1) {
        for (ThreadRow* r : threads_.live_rows()) {
            if (r == &t.row() || r->end_requested.exchange(true)) continue;
            kick_row(&t, *r);
        }
        if (std::chrono::steady_clock::now() > give_up)
            return "execve: another thread of the process did not end within 10 s: ENOSYS";
        ::usleep(200);
    }
    // The exec'ing thread becomes the process's first thread (its tid is the
    // pid from here on, as Linux's leader exchange makes it).
    threads_.make_leader(t.row(), pid_);
    return {};
}

int64_t Process::exec(GuestThread& t, ProcessConfig image) {
    trace::mark("exec.begin");
    // Rows, not live_: a joined thread's row is exited before its clear-tid
    // wake lets the joiner run, but live_ drops only after that wake.
    if (threads_.live_threads() != 1) {
        if (std::string why = end_other_threads(t); !why.empty()) {
            report_unsupported_feature(why);
            return -ENOSYS;
        }
    }
    const std::string path_given = image.program;
    image.mem_size = cfg_.mem_size;
    image.vcpus = cfg_.vcpus;
    auto resolved = resolve_image(std::move(image));
    if (!resolved) return -(resolved.error().code ? resolved.error().code : ENOEXEC);

    // A vfork child's parent gets its stack window back and continues
    // (process_fork.cpp) before the old image goes.
    const bool vforked = vfork_fd_ >= 0;
    // Linux's exec_mm_release: the old image's robust futexes are released
    // (those in MAP_SHARED memory outlive it) before its memory goes.
    release_robust_futexes(t.row());
    vfork_release();
    // Point of no return (Linux's too): the old image goes away. The
    // timekeeper writes into the old vDSO data page, so it detaches first;
    // load_program attaches it to the new one (same thread, same TSC rate:
    // no 3 ms calibration per exec).
    if (timekeeper_) timekeeper_->detach();
    // The host thread that runs this guest thread carries the name, so host
    // tools (ps, top, perf) and the guest's PR_GET_NAME see the program.
    name_task(path_given, root_);
    std::lock_guard lk(aspace_mu_);
    // Adjacent mappings go as one range (one madvise, one TLB shootdown,
    // instead of one per mapping: an image has a dozen or more).
    std::vector<Range> old;
    for (const Vma& v : aspace_->vmas()) {
        if (!old.empty() && old.back().end() == v.start)
            old.back().len += v.len();
        else
            old.push_back(Range{v.start, v.len()});
    }
    // One host, native: the whole user area becomes fresh memory in one
    // mmap (renew_user_memory), not one mmap, madvise(MADV_NOHUGEPAGE) and
    // madvise(MADV_DONTNEED) per old range (~20 calls for a small image).
    if (!renew_user_memory()) discard(old, memory::layout::kUserBase, platform_->memory().size());  // re-synced below
    auto as = AddressSpace::create(memory::layout::kUserBase, platform_->memory().size());
    if (!as) {
        log::error("execve: {}", as.error().message);
        exit_process(125);
    }
    aspace_ = std::make_unique<AddressSpace>(std::move(*as));
    heap_window_end_ = 0;
    map_window_lo_ = map_window_hi_ = 0;
    cfg_.program = resolved->cfg.program;
    cfg_.argv = resolved->cfg.argv;
    cfg_.envp = resolved->cfg.envp;
    host_ctx_.guest_exe = absolute_path(cfg_.program);
    if (slot_) slot_->set_program(cfg_.program);
    // `--place-exec`: the new image may start on another node, this process
    // its deputy (process_exec_placed.cpp).
    place_exec_image(t, vforked);
    // The loader writes through the host mapping, which still carries the
    // old image's PROT_NONE holes; open it all, load, then re-sync below.
    host_allow(memory::layout::kUserBase, platform_->memory().size() - memory::layout::kUserBase);
    auto start = load_program(resolved->file);
    if (!start) {
        log::error("execve of '{}' failed after the old image was released: {}", cfg_.program, start.error().message);
        exit_process_signal(SIGSEGV);  // what Linux does past the point of no return
    }
    sync_host_protection(memory::layout::kUserBase, platform_->memory().size());
    trace::mark("exec.loaded");
    (void)fds_.close_on_exec();
    signals_.reset_handlers();
    posix_timers_.clear();  // Linux deletes POSIX timers at execve (ITIMER_REAL stays)
    signals_.forget_timers();

    // The new program starts from its entry with a clean register file,
    // which bypasses the syscall return (RIP = RCX, RFLAGS = R11).
    t.regs() = start->regs;
    t.mark_regs_dirty();
    t.set_regs_replaced();
    t.row().sigaltstack_reset();
    if (auto e = t.set_fs_base(0); !e) log::warn("execve: {}", e.error().message);
    if (auto e = t.set_gs_base(0); !e) log::warn("execve: {}", e.error().message);
    ThreadRow& row = t.row();
    row.clear_child_tid = 0;
    row.robust_list = 0;
    row.robust_list_len = 0;
    return 0;
}

}  // namespace spanvm::process
