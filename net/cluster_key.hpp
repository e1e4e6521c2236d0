#pragma once
// The cluster's secret key: 32 random bytes that every member holds and no
// one else does. Membership is proof of this key (net/handshake.hpp), and
// with encryption on every traffic key is derived from it.
//
// A key file is one line of 64 lowercase hex digits. It must not be readable
// or writable by group or others: load_key_file refuses such a file with one
// line, as ssh does for private keys. Start-up code: errors are exceptions
// (std::runtime_error) whose what() is one line naming the file.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>


namespace spanvm::net {

inline constexpr std::size_t CLUSTER_KEY_SIZE = 32;

struct ClusterKey {
    std::array<std::uint8_t, CLUSTER_KEY_SIZE> bytes{};
    bool operator==(const ClusterKey&) const = default;
};

// A fresh random key (OpenSSL RAND_bytes). Throws std::runtime_error if no
// randomness is available.
ClusterKey generate_cluster_key();

// "0123...ef\n" (64 hex digits and a newline), the key file's content.
std::string format_cluster_key(const ClusterKey& key);
// Parses a key file's content (surrounding whitespace allowed). nullopt if
// it is not exactly 64 hex digits.
std::optional<ClusterKey> parse_cluster_key(std::string_view text);

// Creates `path` with mode 0600 (refusing to overwrite an existing file) and
// writes `key` to it.
void write_key_file(const std::string& path, const ClusterKey& key);
// Reads a key file, refusing one that group or others may read or write.
ClusterKey load_key_file(const std::string& path);
// Reads a key from an inherited file descriptor (from offset 0, so several
// processes may share it) and closes it; `--local-hosts` hands its nodes
// their key this way, never on a command line.
ClusterKey read_key_fd(int fd);

}  // namespace spanvm::net
