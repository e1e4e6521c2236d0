#include "vmm/memory/guest_protection.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "vmm/memory/layout.hpp"

namespace spanvm::memory {

GuestProtection::GuestProtection(GuestMemory& mem, bool host_exec, bool alias)
    : mem_(mem), host_exec_(host_exec), table_(layout::kUserBase, mem.size()) {
    // Opened here, not lazily: read() runs on DSM threads that must not
    // race each other on the descriptor.
    if (alias) mem_fd_ = ::open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
}

GuestProtection::~GuestProtection() {
    if (mem_fd_ >= 0) ::close(mem_fd_);
}

int GuestProtection::host_prot(int access) const {
    access = normalize_access(access);
    if (!host_exec_) access &= ~PROT_EXEC;
    return access;
}

Result<void> GuestProtection::protect_locked(std::uint64_t start, std::uint64_t end, int access) {
    return protect_host_locked(start, end, host_prot(access));
}

Result<void> GuestProtection::protect_host_locked(std::uint64_t start, std::uint64_t end, int hp) {
    if (start >= end) return {};
    auto span = host_.differing(start, end, hp);
    if (host_exec_ && hp != (PROT_READ | PROT_WRITE | PROT_EXEC)) {
        // Code the guest cannot write: the site patcher may have opened it
        // (see the header), so the record does not count there. It opens
        // to read/write/exec only, so a page recorded so is so.
        for (const auto& iv : table_.intervals_in(start, end)) {
            if (!(iv.access & PROT_EXEC) || (iv.access & PROT_WRITE)) continue;
            span.first = std::min(span.first, iv.start);
            span.last = std::max(span.last, iv.end);
        }
    }
    if (span.empty()) return {};
    if (::mprotect(mem_.host_base() + span.first, span.last - span.first, hp) != 0) {
        const int e = errno;
        host_.set(span.first, span.last, HostProtTable::kUnknown);  // it may have stopped part way
        errno = e;
        return errno_error(fmt::format("mprotect of guest RAM [{:#x}, {:#x})", span.first, span.last));
    }
    host_.set(span.first, span.last, hp);
    return {};
}

Result<void> GuestProtection::open(std::uint64_t start, std::uint64_t end, int hp) {
    start = std::max(layout::page_align_down(start), layout::kUserBase);
    end = std::min(layout::page_align_up(end), mem_.size());
    std::unique_lock lk(mu_);
    return protect_host_locked(start, end, hp);
}

void GuestProtection::host_mapped(std::uint64_t start, std::uint64_t end, int hp) {
    start = std::max(layout::page_align_down(start), layout::kUserBase);
    end = std::min(layout::page_align_up(end), mem_.size());
    std::unique_lock lk(mu_);
    host_.set(start, end, hp);
}

void GuestProtection::renewed(std::uint64_t start, std::uint64_t end, int hp) {
    start = std::max(layout::page_align_down(start), layout::kUserBase);
    end = std::min(layout::page_align_up(end), mem_.size());
    if (start >= end) return;
    std::unique_lock lk(mu_);
    host_.set(start, end, hp);
    (void)table_.set(start, end, PROT_NONE);
}

Result<std::vector<LayoutRun>> GuestProtection::set(std::uint64_t start, std::uint64_t end, int prot) {
    start = std::max(layout::page_align_down(start), layout::kUserBase);
    end = std::min(layout::page_align_up(end), mem_.size());
    if (start >= end) return std::vector<LayoutRun>{};
    std::unique_lock lk(mu_);
    if (auto r = protect_locked(start, end, prot); !r) return r.error();
    return table_.set(start, end, prot);
}

Result<void> GuestProtection::apply(const std::vector<LayoutRun>& runs) {
    std::unique_lock lk(mu_);
    for (const auto& r : runs) {
        const std::uint64_t s = std::max(layout::page_align_down(r.start), layout::kUserBase);
        const std::uint64_t e = std::min(layout::page_align_up(r.end), mem_.size());
        if (s >= e) continue;
        if (auto p = protect_locked(s, e, r.access); !p) return p;
        (void)table_.set(s, e, r.access);
    }
    return {};
}

Result<void> GuestProtection::restore(std::uint64_t start, std::uint64_t end) {
    start = std::max(layout::page_align_down(start), layout::kUserBase);
    end = std::min(layout::page_align_up(end), mem_.size());
    std::unique_lock lk(mu_);
    std::uint64_t cur = start;
    for (const auto& iv : table_.intervals_in(start, end)) {
        if (auto r = protect_locked(cur, iv.start, 0); !r) return r;
        if (auto r = protect_locked(iv.start, iv.end, iv.access); !r) return r;
        cur = iv.end;
    }
    return protect_locked(cur, end, 0);
}

bool GuestProtection::host_known(std::uint64_t start, std::uint64_t end, int hp) const {
    std::shared_lock lk(mu_);
    return host_.differing(start, end, hp).empty();
}

int GuestProtection::uniform_access(std::uint64_t start, std::uint64_t end) const {
    if (start >= end) return -1;
    std::shared_lock lk(mu_);
    int seen = -1;
    auto same = [&](int a) {
        if (seen >= 0 && seen != a) return false;
        seen = a;
        return true;
    };
    std::uint64_t cur = start;
    for (const auto& iv : table_.intervals_in(start, end)) {
        if (iv.start > cur && !same(0)) return -1;  // a hole before it
        if (!same(iv.access)) return -1;
        cur = iv.end;
    }
    if (cur < end && !same(0)) return -1;
    return seen;
}

std::vector<LayoutRun> GuestProtection::accessible_runs() const {
    std::shared_lock lk(mu_);
    return table_.intervals();
}

Result<void> GuestProtection::open_alias() {
    const int fd = ::open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return make_error(errno, "opening /proc/self/mem: {}", std::strerror(errno));
    std::unique_lock lk(mu_);
    if (mem_fd_ >= 0) ::close(mem_fd_);
    mem_fd_ = fd;
    return {};
}

std::vector<const std::uint8_t*> GuestProtection::protection_edges(const std::uint8_t* host, std::uint64_t len) const {
    std::vector<const std::uint8_t*> out;
    if (host < mem_.host_base() || len == 0) return out;
    const std::uint64_t lo = static_cast<std::uint64_t>(host - mem_.host_base()), hi = lo + len;
    if (hi > mem_.size()) return out;
    std::shared_lock lk(mu_);
    for (const auto& iv : table_.intervals()) {
        if (iv.end <= lo) continue;
        if (iv.start >= hi) break;
        for (std::uint64_t e : {iv.start, iv.end})
            if (lo < e && e < hi && (out.empty() || out.back() != mem_.host_base() + e)) out.push_back(mem_.host_base() + e);
    }
    return out;
}

bool GuestProtection::accessible(std::uint64_t gpa) const {
    std::shared_lock lk(mu_);
    return table_.accessible(gpa);
}

bool GuestProtection::accessible_host(const std::uint8_t* host) const {
    return accessible(static_cast<std::uint64_t>(host - mem_.host_base()));
}

bool GuestProtection::accessible(std::uint64_t gpa, std::uint64_t len) const {
    std::shared_lock lk(mu_);
    return table_.accessible(gpa, len);
}

bool GuestProtection::writable(std::uint64_t gpa, std::uint64_t len) const {
    std::shared_lock lk(mu_);
    return table_.allows(gpa, len, PROT_WRITE);
}

Result<std::vector<std::uint64_t>> GuestProtection::nonzero_pages(std::uint64_t start, std::uint64_t end) const {
    start = std::max(layout::page_align_down(start), layout::kUserBase);
    end = std::min(layout::page_align_up(end), mem_.size());
    std::vector<std::uint64_t> out;
    if (start >= end) return out;
    std::vector<unsigned char> in((end - start) / layout::kPageSize);
    // mincore ignores the protection; a page absent here holds nothing.
    if (::mincore(mem_.host_base() + start, end - start, in.data()) != 0)
        return errno_error(fmt::format("mincore of guest RAM [{:#x}, {:#x})", start, end));
    // Runs of present pages are read in chunks of up to 64 (one pread of
    // the alias each); a chunk that fails (a page went away meanwhile: the
    // DSM took it) is read again page by page, skipping what fails.
    constexpr std::size_t kChunk = 64;
    std::vector<std::uint8_t> buf(kChunk * layout::kPageSize);
    auto zero_page = [](const std::uint8_t* p) {
        for (std::size_t k = 0; k < layout::kPageSize; k += 8) {
            std::uint64_t w;
            std::memcpy(&w, p + k, 8);
            if (w) return false;
        }
        return true;
    };
    for (std::size_t i = 0; i < in.size();) {
        if (!(in[i] & 1)) {
            ++i;
            continue;
        }
        std::size_t n = 1;
        while (n < kChunk && i + n < in.size() && (in[i + n] & 1)) ++n;
        const std::uint64_t gpa = start + i * layout::kPageSize;
        if (read_run(gpa, buf.data(), n * layout::kPageSize)) {
            for (std::size_t k = 0; k < n; ++k)
                if (!zero_page(buf.data() + k * layout::kPageSize)) out.push_back(gpa + k * layout::kPageSize);
        } else {
            for (std::size_t k = 0; k < n; ++k)
                if (read_run(gpa + k * layout::kPageSize, buf.data(), layout::kPageSize) && !zero_page(buf.data()))
                    out.push_back(gpa + k * layout::kPageSize);
        }
        i += n;
    }
    return out;
}

bool GuestProtection::read_run(std::uint64_t gpa, std::uint8_t* out, std::size_t len) const {
    std::shared_lock lk(mu_);
    if (table_.accessible(gpa, len)) {
        std::memcpy(out, mem_.host_base() + gpa, len);
        return true;
    }
    if (mem_fd_ < 0) return false;
    const auto at = static_cast<off_t>(reinterpret_cast<std::uintptr_t>(mem_.host_base() + gpa));
    return ::pread(mem_fd_, out, len, at) == static_cast<ssize_t>(len);
}

Result<void> GuestProtection::read(const std::uint8_t* host, void* out, std::size_t len) const {
    const std::uint64_t gpa = static_cast<std::uint64_t>(host - mem_.host_base());
    std::shared_lock lk(mu_);
    if (table_.accessible(gpa, len)) {
        std::memcpy(out, host, len);
        return {};
    }
    if (mem_fd_ < 0) return make_error(EBADF, "guest page {:#x} is PROT_NONE and /proc/self/mem is not open", gpa);
    std::size_t done = 0;
    while (done < len) {
        const ssize_t n = ::pread(mem_fd_, static_cast<std::uint8_t*>(out) + done, len - done,
                                  static_cast<off_t>(reinterpret_cast<std::uintptr_t>(host) + done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0)
            return n < 0 ? errno_error(fmt::format("reading PROT_NONE guest page {:#x} through /proc/self/mem", gpa))
                         : make_error(EIO, "reading PROT_NONE guest page {:#x}: short read", gpa);
        done += static_cast<std::size_t>(n);
    }
    return {};
}

}  // namespace spanvm::memory
