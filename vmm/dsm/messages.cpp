#include "vmm/dsm/messages.hpp"

#include <algorithm>
#include <cerrno>

namespace spanvm::dsm {

namespace {

void put_u32(std::vector<std::byte>& out, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::byte>((v >> (8 * i)) & 0xff));
}
void put_u64(std::vector<std::byte>& out, std::uint64_t v) {
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::byte>((v >> (8 * i)) & 0xff));
}
std::uint64_t get_le(std::span<const std::byte> b, std::size_t off, std::size_t n) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v |= std::uint64_t{std::to_integer<std::uint8_t>(b[off + i])} << (8 * i);
    return v;
}

bool known_type(std::uint8_t t) { return t >= 1 && t <= 14; }

}  // namespace

std::string_view to_string(MsgType t) {
    switch (t) {
        case MsgType::ReadReq: return "ReadReq";
        case MsgType::WriteReq: return "WriteReq";
        case MsgType::FwdRead: return "FwdRead";
        case MsgType::FwdWrite: return "FwdWrite";
        case MsgType::Invalidate: return "Invalidate";
        case MsgType::InvAck: return "InvAck";
        case MsgType::GrantShared: return "GrantShared";
        case MsgType::GrantModified: return "GrantModified";
        case MsgType::Done: return "Done";
        case MsgType::RunReadReq: return "RunReadReq";
        case MsgType::RunWriteReq: return "RunWriteReq";
        case MsgType::Refuse: return "Refuse";
        case MsgType::ClaimReadReq: return "ClaimReadReq";
        case MsgType::ClaimWriteReq: return "ClaimWriteReq";
    }
    return "?";
}

std::string_view to_string(DataKind k) {
    switch (k) {
        case DataKind::None: return "None";
        case DataKind::Zero: return "Zero";
        case DataKind::Bytes: return "Bytes";
    }
    return "?";
}

Result<void> validate_message(const Message& m) {
    if (!known_type(static_cast<std::uint8_t>(m.type)))
        return make_error(EINVAL, "dsm message: unknown type {}", static_cast<unsigned>(m.type));
    if (static_cast<std::uint8_t>(m.data_kind) > 2)
        return make_error(EINVAL, "dsm message: unknown data kind {}", static_cast<unsigned>(m.data_kind));
    const std::size_t size = m.payload().size();
    if ((m.data_kind == DataKind::Bytes) != (size != 0))
        return make_error(EINVAL, "dsm message {}: data kind {} with {} data bytes", to_string(m.type),
                          to_string(m.data_kind), size);
    if (size > kMaxPageBytes)
        return make_error(EINVAL, "dsm message {}: {} data bytes exceeds {}", to_string(m.type), size,
                          kMaxPageBytes);
    bool ok = false;
    bool has_requester = false, has_acks = false;
    switch (m.type) {
        case MsgType::ReadReq:
        case MsgType::WriteReq:
        case MsgType::InvAck:
        case MsgType::Done:
        case MsgType::Refuse:
        case MsgType::ClaimReadReq:
        case MsgType::ClaimWriteReq: ok = m.data_kind == DataKind::None; break;
        case MsgType::RunReadReq:
        case MsgType::RunWriteReq:
            ok = m.data_kind == DataKind::None;
            has_acks = true;
            if (m.acks >= kMaxRunPages)
                return make_error(EINVAL, "dsm message {}: a run of {} pages exceeds {}", to_string(m.type),
                                  m.acks + 1, kMaxRunPages);
            break;
        case MsgType::FwdRead:
        case MsgType::Invalidate:
            ok = m.data_kind == DataKind::None;
            has_requester = true;
            break;
        case MsgType::FwdWrite:
            ok = m.data_kind == DataKind::None;
            has_requester = has_acks = true;
            break;
        case MsgType::GrantShared: ok = m.data_kind != DataKind::None; break;
        case MsgType::GrantModified:
            ok = true;
            has_acks = true;
            break;
    }
    if (!ok)
        return make_error(EINVAL, "dsm message {}: data kind {} not allowed", to_string(m.type),
                          to_string(m.data_kind));
    if ((!has_requester && m.requester != 0) || (!has_acks && m.acks != 0))
        return make_error(EINVAL, "dsm message {}: requester {} / acks {} not allowed", to_string(m.type),
                          m.requester, m.acks);
    if (m.acks > 64) return make_error(EINVAL, "dsm message {}: {} acks exceeds 64", to_string(m.type), m.acks);
    return {};
}

void encode_message(const Message& m, std::vector<std::byte>& out) {
    auto data = m.payload();
    out.reserve(out.size() + kMessageHeaderBytes + data.size());
    out.push_back(static_cast<std::byte>(m.type));
    out.push_back(static_cast<std::byte>(m.data_kind));
    out.push_back(static_cast<std::byte>(m.requester));
    out.push_back(static_cast<std::byte>(m.acks));
    put_u32(out, static_cast<std::uint32_t>(data.size()));
    put_u64(out, m.page);
    out.insert(out.end(), data.begin(), data.end());
}

std::vector<std::byte> encode_message(const Message& m) {
    std::vector<std::byte> out;
    encode_message(m, out);
    return out;
}

bool Message::operator==(const Message& o) const {
    auto a = payload(), b = o.payload();
    return type == o.type && page == o.page && data_kind == o.data_kind && requester == o.requester &&
           acks == o.acks && std::equal(a.begin(), a.end(), b.begin(), b.end());
}

Result<Message> decode_message(std::span<const std::byte> bytes) {
    auto m = decode_message_view(bytes);
    if (!m) return m;
    m->data.assign(m->view.begin(), m->view.end());
    m->view = {};
    return m;
}

Result<Message> decode_message_view(std::span<const std::byte> bytes) {
    if (bytes.size() < kMessageHeaderBytes)
        return make_error(EINVAL, "dsm message: {} bytes is shorter than the {}-byte header", bytes.size(),
                          kMessageHeaderBytes);
    auto type = static_cast<std::uint8_t>(get_le(bytes, 0, 1));
    auto kind = static_cast<std::uint8_t>(get_le(bytes, 1, 1));
    auto len = get_le(bytes, 4, 4);
    if (!known_type(type)) return make_error(EINVAL, "dsm message: unknown type {}", type);
    if (kind > 2) return make_error(EINVAL, "dsm message: unknown data kind {}", kind);
    if (len > kMaxPageBytes) return make_error(EINVAL, "dsm message: data length {} exceeds {}", len, kMaxPageBytes);
    if (bytes.size() != kMessageHeaderBytes + len)
        return make_error(EINVAL, "dsm message: header says {} data bytes, buffer has {}", len,
                          bytes.size() - kMessageHeaderBytes);
    Message m;
    m.type = static_cast<MsgType>(type);
    m.data_kind = static_cast<DataKind>(kind);
    m.page = get_le(bytes, 8, 8);
    m.requester = static_cast<std::uint8_t>(get_le(bytes, 2, 1));
    m.acks = static_cast<std::uint8_t>(get_le(bytes, 3, 1));
    m.view = bytes.subspan(kMessageHeaderBytes);
    if (auto v = validate_message(m); !v) return v.error();
    return m;
}

}  // namespace spanvm::dsm
