#include "vmm/process/syscalls/proc_status.hpp"

#include <algorithm>
#include <charconv>
#include <iterator>
#include <utility>

#include <fmt/format.h>

namespace spanvm::process {

namespace {

bool all_digits(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return true;
}

int to_int(std::string_view s) {
    int v = -1;
    std::from_chars(s.data(), s.data() + s.size(), v);
    return v;
}

}  // namespace

std::string rewrite_status(std::string_view host, const StatusFields& f) {
    const std::pair<std::string_view, std::string> guest[] = {
        {"Threads", fmt::format("{}", f.threads)},
        {"SigPnd", fmt::format("{:016x}", f.sig_pending)},
        {"ShdPnd", fmt::format("{:016x}", f.shared_pending)},
        {"SigBlk", fmt::format("{:016x}", f.blocked)},
        {"SigIgn", fmt::format("{:016x}", f.ignored)},
        {"SigCgt", fmt::format("{:016x}", f.caught)},
        {"Seccomp", fmt::format("{}", f.seccomp_mode)},
        {"Seccomp_filters", fmt::format("{}", f.seccomp_filters)},
    };
    std::string out;
    out.reserve(host.size());
    while (!host.empty()) {
        const size_t nl = host.find('\n');
        const std::string_view line = host.substr(0, nl == std::string_view::npos ? host.size() : nl);
        host.remove_prefix(nl == std::string_view::npos ? host.size() : nl + 1);
        const size_t colon = line.find(':');
        const std::string_view key = colon == std::string_view::npos ? std::string_view{} : line.substr(0, colon);
        const auto* g = std::find_if(std::begin(guest), std::end(guest), [&](const auto& e) { return e.first == key; });
        if (g != std::end(guest)) {
            out += key;
            out += ":\t";
            out += g->second;
        } else {
            out += line;
        }
        if (nl != std::string_view::npos) out += '\n';
    }
    return out;
}

bool is_own_status_path(std::string_view path, int pid, bool& thread_self) {
    return is_own_proc_file(path, "status", pid, thread_self);
}

bool is_own_proc_file(std::string_view path, std::string_view name, int pid, bool& thread_self) {
    constexpr std::string_view kProc = "/proc/";
    if (path.substr(0, kProc.size()) != kProc || path.size() < kProc.size() + 1 + name.size() ||
        path.substr(path.size() - name.size()) != name || path[path.size() - name.size() - 1] != '/')
        return false;
    std::string_view mid = path.substr(kProc.size(), path.size() - kProc.size() - name.size() - 1);
    thread_self = false;
    if (mid == "self") return true;
    if (mid == "thread-self") return thread_self = true;
    return all_digits(mid) && to_int(mid) == pid;
}

}  // namespace spanvm::process
