#include "vmm/dsm/run_frame.hpp"

#include <cerrno>
#include <cstring>

namespace spanvm::dsm {

Message RunFrame::message(std::size_t i, std::size_t page_size) const {
    Message m = head;
    m.page = head.page + i;
    if (head.data_kind == DataKind::Bytes) m.view = data.subspan(i * page_size, page_size);
    return m;
}

bool run_continues(const Message& prev, const Message& next) {
    return next.type == prev.type && next.data_kind == prev.data_kind && next.requester == prev.requester &&
           next.acks == prev.acks && next.page == prev.page + 1;
}

void encode_run_frame(std::span<const Message> msgs, std::vector<std::byte>& out) {
    const Message& h = msgs.front();
    std::size_t data = 0;
    for (const Message& m : msgs) data += m.payload().size();
    out.reserve(out.size() + kMessageHeaderBytes + data);
    out.push_back(std::byte{kRunFrameMarker});
    out.push_back(static_cast<std::byte>(h.type));
    out.push_back(static_cast<std::byte>(h.data_kind));
    out.push_back(static_cast<std::byte>(h.requester));
    out.push_back(static_cast<std::byte>(h.acks));
    out.push_back(static_cast<std::byte>(msgs.size() - 1));
    out.push_back(std::byte{0});
    out.push_back(std::byte{0});
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::byte>(h.page >> (8 * i)));
    for (const Message& m : msgs) {
        auto p = m.payload();
        out.insert(out.end(), p.begin(), p.end());
    }
}

Result<RunFrame> decode_run_frame(std::span<const std::byte> b, std::size_t page_size) {
    if (b.size() < kMessageHeaderBytes)
        return make_error(EINVAL, "dsm run frame: {} bytes, shorter than its header", b.size());
    auto u8 = [&](std::size_t i) { return std::to_integer<std::uint8_t>(b[i]); };
    if (u8(0) != kRunFrameMarker) return make_error(EINVAL, "dsm run frame: bad marker {:#x}", u8(0));
    RunFrame f;
    f.head.type = static_cast<MsgType>(u8(1));
    f.head.data_kind = static_cast<DataKind>(u8(2));
    f.head.requester = u8(3);
    f.head.acks = u8(4);
    f.count = std::size_t{u8(5)} + 1;
    if (f.count < 2 || f.count > kMaxRunPages || u8(6) != 0 || u8(7) != 0)
        return make_error(EINVAL, "dsm run frame: {} messages (want 2..{}) or reserved bits set", f.count,
                          kMaxRunPages);
    for (int i = 0; i < 8; ++i) f.head.page |= std::uint64_t{u8(8 + i)} << (8 * i);
    const std::size_t want = f.head.data_kind == DataKind::Bytes ? f.count * page_size : 0;
    if (b.size() - kMessageHeaderBytes != want)
        return make_error(EINVAL, "dsm run frame: {} data bytes, {} messages of kind {} want {}",
                          b.size() - kMessageHeaderBytes, f.count, static_cast<unsigned>(u8(2)), want);
    f.data = b.subspan(kMessageHeaderBytes);
    if (f.head.page + f.count < f.head.page) return make_error(EINVAL, "dsm run frame: pages wrap around");
    if (auto v = validate_message(f.message(0, page_size)); !v) return v.error();
    return f;
}

}  // namespace spanvm::dsm
