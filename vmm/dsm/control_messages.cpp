#include "vmm/dsm/control_messages.hpp"

#include "net/wire_reader.hpp"
#include "net/wire_writer.hpp"

namespace spanvm::dsm {

std::string_view to_string(ControlKind k) {
    switch (k) {
        case ControlKind::BarrierArrive: return "BarrierArrive";
        case ControlKind::BarrierRelease: return "BarrierRelease";
        case ControlKind::Report: return "Report";
        case ControlKind::ByeDone: return "ByeDone";
        case ControlKind::ByeClosing: return "ByeClosing";
        case ControlKind::Failed: return "Failed";
    }
    return "?";
}

net::Bytes encode_control(const ControlMessage& m) {
    net::WireWriter w(17 + m.data.size());
    w.u8(static_cast<std::uint8_t>(m.kind)).u64(m.value).u32(m.tag).bytes(m.data);
    return w.take();
}

Result<ControlMessage> decode_control(net::ByteView payload) {
    net::WireReader r(payload);
    ControlMessage m;
    auto kind = r.u8();
    if (!kind) return make_error(EPROTO, "dsm control: {}", kind.error().message);
    if (*kind < 1 || *kind > 6) return make_error(EPROTO, "dsm control: unknown kind {}", *kind);
    m.kind = static_cast<ControlKind>(*kind);
    auto value = r.u64();
    if (!value) return make_error(EPROTO, "dsm control: {}", value.error().message);
    auto tag = r.u32();
    if (!tag) return make_error(EPROTO, "dsm control: {}", tag.error().message);
    auto data = r.bytes();
    if (!data) return make_error(EPROTO, "dsm control: {}", data.error().message);
    if (auto end = r.expect_end(); !end) return make_error(EPROTO, "dsm control: {}", end.error().message);
    if (m.kind != ControlKind::Report && m.kind != ControlKind::Failed && !data->empty())
        return make_error(EPROTO, "dsm control: {} carries {} data bytes", to_string(m.kind), data->size());
    m.value = *value;
    m.tag = *tag;
    m.data.assign(data->begin(), data->end());
    return m;
}

}  // namespace spanvm::dsm
