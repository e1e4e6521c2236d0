#include "vmm/base/latency_trace.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <string>
#include <string_view>

namespace spanvm::trace {
namespace {

constexpr std::size_t kCapacity = std::size_t{1} << 20;

struct Entry {
    std::uint64_t ns;
    const char* point;
    std::uint64_t arg;
    std::uint32_t tid;
};

// State: 0 = not decided yet, 1 = off, 2 = on. Decided once (first caller
// wins the CAS; the others spin for the few instructions it takes).
std::atomic<int> g_state{0};
std::string g_dir;
std::unique_ptr<Entry[]> g_entries;
std::atomic<std::size_t> g_next{0};
// SPANVM_LATENCY_TRACE_CPU: each mark's arg becomes the process's CPU time
// in ns (1, or any value but "0" and "faults"), or its minor page faults
// times 1000 ("faults": phases.py then reads faults where it says us).
int g_arg_mode = 0;  // 0: the caller's arg, 1: CPU ns, 2: faults x 1000

std::uint64_t now_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

void write_out() {
    static std::atomic<bool> written{false};
    if (written.exchange(true)) return;
    std::size_t n = std::min(g_next.load(), kCapacity);
    std::string path = g_dir + "/trace-" + std::to_string(getpid()) + ".tsv";
    std::FILE* f = std::fopen(path.c_str(), "w");
    if (f == nullptr) return;
    for (std::size_t i = 0; i < n; ++i) {
        const Entry& e = g_entries[i];
        if (e.point == nullptr) continue;  // reserved but never filled (racing exit)
        std::fprintf(f, "%llu\t%u\t%s\t%llu\n", static_cast<unsigned long long>(e.ns), e.tid, e.point,
                     static_cast<unsigned long long>(e.arg));
    }
    std::fclose(f);
}

int decide() {
    int expected = 0;
    if (!g_state.compare_exchange_strong(expected, -1)) {
        while ((expected = g_state.load(std::memory_order_acquire)) == -1) {
        }
        return expected;
    }
    const char* dir = std::getenv("SPANVM_LATENCY_TRACE");
    int s = 1;
    if (dir != nullptr && *dir != '\0') {
        g_dir = dir;
        // Left uninitialized (Entry is trivial; only entries below g_next
        // are read): zeroing its 32 MiB faulted in ~8,000 pages, 100 ms or
        // more at the first mark, which made a traced run's start look
        // that much slower (issue 13's measurement).
        g_entries.reset(new Entry[kCapacity]);
        const char* cpu = std::getenv("SPANVM_LATENCY_TRACE_CPU");
        if (cpu != nullptr && *cpu != '\0' && std::string_view(cpu) != "0")
            g_arg_mode = std::string_view(cpu) == "faults" ? 2 : 1;
        std::atexit(write_out);
        s = 2;
    }
    g_state.store(s, std::memory_order_release);
    return s;
}

}  // namespace

bool enabled() {
    int s = g_state.load(std::memory_order_acquire);
    if (s == 0 || s == -1) s = decide();
    return s == 2;
}

void mark_slow(const char* point, std::uint64_t arg) {
    std::size_t i = g_next.fetch_add(1, std::memory_order_relaxed);
    if (i >= kCapacity) return;
    Entry& e = g_entries[i];
    e.ns = now_ns();
    if (g_arg_mode == 1) {
        timespec ts{};
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        arg = static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
    } else if (g_arg_mode == 2) {
        rusage ru{};
        getrusage(RUSAGE_SELF, &ru);
        arg = static_cast<std::uint64_t>(ru.ru_minflt) * 1000u;
    }
    e.arg = arg;
    e.tid = static_cast<std::uint32_t>(gettid());
    e.point = point;
}

void write_now() {
    if (g_state.load(std::memory_order_acquire) == 2) write_out();
}

}  // namespace spanvm::trace
