#include "vmm/cluster/file_filler.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "vmm/base/log.hpp"
#include "vmm/memory/layout.hpp"

namespace spanvm::cluster {

Result<FileIdentity> file_identity(int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return errno_error("fstat");
    if (!S_ISREG(st.st_mode)) return make_error(EINVAL, "not a regular file");
    auto ns = [](const timespec& t) { return std::int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec; };
    return FileIdentity{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino),
                        static_cast<std::uint64_t>(st.st_size), ns(st.st_mtim), ns(st.st_ctim)};
}

FileFiller::~FileFiller() {
    for (auto& [id, fd] : fds_) ::close(fd);
}

bool FileFiller::open_declared(const FileDecl& d) {
    if (const char* refuse = std::getenv("SPANVM_FILL_REFUSE"); refuse && *refuse && d.path.find(refuse) != std::string::npos) {
        log::debug("fill: refusing '{}' (SPANVM_FILL_REFUSE)", d.path);
        return false;
    }
    const int fd = ::open(d.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    auto id = file_identity(fd);
    if (!id || !(*id == d.identity)) {
        log::debug("fill: '{}' here is not the origin's file", d.path);
        ::close(fd);
        return false;
    }
    std::lock_guard lk(mu_);
    if (auto [it, fresh] = fds_.try_emplace(d.id, fd); !fresh) {
        ::close(it->second);
        it->second = fd;
    }
    return true;
}

Result<void> FileFiller::adopt(std::uint32_t id, int fd) {
    const int dup = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dup < 0) return errno_error("dup");
    std::lock_guard lk(mu_);
    if (auto [it, fresh] = fds_.try_emplace(id, dup); !fresh) {
        ::close(it->second);
        it->second = dup;
    }
    return {};
}

Result<void> FileFiller::apply(const std::vector<memory::FillRun>& fills) {
    std::lock_guard lk(mu_);
    for (const auto& f : fills) {
        if (f.file != memory::kZeroFile && !fds_.count(f.file))
            return make_error(EINVAL, "fill [{:#x}, {:#x}) names file {}, which this node does not have", f.start,
                              f.end, f.file);
        table_.set(f);
    }
    any_.store(!table_.empty(), std::memory_order_release);
    return {};
}

bool FileFiller::any_in(std::uint64_t start, std::uint64_t end) {
    if (!any_.load(std::memory_order_acquire)) return false;
    std::lock_guard lk(mu_);
    return table_.any_in(start, end);
}

bool FileFiller::filled(std::uint64_t page) {
    if (!any_.load(std::memory_order_acquire)) return false;
    std::lock_guard lk(mu_);
    return table_.at(base_ + page * memory::layout::kPageSize).file != memory::kZeroFile;
}

bool FileFiller::fill(std::uint64_t page, std::byte* out) {
    if (!any_.load(std::memory_order_acquire)) return false;
    memory::PageFill pf;
    int fd = -1;
    {
        std::lock_guard lk(mu_);
        pf = table_.at(base_ + page * memory::layout::kPageSize);
        if (pf.file == memory::kZeroFile) return false;
        fd = fds_.at(pf.file);  // apply() admits only fills of files kept here
    }
    read_file(fd, pf, out, memory::layout::kPageSize);
    return true;
}

void FileFiller::fill_run(std::uint64_t page, std::size_t count, std::byte* out) {
    constexpr std::size_t P = memory::layout::kPageSize;
    if (!any_.load(std::memory_order_acquire)) {
        std::memset(out, 0, count * P);
        return;
    }
    std::vector<memory::PageFill> pfs(count);
    std::vector<int> fds(count, -1);
    {
        std::lock_guard lk(mu_);
        for (std::size_t k = 0; k < count; ++k) {
            pfs[k] = table_.at(base_ + (page + k) * P);
            if (pfs[k].file != memory::kZeroFile) fds[k] = fds_.at(pfs[k].file);
        }
    }
    for (std::size_t i = 0; i < count;) {
        std::size_t j = i + 1;
        if (pfs[i].file == memory::kZeroFile) {
            while (j < count && pfs[j].file == memory::kZeroFile) ++j;
            std::memset(out + i * P, 0, (j - i) * P);
        } else {
            while (j < count && pfs[j].file == pfs[i].file && pfs[j].offset == pfs[i].offset + (j - i) * P) ++j;
            read_file(fds[i], pfs[i], out + i * P, (j - i) * P);
        }
        i = j;
    }
}

void FileFiller::read_file(int fd, const memory::PageFill& pf, std::byte* out, std::size_t len) {
    // Files stay open until destruction: the read needs no lock. Past the
    // file's end the page is zero, as Linux's page cache gives it.
    std::size_t done = 0;
    while (done < len) {
        const ssize_t n = ::pread(fd, out + done, len - done, static_cast<off_t>(pf.offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) log::warn("fill: reading file {} at {:#x}: {}; the page reads as zero", pf.file, pf.offset + done,
                             std::strerror(errno));
        if (n <= 0) break;
        done += static_cast<std::size_t>(n);
    }
    if (done < len) std::memset(out + done, 0, len - done);
}

}  // namespace spanvm::cluster
