#include "vmm/process/syscalls/proc_fd_dir.hpp"

#include <dirent.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <string>

namespace spanvm::process {

namespace {

// struct linux_dirent64 (include/linux/dirent.h): d_ino, d_off, d_reclen,
// d_type, then the NUL-terminated name; records 8-byte aligned.
constexpr size_t kDirentHeader = 8 + 8 + 2 + 1;
// The inode numbers procfs gives these entries are its own; any stable
// nonzero values do (readdir(3) skips d_ino == 0 on some libcs).
constexpr uint64_t kDotIno = 1, kFdIno = 0x1000;

bool eat(std::string_view& s, std::string_view prefix) {
    if (s.substr(0, prefix.size()) != prefix) return false;
    s.remove_prefix(prefix.size());
    return true;
}

bool eat_number(std::string_view& s) {
    size_t n = 0;
    while (n < s.size() && s[n] >= '0' && s[n] <= '9') ++n;
    if (n == 0) return false;
    s.remove_prefix(n);
    return true;
}

}  // namespace

ProcFdDir classify_proc_fd_dir(std::string_view link, int pid) {
    if (!eat(link, "/proc/") || !eat(link, std::to_string(pid))) return ProcFdDir::none;
    if (eat(link, "/task/") && !eat_number(link)) return ProcFdDir::none;
    if (link == "/fd") return ProcFdDir::fd;
    if (link == "/fdinfo") return ProcFdDir::fdinfo;
    return ProcFdDir::none;
}

int64_t write_fd_dirents(std::span<uint8_t> out, uint64_t& pos, const std::vector<int>& guest_fds, ProcFdDir dir) {
    size_t used = 0;
    for (;;) {
        char name[16];
        uint64_t ino = 0, next = 0;
        unsigned char type = DT_DIR;
        if (pos == 0 || pos == 1) {
            std::strcpy(name, pos == 0 ? "." : "..");
            ino = kDotIno;
            next = pos + 1;
        } else {
            // The first fd at or above the position's: as Linux's
            // proc_readfd_common, an fd's position is its number + 2, so
            // fds closed between calls move no other entry (a reader that
            // closes each fd it reads, as CPython's subprocess child does,
            // skips none).
            auto it = std::lower_bound(guest_fds.begin(), guest_fds.end(), static_cast<int64_t>(pos - 2),
                                       [](int fd, int64_t v) { return fd < v; });
            if (it == guest_fds.end()) break;
            const int fd = *it;
            auto [end, ec] = std::to_chars(name, name + sizeof name - 1, fd);
            *end = '\0';
            ino = kFdIno + static_cast<uint64_t>(fd);
            type = dir == ProcFdDir::fdinfo ? DT_REG : DT_LNK;
            next = static_cast<uint64_t>(fd) + 3;
        }
        const size_t len = std::strlen(name);
        const size_t reclen = (kDirentHeader + len + 1 + 7) & ~size_t{7};
        if (used + reclen > out.size()) {
            if (used == 0) return -EINVAL;
            break;
        }
        uint8_t* r = out.data() + used;
        const auto off = static_cast<int64_t>(next);
        const uint16_t rl = static_cast<uint16_t>(reclen);
        std::memset(r, 0, reclen);
        std::memcpy(r, &ino, 8);
        std::memcpy(r + 8, &off, 8);
        std::memcpy(r + 16, &rl, 2);
        r[18] = type;
        std::memcpy(r + kDirentHeader, name, len);
        used += reclen;
        pos = next;
    }
    return static_cast<int64_t>(used);
}

}  // namespace spanvm::process
