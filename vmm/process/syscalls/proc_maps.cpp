#include "vmm/process/syscalls/proc_maps.hpp"

#include <sys/mman.h>
#include <sys/sysmacros.h>

#include <algorithm>

#include <fmt/format.h>

#include "vmm/process/syscalls/proc_status.hpp"

namespace spanvm::process {

namespace {

constexpr uint64_t kPage = 4096;
// seq_setwidth(m, 25 + sizeof(void *) * 6 - 1): the header is padded to
// this many characters before a name.
constexpr size_t kNameWidth = 25 + 8 * 6 - 1;

struct Ident {
    uint64_t offset = 0, dev = 0, ino = 0;
    std::string_view name;
};

void line(std::string& out, uint64_t start, uint64_t end, const Vma& v, const Ident& id, int prot) {
    const size_t at = out.size();
    fmt::format_to(std::back_inserter(out), "{:08x}-{:08x} {}{}{}{} {:08x} {:02x}:{:02x} {} ", start, end,
                   (prot & PROT_READ) ? 'r' : '-', (prot & PROT_WRITE) ? 'w' : '-', (prot & PROT_EXEC) ? 'x' : '-',
                   v.shared() ? 's' : 'p', id.offset, gnu_dev_major(id.dev), gnu_dev_minor(id.dev), id.ino);
    const std::string_view name = id.name;
    if (!name.empty()) {
        // seq_pad(m, ' '): spaces up to the width, then one more.
        const size_t len = out.size() - at;
        if (len < kNameWidth) out.append(kNameWidth - len, ' ');
        out.push_back(' ');
        out.append(name);
    }
    out.push_back('\n');
}

}  // namespace

std::string render_proc_maps(const std::vector<Vma>& vmas, const std::vector<ImagePages>& names) {
    std::string out;
    for (const Vma& v : vmas) {
        if (v.file) {
            line(out, v.start, v.end, v, {v.file->offset, v.file->dev, v.file->ino, v.file->path}, v.prot);
            continue;
        }
        const std::string_view name = v.kind == VmaKind::heap ? "[heap]" : v.kind == VmaKind::stack ? "[stack]" : "";
        // An anonymous private VMA: split where it meets a named range.
        uint64_t at = v.start;
        if (v.kind == VmaKind::anonymous && !v.shared())
            for (const ImagePages& im : names) {
                if (im.end <= at || im.start >= v.end) continue;
                const uint64_t lo = std::max(at, im.start), hi = std::min(v.end, im.end);
                if (at < lo) line(out, at, lo, v, {0, 0, 0, name}, v.prot);
                line(out, lo, hi, v, {im.offset + (lo - im.start), im.dev, im.ino, im.path}, v.prot);
                at = hi;
            }
        if (at < v.end) line(out, at, v.end, v, {0, 0, 0, name}, v.prot);
    }
    return out;
}

bool is_own_maps_path(std::string_view path, int pid) {
    bool thread_self = false;
    return is_own_proc_file(path, "maps", pid, thread_self);
}

}  // namespace spanvm::process
