#include "vmm/platform/native/site_patcher.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string_view>

#include "vmm/base/log.hpp"
#include "vmm/base/self_pid.hpp"
#include "vmm/memory/layout.hpp"
#include "vmm/platform/native/syscall_site.hpp"

namespace spanvm::platform::native {

namespace {

constexpr uint64_t kCasBlock = 16;  // lock cmpxchg16b: 16 bytes, 16-byte aligned

bool cas16(uint64_t addr, const uint8_t (&expect)[kCasBlock], const uint8_t (&desired)[kCasBlock]) {
    uint64_t lo, hi, dlo, dhi;
    std::memcpy(&lo, expect, 8), std::memcpy(&hi, expect + 8, 8);
    std::memcpy(&dlo, desired, 8), std::memcpy(&dhi, desired + 8, 8);
    bool ok;
    asm volatile("lock cmpxchg16b (%[p])"
                 : "=@ccz"(ok), "+a"(lo), "+d"(hi)
                 : [p] "r"(addr), "b"(dlo), "c"(dhi)
                 : "memory");
    return ok;
}

// Replaces the n bytes at addr, which must read `expect`, by `repl`, in one
// locked 16-byte store (see the header). False when they do not read
// `expect` or the bytes cross a 16-byte boundary. A site lies in code the
// guest cannot write, which the host mapping makes read+exec
// (GuestProtection): its page is opened for the store and left open (see
// the end of the function).
bool replace_atomically(uint64_t addr, const uint8_t* expect, const uint8_t* repl, size_t n) {
    const uint64_t base = addr & ~(kCasBlock - 1), off = addr - base;
    if (off + n > kCasBlock) return false;
    void* page = reinterpret_cast<void*>(memory::layout::page_align_down(base));
    bool opened = false, done = false;
    for (int tries = 0; tries < 16 && !done; ++tries) {
        uint8_t old[kCasBlock], now[kCasBlock];
        std::memcpy(old, reinterpret_cast<const void*>(base), kCasBlock);
        if (std::memcmp(old + off, expect, n) != 0) break;
        if (!opened) {
            if (::mprotect(page, memory::layout::kPageSize, PROT_READ | PROT_WRITE | PROT_EXEC) != 0) break;
            opened = true;
        }
        std::memcpy(now, old, kCasBlock);
        std::memcpy(now + off, repl, n);
        done = cas16(base, old, now);
    }
    // The page stays open (read+write+exec) afterwards: putting it back to
    // read+exec made it.native.gp.migrate_state fail in 2 of 12 runs (a
    // thread that had set its own GS base entered a patched site: "fault
    // inside the native syscall entry"; cause not found yet). A departure:
    // a guest write to its own code on a page that holds a patched site
    // does not fault (docs/architecture/departures.md). The guest's next
    // mprotect of the range puts the layout's protection back.
    (void)opened;
    return done;  // false also when the rest of the block kept changing (it is code: it should not)
}

// The syscall number of a `mov $nr,%eax` site, for the debug log (-1: other).
long rax_hint(const uint8_t* orig) {
    if (orig[0] != 0xb8) return -1;
    uint32_t v;
    std::memcpy(&v, orig + 1, 4);
    return v;
}

}  // namespace

bool SitePatcher::wanted() {
    const char* v = std::getenv("SPANVM_NATIVE_PATCH");
    return !(v && std::string_view(v) == "off");
}

Result<void> SitePatcher::init(uint64_t guest_end, uint64_t entry) {
    entry_ = entry;
    // Low area: inside guest RAM's mapping, in the system area that the
    // native platform leaves PROT_NONE.
    if (guest_end >= memory::layout::kUserBase) {
        if (::mprotect(reinterpret_cast<void*>(kStubLowBase), kStubAreaBytes, PROT_READ | PROT_EXEC) != 0)
            return errno_error("mprotect of the low syscall-stub area");
        areas_[n_areas_++].base = kStubLowBase;
    }
    void* hi = ::mmap(reinterpret_cast<void*>(guest_end), kStubAreaBytes, PROT_READ | PROT_EXEC,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (hi != MAP_FAILED && reinterpret_cast<uint64_t>(hi) == guest_end) {
        areas_[n_areas_++].base = guest_end;
    } else if (hi != MAP_FAILED) {
        ::munmap(hi, kStubAreaBytes);  // an old kernel ignoring MAP_FIXED_NOREPLACE
    }
    if (n_areas_ == 0) return make_error(ENOMEM, "no memory for syscall stubs next to guest RAM");
    active_ = true;
    return {};
}

bool SitePatcher::known(uint64_t rip) {
    std::lock_guard lk(mu_);
    return sites_.count(rip) != 0;
}

SitePatcher::Area* SitePatcher::area_for(uint64_t site) {
    for (unsigned i = 0; i < n_areas_; ++i) {
        Area& a = areas_[i];
        if (a.used + kStubBytes > kStubAreaBytes) continue;
        const uint64_t stub = a.base + a.used;
        const int64_t d = static_cast<int64_t>(stub - site);
        if (d > -(1ll << 31) + static_cast<int64_t>(kStubAreaBytes) && d < (1ll << 31) - static_cast<int64_t>(kStubAreaBytes))
            return &a;
    }
    return nullptr;
}

void SitePatcher::offer(uint64_t rip, bool eligible, bool sole_thread, const Regs& regs) {
    std::lock_guard lk(mu_);
    if (!active() || sites_.count(rip)) return;
    if (eligible && rip >= kSiteBytes && trapped_once_.insert(rip).second) return;  // first trap
    trapped_once_.erase(rip);
    Site& s = sites_[rip];  // refused unless patched below
    if (!eligible || rip < kSiteBytes) return;
    const uint64_t site = rip - kSiteBytes;
    std::span<const uint8_t, kSiteBytes> bytes(reinterpret_cast<const uint8_t*>(site), kSiteBytes);
    if (match_syscall_site(bytes) == SitePattern::none || !site_matches_registers(bytes, regs)) return;
    // A site across a 16-byte boundary cannot change in one locked store;
    // it is patched only while no other guest thread can run it.
    const bool crosses = (site & (kCasBlock - 1)) + kPatchBytes > kCasBlock;
    if (crosses && !sole_thread) return;
    Area* a = area_for(site);
    if (!a) return;
    const uint64_t stub = a->base + a->used;
    auto jmp = encode_jmp_rel32(site, stub);
    auto code = encode_stub(stub, site, bytes.first<kPatchBytes>(), entry_);
    if (!jmp || !code) return;
    // The page stubs are written to stays open (read+write+exec) until the
    // area's next page is begun, then goes back to read+exec: two mprotect
    // calls per page of 128 stubs, not two per stub (each a VMA split and
    // merge and a TLB flush; most processes patch fewer than 128 sites).
    const uint64_t page = memory::layout::page_align_down(stub);
    if (a->open_page != page) {
        if (::mprotect(reinterpret_cast<void*>(page), memory::layout::kPageSize, PROT_READ | PROT_WRITE | PROT_EXEC) != 0)
            return;
        if (a->open_page)
            ::mprotect(reinterpret_cast<void*>(a->open_page), memory::layout::kPageSize, PROT_READ | PROT_EXEC);
        a->open_page = page;
    }
    std::memcpy(reinterpret_cast<void*>(stub), code->data(), kStubBytes);
    a->used += kStubBytes;
    a->site.push_back(site);
    std::memcpy(s.orig, bytes.data(), kPatchBytes);
    std::memcpy(s.patch, jmp->data(), kPatchBytes);
    // The stub is complete before the locked store publishes the jump.
    // One thread (the caller, stopped here): a plain store, wherever the
    // bytes lie; else the locked 16-byte store.
    s.patched = sole_thread ? replace_sole(site, s.orig, s.patch, kPatchBytes)
                            : replace_atomically(site, s.orig, s.patch, kPatchBytes);
    s.crossing = crosses;
    log::debug("syscall site {:#x} (nr {}) {} through stub {:#x}", site, rax_hint(s.orig), s.patched ? "patched" : "left", stub);
}

bool SitePatcher::replace_sole(uint64_t addr, const uint8_t* expect, const uint8_t* repl, size_t n) {
    if (std::memcmp(reinterpret_cast<const void*>(addr), expect, n) != 0) return false;
    // Through /proc/self/mem: the kernel breaks copy-on-write of the code
    // page as for a debugger's breakpoint, and the page keeps its
    // protection (no mprotect, no page left writable). The descriptor is
    // this process's: a fork child's inherited one writes its parent's
    // memory, so a child opens its own.
    const pid_t self = self_pid();
    if (mem_pid_ != self) {
        if (mem_fd_ >= 0) ::close(mem_fd_);
        mem_fd_ = ::open("/proc/self/mem", O_RDWR | O_CLOEXEC);
        mem_pid_ = self;
    }
    if (mem_fd_ >= 0 && ::pwrite(mem_fd_, repl, n, static_cast<off_t>(addr)) == static_cast<ssize_t>(n)) return true;
    // A kernel that refuses forced writes there (proc_mem.force_override):
    // open the page(s), as replace_atomically does, and store.
    const uint64_t first = memory::layout::page_align_down(addr);
    const uint64_t end = memory::layout::page_align_up(addr + n);
    if (::mprotect(reinterpret_cast<void*>(first), end - first, PROT_READ | PROT_WRITE | PROT_EXEC) != 0) return false;
    std::memcpy(reinterpret_cast<void*>(addr), repl, n);
    return true;
}

void SitePatcher::restore_locked(uint64_t rip, const Site& s) {
    if (!s.patched) return;
    // Only where the bytes are still our jump: memory that was zeroed or
    // refilled (munmap, a new mapping, exec) or that the guest rewrote
    // itself is left alone.
    // A crossing site exists only while the process has one thread
    // (before_second_thread), the caller: a plain store is safe.
    if (s.crossing)
        (void)replace_sole(rip - kSiteBytes, s.patch, s.orig, kPatchBytes);
    else
        (void)replace_atomically(rip - kSiteBytes, s.patch, s.orig, kPatchBytes);
}

void SitePatcher::before_second_thread() {
    std::lock_guard lk(mu_);
    for (auto it = sites_.begin(); it != sites_.end();) {
        if (it->second.crossing) {
            restore_locked(it->first, it->second);
            it = sites_.erase(it);
        } else {
            ++it;
        }
    }
}

void SitePatcher::code_changed(uint64_t start, uint64_t end) {
    std::lock_guard lk(mu_);
    // A site is keyed by its end; it overlaps [start, end) when key - 7 < end and key > start.
    auto it = sites_.upper_bound(start);
    while (it != sites_.end() && it->first - kSiteBytes < end) {
        restore_locked(it->first, it->second);
        it = sites_.erase(it);
    }
    for (auto t = trapped_once_.upper_bound(start); t != trapped_once_.end() && *t - kSiteBytes < end;)
        t = trapped_once_.erase(t);
}

void SitePatcher::disable() {
    std::lock_guard lk(mu_);
    // Every site back first, then `active_` false: another thread's run()
    // that reads false sets its GS base to the guest's (0 for most), and a
    // site still patched then would enter spanvm_native_syscall_entry with
    // no context behind GS (it faulted at entry+0, reading %gs:0xf8, when
    // the store came first). offer() holds mu_, so none is added meanwhile.
    for (auto& [rip, s] : sites_) restore_locked(rip, s);
    sites_.clear();
    trapped_once_.clear();
    active_.store(false, std::memory_order_release);
}

bool SitePatcher::in_stubs(uint64_t rip) const {
    for (unsigned i = 0; i < n_areas_; ++i)
        if (rip >= areas_[i].base && rip < areas_[i].base + kStubAreaBytes) return true;
    return false;
}

std::optional<uint64_t> SitePatcher::translate(uint64_t rip) {
    std::lock_guard lk(mu_);
    for (unsigned i = 0; i < n_areas_; ++i) {
        const Area& a = areas_[i];
        if (rip < a.base || rip >= a.base + a.used) continue;
        const uint64_t idx = (rip - a.base) / kStubBytes;
        return stub_rip_to_site((rip - a.base) % kStubBytes, a.site[idx]);
    }
    return std::nullopt;
}

uint64_t SitePatcher::patched_sites() {
    std::lock_guard lk(mu_);
    uint64_t n = 0;
    for (auto& [rip, s] : sites_) n += s.patched ? 1 : 0;
    return n;
}

}  // namespace spanvm::platform::native
