#include "vmm/dsm/uffd_region.hpp"

#include "vmm/base/latency_trace.hpp"

#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>

#include <atomic>
#include <new>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "vmm/base/log.hpp"

// Debian 12's uapi headers predate these (values from Linux 6.4+).
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif

namespace spanvm::dsm {
namespace {

// Bounded retry for EAGAIN (the kernel's mmap_changing window).
constexpr int kEagainRetries = 10000;

std::uint64_t now_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL +
           static_cast<std::uint64_t>(ts.tv_nsec);
}

Result<int> open_uffd() {
    int fd = static_cast<int>(syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK));
    if (fd >= 0) return fd;
    int first = errno;
    // Fallback for hosts that restrict the syscall but expose the device.
    int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
    if (dev >= 0) {
        fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
        close(dev);
        if (fd >= 0) return fd;
    }
    return make_error(first,
                      "userfaultfd unavailable: {} (needs root, CAP_SYS_PTRACE or "
                      "vm.unprivileged_userfaultfd=1; kernel needs CONFIG_USERFAULTFD)",
                      std::strerror(first));
}

// Features the kernel offers: UFFDIO_API with features=0 reports them; the
// descriptor is then spent (UFFDIO_API may be called once), so it is closed.
Result<std::uint64_t> probe_features() {
    auto fd = open_uffd();
    if (!fd) return fd.error();
    uffdio_api api{};
    api.api = UFFD_API;
    int rc = ioctl(*fd, UFFDIO_API, &api);
    Error err = rc != 0 ? errno_error("UFFDIO_API (probe)") : Error{};
    close(*fd);
    if (rc != 0) return err;
    return static_cast<std::uint64_t>(api.features);
}

}  // namespace

Result<std::unique_ptr<UffdRegion>> UffdRegion::create(std::uint64_t page_count) {
    return create_impl(page_count, nullptr);
}

Result<std::unique_ptr<UffdRegion>> UffdRegion::create_over(std::uint8_t* base, std::uint64_t page_count) {
    if (!base || reinterpret_cast<std::uintptr_t>(base) % kPageSize)
        return make_error(EINVAL, "UffdRegion: external base {} is not page-aligned", static_cast<void*>(base));
    return create_impl(page_count, base);
}

Result<std::unique_ptr<UffdRegion>> UffdRegion::create_impl(std::uint64_t page_count, std::uint8_t* external) {
    if (page_count == 0) return make_error(EINVAL, "UffdRegion: page_count must be > 0");
    if (page_count > (std::uint64_t{1} << 36))
        return make_error(EINVAL, "UffdRegion: page_count {} too large", page_count);
    if (sysconf(_SC_PAGESIZE) != static_cast<long>(kPageSize))
        return make_error(EINVAL, "UffdRegion: host page size is not {}", kPageSize);

    auto offered = probe_features();
    if (!offered) return offered.error();
    if (!(*offered & UFFD_FEATURE_PAGEFAULT_FLAG_WP))
        return make_error(ENOTSUP, "userfaultfd: kernel lacks UFFD_FEATURE_PAGEFAULT_FLAG_WP");
    std::uint64_t want = UFFD_FEATURE_PAGEFAULT_FLAG_WP;
    want |= *offered & (UFFD_FEATURE_WP_UNPOPULATED | UFFD_FEATURE_THREAD_ID);

    auto fdr = open_uffd();
    if (!fdr) return fdr.error();
    int fd = *fdr;
    uffdio_api api{};
    api.api = UFFD_API;
    api.features = want;
    if (ioctl(fd, UFFDIO_API, &api) != 0) {
        Error e = errno_error("UFFDIO_API");
        close(fd);
        return e;
    }

    std::size_t bytes = page_count * kPageSize;
    void* mem = external ? external
                         : mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                                -1, 0);
    auto unmap = [&] {
        if (!external) munmap(mem, bytes);
    };
    if (mem == MAP_FAILED) {
        Error e = errno_error(fmt::format("mmap {} bytes", bytes));
        close(fd);
        return e;
    }
    if (madvise(mem, bytes, MADV_NOHUGEPAGE) != 0) {
        Error e = errno_error("madvise(MADV_NOHUGEPAGE)");
        unmap();
        close(fd);
        return e;
    }
    uffdio_register reg{};
    reg.range.start = reinterpret_cast<std::uint64_t>(mem);
    reg.range.len = bytes;
    reg.mode = UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_WP;
    if (ioctl(fd, UFFDIO_REGISTER, &reg) != 0) {
        Error e = errno_error("UFFDIO_REGISTER (MISSING|WP)");
        unmap();
        close(fd);
        return e;
    }
    constexpr std::uint64_t need = (std::uint64_t{1} << _UFFDIO_COPY) |
                                   (std::uint64_t{1} << _UFFDIO_ZEROPAGE) |
                                   (std::uint64_t{1} << _UFFDIO_WRITEPROTECT) |
                                   (std::uint64_t{1} << _UFFDIO_WAKE);
    if ((reg.ioctls & need) != need) {
        unmap();
        close(fd);
        return make_error(ENOTSUP, "userfaultfd: range lacks COPY/ZEROPAGE/WRITEPROTECT/WAKE ioctls");
    }
    // api.features now lists everything the kernel supports; what is enabled
    // is what we asked for.
    std::unique_ptr<UffdRegion> r(new UffdRegion(fd, static_cast<std::uint8_t*>(mem), page_count, want));
    r->owns_mapping_ = external == nullptr;
    return r;
}

UffdRegion::UffdRegion(int fd, std::uint8_t* base, std::uint64_t page_count, std::uint64_t features)
    : fd_(fd), base_(base), page_count_(page_count), features_(features),
      presence_(map_presence(page_count)) {}

// One byte per page in a lazily zeroed anonymous mapping (0 = absent): its
// cost follows the pages touched, not the region's size (16 MiB of virtual
// space for a 64 GiB guest, nothing resident until used).
std::uint8_t* UffdRegion::map_presence(std::uint64_t page_count) {
    void* p = mmap(nullptr, page_count, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    return static_cast<std::uint8_t*>(p);
}

UffdRegion::~UffdRegion() {
    stop_watchdog();
    if (registered_.load()) (void)unregister();
    if (owns_mapping_) munmap(base_, size());
    munmap(presence_, page_count_);
    close(fd_);
}

UffdRegion::Presence UffdRegion::presence(std::uint64_t page) const {
    if (page >= page_count_) return Presence::absent;
    return static_cast<Presence>(std::atomic_ref<std::uint8_t>(presence_[page]).load(std::memory_order_acquire));
}

void UffdRegion::set_presence(std::uint64_t page, Presence p) {
    std::atomic_ref<std::uint8_t>(presence_[page]).store(static_cast<std::uint8_t>(p), std::memory_order_release);
}

Result<void> UffdRegion::check_page(std::uint64_t page) const {
    if (page >= page_count_)
        return make_error(EINVAL, "uffd: page {} out of range (region has {} pages)", page,
                          page_count_);
    if (!registered_.load(std::memory_order_relaxed))
        return make_error(EBADF, "uffd: region is unregistered");
    return {};
}

Result<void> UffdRegion::copy_locked(std::uint64_t page, const void* src, bool wp) {
    for (int i = 0; i < kEagainRetries; ++i) {
        uffdio_copy c{};
        c.dst = addr(page);
        c.src = reinterpret_cast<std::uint64_t>(src);
        c.len = kPageSize;
        c.mode = wp ? UFFDIO_COPY_MODE_WP : 0;
        if (ioctl(fd_, UFFDIO_COPY, &c) == 0) return {};
        if (errno != EAGAIN || c.copy > 0) {
            if (c.copy == static_cast<std::int64_t>(kPageSize)) return {};
            return errno_error(fmt::format("UFFDIO_COPY page {}", page));
        }
        sched_yield();
    }
    return make_error(EAGAIN, "UFFDIO_COPY page {}: EAGAIN persisted", page);
}

Result<void> UffdRegion::zeropage_locked(std::uint64_t page) {
    for (int i = 0; i < kEagainRetries; ++i) {
        uffdio_zeropage z{};
        z.range.start = addr(page);
        z.range.len = kPageSize;
        if (ioctl(fd_, UFFDIO_ZEROPAGE, &z) == 0) return {};
        if (errno != EAGAIN) return errno_error(fmt::format("UFFDIO_ZEROPAGE page {}", page));
        sched_yield();
    }
    return make_error(EAGAIN, "UFFDIO_ZEROPAGE page {}: EAGAIN persisted", page);
}

Result<void> UffdRegion::writeprotect_locked(std::uint64_t page, bool wp) {
    for (int i = 0; i < kEagainRetries; ++i) {
        uffdio_writeprotect w{};
        w.range.start = addr(page);
        w.range.len = kPageSize;
        w.mode = wp ? UFFDIO_WRITEPROTECT_MODE_WP : 0;  // clearing also wakes
        if (ioctl(fd_, UFFDIO_WRITEPROTECT, &w) == 0) return {};
        if (errno != EAGAIN)
            return errno_error(fmt::format("UFFDIO_WRITEPROTECT({}) page {}", wp ? "WP" : "0", page));
        sched_yield();
    }
    return make_error(EAGAIN, "UFFDIO_WRITEPROTECT page {}: EAGAIN persisted", page);
}

Result<void> UffdRegion::dontneed_locked(std::uint64_t page) {
    if (madvise(base_ + page * kPageSize, kPageSize, MADV_DONTNEED) != 0)
        return errno_error(fmt::format("madvise(MADV_DONTNEED) page {}", page));
    return {};
}

Result<UffdRegion::InstallOutcome> UffdRegion::install(std::uint64_t page, const void* data,
                                                       bool writable) {
    if (auto c = check_page(page); !c) return c.error();
    // Read-only zero installs copy from this page: UFFDIO_ZEROPAGE has no WP
    // mode, and ZEROPAGE followed by WRITEPROTECT would leave a window in
    // which a write lands unseen.
    alignas(kPageSize) static const std::uint8_t zeros[kPageSize] = {};
    InstallOutcome outcome = InstallOutcome::installed;
    {
        std::lock_guard lk(stripe(page));
        auto attempt = [&]() -> Result<void> {
            if (data == nullptr && writable) return zeropage_locked(page);
            return copy_locked(page, data != nullptr ? data : zeros, !writable);
        };
        auto r = attempt();
        if (!r && r.error().code == EEXIST) {
            // Present although install() is only called for pages the protocol
            // holds Invalid: whatever is there is stale by definition. Drop it
            // and install, so the post-condition (page == data) holds.
            if (auto d = dontneed_locked(page); !d) return d.error();
            set_presence(page, Presence::absent);
            r = attempt();
            outcome = InstallOutcome::replaced;
        }
        if (!r) return r.error();
        set_presence(page, writable ? Presence::writable : Presence::read_only);
    }
    mark_answered(page);
    return outcome;
}

Result<void> UffdRegion::make_writable(std::uint64_t page) {
    if (auto c = check_page(page); !c) return c;
    bool cleared = false;
    {
        std::lock_guard lk(stripe(page));
        Presence p = presence(page);
        if (p == Presence::absent)
            return make_error(EINVAL, "uffd: make_writable on absent page {}", page);
        if (p == Presence::read_only) {
            if (auto r = writeprotect_locked(page, false); !r) return r;  // also wakes
            set_presence(page, Presence::writable);
            cleared = true;
        }
    }
    // Already writable (a duplicate WP event): the waiter still needs a wake.
    if (!cleared) return wake(page);
    mark_answered(page);
    return {};
}

Result<void> UffdRegion::downgrade(std::uint64_t page, void* out) {
    if (auto c = check_page(page); !c) return c;
    std::lock_guard lk(stripe(page));
    Presence p = presence(page);
    if (p == Presence::absent) return make_error(EINVAL, "uffd: downgrade of absent page {}", page);
    if (p == Presence::writable) {
        if (auto r = writeprotect_locked(page, true); !r) return r;
        set_presence(page, Presence::read_only);
    }
    // Present and write-protected: reading does not fault and nobody can
    // change it (the WP ioctl flushed TLBs and KVM's mappings).
    if (out != nullptr) return copy_out_locked(page, out);
    return {};
}

Result<void> UffdRegion::copy_out_locked(std::uint64_t page, void* out) const {
    if (reader_ == nullptr) {
        std::memcpy(out, base_ + page * kPageSize, kPageSize);
        return {};
    }
    return reader_->read(base_ + page * kPageSize, out, kPageSize);
}

void UffdRegion::lock_run(std::unique_lock<std::mutex> (&locks)[kStripes], std::uint64_t first, std::uint64_t count) {
    // count <= kStripes consecutive pages have distinct stripes; lock them in
    // ascending stripe order.
    for (std::uint64_t s = 0; s < kStripes; ++s) {
        // Page of the range with stripe s, if any: first + ((s - first) mod kStripes).
        std::uint64_t off = (s + kStripes - first % kStripes) % kStripes;
        if (off < count) locks[s] = std::unique_lock(stripes_[s]);
    }
}

Result<void> UffdRegion::check_run(std::uint64_t first, std::uint64_t count, const char* what) const {
    if (count > kStripes) return make_error(EINVAL, "uffd: {} of {} pages (at most {})", what, count, kStripes);
    if (first >= page_count_ || count > page_count_ - first)
        return make_error(EINVAL, "uffd: pages [{}, +{}) outside the region of {} pages", first, count, page_count_);
    return {};
}

Result<void> UffdRegion::install_zero_run(std::uint64_t first, std::uint64_t count) {
    if (count == 0) return {};
    if (auto c = check_run(first, count, "install_zero_run"); !c) return c;
    std::uint64_t done = 0;  // pages of the run zeroed by the one ioctl
    {
        std::unique_lock<std::mutex> locks[kStripes];
        lock_run(locks, first, count);
        bool all_absent = true;
        for (std::uint64_t q = first; q < first + count; ++q) all_absent = all_absent && presence(q) == Presence::absent;
        if (all_absent) {
            uffdio_zeropage z{};
            z.range.start = addr(first);
            z.range.len = count * kPageSize;
            // On failure the kernel leaves the bytes it did zero (a prefix of
            // the run) in z.zeropage.
            if (ioctl(fd_, UFFDIO_ZEROPAGE, &z) == 0)
                done = count;
            else if (z.zeropage > 0)
                done = static_cast<std::uint64_t>(z.zeropage) / kPageSize;
            for (std::uint64_t q = first; q < first + done; ++q) set_presence(q, Presence::writable);
        }
    }
    for (std::uint64_t q = first; q < first + done; ++q) mark_answered(q);
    // The rest (a present page, EAGAIN): page by page, as install() does.
    for (std::uint64_t q = first + done; q < first + count; ++q)
        if (auto r = install(q, nullptr, true); !r) return r.error();
    return {};
}

Result<std::uint64_t> UffdRegion::write_protect_writable(std::uint64_t first, std::uint64_t count) {
    if (count == 0) return std::uint64_t{0};
    if (auto c = check_run(first, count, "write_protect_writable"); !c) return c.error();
    std::unique_lock<std::mutex> locks[kStripes];
    lock_run(locks, first, count);
    std::uint64_t done = 0;
    for (std::uint64_t p = first; p < first + count;) {
        if (presence(p) != Presence::writable) {
            ++p;
            continue;
        }
        std::uint64_t end = p + 1;
        while (end < first + count && presence(end) == Presence::writable) ++end;
        for (int i = 0;; ++i) {
            uffdio_writeprotect w{};
            w.range.start = addr(p);
            w.range.len = (end - p) * kPageSize;
            w.mode = UFFDIO_WRITEPROTECT_MODE_WP;
            if (ioctl(fd_, UFFDIO_WRITEPROTECT, &w) == 0) break;
            if (errno != EAGAIN || i + 1 == kEagainRetries)
                return errno_error(fmt::format("UFFDIO_WRITEPROTECT(WP) pages [{}, {})", p, end));
            sched_yield();
        }
        for (std::uint64_t q = p; q < end; ++q) set_presence(q, Presence::read_only);
        done += end - p;
        p = end;
    }
    return done;
}

Result<void> UffdRegion::invalidate(std::uint64_t page, void* out) {
    if (auto c = check_page(page); !c) return c;
    std::lock_guard lk(stripe(page));
    Presence p = presence(page);
    if (out != nullptr) {
        if (p == Presence::absent)
            return make_error(EINVAL, "uffd: invalidate with copy-out of absent page {}", page);
        if (p == Presence::writable) {
            if (auto r = writeprotect_locked(page, true); !r) return r;
            set_presence(page, Presence::read_only);
        }
        if (auto r = copy_out_locked(page, out); !r) return r;
    }
    // Also when our record says absent: cheap, and it makes the kernel agree.
    // A writer blocked on a WP fault for this page wakes (on its answer) into
    // a MISSING fault.
    if (auto r = dontneed_locked(page); !r) return r;
    set_presence(page, Presence::absent);
    return {};
}

Result<void> UffdRegion::wake(std::uint64_t page) {
    if (auto c = check_page(page); !c) return c;
    uffdio_range r{};
    r.start = addr(page);
    r.len = kPageSize;
    if (ioctl(fd_, UFFDIO_WAKE, &r) != 0) return errno_error(fmt::format("UFFDIO_WAKE page {}", page));
    mark_answered(page);
    return {};
}

Result<std::optional<UffdRegion::Fault>> UffdRegion::read_fault(int timeout_ms) {
    pollfd pfd{fd_, POLLIN, 0};
    int n = poll(&pfd, 1, timeout_ms);
    if (n < 0) {
        if (errno == EINTR) return std::optional<Fault>{};
        return errno_error("poll(userfaultfd)");
    }
    if (n == 0) return std::optional<Fault>{};
    if (pfd.revents & (POLLERR | POLLNVAL))
        return make_error(EIO, "userfaultfd: poll revents {:#x}", static_cast<unsigned>(pfd.revents));
    uffd_msg msg{};
    ssize_t got = read(fd_, &msg, sizeof msg);
    if (got < 0) {
        if (errno == EAGAIN || errno == EINTR) return std::optional<Fault>{};  // lost a race
        return errno_error("read(userfaultfd)");
    }
    if (got != static_cast<ssize_t>(sizeof msg))
        return make_error(EIO, "userfaultfd: short read of {} bytes", got);
    if (msg.event != UFFD_EVENT_PAGEFAULT)
        return make_error(EPROTO, "userfaultfd: unexpected event {:#x}", static_cast<unsigned>(msg.event));
    std::uint64_t a = msg.arg.pagefault.address;
    std::uint64_t b = reinterpret_cast<std::uint64_t>(base_);
    if (a < b || a >= b + size())
        return make_error(EFAULT, "userfaultfd: fault at {:#x} outside region [{:#x}, +{:#x})", a, b,
                          size());
    Fault f;
    f.page = (a - b) / kPageSize;
    f.address = b + f.page * kPageSize;
    f.is_write = (msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WRITE) != 0;
    f.is_wp = (msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP) != 0;
    f.tid = (features_ & UFFD_FEATURE_THREAD_ID) ? msg.arg.pagefault.feat.ptid : 0;
    f.read_ns = now_ns();
    {
        std::lock_guard lk(pending_mu_);
        pending_.try_emplace(f.page, f.read_ns);  // keep the oldest
    }
    faults_read_.fetch_add(1, std::memory_order_relaxed);
    trace::mark("uffd.read", f.page);
    return std::optional<Fault>{f};
}

void UffdRegion::mark_answered(std::uint64_t page) {
    std::lock_guard lk(pending_mu_);
    pending_.erase(page);
}

Result<void> UffdRegion::unregister() {
    if (!registered_.exchange(false)) return {};
    uffdio_range r{};
    r.start = reinterpret_cast<std::uint64_t>(base_);
    r.len = size();
    // The kernel wakes every thread blocked on the range while unregistering.
    if (ioctl(fd_, UFFDIO_UNREGISTER, &r) != 0) return errno_error("UFFDIO_UNREGISTER");
    return {};
}

std::size_t UffdRegion::pending_faults() const {
    std::lock_guard lk(pending_mu_);
    return pending_.size();
}

std::chrono::nanoseconds UffdRegion::oldest_pending_age() const {
    std::uint64_t oldest = 0;
    {
        std::lock_guard lk(pending_mu_);
        for (const auto& [page, t] : pending_)
            if (oldest == 0 || t < oldest) oldest = t;
    }
    if (oldest == 0) return std::chrono::nanoseconds{0};
    std::uint64_t now = now_ns();
    return std::chrono::nanoseconds{now > oldest ? now - oldest : 0};
}

void UffdRegion::set_fatal_hook(std::function<void(const std::string&)> hook) {
    std::lock_guard lk(hook_mu_);
    fatal_hook_ = std::move(hook);
}

void UffdRegion::set_quiet_when(std::function<bool()> quiet) {
    std::lock_guard lk(hook_mu_);
    quiet_ = std::move(quiet);
}

void UffdRegion::fail_all(const std::string& reason) {
    // Only the first failure in the process logs and runs the hook
    // (vmm/base/fatal_exit.hpp); everyone exits.
    exit_fatally([&] {
        std::function<void(const std::string&)> hook;
        std::function<bool()> quiet;
        {
            std::lock_guard lk(hook_mu_);
            hook = fatal_hook_;
            quiet = quiet_;
        }
        if (quiet && quiet()) return;
        log::error("fatal: DSM: {} ({} fault(s) pending); exiting with status {}", reason, pending_faults(),
                   kFatalExitCode);
        if (hook) hook(reason);
    });
}

void UffdRegion::start_watchdog(std::chrono::milliseconds limit) {
    stop_watchdog();
    {
        std::lock_guard lk(wd_mu_);
        wd_stop_ = false;
    }
    watchdog_ = std::thread([this, limit] { watchdog_loop(limit); });
}

void UffdRegion::stop_watchdog() {
    {
        std::lock_guard lk(wd_mu_);
        wd_stop_ = true;
    }
    wd_cv_.notify_all();
    if (watchdog_.joinable()) watchdog_.join();
}

void UffdRegion::watchdog_loop(std::chrono::milliseconds limit) {
    using namespace std::chrono;
    auto period = std::max(milliseconds{1}, std::min(limit / 4, milliseconds{250}));
    std::uint64_t unread_since = 0;  // monotonic ns since events sat unread without progress
    std::uint64_t last_read_count = faults_read_.load();
    std::unique_lock lk(wd_mu_);
    while (!wd_cv_.wait_for(lk, period, [this] { return wd_stop_; })) {
        auto age = oldest_pending_age();
        if (age > limit)
            fail_all(fmt::format("a page fault has been unanswered for {} ms (limit {} ms)",
                                 duration_cast<milliseconds>(age).count(), limit.count()));
        pollfd pfd{fd_, POLLIN, 0};
        bool readable = poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN);
        std::uint64_t reads = faults_read_.load();
        if (!readable || reads != last_read_count) {
            unread_since = 0;
        } else if (unread_since == 0) {
            unread_since = now_ns();
        } else if (now_ns() - unread_since > static_cast<std::uint64_t>(nanoseconds(limit).count())) {
            fail_all(fmt::format("page faults have sat unread for over {} ms: no fault handler "
                                 "is reading the userfaultfd",
                                 limit.count()));
        }
        last_read_count = reads;
    }
}

}  // namespace spanvm::dsm
