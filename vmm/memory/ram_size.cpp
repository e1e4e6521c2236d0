#include "vmm/memory/ram_size.hpp"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>
#include <string>

#include "vmm/memory/layout.hpp"

namespace spanvm::memory {

namespace {
constexpr uint64_t kGiB = 1ull << 30;

// The value of "Key:   N kB" in meminfo text, in bytes.
bool meminfo_value(std::string_view text, std::string_view key, uint64_t& out) {
    size_t pos = 0;
    while (pos < text.size()) {
        size_t eol = text.find('\n', pos);
        if (eol == std::string_view::npos) eol = text.size();
        std::string_view line = text.substr(pos, eol - pos);
        pos = eol + 1;
        if (line.size() <= key.size() || line.substr(0, key.size()) != key || line[key.size()] != ':') continue;
        line.remove_prefix(key.size() + 1);
        while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
        uint64_t v = 0;
        auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), v);
        if (ec != std::errc{}) return false;
        std::string_view unit(end, static_cast<size_t>(line.data() + line.size() - end));
        while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
        out = unit == "kB" ? v * 1024 : v;
        return true;
    }
    return false;
}
}  // namespace

Result<HostMemory> parse_meminfo(std::string_view text, int overcommit_mode) {
    HostMemory h;
    h.overcommit_mode = overcommit_mode;
    if (!meminfo_value(text, "MemTotal", h.mem_total) || h.mem_total == 0)
        return make_error(EINVAL, "/proc/meminfo has no MemTotal");
    (void)meminfo_value(text, "CommitLimit", h.commit_limit);
    (void)meminfo_value(text, "Committed_AS", h.committed);
    return h;
}

uint64_t default_ram_size(const HostMemory& host) {
    uint64_t size = (host.mem_total + kGiB - 1) / kGiB * kGiB;
    if (host.overcommit_mode == 2) {
        // Strict accounting charges the whole private writable mapping.
        const uint64_t room = host.commit_limit > host.committed ? host.commit_limit - host.committed : 0;
        size = std::min(size, room & ~(layout::kHugePageSize - 1));
    }
    return std::clamp(size, layout::kMinRamSize, layout::kMaxRamSize);
}

Result<HostMemory> read_host_memory() {
    std::ifstream mi("/proc/meminfo");
    if (!mi) return errno_error("/proc/meminfo");
    std::stringstream text;
    text << mi.rdbuf();
    int mode = 0;
    std::ifstream oc("/proc/sys/vm/overcommit_memory");
    if (oc) oc >> mode;  // absent (no procfs sysctl): the kernel's default, 0
    return parse_meminfo(text.str(), mode);
}

}  // namespace spanvm::memory
