#pragma once
// Minimal logging to stderr, always prefixed "spanvm: " so guest output
// (which passes through on the same fds) stays distinguishable.
#include <atomic>
#include <cstdio>
#include <string>

#include <fmt/format.h>

namespace spanvm::log {

enum class Level { error = 0, warn = 1, info = 2, debug = 3 };

inline std::atomic<int>& threshold() {
    static std::atomic<int> t{static_cast<int>(Level::warn)};
    return t;
}
inline void set_level(Level l) { threshold().store(static_cast<int>(l)); }
inline bool enabled(Level l) { return static_cast<int>(l) <= threshold().load(std::memory_order_relaxed); }

inline void write_line(const std::string& s) {
    std::string line = "spanvm: " + s + "\n";
    std::fwrite(line.data(), 1, line.size(), stderr);
}

template <typename... A> void error(fmt::format_string<A...> f, A&&... a) {
    write_line(fmt::format(f, std::forward<A>(a)...));
}
template <typename... A> void warn(fmt::format_string<A...> f, A&&... a) {
    if (enabled(Level::warn)) write_line(fmt::format(f, std::forward<A>(a)...));
}
template <typename... A> void info(fmt::format_string<A...> f, A&&... a) {
    if (enabled(Level::info)) write_line(fmt::format(f, std::forward<A>(a)...));
}
template <typename... A> void debug(fmt::format_string<A...> f, A&&... a) {
    if (enabled(Level::debug)) write_line(fmt::format(f, std::forward<A>(a)...));
}

}  // namespace spanvm::log
