// Emulated process syscalls, memory: the guest address space (mmap, munmap,
// mprotect, mremap, brk, madvise, mincore, shmat, shmdt, the protection-key
// calls) and the calls accepted as no-ops.
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <optional>

#include "vmm/process/process.hpp"
#include "vmm/process/syscalls/process_syscalls_detail.hpp"
#include "vmm/process/threads/guest_thread.hpp"

namespace spanvm::process::detail {

namespace {

int64_t sys_mmap(GuestThread& t, const SyscallRequest& r) {
    Process& p = t.process();
    const uint64_t addr = r.args[0], len = r.args[1];
    const int prot = static_cast<int>(r.args[2]), flags = static_cast<int>(r.args[3]);
    const int fd = static_cast<int>(r.args[4]);
    const uint64_t off = r.args[5];
    const bool anon = flags & MAP_ANONYMOUS;
    if (len == 0) return -EINVAL;
    if (!anon && (off % memory::layout::kPageSize)) return -EINVAL;
    FdRef file;
    std::optional<FileRef> fref;
    if (!anon) {
        file = p.fds().acquire(fd);
        if (!file) return -EBADF;
        // A writable shared file mapping is the host file mapped into guest
        // RAM (below); in a program spread over hosts it would need
        // write-back from every node. Other file mappings are copies.
        if (p.config().remote && (flags & MAP_TYPE) != MAP_PRIVATE && (prot & PROT_WRITE)) {
            p.report_unsupported_feature("writable MAP_SHARED file mappings");
            return -ENODEV;
        }
        fref = FileRef{fd, off, {}};
        // Spread over hosts: the file's identity, for same_private_file below.
        struct stat st {};
        if (p.config().remote && ::fstat(file->fd(), &st) == 0 && S_ISREG(st.st_mode))
            fref->dev = st.st_dev, fref->ino = st.st_ino;
        // Where the guest's maps is written from its address space: the
        // file's name and identity as /proc shows them (on the native
        // platform on one host, the host's maps shows the file itself).
        if (p.own_maps_view()) p.name_mapped_file(file->fd(), *fref);
    }
    std::lock_guard lk(p.aspace_mutex());
    // Spread over hosts, a private mapping of a file over private mappings of
    // the same file at the same offsets, never writable (ld.so's text and
    // read-only segments over the library's whole span): every page already
    // holds what the new mapping would, and its filler is already the file
    // at that offset (docs/dsm-protocol.md "Fillers"), so only the protection
    // changes. Discarding and filling again zeroed each page a node had,
    // through the coherent mapping, then wrote the file's bytes back: a
    // placed cc1 fetched ~480 pages from its node for that.
    const bool same_file = fref && p.config().remote && (flags & MAP_TYPE) == MAP_PRIVATE && (flags & MAP_FIXED) &&
                           p.aspace().same_private_file(addr, len, *fref);
    auto m = p.aspace().map(addr, len, prot, flags, fref);
    if (!m) {
        if (m.error().code == ENOMEM) p.report_out_of_memory(len);
        return err(m.error());
    }
    if (same_file) {
        p.sync_host_protection(m->addr, m->addr + len);
        return static_cast<int64_t>(m->addr);
    }
    const uint64_t plen = memory::layout::page_align_up(len);
    // MAP_SHARED, anonymous or a writable file: host memory shared with the
    // processes this one forks (and with the file). One host only.
    const bool shared = (flags & MAP_TYPE) != MAP_PRIVATE && (anon || (prot & PROT_WRITE)) && !p.config().remote;
    // One host: the file's own pages go to [addr, addr + flen)
    // (map_file_pages), the tail past the file is fresh memory.
    const uint64_t flen = file && !shared ? p.file_pages_length(len, file->fd(), off) : 0;
    // Every path below ends in sync_host_protection of the new mapping,
    // which holds every range it replaced. What the mapping puts in place
    // by a MAP_FIXED mmap of its own (shared memory, the file's pages)
    // replaces the old memory there: discard() leaves that part alone (an
    // ld.so segment over its reservation costs one host mmap, as natively),
    // and maps the rest with the new mapping's protection.
    p.discard(m->released, m->addr, m->addr + plen, prot, shared ? plen : flen);
    if (shared) {
        if (auto s = p.map_shared(m->addr, len, anon ? -1 : file->fd(), off); !s) {
            auto rel = p.aspace().unmap(m->addr, len);
            if (rel) p.discard(*rel);
            p.sync_host_protection(m->addr, m->addr + len);
            return -(s.error().code ? s.error().code : ENOMEM);
        }
    }
    // A private file mapping: the file's pages themselves where that applies
    // (process_file_map.cpp), else a copy of its bytes (below).
    const bool file_mapped = file && !shared &&
                             (flen ? p.map_file_pages(m->addr, flen, file->fd(), off, prot)
                                   : p.map_file_private(m->addr, len, file->fd(), off));
    if (file && !shared && !file_mapped) {
        // Copy the file's bytes; the tail past EOF stays zero (the address
        // space invariant guarantees fresh ranges read as zero). Written
        // before the host protection follows the mapping's (a read-only
        // mapping refuses the copy): opened for it like mremap's copy.
        p.host_allow(m->addr, memory::layout::page_align_up(len));
        uint8_t* dst = p.platform().memory().host_ptr(m->addr, memory::layout::page_align_up(len));
        uint64_t done = 0;
        while (done < len) {
            ssize_t n = ::pread(file->fd(), dst + done, len - done, static_cast<off_t>(off + done));
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) {
                int e = errno;
                auto rel = p.aspace().unmap(m->addr, len);
                if (rel) p.discard(*rel);
                p.sync_host_protection(m->addr, m->addr + len);
                return -e;
            }
            if (n == 0) break;
            done += static_cast<uint64_t>(n);
        }
    }
    p.sync_host_protection(m->addr, m->addr + len);
    if (!file) p.mapped(t, m->addr, memory::layout::page_align_up(len));
    return static_cast<int64_t>(m->addr);
}

int64_t sys_munmap(GuestThread& t, const SyscallRequest& r) {
    Process& p = t.process();
    std::lock_guard lk(p.aspace_mutex());
    auto rel = p.aspace().unmap(r.args[0], r.args[1]);
    if (!rel) return err(rel.error());
    const uint64_t end = r.args[0] + memory::layout::page_align_up(r.args[1]);
    if (p.discard_replaces()) {
        // One host: fresh PROT_NONE memory over what was mapped, one mmap
        // per range (it was an mprotect and a release, or an mprotect and
        // an mmap over a file's pages); the re-sync records the layout.
        p.discard(*rel, r.args[0], end, PROT_NONE);
        p.sync_host_protection(r.args[0], end);
        return 0;
    }
    // Every node refuses the range before its pages are zeroed: a thread
    // still writing there (a DSM fault in flight on a node included) then
    // faults instead of handing a page its data after the zeroing, which
    // the next mapping there would have read back.
    p.sync_host_protection(r.args[0], r.args[0] + r.args[1]);
    p.discard(*rel);
    return 0;
}

int64_t sys_mprotect(GuestThread& t, const SyscallRequest& r) {
    Process& p = t.process();
    std::lock_guard lk(p.aspace_mutex());
    // PROT_GROWSDOWN reaches down to the start of the stack's mapping.
    uint64_t from = r.args[0];
    if (r.args[2] & PROT_GROWSDOWN)
        if (auto v = p.aspace().find(r.args[0])) from = v->start;
    auto res = p.aspace().protect(r.args[0], r.args[1], static_cast<int>(r.args[2]));
    if (!res) return err(res.error());
    p.sync_host_protection(from, r.args[0] + r.args[1]);
    return 0;
}

int64_t sys_mremap(GuestThread& t, const SyscallRequest& r) {
    Process& p = t.process();
    std::lock_guard lk(p.aspace_mutex());
    auto plan = p.aspace().remap(r.args[0], r.args[1], r.args[2], static_cast<int>(r.args[3]), r.args[4]);
    if (!plan) {
        if (plan.error().code == ENOMEM) p.report_out_of_memory(r.args[2]);
        return err(plan.error());
    }
    const uint64_t old_addr = r.args[0], old_len = r.args[1], new_len = r.args[2];
    // Patched syscall sites go back to their bytes before they move (a
    // moved jump would miss its stub).
    p.platform().guest_code_changed(old_addr, old_addr + memory::layout::page_align_up(old_len));
    // The old range may already be released in the bookkeeping while its
    // bytes are still to be copied: allow both ranges, copy, then re-sync.
    p.host_allow(plan->new_addr, memory::layout::page_align_up(new_len));
    if (plan->copy) {
        auto& c = *plan->copy;
        auto& mem = p.platform().memory();
        p.host_allow(c.from, memory::layout::page_align_up(c.len));
        std::memmove(mem.host_ptr(c.to, c.len), mem.host_ptr(c.from, c.len), c.len);
    }
    p.discard(plan->released);
    p.sync_host_protection(old_addr, old_addr + memory::layout::page_align_up(old_len), plan->new_addr,
                           plan->new_addr + memory::layout::page_align_up(new_len));
    return static_cast<int64_t>(plan->new_addr);
}

int64_t sys_brk(GuestThread& t, const SyscallRequest& r) {
    Process& p = t.process();
    std::lock_guard lk(p.aspace_mutex());
    const uint64_t before = p.aspace().brk_end();
    auto b = p.aspace().brk(r.args[0]);
    if (memory::layout::page_align_up(b.brk) > memory::layout::page_align_up(before)) {
        // A remote sole thread's heap window is homed at its node with the
        // growth (docs/dsm-protocol.md F8).
        const uint64_t top = p.heap_window_top(t, memory::layout::page_align_up(b.brk));
        p.mapped(t, memory::layout::page_align_up(before), top - memory::layout::page_align_up(before));
    }
    const uint64_t lo = std::min(before, b.brk), hi = std::max(before, b.brk);
    if (p.discard_replaces() && !b.released.empty()) {
        // One host: as munmap, fresh PROT_NONE memory first, one mmap.
        p.discard(b.released, memory::layout::page_align_down(lo), memory::layout::page_align_up(hi), PROT_NONE);
        p.sync_host_protection(lo, hi);
        return static_cast<int64_t>(b.brk);
    }
    if (b.brk != before) p.sync_host_protection(lo, hi);
    p.discard(b.released);  // after every node refuses them, as munmap
    return static_cast<int64_t>(b.brk);
}

// MADV_DONTNEED on a private file mapping reads the file again where its
// pages are the file's (one host: Process::dontneed); where they are
// a copy (KVM, spread over hosts) it zeroes the range (departure: no file
// reference is kept there). glibc and the workloads spanvm targets only use
// it on anonymous memory.
int64_t sys_madvise(GuestThread& t, const SyscallRequest& r) {
    Process& p = t.process();
    if (static_cast<int>(r.args[2]) != MADV_DONTNEED) return 0;  // advice only
    std::lock_guard lk(p.aspace_mutex());
    auto rel = p.aspace().madvise_dontneed(r.args[0], r.args[1]);
    if (!rel) return err(rel.error());
    p.dontneed(*rel);
    return 0;
}

// Every mapped guest page is resident (guest RAM is host memory; a page not
// yet touched is still "in core" in the sense that touching it never waits
// for I/O). Unmapped ranges give ENOMEM as on Linux.
int64_t sys_mincore(GuestThread& t, const SyscallRequest& r) {
    Process& p = t.process();
    const uint64_t addr = r.args[0], len = r.args[1];
    if (addr % memory::layout::kPageSize) return -EINVAL;
    const uint64_t pages = memory::layout::page_align_up(len) / memory::layout::kPageSize;
    if (len == 0) return 0;
    uint8_t* vec = p.mem().wptr(r.args[2], pages);
    if (!vec) return -EFAULT;
    {
        std::lock_guard lk(p.aspace_mutex());
        if (!p.aspace().covers(addr, memory::layout::page_align_up(len))) return -ENOMEM;
    }
    std::memset(vec, 1, pages);
    return 0;
}

int64_t sys_accept_noop(GuestThread&, const SyscallRequest&) { return 0; }

// msync(addr, len, flags), with Linux's checks: an unaligned start or bad
// flags EINVAL, a range with unmapped pages ENOMEM. On one host a MAP_SHARED
// file mapping is the file's host pages, which MS_SYNC writes back through
// the host call; elsewhere guest RAM has nothing to write.
int64_t sys_msync(GuestThread& t, const SyscallRequest& r) {
    Process& p = t.process();
    const uint64_t addr = r.args[0];
    const int flags = static_cast<int>(r.args[2]);
    if (addr & (memory::layout::kPageSize - 1)) return -EINVAL;
    if ((flags & ~(MS_ASYNC | MS_INVALIDATE | MS_SYNC)) || ((flags & MS_ASYNC) && (flags & MS_SYNC))) return -EINVAL;
    const uint64_t len = memory::layout::page_align_up(r.args[1]);
    if (addr + len < addr) return -ENOMEM;
    if (len == 0) return 0;
    std::lock_guard lk(p.aspace_mutex());
    if (!p.aspace().covers(addr, len)) return -ENOMEM;
    if (flags & MS_SYNC)
        if (uint8_t* h = p.platform().memory().host_ptr(addr, len)) (void)::msync(h, len, MS_SYNC);
    return 0;
}

// mlock2(addr, len, flags): accepted like mlock (below); unknown flags EINVAL.
constexpr uint64_t kMlockOnfault = 1;  // MLOCK_ONFAULT
int64_t sys_mlock2(GuestThread&, const SyscallRequest& r) { return (r.args[2] & ~kMlockOnfault) ? -EINVAL : 0; }

// shmat(2): the host's segment attached in guest RAM (Process::attach_sysv_shm)
// at the guest's address or one the address space picks, as Linux's
// do_shmat checks and places it. One host only: spread over hosts a
// segment's pages would need coherence with processes outside the program.
constexpr uint64_t kShmlba = memory::layout::kPageSize;  // SHMLBA on x86-64

int64_t sys_shmat(GuestThread& t, const SyscallRequest& r) {
    Process& p = t.process();
    const int id = static_cast<int>(r.args[0]), shmflg = static_cast<int>(r.args[2]);
    uint64_t addr = r.args[1];
    if (p.config().remote) {
        p.report_unsupported_feature("System V shared memory (shmat) in a program spread over hosts");
        return -ENOSYS;
    }
    if (addr & (kShmlba - 1)) {
        if (!(shmflg & SHM_RND)) return -EINVAL;
        addr &= ~(kShmlba - 1);
        if (addr == 0 && (shmflg & SHM_REMAP)) return -EINVAL;
    }
    if (!addr && (shmflg & SHM_REMAP)) return -EINVAL;
    // Its size (and an id that names no segment, or one the caller may not
    // read, fails as shmat would).
    shmid_ds ds{};
    if (::shmctl(id, IPC_STAT, &ds) != 0) return -errno;
    const uint64_t len = memory::layout::page_align_up(ds.shm_segsz);
    if (len == 0) return -EINVAL;
    const bool read_only = shmflg & SHM_RDONLY, exec = shmflg & SHM_EXEC;
    const int prot = PROT_READ | (read_only ? 0 : PROT_WRITE) | (exec ? PROT_EXEC : 0);
    int flags = MAP_SHARED | MAP_ANONYMOUS;
    if (addr) flags |= (shmflg & SHM_REMAP) ? MAP_FIXED : MAP_FIXED_NOREPLACE;
    std::lock_guard lk(p.aspace_mutex());
    auto m = p.aspace().map(addr, len, prot, flags, std::nullopt);
    if (!m) {
        if (m.error().code == EEXIST) return -EINVAL;  // the range holds a mapping, and no SHM_REMAP
        if (m.error().code == ENOMEM) p.report_out_of_memory(len);
        return err(m.error());
    }
    p.discard(m->released, m->addr, m->addr + len, prot, len);
    if (auto a = p.attach_sysv_shm(m->addr, len, id, read_only, exec); !a) {
        auto rel = p.aspace().unmap(m->addr, len);
        if (rel) p.discard(*rel);
        p.sync_host_protection(m->addr, m->addr + len);
        return -(a.error().code ? a.error().code : EINVAL);
    }
    p.sync_host_protection(m->addr, m->addr + len);
    return static_cast<int64_t>(m->addr);
}

// shmdt(2): the attach that begins at `addr` goes, as an munmap of it.
int64_t sys_shmdt(GuestThread& t, const SyscallRequest& r) {
    Process& p = t.process();
    const uint64_t addr = r.args[0];
    if (addr & (memory::layout::kPageSize - 1)) return -EINVAL;
    uint64_t end;
    {
        std::lock_guard lk(p.aspace_mutex());
        end = p.sysv_attach_end(addr);
    }
    if (end == 0) return -EINVAL;
    SyscallRequest un = r;
    un.args[1] = end - addr;
    return sys_munmap(t, un);
}

// Memory protection keys (departure from Linux on a CPU with PKU): spanvm
// gives the guest none, as Linux does where the CPU has none: pkey_alloc
// fails with ENOSPC, the answer pkey_alloc(2) documents for "no pkey
// support" (Linux 6.18 without PKU answers a process's first call EINVAL,
// then ENOSPC), pkey_free has nothing to free (EINVAL), and pkey_mprotect
// takes only -1 (no key), as mprotect. Programs that probe for keys (V8,
// OpenJDK) take their fallback.
constexpr uint64_t kPkeyAccessMask = 0x3;  // PKEY_DISABLE_ACCESS | PKEY_DISABLE_WRITE

int64_t sys_pkey_alloc(GuestThread&, const SyscallRequest& r) {
    if (r.args[0] != 0 || (r.args[1] & ~kPkeyAccessMask)) return -EINVAL;
    return -ENOSPC;
}

int64_t sys_pkey_free(GuestThread&, const SyscallRequest&) { return -EINVAL; }

int64_t sys_pkey_mprotect(GuestThread& t, const SyscallRequest& r) {
    const int pkey = static_cast<int>(static_cast<uint32_t>(r.args[3]));
    if (pkey != -1) return -EINVAL;
    return sys_mprotect(t, r);
}

}  // namespace

void register_process_memory(ProcessHandlerTable& t) {
    t.add(SYS_mmap, sys_mmap);
    t.add(SYS_munmap, sys_munmap);
    t.add(SYS_mprotect, sys_mprotect);
    t.add(SYS_mremap, sys_mremap);
    t.add(SYS_brk, sys_brk);
    t.add(SYS_madvise, sys_madvise);
    t.add(SYS_mincore, sys_mincore);
    t.add(SYS_shmat, sys_shmat);
    t.add(SYS_shmdt, sys_shmdt);
    t.add(SYS_mlock2, sys_mlock2);
    t.add(SYS_pkey_alloc, sys_pkey_alloc);
    t.add(SYS_pkey_free, sys_pkey_free);
    t.add(SYS_pkey_mprotect, sys_pkey_mprotect);
    // Accepted, no effect: guest RAM is always resident and never written back.
    for (long nr : {SYS_mlock, SYS_munlock, SYS_mlockall, SYS_munlockall}) t.add(nr, sys_accept_noop);
    t.add(SYS_msync, sys_msync);
}

}  // namespace spanvm::process::detail
