// Private file mappings. Spread over hosts (a cluster, a placed exec): the
// file is made the initial content (filler) of the pages on every node
// that has the same file, so each node reads a page it is first to use from
// its own copy instead of receiving it (fill_file_private; docs/
// dsm-protocol.md "Fillers"); where a node lacks the file, the bytes are
// copied here as before.
//
// On one host: the file's pages are mapped into guest
// RAM copy-on-write (MAP_PRIVATE|MAP_FIXED of the host fd), as Linux maps
// them, instead of being read into it. ld.so maps every shared library of
// every exec this way; copying libc.so.6 (about 3.7 MB per exec, with the
// segment overlays) was most of the CPU time of a fork+exec of /bin/true.
//
// Where it applies: a program on one host (in a cluster guest RAM is the
// DSM's), native or KVM (a memory slot is a range of spanvm's address
// space, and KVM maps whatever the host maps there, following changes
// through its MMU notifiers), a regular file, and only the pages that lie
// within the file (Linux raises SIGBUS past them; here they stay
// zero-filled memory, as before).
//
// Invariants: every such range is in file_private_ (under aspace_mu_), and
// discard() -> unshare() puts private zero-filled memory back over it before
// the range is reused, so a fresh guest mapping still reads as zero. A
// fork()ed child keeps the mapping copy-on-write, as Linux's does.
// A private page shows the file as it was mapped until the guest writes it,
// and again after madvise(MADV_DONTNEED) (dontneed below), as on Linux.
// Departures (as with the copy before): a file truncated under a
// mapping makes a guest access there SIGBUS (Linux too), and an access from
// spanvm's own code (a syscall argument there) an internal fault.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "vmm/base/log.hpp"
#include "vmm/memory/guest_protection.hpp"
#include "vmm/memory/layout.hpp"
#include "vmm/process/process.hpp"

namespace spanvm::process {

bool Process::map_file_private(uint64_t start, uint64_t len, int fd, uint64_t off) {
    if (cfg_.remote) {
        struct stat st {};
        if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return false;
        const auto size = static_cast<uint64_t>(st.st_size);
        if (off >= size) return false;
        return fill_file_private(start, std::min(memory::layout::page_align_up(len), memory::layout::page_align_up(size - off)), fd, off);
    }
    const uint64_t flen = file_pages_length(len, fd, off);
    return flen && map_file_pages(start, flen, fd, off, -1);
}

bool Process::map_image_pages(uint64_t start, uint64_t len, int fd, uint64_t off, int prot) {
    if (cfg_.remote) return map_file_private(start, len, fd, off);
    return len && map_file_pages(start, memory::layout::page_align_up(len), fd, off, prot);
}

uint64_t Process::file_pages_length(uint64_t len, int fd, uint64_t off) {
    if (cfg_.remote) return 0;
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return 0;
    const auto size = static_cast<uint64_t>(st.st_size);
    if (off >= size) return 0;
    return std::min(memory::layout::page_align_up(len), memory::layout::page_align_up(size - off));
}

bool Process::map_file_pages(uint64_t start, uint64_t flen, int fd, uint64_t off, int prot) {
    auto& mem = platform_->memory();
    // The MAP_FIXED below replaces whatever was there (a shared or file
    // mapping included): only the bookkeeping goes first.
    (void)forget_host_ranges(start, start + flen);
    // Mapped with the guest's protection where the caller gives it: the
    // re-sync after the call then finds the host right (no mprotect).
    const int hp = prot >= 0 ? protection_->host_prot(prot) : platform_->host_prot();
    if (!mem.map_file_private(start, flen, hp, fd, off)) {
        // A failed MAP_FIXED may have taken the old memory away, or left
        // the old one: fresh zero-filled memory (the caller copies the
        // bytes into it).
        const bool back = static_cast<bool>(mem.unshare(start, flen, platform_->host_prot()));
        protection_->host_mapped(start, start + flen, back ? platform_->host_prot() : memory::HostProtTable::kUnknown);
        return false;
    }
    protection_->host_mapped(start, start + flen, hp);
    file_private_[start] = start + flen;
    return true;
}

void Process::dontneed(const std::vector<Range>& ranges) {
    if (cfg_.remote || file_private_.empty()) {
        discard(ranges);
        return;
    }
    // Split each range at the file mappings: their parts the host releases
    // (its mapping is the file's: the file's bytes come back), the others
    // are discarded as before (anonymous memory, zero-filled).
    std::vector<Range> rest;
    auto& mem = platform_->memory();
    for (const Range& r : ranges) {
        uint64_t at = r.start;
        const uint64_t end = r.start + r.len;
        auto it = file_private_.upper_bound(at);
        if (it != file_private_.begin()) --it;
        for (; it != file_private_.end() && it->first < end && at < end; ++it) {
            const uint64_t s = std::max(it->first, at), e = std::min(it->second, end);
            if (s >= e) continue;
            if (s > at) rest.push_back(Range{at, s - at});
            if (auto d = mem.discard(s, e - s); !d)
                log::warn("guest RAM [{:#x}, {:#x}): {}", s, e, d.error().message);
            at = e;
        }
        if (at < end) rest.push_back(Range{at, end - at});
    }
    if (!rest.empty()) discard(rest);
}

bool Process::fill_file_private(uint64_t start, uint64_t len, int fd, uint64_t off) {
    // Spread over hosts (docs/dsm-protocol.md "Fillers"): the file becomes
    // the pages' initial content on every node that has the same file, and
    // each node reads a page it is first to use from its own copy. Only
    // pages some node had before are written here, through the coherent
    // mapping (which replaces every copy of them).
    auto write = cfg_.remote->fill_from_file(start, len, fd, off);
    if (!write) return false;
    auto& mem = platform_->memory();
    for (uint64_t i = 0; i < write->size();) {
        if (!(*write)[i]) {
            ++i;
            continue;
        }
        uint64_t j = i + 1;
        while (j < write->size() && (*write)[j]) ++j;
        const uint64_t a = start + i * memory::layout::kPageSize, n = (j - i) * memory::layout::kPageSize;
        host_allow(a, n);  // sync_host_protection, after the call, restores the mapping's protection
        uint8_t* dst = mem.host_ptr(a, n);
        uint64_t done = 0;
        while (done < n) {
            const ssize_t r = ::pread(fd, dst + done, n - done, static_cast<off_t>(off + i * memory::layout::kPageSize + done));
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) break;  // past the end of the file: zero, as the pages were
            done += static_cast<uint64_t>(r);
        }
        if (done < n) std::memset(dst + done, 0, n - done);
        i = j;
    }
    return true;
}

}  // namespace spanvm::process
