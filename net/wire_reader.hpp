#pragma once
// Bounds-checked little-endian payload reader, the mirror of WireWriter.
// Every read returns a Result; a failed read consumes nothing, so a decoder
// can report exactly which field was short. Views returned by bytes()/blob()
// point into the payload the reader was built on and live as long as it.
#include <cstdint>
#include <string>

#include "net/wire_frame.hpp"
#include "vmm/base/result.hpp"

namespace spanvm::net {

class WireReader {
public:
    explicit WireReader(ByteView data) : data_(data) {}

    Result<std::uint8_t> u8();
    Result<std::uint16_t> u16();
    Result<std::uint32_t> u32();
    Result<std::uint64_t> u64();
    // u32 length prefix + that many bytes.
    Result<ByteView> bytes();
    // u16 length prefix + that many bytes.
    Result<std::string> string();
    // Exactly n raw bytes.
    Result<ByteView> blob(std::size_t n);
    // Exactly out.size() raw bytes, copied into out (e.g. a page buffer).
    Result<void> blob_into(std::span<std::uint8_t> out);
    // Error unless every byte was consumed (catches trailing garbage).
    Result<void> expect_end() const;

    std::size_t remaining() const { return data_.size() - pos_; }
    std::size_t position() const { return pos_; }

private:
    Result<ByteView> take(std::size_t n, const char* what);

    ByteView data_;
    std::size_t pos_ = 0;
};

}  // namespace spanvm::net
