#pragma once
// Control plane of a DSM cluster, carried next to the coherence messages on
// the same transport: a cluster barrier, result reports to node 0, the
// two-phase goodbye that lets nodes exit without their peers taking the
// closed connection for a failure, and a failing node's last words (its
// failure line, so that its peers name the node it names, not the node
// that closed on them). Pure codec, no I/O.
//
// Wire format (payload of one kDsmControlType frame, little-endian):
//   u8  kind       ControlKind
//   u64 value      barrier generation (Arrive/Release), else 0
//   u32 tag        report tag (Report), else 0
//   u32 len + len bytes   report data (Report), the failure line (Failed), else len = 0
#include <cstdint>
#include <string_view>

#include "net/wire_frame.hpp"
#include "vmm/base/result.hpp"

namespace spanvm::dsm {

// Transport message types owned by the DSM engine.
inline constexpr std::uint16_t kDsmProtocolType = 0x0100;  // payload: encode_message()
inline constexpr std::uint16_t kDsmControlType = 0x0101;   // payload: encode_control()
inline constexpr std::uint16_t kDsmHomeType = 0x0102;      // payload: encode_home() (home_table.hpp)

enum class ControlKind : std::uint8_t {
    BarrierArrive = 1,   // node -> node 0: reached barrier generation `value`
    BarrierRelease = 2,  // node 0 -> all: everyone reached generation `value`
    Report = 3,          // node -> node 0: workload result `data` under `tag`
    ByeDone = 4,         // node -> all: my workload is over, I need no more pages
    ByeClosing = 5,      // node -> all: I have every ByeDone; peer loss is no longer fatal
    Failed = 6,          // node -> all, last words before a fatal exit: `data` is its failure line
};

struct ControlMessage {
    ControlKind kind = ControlKind::BarrierArrive;
    std::uint64_t value = 0;
    std::uint32_t tag = 0;
    net::Bytes data;

    bool operator==(const ControlMessage&) const = default;
};

std::string_view to_string(ControlKind k);

net::Bytes encode_control(const ControlMessage& m);
// Rejects unknown kinds, truncation, trailing bytes, and data on a kind
// other than Report and Failed.
Result<ControlMessage> decode_control(net::ByteView payload);

}  // namespace spanvm::dsm
