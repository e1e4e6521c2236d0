#include "vmm/process/mm/host_fault_report.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>

#include "vmm/memory/layout.hpp"

namespace spanvm::process {

namespace {
std::atomic<uintptr_t> g_ram_lo{0}, g_ram_hi{0};

// Async-signal-safe: snprintf into a stack buffer is not strictly listed as
// safe, so format by hand.
size_t put_hex(char* out, uintptr_t v) {
    char tmp[16];
    size_t n = 0;
    do {
        tmp[n++] = "0123456789abcdef"[v & 0xF];
        v >>= 4;
    } while (v && n < sizeof tmp);
    size_t k = 0;
    out[k++] = '0';
    out[k++] = 'x';
    while (n) out[k++] = tmp[--n];
    return k;
}

void handler(int sig, void* si, void*) {
    auto* info = static_cast<siginfo_t*>(si);
    const uintptr_t a = reinterpret_cast<uintptr_t>(info->si_addr);
    const bool guest = a >= g_ram_lo.load() && a < g_ram_hi.load();
    char buf[200];
    size_t n = 0;
    auto put = [&](const char* s) {
        size_t l = std::strlen(s);
        std::memcpy(buf + n, s, l);
        n += l;
    };
    if (guest) {
        put("spanvm: guest memory at guest address ");
        n += put_hex(buf + n, a - (g_ram_lo.load() - memory::layout::kNullGuardEnd));
        put(" was unmapped while a syscall used it; terminating with SIGSEGV\n");
        (void)!::write(2, buf, n);
        ::_exit(128 + SIGSEGV);
    }
    put(sig == SIGBUS ? "spanvm: internal error: SIGBUS at " : "spanvm: internal error: SIGSEGV at ");
    n += put_hex(buf + n, a);
    put("\n");
    (void)!::write(2, buf, n);
    ::signal(sig, SIG_DFL);
    ::raise(sig);
}
}  // namespace

HostFaultHandler install_host_fault_report(const uint8_t* ram, uint64_t size) {
    // On native, guest RAM starts at address 0: its NULL guard is not guest
    // memory, so a NULL dereference in the VMM stays an internal error.
    g_ram_lo = reinterpret_cast<uintptr_t>(ram) + memory::layout::kNullGuardEnd;
    g_ram_hi = reinterpret_cast<uintptr_t>(ram) + size;
    return handler;
}

}  // namespace spanvm::process
