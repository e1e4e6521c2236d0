#pragma once
// Result<T>: a value or an Error, for loops that must not throw (vCPU loop,
// fault handlers, I/O threads). Hand-written stand-in for C++23 std::expected,
// which GCC 12 / Debian 12 does not ship; keep the API a subset of it so the
// switch is mechanical later.
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <variant>

#include <fmt/format.h>

namespace spanvm {

struct Error {
    int code = 0;          // errno value where one applies, else 0
    std::string message;   // one line, no trailing newline
};

template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::move(value)) {}                 // NOLINT: implicit by design
    Result(Error error) : v_(std::move(error)) {}             // NOLINT
    bool has_value() const { return v_.index() == 0; }
    explicit operator bool() const { return has_value(); }
    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    const Error& error() const { return std::get<1>(v_); }

private:
    std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error error) : err_(std::move(error)), ok_(false) {}  // NOLINT
    bool has_value() const { return ok_; }
    explicit operator bool() const { return ok_; }
    const Error& error() const { return err_; }

private:
    Error err_;
    bool ok_ = true;
};

template <typename... Args>
Error make_error(int code, fmt::format_string<Args...> f, Args&&... args) {
    return Error{code, fmt::format(f, std::forward<Args>(args)...)};
}

// Error from the current errno, prefixed with what was attempted.
inline Error errno_error(const std::string& what) {
    int e = errno;
    return Error{e, fmt::format("{}: {}", what, std::strerror(e))};
}

}  // namespace spanvm
