#include "vmm/process/loader/image_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "vmm/memory/layout.hpp"

namespace spanvm::process {

Result<ImageFile> ImageFile::open(const std::string& path) {
    ImageFile f;
    f.path_ = path;
    f.fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (f.fd_ < 0) return errno_error(fmt::format("cannot open '{}'", path));
    struct stat st;
    if (::fstat(f.fd_, &st) != 0) return errno_error(fmt::format("cannot stat '{}'", path));
    if (S_ISDIR(st.st_mode)) return make_error(EISDIR, "'{}' is a directory", path);
    if (!S_ISREG(st.st_mode)) return make_error(EACCES, "'{}' is not a regular file", path);
    f.size_ = static_cast<uint64_t>(st.st_size);
    f.prefix_.resize(std::min(f.size_, kPrefixBytes));
    size_t done = 0;
    while (done < f.prefix_.size()) {
        const ssize_t r = ::pread(f.fd_, f.prefix_.data() + done, f.prefix_.size() - done, static_cast<off_t>(done));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return errno_error(fmt::format("cannot read '{}'", path));
        if (r == 0) break;  // shrunk meanwhile: what is there is the file
        done += static_cast<size_t>(r);
    }
    if (done < f.prefix_.size()) f.size_ = done;  // shrunk while read: the prefix is the whole file
    f.prefix_.resize(done);
    return f;
}

ImageFile::ImageFile(ImageFile&& o) noexcept
    : path_(std::move(o.path_)), fd_(std::exchange(o.fd_, -1)), size_(o.size_), prefix_(std::move(o.prefix_)) {}

ImageFile& ImageFile::operator=(ImageFile&& o) noexcept {
    if (this != &o) {
        if (fd_ >= 0) ::close(fd_);
        path_ = std::move(o.path_);
        fd_ = std::exchange(o.fd_, -1);
        size_ = o.size_;
        prefix_ = std::move(o.prefix_);
    }
    return *this;
}

ImageFile::~ImageFile() {
    if (fd_ >= 0) ::close(fd_);
}

bool ImageFile::read(uint64_t offset, std::span<uint8_t> out) const {
    if (offset <= prefix_.size() && out.size() <= prefix_.size() - offset) {
        std::copy_n(prefix_.begin() + static_cast<std::ptrdiff_t>(offset), out.size(), out.begin());
        return true;
    }
    size_t done = 0;
    while (done < out.size()) {
        const ssize_t r = ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        done += static_cast<size_t>(r);
    }
    return true;
}

ElfReader ImageFile::reader() const {
    return [this](uint64_t offset, std::span<uint8_t> out) { return read(offset, out); };
}

Result<uint64_t> load_plan_from_file(const LoadPlan& plan, const ImageFile& file, std::span<uint8_t> ram,
                                     const PageMapper& map) {
    if (auto r = check_load_plan(plan, file.size(), ram.size()); !r) return r.error();
    uint64_t mapped = 0;
    auto copy = [&](uint64_t file_offset, uint64_t length, uint64_t guest_addr) -> Result<void> {
        if (length && !file.read(file_offset, ram.subspan(guest_addr, length)))
            return make_error(EIO, "cannot read '{}' (file bytes [{:#x}, +{:#x})): the file changed or is unreadable",
                              file.path(), file_offset, length);
        return {};
    };
    for (const CopyOp& c : plan.copies) {
        const CopyOp w = whole_pages(c);
        if (!w.length || !map || !map(w.guest_addr, w.length, file.fd(), w.file_offset, c.flags)) {
            if (auto r = copy(c.file_offset, c.length, c.guest_addr); !r) return r.error();
            continue;
        }
        mapped += w.length;
        if (auto r = copy(c.file_offset, w.guest_addr - c.guest_addr, c.guest_addr); !r) return r.error();
        const uint64_t tail = (c.guest_addr + c.length) - (w.guest_addr + w.length);
        if (auto r = copy(w.file_offset + w.length, tail, w.guest_addr + w.length); !r) return r.error();
    }
    for (const ZeroOp& z : plan.zeros) {
        // Only the partial pages at either end; whole pages already read as zero.
        const uint64_t end = z.guest_addr + z.length;
        const uint64_t a = std::min(memory::layout::page_align_up(z.guest_addr), end);
        const uint64_t b = std::max(memory::layout::page_align_down(end), a);
        if (a > z.guest_addr) std::memset(ram.data() + z.guest_addr, 0, a - z.guest_addr);
        if (end > b) std::memset(ram.data() + b, 0, end - b);
    }
    return mapped;
}

}  // namespace spanvm::process
