#include "vmm/process/syscalls/proc_stat.hpp"

#include <charconv>
#include <vector>

#include <fmt/format.h>

namespace spanvm::process {

namespace {

// The fields after comm: field 3 (state) is element 0. Empty when the line
// has no ") " (comm ends at the *last* ')': a comm may hold ')' and spaces).
std::vector<std::string_view> fields_after_comm(std::string_view line, std::string_view& head) {
    std::vector<std::string_view> out;
    const size_t close = line.rfind(") ");
    if (close == std::string_view::npos) return out;
    head = line.substr(0, close + 2);
    std::string_view rest = line.substr(close + 2);
    while (!rest.empty()) {
        const size_t sp = rest.find(' ');
        out.push_back(rest.substr(0, sp));
        if (sp == std::string_view::npos) break;
        rest.remove_prefix(sp + 1);
    }
    return out;
}

constexpr size_t index_of(int field) { return static_cast<size_t>(field - 3); }

}  // namespace

std::string rewrite_stat(std::string_view host, const StatusFields& f) {
    std::string_view line = host, tail;
    if (const size_t nl = host.find('\n'); nl != std::string_view::npos) line = host.substr(0, nl), tail = host.substr(nl);
    std::string_view head;
    std::vector<std::string_view> fs = fields_after_comm(line, head);
    if (fs.size() < index_of(34) + 1) return std::string(host);
    // Linux prints the four sets as signals 1-31 only (obsolete: "use
    // /proc/PID/status"), the pending one the thread's own.
    constexpr uint64_t kLow31 = 0x7fffffffULL;
    const std::string v[] = {
        fmt::format("{}", f.threads),
        fmt::format("{}", f.sig_pending & kLow31),
        fmt::format("{}", f.blocked & kLow31),
        fmt::format("{}", f.ignored & kLow31),
        fmt::format("{}", f.caught & kLow31),
    };
    fs[index_of(20)] = v[0];
    for (int i = 0; i < 4; ++i) fs[index_of(31 + i)] = v[1 + i];
    std::string out(head);
    for (size_t i = 0; i < fs.size(); ++i) {
        if (i) out += ' ';
        out += fs[i];
    }
    out += tail;
    return out;
}

bool is_own_stat_path(std::string_view path, int pid, bool& thread_self) {
    return is_own_proc_file(path, "stat", pid, thread_self);
}

std::optional<StatMmFields> parse_stat_mm(std::string_view stat) {
    std::string_view head;
    const std::vector<std::string_view> fs = fields_after_comm(stat.substr(0, stat.find('\n')), head);
    if (fs.size() < index_of(47) + 1) return std::nullopt;
    auto num = [&](int field, uint64_t& v) {
        const std::string_view s = fs[index_of(field)];
        const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
        return r.ec == std::errc{} && r.ptr == s.data() + s.size();
    };
    StatMmFields m;
    if (!(num(26, m.start_code) && num(27, m.end_code) && num(28, m.start_stack) && num(45, m.start_data) &&
          num(46, m.end_data) && num(47, m.start_brk)))
        return std::nullopt;
    return m;
}

}  // namespace spanvm::process
