#include "net/crypto.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <sys/random.h>

#include <cerrno>

#include <stdexcept>

namespace spanvm::net {

Result<void> random_bytes(std::span<std::uint8_t> out) {
    std::size_t got = 0;
    while (got < out.size()) {
        const ssize_t n = ::getrandom(out.data() + got, out.size() - got, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return make_error(errno ? errno : EIO, "getrandom");
        got += static_cast<std::size_t>(n);
    }
    return {};
}

Mac hmac_sha256(std::span<const std::uint8_t> key, std::span<const std::uint8_t> data) {
    Mac out{};
    unsigned len = 0;
    // HMAC() is the one-shot interface; with a valid digest and buffers it
    // cannot fail short of memory exhaustion.
    if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), data.data(), data.size(), out.data(), &len) ||
        len != MAC_SIZE)
        throw std::runtime_error("OpenSSL HMAC-SHA256 failed");
    return out;
}

bool mac_equal(const Mac& a, const Mac& b) { return CRYPTO_memcmp(a.data(), b.data(), MAC_SIZE) == 0; }

Key256 hkdf_sha256(std::span<const std::uint8_t> ikm, std::span<const std::uint8_t> salt, std::string_view info) {
    Key256 out{};
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr);
    std::size_t len = out.size();
    // An empty salt is allowed by RFC 5869 (it means HashLen zeros); OpenSSL
    // wants a non-null pointer, so pass one byte's address with length 0.
    static const std::uint8_t none = 0;
    bool ok = ctx && EVP_PKEY_derive_init(ctx) > 0 && EVP_PKEY_CTX_set_hkdf_md(ctx, EVP_sha256()) > 0 &&
              EVP_PKEY_CTX_set1_hkdf_salt(ctx, salt.empty() ? &none : salt.data(), static_cast<int>(salt.size())) > 0 &&
              EVP_PKEY_CTX_set1_hkdf_key(ctx, ikm.data(), static_cast<int>(ikm.size())) > 0 &&
              EVP_PKEY_CTX_add1_hkdf_info(ctx, reinterpret_cast<const unsigned char*>(info.data()),
                                          static_cast<int>(info.size())) > 0 &&
              EVP_PKEY_derive(ctx, out.data(), &len) > 0 && len == out.size();
    EVP_PKEY_CTX_free(ctx);
    if (!ok) throw std::runtime_error("OpenSSL HKDF-SHA256 failed");
    return out;
}

void prepare_crypto() {
    std::array<std::uint8_t, 32> b{};
    (void)random_bytes(b);
    const Key256 k = hkdf_sha256(b, b, "spanvm prepare");
    (void)hmac_sha256(k, b);
}

}  // namespace spanvm::net
