#include "net/cluster_key.hpp"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>


namespace spanvm::net {

namespace {

constexpr std::size_t kMaxKeyFileSize = 256;

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Reads at most kMaxKeyFileSize bytes from `fd` starting at offset 0.
std::string read_small(int fd, const std::string& what) {
    std::string text;
    char buf[kMaxKeyFileSize + 1];
    off_t off = 0;
    for (;;) {
        ssize_t n = ::pread(fd, buf, sizeof buf, off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw std::runtime_error(fmt::format("{}: read: {}", what, std::strerror(errno)));
        if (n == 0) break;
        text.append(buf, static_cast<std::size_t>(n));
        off += n;
        if (text.size() > kMaxKeyFileSize) throw std::runtime_error(fmt::format("{}: not a spanvm key file (too long)", what));
    }
    return text;
}

ClusterKey parse_or_throw(const std::string& text, const std::string& what) {
    auto key = parse_cluster_key(text);
    if (!key) throw std::runtime_error(fmt::format("{}: not a spanvm key file (want 64 hex digits; make one with 'spanvm keygen PATH')", what));
    return *key;
}

}  // namespace

ClusterKey generate_cluster_key() {
    // From the kernel's generator (getrandom(2): the source OpenSSL seeds
    // its own from), not RAND_bytes: `run --local-hosts` makes the key
    // before it starts its nodes, and OpenSSL's first use in a process
    // (~100 page faults, milliseconds: net::prepare_crypto) would delay
    // every node's start; the origin pays it once the nodes are starting.
    ClusterKey k;
    std::size_t got = 0;
    while (got < k.bytes.size()) {
        const ssize_t n = ::getrandom(k.bytes.data() + got, k.bytes.size() - got, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw std::runtime_error(fmt::format("cannot generate a cluster key: getrandom: {}", std::strerror(errno)));
        got += static_cast<std::size_t>(n);
    }
    return k;
}

std::string format_cluster_key(const ClusterKey& key) {
    std::string s;
    s.reserve(2 * CLUSTER_KEY_SIZE + 1);
    for (std::uint8_t b : key.bytes) s += fmt::format("{:02x}", b);
    s += '\n';
    return s;
}

std::optional<ClusterKey> parse_cluster_key(std::string_view text) {
    auto space = [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; };
    while (!text.empty() && space(text.front())) text.remove_prefix(1);
    while (!text.empty() && space(text.back())) text.remove_suffix(1);
    if (text.size() != 2 * CLUSTER_KEY_SIZE) return std::nullopt;
    ClusterKey k;
    for (std::size_t i = 0; i < CLUSTER_KEY_SIZE; ++i) {
        int hi = hex_value(text[2 * i]), lo = hex_value(text[2 * i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        k.bytes[i] = static_cast<std::uint8_t>(hi << 4 | lo);
    }
    return k;
}

void write_key_file(const std::string& path, const ClusterKey& key) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) throw std::runtime_error(fmt::format("{}: cannot create: {}", path, std::strerror(errno)));
    // The umask may only take bits away; make sure of 0600 anyway.
    (void)::fchmod(fd, 0600);
    const std::string text = format_cluster_key(key);
    bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    int err = errno;
    ok = ::close(fd) == 0 && ok;
    if (!ok) {
        ::unlink(path.c_str());
        throw std::runtime_error(fmt::format("{}: cannot write: {}", path, std::strerror(err)));
    }
}

ClusterKey load_key_file(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error(fmt::format("key file {}: cannot open: {}", path, std::strerror(errno)));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        int e = errno;
        ::close(fd);
        throw std::runtime_error(fmt::format("key file {}: {}", path, std::strerror(e)));
    }
    if ((st.st_mode & 077) != 0) {
        ::close(fd);
        throw std::runtime_error(fmt::format("key file {} is accessible by group or others (mode {:04o}); chmod 600 it",
                                             path, st.st_mode & 07777));
    }
    std::string text;
    try {
        text = read_small(fd, "key file " + path);
    } catch (...) {
        ::close(fd);
        throw;
    }
    ::close(fd);
    return parse_or_throw(text, "key file " + path);
}

ClusterKey read_key_fd(int fd) {
    const std::string what = fmt::format("--key-fd {}", fd);
    std::string text = read_small(fd, what);
    ::close(fd);
    return parse_or_throw(text, what);
}

}  // namespace spanvm::net
