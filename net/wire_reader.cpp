#include "net/wire_reader.hpp"

#include <algorithm>

#include "net/byte_order.hpp"

namespace spanvm::net {

Result<ByteView> WireReader::take(std::size_t n, const char* what) {
    if (n > remaining())
        return make_error(DECODE_TRUNCATED, "truncated payload: {} needs {} bytes at offset {}, {} left", what, n,
                          pos_, remaining());
    ByteView v = data_.subspan(pos_, n);
    pos_ += n;
    return v;
}

Result<std::uint8_t> WireReader::u8() {
    auto v = take(1, "u8");
    if (!v) return v.error();
    return (*v)[0];
}
Result<std::uint16_t> WireReader::u16() {
    auto v = take(2, "u16");
    if (!v) return v.error();
    return load_le<std::uint16_t>(v->data());
}
Result<std::uint32_t> WireReader::u32() {
    auto v = take(4, "u32");
    if (!v) return v.error();
    return load_le<std::uint32_t>(v->data());
}
Result<std::uint64_t> WireReader::u64() {
    auto v = take(8, "u64");
    if (!v) return v.error();
    return load_le<std::uint64_t>(v->data());
}

Result<ByteView> WireReader::bytes() {
    std::size_t mark = pos_;
    auto n = u32();
    if (!n) return n.error();
    auto v = take(*n, "byte string");
    if (!v) pos_ = mark;
    return v;
}

Result<std::string> WireReader::string() {
    std::size_t mark = pos_;
    auto n = u16();
    if (!n) return n.error();
    auto v = take(*n, "string");
    if (!v) {
        pos_ = mark;
        return v.error();
    }
    return std::string(v->begin(), v->end());
}

Result<ByteView> WireReader::blob(std::size_t n) { return take(n, "blob"); }

Result<void> WireReader::blob_into(std::span<std::uint8_t> out) {
    auto v = take(out.size(), "blob");
    if (!v) return v.error();
    std::copy(v->begin(), v->end(), out.begin());
    return {};
}

Result<void> WireReader::expect_end() const {
    if (remaining() != 0)
        return make_error(DECODE_OVERSIZED, "{} unexpected trailing payload bytes at offset {}", remaining(), pos_);
    return {};
}

}  // namespace spanvm::net
