// Process: the guest's view of its own /proc status, stat and maps files.
// The host's lines describe spanvm's host process (its helper threads, its
// signal masks and handlers, its mappings); these are the guest's
// (syscalls/proc_status.hpp and proc_stat.hpp rewrite them; proc_maps.hpp
// writes maps from the address space).
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "vmm/process/process.hpp"
#include "vmm/process/seccomp/seccomp_filter.hpp"
#include "vmm/process/syscalls/proc_maps.hpp"
#include "vmm/process/syscalls/proc_stat.hpp"
#include "vmm/process/syscalls/proc_status.hpp"

namespace spanvm::process {

std::string Process::proc_view(std::string_view host, OwnProcFile file, bool thread_self) {
    if (file == OwnProcFile::maps) {
        std::lock_guard lk(aspace_mu_);
        return render_proc_maps(aspace_->vmas(), image_pages_);
    }
    const int me = static_cast<int>(::syscall(SYS_gettid));
    const std::vector<ThreadRow*> rows = threads_.live_rows();
    const ThreadRow* row = nullptr;
    for (const ThreadRow* r : rows) {
        if (thread_self ? r->host_tid == me : r->tid == pid_) row = r;
    }
    if (!row)  // the main thread has ended: the caller's row
        for (const ThreadRow* r : rows)
            if (r->host_tid == me) row = r;
    StatusFields f;
    f.threads = static_cast<int>(rows.size());
    f.shared_pending = signals_.shared_pending();
    for (int sig = 1; sig <= SignalTable::kMaxSignal; ++sig) {
        const uint64_t h = signals_.get(sig).handler;
        if (h == reinterpret_cast<uint64_t>(SIG_IGN)) f.ignored |= sig_bit(sig);
        else if (h != reinterpret_cast<uint64_t>(SIG_DFL)) f.caught |= sig_bit(sig);
    }
    if (row) {
        f.sig_pending = row->sig_pending.load();
        f.blocked = row->sigmask.load();
        f.seccomp_mode = row->seccomp_mode.load();
        for (const seccomp::Filter* c = row->seccomp_filter.load(); c; c = c->prev.get()) ++f.seccomp_filters;
    }
    return file == OwnProcFile::stat ? rewrite_stat(host, f) : rewrite_status(host, f);
}

namespace {
// The path /proc shows for host fd `fd` (d_path: its links resolved), or
// empty.
std::string fd_path(int fd) {
    char path[4096];
    const std::string link = "/proc/self/fd/" + std::to_string(fd);
    const ssize_t n = ::readlink(link.c_str(), path, sizeof path);
    return n > 0 ? std::string(path, static_cast<size_t>(n)) : std::string();
}
}  // namespace

bool Process::own_maps_view() const {
    return cfg_.remote != nullptr || platform_->kind() != platform::PlatformKind::native;
}

void Process::name_mapped_file(int fd, FileRef& f) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return;
    // Spread over hosts a file's identity says whether two mappings hold
    // the same bytes (same_private_file): only a regular file's has been
    // set there, and stays so.
    if (!f.ino && !cfg_.remote) f.dev = st.st_dev, f.ino = st.st_ino;
    std::lock_guard lk(mapped_name_mu_);
    if (mapped_name_ino_ != st.st_ino || mapped_name_dev_ != st.st_dev || mapped_name_.empty()) {
        mapped_name_ = fd_path(fd);
        if (mapped_name_.empty()) return;
        mapped_name_dev_ = st.st_dev;
        mapped_name_ino_ = st.st_ino;
    }
    f.path = mapped_name_;
}

void Process::note_image_pages(const LoadPlan& plan, const ImageFile& file) {
    // The name and identity /proc shows for the file (d_path: the path
    // with its links resolved), from the open image itself.
    ImagePages im;
    im.path = fd_path(file.fd());
    if (im.path.empty()) im.path = file.path();
    struct stat st {};
    if (::fstat(file.fd(), &st) == 0) im.dev = st.st_dev, im.ino = st.st_ino;
    uint64_t prev_end = 0;  // the copies come in address order
    for (const CopyOp& c : plan.copies) {
        if (!c.length) continue;
        im.start = memory::layout::page_align_down(c.guest_addr);
        im.end = memory::layout::page_align_up(c.guest_addr + c.length);
        im.offset = memory::layout::page_align_down(c.file_offset);
        // Two segments may share a page (their copies are clipped apart):
        // the page goes to the first.
        if (im.start < prev_end) {
            im.offset += prev_end - im.start;
            im.start = prev_end;
        }
        if (im.start < im.end) image_pages_.push_back(im), prev_end = im.end;
    }
    std::sort(image_pages_.begin(), image_pages_.end(),
              [](const ImagePages& a, const ImagePages& b) { return a.start < b.start; });
}

}  // namespace spanvm::process
