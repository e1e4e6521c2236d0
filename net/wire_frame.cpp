#include "net/wire_frame.hpp"

#include "net/byte_order.hpp"

namespace spanvm::net {

void encode_header(const FrameHeader& h, Bytes& out) {
    std::size_t at = out.size();
    out.resize(at + FRAME_HEADER_SIZE);
    std::uint8_t* p = out.data() + at;
    store_le<std::uint32_t>(p + 0, h.magic);
    store_le<std::uint16_t>(p + 4, h.version);
    store_le<std::uint16_t>(p + 6, h.type);
    store_le<std::uint16_t>(p + 8, h.flags);
    store_le<std::uint16_t>(p + 10, h.reserved);
    store_le<std::uint64_t>(p + 12, h.request_id);
    store_le<std::uint32_t>(p + 20, h.payload_length);
}

Result<void> encode_frame(std::uint16_t type, std::uint16_t flags, std::uint64_t request_id,
                          ByteView payload, Bytes& out, std::uint32_t max_payload) {
    if (payload.size() > max_payload)
        return make_error(DECODE_OVERSIZED, "payload of {} bytes exceeds the maximum of {} bytes",
                          payload.size(), max_payload);
    if ((flags & ~FRAME_FLAGS_KNOWN) != 0 || flags == FRAME_FLAGS_KNOWN)
        return make_error(DECODE_BAD_FLAGS, "invalid frame flags {:#06x}", flags);
    FrameHeader h;
    h.type = type;
    h.flags = flags;
    h.request_id = request_id;
    h.payload_length = static_cast<std::uint32_t>(payload.size());
    out.reserve(out.size() + FRAME_HEADER_SIZE + payload.size());
    encode_header(h, out);
    out.insert(out.end(), payload.begin(), payload.end());
    return {};
}

Result<Bytes> make_frame(std::uint16_t type, std::uint16_t flags, std::uint64_t request_id,
                         ByteView payload, std::uint32_t max_payload) {
    Bytes out;
    if (auto r = encode_frame(type, flags, request_id, payload, out, max_payload); !r) return r.error();
    return out;
}

Result<FrameHeader> decode_header(ByteView bytes, std::uint32_t max_payload) {
    if (bytes.size() < FRAME_HEADER_SIZE)
        return make_error(DECODE_TRUNCATED, "truncated frame header: {} of {} bytes", bytes.size(),
                          FRAME_HEADER_SIZE);
    const std::uint8_t* p = bytes.data();
    FrameHeader h;
    h.magic = load_le<std::uint32_t>(p + 0);
    h.version = load_le<std::uint16_t>(p + 4);
    h.type = load_le<std::uint16_t>(p + 6);
    h.flags = load_le<std::uint16_t>(p + 8);
    h.reserved = load_le<std::uint16_t>(p + 10);
    h.request_id = load_le<std::uint64_t>(p + 12);
    h.payload_length = load_le<std::uint32_t>(p + 20);
    if (h.magic != FRAME_MAGIC)
        return make_error(DECODE_BAD_MAGIC, "bad frame magic {:#010x} (expected {:#010x})", h.magic, FRAME_MAGIC);
    if (h.version != WIRE_VERSION)
        return make_error(DECODE_BAD_VERSION, "unsupported wire version {} (this node speaks {})", h.version,
                          WIRE_VERSION);
    if ((h.flags & ~FRAME_FLAGS_KNOWN) != 0 || h.flags == FRAME_FLAGS_KNOWN)
        return make_error(DECODE_BAD_FLAGS, "invalid frame flags {:#06x}", h.flags);
    if (h.reserved != 0) return make_error(DECODE_BAD_FLAGS, "reserved header field is {:#06x}, not 0", h.reserved);
    if (h.payload_length > max_payload)
        return make_error(DECODE_OVERSIZED, "frame payload length {} exceeds the maximum of {} bytes",
                          h.payload_length, max_payload);
    return h;
}

Result<Frame> decode_frame(ByteView bytes, std::uint32_t max_payload) {
    auto h = decode_header(bytes, max_payload);
    if (!h) return h.error();
    std::size_t total = FRAME_HEADER_SIZE + h->payload_length;
    if (bytes.size() < total)
        return make_error(DECODE_TRUNCATED, "truncated frame: {} of {} bytes", bytes.size(), total);
    if (bytes.size() > total)
        return make_error(DECODE_OVERSIZED, "{} trailing bytes after a {}-byte frame", bytes.size() - total, total);
    Frame f;
    f.header = *h;
    f.payload.assign(bytes.begin() + FRAME_HEADER_SIZE, bytes.end());
    return f;
}

}  // namespace spanvm::net
