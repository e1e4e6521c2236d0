#include "net/wire_writer.hpp"

#include "net/byte_order.hpp"

namespace spanvm::net {

namespace {
template <typename T>
void put(Bytes& b, T v) {
    std::size_t at = b.size();
    b.resize(at + sizeof(T));
    store_le<T>(b.data() + at, v);
}
}  // namespace

WireWriter& WireWriter::u8(std::uint8_t v) { buf_.push_back(v); return *this; }
WireWriter& WireWriter::u16(std::uint16_t v) { put(buf_, v); return *this; }
WireWriter& WireWriter::u32(std::uint32_t v) { put(buf_, v); return *this; }
WireWriter& WireWriter::u64(std::uint64_t v) { put(buf_, v); return *this; }

WireWriter& WireWriter::bytes(ByteView v) {
    put(buf_, static_cast<std::uint32_t>(v.size()));
    return blob(v);
}

WireWriter& WireWriter::string(std::string_view s) {
    if (s.size() > 0xFFFF) s = s.substr(0, 0xFFFF);
    put(buf_, static_cast<std::uint16_t>(s.size()));
    buf_.insert(buf_.end(), s.begin(), s.end());
    return *this;
}

WireWriter& WireWriter::blob(ByteView v) {
    buf_.insert(buf_.end(), v.begin(), v.end());
    return *this;
}

}  // namespace spanvm::net
