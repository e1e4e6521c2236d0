#include "net/record_cipher.hpp"

#include <openssl/evp.h>

#include <stdexcept>

#include "net/byte_order.hpp"

namespace spanvm::net {

namespace {

constexpr int kNonceSize = 12;

void make_nonce(std::uint64_t counter, std::uint8_t (&nonce)[kNonceSize]) {
    store_le<std::uint32_t>(nonce, 0);
    store_le<std::uint64_t>(nonce + 4, counter);
}

evp_cipher_ctx_st* new_ctx(const Key256& key, bool encrypt) {
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    if (!ctx || EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), nullptr, key.data(), nullptr, encrypt ? 1 : 0) != 1) {
        EVP_CIPHER_CTX_free(ctx);
        throw std::runtime_error("OpenSSL: cannot set up AES-256-GCM");
    }
    return ctx;
}

}  // namespace

RecordSealer::RecordSealer(const Key256& key) : ctx_(new_ctx(key, true)) {}
RecordSealer::~RecordSealer() { EVP_CIPHER_CTX_free(ctx_); }

Result<Bytes> RecordSealer::seal(ByteView plain) {
    if (counter_ == UINT64_MAX) return make_error(EOVERFLOW, "record counter exhausted");
    std::uint8_t nonce[kNonceSize];
    make_nonce(counter_++, nonce);
    const std::size_t body = plain.size() + RECORD_TAG_SIZE;
    Bytes out(RECORD_HEADER_SIZE + body);
    store_le<std::uint32_t>(out.data(), static_cast<std::uint32_t>(body));
    int n = 0, fin = 0;
    if (EVP_EncryptInit_ex(ctx_, nullptr, nullptr, nullptr, nonce) != 1 ||
        EVP_EncryptUpdate(ctx_, nullptr, &n, out.data(), RECORD_HEADER_SIZE) != 1 ||
        EVP_EncryptUpdate(ctx_, out.data() + RECORD_HEADER_SIZE, &n, plain.data(), static_cast<int>(plain.size())) != 1 ||
        EVP_EncryptFinal_ex(ctx_, out.data() + RECORD_HEADER_SIZE + n, &fin) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_GCM_GET_TAG, RECORD_TAG_SIZE, out.data() + RECORD_HEADER_SIZE + plain.size()) != 1)
        return make_error(EIO, "OpenSSL: AES-256-GCM seal failed");
    return out;
}

RecordOpener::RecordOpener(const Key256& key, std::size_t max_plain)
    : ctx_(new_ctx(key, false)), max_plain_(max_plain) {}
RecordOpener::~RecordOpener() { EVP_CIPHER_CTX_free(ctx_); }

void RecordOpener::feed(ByteView chunk) {
    if (error_ || chunk.empty()) return;
    if (start_ > 0 && (start_ == buf_.size() || start_ >= buf_.size() / 2)) {
        buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(start_));
        start_ = 0;
    }
    buf_.insert(buf_.end(), chunk.begin(), chunk.end());
}

Result<std::optional<Bytes>> RecordOpener::next() {
    if (error_) return *error_;
    const std::size_t avail = buf_.size() - start_;
    if (avail < RECORD_HEADER_SIZE) return std::optional<Bytes>{};
    const std::uint8_t* p = buf_.data() + start_;
    const std::uint32_t body = load_le<std::uint32_t>(p);
    if (body < RECORD_TAG_SIZE || body - RECORD_TAG_SIZE > max_plain_) {
        error_ = make_error(EMSGSIZE, "encrypted record of {} bytes is out of range", body);
        return *error_;
    }
    if (avail < RECORD_HEADER_SIZE + body) return std::optional<Bytes>{};
    const std::size_t plain_size = body - RECORD_TAG_SIZE;
    Bytes plain(plain_size);
    std::uint8_t nonce[kNonceSize];
    make_nonce(counter_, nonce);
    std::uint8_t tag[RECORD_TAG_SIZE];
    std::copy(p + RECORD_HEADER_SIZE + plain_size, p + RECORD_HEADER_SIZE + body, tag);
    int n = 0, fin = 0;
    bool ok = EVP_DecryptInit_ex(ctx_, nullptr, nullptr, nullptr, nonce) == 1 &&
              EVP_DecryptUpdate(ctx_, nullptr, &n, p, RECORD_HEADER_SIZE) == 1 &&
              EVP_DecryptUpdate(ctx_, plain.data(), &n, p + RECORD_HEADER_SIZE, static_cast<int>(plain_size)) == 1 &&
              EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_GCM_SET_TAG, RECORD_TAG_SIZE, tag) == 1 &&
              EVP_DecryptFinal_ex(ctx_, plain.data() + n, &fin) == 1;
    if (!ok) {
        error_ = make_error(EBADMSG, "encrypted record {} failed authentication", counter_);
        return *error_;
    }
    ++counter_;
    start_ += RECORD_HEADER_SIZE + body;
    if (start_ == buf_.size()) {
        buf_.clear();
        start_ = 0;
    }
    return std::optional<Bytes>{std::move(plain)};
}

}  // namespace spanvm::net
