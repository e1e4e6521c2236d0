#pragma once
// UffdRegion: the userfaultfd backend of the page-granular MSI DSM.
//
// One private anonymous mapping (MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE,
// MADV_NOHUGEPAGE: it backs KVM guest RAM) registered with userfaultfd in
// MISSING+WP mode. Protocol states map onto kernel page states as
//   Invalid  -> absent    (pte none; any access raises a MISSING fault)
//   Shared   -> read_only (present, uffd-wp; a write raises a WP fault)
//   Modified -> writable  (present, not write-protected)
//
// Invariants:
// - The registered range is only touched by this class's calls (and by the
//   guest / KVM). Contents are copied in with UFFDIO_COPY from the caller's
//   buffer and copied out only when the page is present and write-protected,
//   so a fault-handling thread never faults on the region itself.
// - presence(page) is our own record of the kernel state (not derived from
//   kernel features); it is updated under the page's stripe lock after the
//   ioctl succeeded.
// - Operations on one page are serialised by an internal striped lock (leaf
//   lock: held only around ioctls/madvise/memcpy of a present page, never
//   while waiting for anything). Different pages may be worked on from any
//   threads concurrently.
//
// Liveness rule ("every faulting thread resumes or the process fails loudly"):
// - Every fault returned by read_fault() must be answered with install(),
//   make_writable() or wake() for its page (the answer may be for a fault that
//   a previous answer already resolved: duplicate events for one page are
//   normal when several threads fault on it).
// - fail_all(reason) logs one fatal line and _exit()s with kFatalExitCode.
//   It is the DSM's failure path only (faults, ioctls, protocol violations,
//   a lost peer of `spanvm dsm-node`); the multi-host process mode ends on
//   its other failures through cluster::ClusterFailure. Both go through
//   exit_fatally (vmm/base/fatal_exit.hpp), so one failure prints one line
//   (the first caller's, in full: later callers wait for it to exit).
//   Exiting SIGKILLs every thread, including ones blocked in the kernel's
//   handle_userfault() (user-mode and KVM faults wait killably). Waking the
//   blocked threads instead would only make them fault again, and
//   unregistering would silently hand them zero pages, so neither is done.
// - start_watchdog(limit) runs a thread that calls fail_all() when a fault
//   read by read_fault() stays unanswered for longer than `limit`, or when
//   fault events sit unread on the descriptor for longer than `limit` with no
//   read_fault() making progress (handler thread dead or stuck).
//
// Descriptor: userfaultfd(O_CLOEXEC|O_NONBLOCK) (falls back to
// /dev/userfaultfd). O_NONBLOCK so that several handler threads polling the
// same descriptor never block in read() after losing a race for one event;
// read_fault() waits in poll() with a timeout instead. UFFD_USER_MODE_ONLY is
// deliberately not used: KVM's accesses to guest RAM are kernel-mode faults.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>

#include "vmm/base/fatal_exit.hpp"
#include "vmm/base/result.hpp"
#include "vmm/memory/guest_protection.hpp"

namespace spanvm::dsm {

class UffdRegion {
public:
    static constexpr std::size_t kPageSize = 4096;
    static constexpr int kFatalExitCode = kFatalExitStatus;  // 70, EX_SOFTWARE

    enum class Presence : std::uint8_t { absent = 0, read_only = 1, writable = 2 };

    enum class InstallOutcome {
        installed,  // page was absent and now holds the data
        replaced,   // page was unexpectedly present (EEXIST); its stale contents
                    // were discarded and the data installed (post-condition holds)
    };

    struct Fault {
        std::uint64_t page = 0;     // page index within the region
        std::uint64_t address = 0;  // faulting host virtual address (page aligned)
        bool is_write = false;      // UFFD_PAGEFAULT_FLAG_WRITE
        bool is_wp = false;         // UFFD_PAGEFAULT_FLAG_WP: write to a read-only page
        std::uint32_t tid = 0;      // faulting thread id if the kernel reports it, else 0
        std::uint64_t read_ns = 0;  // CLOCK_MONOTONIC ns when read from the descriptor
    };

    // Maps and registers `page_count` pages. Errors (one line) if userfaultfd
    // is unavailable (EPERM: needs root or vm.unprivileged_userfaultfd=1) or
    // lacks write-protect support.
    static Result<std::unique_ptr<UffdRegion>> create(std::uint64_t page_count);
    // The same over memory the caller mapped (private anonymous, 4 KiB
    // aligned, no THP; e.g. guest RAM): registered here, never unmapped here.
    static Result<std::unique_ptr<UffdRegion>> create_over(std::uint8_t* base, std::uint64_t page_count);

    UffdRegion(const UffdRegion&) = delete;
    UffdRegion& operator=(const UffdRegion&) = delete;
    // Stops the watchdog, unregisters (waking any blocked thread, which then
    // sees plain anonymous memory), unmaps and closes. The owner guarantees
    // nobody touches the region afterwards.
    ~UffdRegion();

    std::uint8_t* base() const { return base_; }
    std::size_t size() const { return page_count_ * kPageSize; }
    std::uint64_t page_count() const { return page_count_; }
    std::uint64_t features() const { return features_; }  // enabled UFFD_FEATURE_* bits
    int fd() const { return fd_; }
    Presence presence(std::uint64_t page) const;

    // Installs a page: `data` (kPageSize bytes) or zeros if null. Only for
    // pages the protocol holds Invalid: callers serialise per page (protocol
    // lock) and answer a duplicate fault on a present page with wake(), since
    // a replacing install would discard local writes made since. Read-only
    // installs use UFFDIO_COPY with MODE_WP so the page is never writable even
    // for an instant; a writable zero page uses UFFDIO_ZEROPAGE. Wakes threads
    // blocked on the page.
    Result<InstallOutcome> install(std::uint64_t page, const void* data, bool writable);
    // Installs writable zero pages over [first, first + count), all of them
    // absent: one UFFDIO_ZEROPAGE for the run (the kernel's zero page until
    // written). Same contract as install() per page; a page found present
    // after all is replaced as install() does. count <= kStripes; takes the
    // run's stripe locks in ascending stripe order (as write_protect_writable).
    Result<void> install_zero_run(std::uint64_t first, std::uint64_t count);
    // Installs `count` pages of `data` (back to back) over [first, first +
    // count), all of them absent: one UFFDIO_COPY (MODE_WP unless writable)
    // for the run. Same contract as install() per page; a page found present
    // after all is replaced as install() does. count <= kStripes; takes the
    // run's stripe locks in ascending stripe order. uffd_region_runs.cpp.
    Result<void> install_run(std::uint64_t first, std::uint64_t count, const void* data, bool writable);
    // invalidate(page, nullptr) for every page of the run with one madvise.
    // count <= kStripes; takes the run's stripe locks in ascending order.
    Result<void> invalidate_run(std::uint64_t first, std::uint64_t count);
    // read_only -> writable for every read-only page of the run, one
    // UFFDIO_WRITEPROTECT (mode 0) per stretch of them; absent and writable
    // pages are not touched. Only for pages the protocol holds Modified.
    // Returns how many it made writable. count <= kStripes.
    Result<std::uint64_t> make_writable_run(std::uint64_t first, std::uint64_t count);
    // read_only -> writable (UFFDIO_WRITEPROTECT mode 0, wakes WP waiters).
    // Writable already: no-op. Absent: error.
    Result<void> make_writable(std::uint64_t page);
    // writable -> read_only, then copies the now-stable contents to `out` if
    // non-null. read_only already: only the copy. Absent: error.
    Result<void> downgrade(std::uint64_t page, void* out);
    // Write-protects every writable page of [first, first + count), one
    // UFFDIO_WRITEPROTECT per run of consecutive writable pages (absent and
    // read-only pages are not touched, so no uffd-wp markers appear on
    // unpopulated ptes). Returns how many pages it write-protected. The
    // kernel pays one TLB flush per ioctl: several pages cost about as much
    // as one (a single page costs ~45 us on the nested-virtualized CI VM, a
    // full flush for > 33 pages ~100 us). count <= kStripes; takes the
    // stripe locks of the range in ascending stripe order (every other
    // caller holds at most one stripe lock, so this cannot deadlock).
    Result<std::uint64_t> write_protect_writable(std::uint64_t first, std::uint64_t count);
    // -> absent. If `out` is non-null the page is write-protected first and its
    // contents copied out (error if it was absent). Then MADV_DONTNEED.
    Result<void> invalidate(std::uint64_t page, void* out);
    // UFFDIO_WAKE for the page: answers a fault that needs no state change.
    Result<void> wake(std::uint64_t page);

    // Next page fault, or nullopt on timeout / EINTR / lost race with another
    // reader. timeout_ms < 0 waits forever. Any event other than a page fault
    // in the region is an error.
    Result<std::optional<Fault>> read_fault(int timeout_ms);

    // Unregisters the range: blocked threads are woken and from then on the
    // memory is plain anonymous memory. For orderly teardown only.
    Result<void> unregister();

    // See the liveness rule above. The hook (optional) runs once, before exit,
    // with the reason; it must not block.
    [[noreturn]] void fail_all(const std::string& reason);
    void set_fatal_hook(std::function<void(const std::string&)> hook);
    // A deputy's DSM (cluster::ClusterFailure::quiet_when): when `quiet()`
    // says so (it may wait a little), fail_all exits with no line and runs
    // no hook, as the deputy's cluster failures do.
    void set_quiet_when(std::function<bool()> quiet);
    // Guest RAM whose host protection follows the guest's layout: copy-outs
    // (downgrade, invalidate) read through it, so a page the guest may not
    // touch (PROT_NONE on the host) is still read, through its alias. Set
    // once, before the first fault; nullptr (the default): plain copies.
    void set_reader(const memory::GuestProtection* reader) { reader_ = reader; }
    void start_watchdog(std::chrono::milliseconds limit);
    void stop_watchdog();
    // Number of faults read but not yet answered, and the age of the oldest.
    std::size_t pending_faults() const;
    std::chrono::nanoseconds oldest_pending_age() const;

private:
    UffdRegion(int fd, std::uint8_t* base, std::uint64_t page_count, std::uint64_t features);
    static Result<std::unique_ptr<UffdRegion>> create_impl(std::uint64_t page_count, std::uint8_t* external);
    bool owns_mapping_ = true;

public:
    static constexpr std::size_t kStripes = 64;

private:
    Result<void> check_page(std::uint64_t page) const;
    Result<void> check_run(std::uint64_t first, std::uint64_t count, const char* what) const;
    // Locks the stripes of a run of <= kStripes pages in ascending stripe order.
    void lock_run(std::unique_lock<std::mutex> (&locks)[kStripes], std::uint64_t first, std::uint64_t count);
    std::mutex& stripe(std::uint64_t page) { return stripes_[page % kStripes]; }
    std::uint64_t addr(std::uint64_t page) const {
        return reinterpret_cast<std::uint64_t>(base_) + page * kPageSize;
    }
    void set_presence(std::uint64_t page, Presence p);
    // Raw ioctls (caller holds the stripe lock).
    Result<void> copy_locked(std::uint64_t page, const void* src, bool wp);
    Result<void> zeropage_locked(std::uint64_t page);
    Result<void> writeprotect_locked(std::uint64_t page, bool wp);
    Result<void> dontneed_locked(std::uint64_t page);
    void mark_answered(std::uint64_t page);
    // Copies a present, write-protected page out (caller holds its stripe).
    Result<void> copy_out_locked(std::uint64_t page, void* out) const;
    void watchdog_loop(std::chrono::milliseconds limit);

    int fd_ = -1;
    std::uint8_t* base_ = nullptr;
    std::uint64_t page_count_ = 0;
    std::uint64_t features_ = 0;
    const memory::GuestProtection* reader_ = nullptr;
    std::atomic<bool> registered_{true};
    // Presence per page, read and written through std::atomic_ref (see map_presence).
    std::uint8_t* presence_ = nullptr;
    static std::uint8_t* map_presence(std::uint64_t page_count);
    std::mutex stripes_[kStripes];

    // Pending (read, unanswered) faults: page -> monotonic ns of first read.
    mutable std::mutex pending_mu_;
    std::unordered_map<std::uint64_t, std::uint64_t> pending_;
    std::atomic<std::uint64_t> faults_read_{0};

    std::mutex hook_mu_;
    std::function<void(const std::string&)> fatal_hook_;
    std::function<bool()> quiet_;  // under hook_mu_

    std::mutex wd_mu_;
    std::condition_variable wd_cv_;
    bool wd_stop_ = false;
    std::thread watchdog_;
};

}  // namespace spanvm::dsm
