// System V shared memory in guest RAM: a shmat is the host's segment
// attached at the guest's address (GuestMemory::attach_sysv_shm), kept
// with the other host-shared ranges (shared_: futexes there are the
// host's, discard() puts private memory back, which detaches it, as an
// munmap of an attach does on Linux) and by its start, for shmdt.
#include "vmm/base/log.hpp"
#include "vmm/memory/layout.hpp"
#include "vmm/process/process.hpp"

namespace spanvm::process {

Result<void> Process::attach_sysv_shm(uint64_t start, uint64_t len, int shmid, bool read_only, bool exec) {
    len = memory::layout::page_align_up(len);
    (void)forget_host_ranges(start, start + len);
    const int hp = read_only ? platform_->host_prot() & ~PROT_WRITE : platform_->host_prot();
    if (auto r = platform_->memory().attach_sysv_shm(start, len, shmid, read_only, exec && (hp & PROT_EXEC)); !r) {
        // As map_shared: whatever the failed call left, fresh private
        // memory goes there, which the caller releases.
        const bool back = static_cast<bool>(platform_->memory().unshare(start, len, platform_->host_prot()));
        protection_->host_mapped(start, start + len, back ? platform_->host_prot() : memory::HostProtTable::kUnknown);
        return r;
    }
    // The kernel maps the segment read+write (read only with SHM_RDONLY),
    // executable only with SHM_EXEC.
    protection_->host_mapped(start, start + len, exec ? hp : hp & ~PROT_EXEC);
    shared_[start] = start + len;
    shared_count_.store(shared_.size());
    sysv_attaches_[start] = start + len;
    return {};
}

uint64_t Process::sysv_attach_end(uint64_t start) const {
    auto it = sysv_attaches_.find(start);
    return it == sysv_attaches_.end() ? 0 : it->second;
}

}  // namespace spanvm::process
