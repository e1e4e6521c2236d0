#pragma once
// Wire frame layout shared by every spanvm node. Pure: no I/O.
//
// A frame is a fixed 24-byte header followed by `payload_length` bytes:
//   offset 0  magic          u32  FRAME_MAGIC
//   offset 4  version        u16  WIRE_VERSION
//   offset 6  type           u16  message type (see MessageTypes)
//   offset 8  flags          u16  FRAME_FLAG_* bits, others must be zero
//   offset 10 reserved       u16  must be zero
//   offset 12 request_id     u64  0 = not part of a request/response exchange
//   offset 20 payload_length u32  <= the receiver's max payload
// All integers are little-endian and are encoded field by field (never by
// copying a struct), so the layout does not depend on the compiler.
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "vmm/base/result.hpp"

namespace spanvm::net {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

inline constexpr std::uint32_t FRAME_MAGIC = 0x4D565053;  // "SPVM" in memory order
inline constexpr std::uint16_t WIRE_VERSION = 1;
inline constexpr std::size_t FRAME_HEADER_SIZE = 24;
// Large enough for a 4 KiB page plus any protocol header; small enough that a
// hostile length cannot make a node allocate much.
inline constexpr std::uint32_t MAX_PAYLOAD_SIZE = 64 * 1024;

// Flag bits. A request carries FRAME_FLAG_REQUEST and a non-zero request id;
// its response carries FRAME_FLAG_RESPONSE and the same request id.
inline constexpr std::uint16_t FRAME_FLAG_REQUEST = 0x0001;
inline constexpr std::uint16_t FRAME_FLAG_RESPONSE = 0x0002;
inline constexpr std::uint16_t FRAME_FLAGS_KNOWN = FRAME_FLAG_REQUEST | FRAME_FLAG_RESPONSE;

// Error codes carried in Error::code by the decode functions (errno values,
// so the transport can report them like any other I/O error).
inline constexpr int DECODE_BAD_MAGIC = EBADMSG;
inline constexpr int DECODE_BAD_VERSION = EPROTONOSUPPORT;
inline constexpr int DECODE_OVERSIZED = EMSGSIZE;
inline constexpr int DECODE_TRUNCATED = ENODATA;
inline constexpr int DECODE_BAD_FLAGS = EPROTO;  // unknown flag bits, reserved != 0, both REQUEST and RESPONSE

struct FrameHeader {
    std::uint32_t magic = FRAME_MAGIC;
    std::uint16_t version = WIRE_VERSION;
    std::uint16_t type = 0;
    std::uint16_t flags = 0;
    std::uint16_t reserved = 0;
    std::uint64_t request_id = 0;
    std::uint32_t payload_length = 0;

    bool is_request() const { return (flags & FRAME_FLAG_REQUEST) != 0; }
    bool is_response() const { return (flags & FRAME_FLAG_RESPONSE) != 0; }
};

struct Frame {
    FrameHeader header;
    Bytes payload;
};

// Appends the encoded header to `out`.
void encode_header(const FrameHeader& h, Bytes& out);

// Appends header + payload to `out`; header.payload_length is taken from the
// payload. Fails (EMSGSIZE) if the payload exceeds `max_payload`.
Result<void> encode_frame(std::uint16_t type, std::uint16_t flags, std::uint64_t request_id,
                          ByteView payload, Bytes& out, std::uint32_t max_payload = MAX_PAYLOAD_SIZE);

// Convenience: a fresh buffer holding one frame.
Result<Bytes> make_frame(std::uint16_t type, std::uint16_t flags, std::uint64_t request_id,
                         ByteView payload, std::uint32_t max_payload = MAX_PAYLOAD_SIZE);

// Decodes and validates a header from the first FRAME_HEADER_SIZE bytes of
// `bytes` (DECODE_TRUNCATED if fewer). Validation: magic, version, flags,
// reserved, payload_length <= max_payload.
Result<FrameHeader> decode_header(ByteView bytes, std::uint32_t max_payload = MAX_PAYLOAD_SIZE);

// Decodes exactly one frame that must span all of `bytes`
// (DECODE_TRUNCATED if short, DECODE_OVERSIZED if trailing bytes remain).
Result<Frame> decode_frame(ByteView bytes, std::uint32_t max_payload = MAX_PAYLOAD_SIZE);

}  // namespace spanvm::net
