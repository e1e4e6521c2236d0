#pragma once
// Syscall-site patching on the native platform: a `syscall` that trapped
// through Syscall User Dispatch (SIGSYS, 2.4 us here) is rewritten, when it
// matches a pattern of syscall_site.hpp and lies in code the guest cannot
// write, into a jump to a per-site stub that enters spanvm directly
// (spanvm_native_syscall_entry, native_switch.S), without a signal. Every
// site that is not patched keeps trapping as before.
//
// Stub memory: two areas of kStubAreaBytes, PROT_READ|PROT_EXEC (the page
// stubs are being written to stays writable until the area's next page is
// begun, as a patched site's page stays open: a departure, see
// docs/architecture/departures.md), each reaching code within rel32
// (+-2 GiB): the low one in the native platform's unused system area
// [kStubLowBase, kUserBase) (never page 0: the NULL guard still faults),
// the high one just above guest RAM. A site out of reach of both stays
// trapped. Stubs are never reused, so no thread can run a stub while it is
// rewritten for another site; a full area ends patching there.
//
// The rewrite (replace_atomically): only the 5 bytes of the instruction
// before `syscall` change, with one `lock cmpxchg16b` on the aligned 16-byte
// block that holds them. Sites whose 5 bytes cross a 16-byte boundary (ld.so's
// mmap here: 8-37 traps per process) are rewritten with a plain store only
// in a process with one guest thread, the one trapping (replace_sole), and
// stay trapped in any other. No thread can see a mix of old and new bytes: the block changes
// in one locked store, and instruction fetch is coherent with it on x86
// within a 16-byte aligned block (the block lies in one cache line). A
// thread that fetched the old `mov` before the store executes the old pair
// mov+syscall, which traps as before; one that sees the new bytes jumps to a
// stub written (and published by the locked store) before. No thread can be
// inside the rewritten range: it is one instruction, a jump into its middle
// does not occur in compiled code, and a thread stopped after it (at the
// `syscall`, e.g. in a signal handler) finds the `syscall` bytes unchanged.
//
// While the process has one guest thread (the trapping one), the jump is
// written with a plain store through /proc/self/mem instead (replace_sole):
// wherever the 5 bytes lie, and the page keeps its protection.
//
// When: on a site's second trap, not its first. A patch costs a
// copy-on-write fault of the site's page (and, with several threads, an
// mprotect and its TLB shootdown), which pay off only for a site
// that runs again; most sites of a short-lived program (ld.so's, a
// compiler driver's, /bin/true's) run once, and each exec starts with no
// site known. A site that runs often costs one more trap (2.4 us).
//
// Lock order: Process::aspace_mu_ -> SitePatcher::mu_ (offer() and
// code_changed() are called with the address-space lock held).
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <vector>

#include "vmm/base/result.hpp"
#include "vmm/platform/regs.hpp"

namespace spanvm::platform::native {

inline constexpr uint64_t kStubAreaBytes = 1ull << 20;
inline constexpr uint64_t kStubLowBase = 0x100000;  // in [kSystemBase, kUserBase), above every KVM-only page

class SitePatcher {
public:
    // Whether patching is wanted: SPANVM_NATIVE_PATCH is unset or "on" (off: "off").
    static bool wanted();
    // Maps the stub areas for guest RAM ending at `guest_end` and enables
    // patching. An error leaves patching off (the platform still runs).
    Result<void> init(uint64_t guest_end, uint64_t entry);

    // Invariant: once this reads false, every site is restored (disable()
    // publishes false only after its last restore; acquire pairs with that
    // release). A vCPU that sees false may run with a GS base that is not
    // its context (NativeVcpu::run), so it must never meet a patched site.
    bool active() const { return active_.load(std::memory_order_acquire); }
    // Whether the syscall returning to `rip` is decided (patched or
    // refused). Lock-cheap: the common trapped case stops here.
    bool known(uint64_t rip);
    // The syscall returning to `rip` trapped; [rip-7, rip) lies in one guest
    // mapping that is `eligible` (private, executable, not writable) or
    // not. On the site's second trap, patches it when it matches and fits
    // (the first is only recorded). `sole_thread`: the caller's thread is
    // the process's only guest thread, so a site whose bytes cross a
    // 16-byte boundary may be rewritten with a plain store (no thread can
    // run it meanwhile); otherwise such a site stays trapped. `regs`: the
    // trapped thread's registers (syscall_site.hpp site_matches_registers).
    // Caller holds the address-space lock, so the bytes there stay mapped
    // meanwhile.
    void offer(uint64_t rip, bool eligible, bool sole_thread, const Regs& regs);
    // The guest's mappings in [start, end) changed (mmap, munmap, mprotect,
    // mremap, brk, exec): every site there is restored (where its bytes are
    // still the patch: writable code, and code read back after mprotect,
    // show the original bytes) and forgotten. Caller holds the address-space
    // lock and calls this before the host protection changes.
    void code_changed(uint64_t start, uint64_t end);
    // The process is about to get a second guest thread: every site patched
    // across a 16-byte boundary (only while it had one, offer()) goes back to
    // its bytes with the same plain store, while the caller is still the only
    // thread, and is forgotten (its next traps keep it trapped). So such a
    // site exists only in a process with one thread, and code_changed()
    // restores it with no other thread running. Takes mu_ (caller holds the
    // address-space lock).
    void before_second_thread();
    // Restores every site and stops patching (the guest set a GS base of its
    // own, which the stubs' entry would read as spanvm's context).
    void disable();
    // Whether `rip` is inside stub memory, and where that is in the guest's
    // own code (syscall_site.hpp stub_rip_to_site).
    bool in_stubs(uint64_t rip) const;
    std::optional<uint64_t> translate(uint64_t rip);

    uint64_t patched_sites();

private:
    struct Area {
        uint64_t base = 0;
        uint64_t used = 0;             // bytes handed out
        uint64_t open_page = 0;        // the page stubs go to now, left read+write+exec (0: none)
        std::vector<uint64_t> site;    // per stub: the site it serves
    };
    struct Site {
        bool patched = false;
        bool crossing = false;  // patched with a plain store (its bytes cross a 16-byte block)
        uint8_t orig[5] = {};
        uint8_t patch[5] = {};
    };
    Area* area_for(uint64_t site);
    void restore_locked(uint64_t rip, const Site& s);
    // Replaces the n bytes at addr, which must read `expect`, by `repl` with
    // a plain store, wherever they lie (a 16-byte or a page boundary inside
    // them). Only while the process's one guest thread is the caller,
    // stopped in spanvm: no thread can fetch the bytes while they change,
    // and a thread created later starts after a serialising host syscall.
    bool replace_sole(uint64_t addr, const uint8_t* expect, const uint8_t* repl, size_t n);

    std::atomic<bool> active_{false};
    uint64_t entry_ = 0;
    std::mutex mu_;
    Area areas_[2];
    unsigned n_areas_ = 0;
    std::map<uint64_t, Site> sites_;  // key: the RIP after the syscall (site + 7)
    std::set<uint64_t> trapped_once_;  // eligible sites seen once, not yet decided (same key)
    int mem_fd_ = -1;                  // /proc/self/mem of process mem_pid_ (replace_sole)
    int mem_pid_ = 0;
};

}  // namespace spanvm::platform::native
