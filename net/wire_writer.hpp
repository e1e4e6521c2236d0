#pragma once
// Typed little-endian payload writer, for protocol owners to encode their
// messages. Pure: appends to a byte vector, never fails (size limits are
// enforced when the payload is framed).
#include <cstdint>
#include <string_view>

#include "net/wire_frame.hpp"

namespace spanvm::net {

class WireWriter {
public:
    WireWriter() = default;
    explicit WireWriter(std::size_t reserve) { buf_.reserve(reserve); }

    WireWriter& u8(std::uint8_t v);
    WireWriter& u16(std::uint16_t v);
    WireWriter& u32(std::uint32_t v);
    WireWriter& u64(std::uint64_t v);
    // Length-prefixed (u32) byte string; read back with WireReader::bytes().
    WireWriter& bytes(ByteView v);
    // Length-prefixed (u16) string; read back with WireReader::string().
    // Strings longer than 65535 bytes are a caller bug and are truncated.
    WireWriter& string(std::string_view s);
    // Raw bytes with no prefix (fixed-size blobs such as a 4 KiB page); the
    // reader must know the size.
    WireWriter& blob(ByteView v);

    std::size_t size() const { return buf_.size(); }
    const Bytes& data() const& { return buf_; }
    ByteView view() const { return buf_; }
    Bytes take() { return std::move(buf_); }

private:
    Bytes buf_;
};

}  // namespace spanvm::net
