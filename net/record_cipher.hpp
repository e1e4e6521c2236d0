#pragma once
// Authenticated encryption of a byte stream as records (`--encrypt`).
//
// A record is  u32 length (little-endian, = ciphertext + 16)  then the
// AES-256-GCM ciphertext of one plaintext chunk and its 16-byte tag; the
// length field is the additional authenticated data. Each direction of a
// connection has its own 256-bit key (derived with HKDF from the cluster
// key and both handshake nonces, net/handshake.hpp) and its own record
// counter; the 96-bit nonce is 4 zero bytes and the counter (little-endian),
// so no (key, nonce) pair ever repeats, and a record that is dropped,
// replayed, reordered or moved to another connection or direction fails
// its tag. The transport seals one frame per record.
//
// Why records of our own rather than TLS 1.3 with a pre-shared key: the
// transport writes one byte stream from many threads under one mutex
// (direct writes), knows at every moment where the stream stands relative to
// frame boundaries (last_words finishes a half-written frame), and reads
// with its own decoder. An SSL object wants one owner and hides its record
// boundaries, so each of those would have to be rebuilt around it. Sealing a
// finished frame is one EVP call and keeps every write path as it is. The
// key exchange TLS would add is not needed: both ends already share the
// cluster key and fresh nonces. AES-256-GCM rather than ChaCha20-Poly1305:
// spanvm runs on x86-64, where AES-NI and PCLMULQDQ make GCM the faster.
//
// Pure computation (OpenSSL EVP); no I/O. Not thread-safe: the owner
// serialises calls (the FrameWriter's mutex; the reading thread).
#include <cstdint>
#include <optional>

#include "net/crypto.hpp"
#include "net/wire_frame.hpp"
#include "vmm/base/result.hpp"

struct evp_cipher_ctx_st;

namespace spanvm::net {

inline constexpr std::size_t RECORD_HEADER_SIZE = 4;
inline constexpr std::size_t RECORD_TAG_SIZE = 16;

class RecordSealer {
public:
    explicit RecordSealer(const Key256& key);
    ~RecordSealer();
    RecordSealer(const RecordSealer&) = delete;
    RecordSealer& operator=(const RecordSealer&) = delete;

    // The record carrying `plain`.
    Result<Bytes> seal(ByteView plain);

private:
    evp_cipher_ctx_st* ctx_;
    std::uint64_t counter_ = 0;
};

class RecordOpener {
public:
    // `max_plain`: the largest plaintext a record may carry; a longer length
    // is refused from the 4-byte header alone.
    RecordOpener(const Key256& key, std::size_t max_plain);
    ~RecordOpener();
    RecordOpener(const RecordOpener&) = delete;
    RecordOpener& operator=(const RecordOpener&) = delete;

    void feed(ByteView chunk);  // ignored once failed
    // The next record's plaintext, nullopt if more bytes are needed, or a
    // (sticky) error: EBADMSG for a record that fails authentication.
    Result<std::optional<Bytes>> next();

private:
    evp_cipher_ctx_st* ctx_;
    std::uint64_t counter_ = 0;
    std::size_t max_plain_;
    Bytes buf_;
    std::size_t start_ = 0;
    std::optional<Error> error_;
};

}  // namespace spanvm::net
