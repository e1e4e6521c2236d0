#include "vmm/cluster/arg_capture.hpp"

#include <sys/syscall.h>

#include <cstring>

namespace spanvm::cluster {

namespace {

// Bit i set: argument i is a path (const char*) the call only reads.
unsigned path_args(std::int64_t nr) {
    switch (nr) {
        case SYS_open: case SYS_creat: case SYS_stat: case SYS_lstat: case SYS_access: case SYS_mkdir:
        case SYS_rmdir: case SYS_unlink: case SYS_readlink: case SYS_chdir: case SYS_chmod: case SYS_chown:
        case SYS_lchown: case SYS_truncate: case SYS_utimes: case SYS_utime: case SYS_mknod: case SYS_statfs:
        case SYS_chroot: case SYS_listxattr: case SYS_llistxattr: case SYS_acct: case SYS_swapoff:
            return 0b1;
        case SYS_openat: case SYS_newfstatat: case SYS_statx: case SYS_faccessat: case SYS_faccessat2:
        case SYS_mkdirat: case SYS_unlinkat: case SYS_readlinkat: case SYS_fchmodat: case SYS_fchownat:
        case SYS_utimensat: case SYS_futimesat: case SYS_mknodat: case SYS_inotify_add_watch: case SYS_openat2:
            return 0b10;
        case SYS_symlink: case SYS_link: case SYS_rename: case SYS_getxattr: case SYS_lgetxattr:
        case SYS_setxattr: case SYS_lsetxattr: case SYS_removexattr: case SYS_lremovexattr:
            return 0b11;
        case SYS_symlinkat:
            return 0b101;
        case SYS_linkat: case SYS_renameat: case SYS_renameat2:
            return 0b1010;
        default:
            return 0;
    }
}

constexpr std::uint64_t kPage = 4096;

void add_string(memory::ArgMemory& s, std::uint64_t gva, std::span<const std::uint8_t> ram, std::uint64_t lo,
                const ArgReadable& readable) {
    if (gva < lo || gva >= ram.size()) return;
    const std::size_t avail = ram.size() - gva;
    std::size_t scan = avail < kPathMax ? avail : kPathMax;
    if (readable) {
        // Only as far as the guest may read: page by page from gva.
        std::size_t ok = 0;
        while (ok < scan) {
            const std::uint64_t at = gva + ok, chunk = kPage - (at % kPage);
            if (!readable(at, 1)) break;
            ok += chunk;
        }
        if (ok < scan) scan = ok;
        if (scan == 0) return;
    }
    const auto* p = ram.data() + gva;
    const void* nul = std::memchr(p, 0, scan);
    if (nul == nullptr) return;  // too long or runs off RAM: the executor reports it
    const auto n = static_cast<std::size_t>(static_cast<const std::uint8_t*>(nul) - p) + 1;
    s.ranges.push_back({gva, memory::ArgRange::Kind::string, std::vector<std::uint8_t>(p, p + n)});
}

bool in_ram(std::uint64_t gva, std::uint64_t len, std::span<const std::uint8_t> ram, std::uint64_t lo,
            const ArgReadable& readable) {
    return gva >= lo && gva <= ram.size() && len <= ram.size() - gva && (!readable || readable(gva, len));
}

}  // namespace

memory::ArgMemory capture_arg_memory(std::int64_t nr, const std::uint64_t (&args)[6],
                                     std::span<const std::uint8_t> ram, std::uint64_t lo,
                                     const ArgReadable& readable, const ArgReadable& writable) {
    memory::ArgMemory s;
    if (unsigned mask = path_args(nr); mask != 0) {
        for (unsigned i = 0; i < 6; ++i)
            if ((mask >> i) & 1u) add_string(s, args[i], ram, lo, readable);
        return s;
    }
    // Calls whose only guest write is their buffer, `result` bytes from its
    // start: the executor fills a local buffer, the node stores the result.
    switch (nr) {
        case SYS_read: case SYS_pread64: case SYS_recvfrom: {
            const std::uint64_t out = args[1], out_len = args[2];
            if (nr == SYS_recvfrom && args[4] != 0) return s;  // the address is written too
            if (out_len == 0 || out_len > kMaxCapturedBuffer || !in_ram(out, out_len, ram, lo, writable ? writable : readable))
                return s;
            s.ranges.push_back({out, memory::ArgRange::Kind::output, std::vector<std::uint8_t>(out_len)});
            return s;
        }
        default:
            break;
    }
    // Calls that write no guest memory: their data (and sendto's address).
    std::uint64_t buf = 0, len = 0, addr = 0, addr_len = 0;
    switch (nr) {
        case SYS_write: case SYS_pwrite64:
            buf = args[1], len = args[2];
            break;
        case SYS_sendto:
            buf = args[1], len = args[2], addr = args[4], addr_len = args[5];
            break;
        default:
            return s;
    }
    if (len == 0 || len + addr_len > kMaxCapturedBuffer || !in_ram(buf, len, ram, lo, readable)) return s;
    if (addr != 0 && (addr_len == 0 || !in_ram(addr, addr_len, ram, lo, readable))) return s;
    s.ranges.push_back({buf, memory::ArgRange::Kind::buffer,
                        std::vector<std::uint8_t>(ram.data() + buf, ram.data() + buf + len)});
    if (addr != 0)
        s.ranges.push_back({addr, memory::ArgRange::Kind::buffer,
                            std::vector<std::uint8_t>(ram.data() + addr, ram.data() + addr + addr_len)});
    return s;
}

}  // namespace spanvm::cluster
