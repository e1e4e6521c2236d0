#pragma once
// The few cryptographic primitives spanvm uses, all from OpenSSL (libcrypto);
// nothing here is hand-rolled. Pure computation apart from random_bytes,
// which reads the kernel's CSPRNG with getrandom(2), the source OpenSSL's
// own generator seeds from: OpenSSL's RAND_bytes re-instantiated its DRBG
// in every forked process (a placed exec's deputy: allocations, hash
// tables, ~70 page faults each), for the handshake's few nonces.
//   hmac_sha256  HMAC-SHA256 (RFC 2104), the handshake's proof of the key
//   mac_equal    constant-time comparison (CRYPTO_memcmp)
//   hkdf_sha256  HKDF-SHA256 (RFC 5869), every derived key
#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include "vmm/base/result.hpp"

namespace spanvm::net {

inline constexpr std::size_t MAC_SIZE = 32;  // HMAC-SHA256 output
using Mac = std::array<std::uint8_t, MAC_SIZE>;
using Key256 = std::array<std::uint8_t, 32>;

// Fills `out` with random bytes from the kernel; an error (one line) if it
// cannot.
Result<void> random_bytes(std::span<std::uint8_t> out);

Mac hmac_sha256(std::span<const std::uint8_t> key, std::span<const std::uint8_t> data);

// Constant-time equality of two MACs.
bool mac_equal(const Mac& a, const Mac& b);

// HKDF-SHA256 extract-and-expand of `ikm` with `salt` and the label `info`
// into a 32-byte key.
Key256 hkdf_sha256(std::span<const std::uint8_t> ikm, std::span<const std::uint8_t> salt, std::string_view info);

// Runs each primitive above once on throwaway inputs, so that what OpenSSL
// does lazily on a process's first use (fetching the digest and KDF
// implementations: milliseconds on a busy host, most of a fresh session's
// handshake) is paid before the caller waits on a peer. Idempotent and
// thread-safe; its outputs are discarded.
void prepare_crypto();

}  // namespace spanvm::net
