#pragma once
// DSM coherence messages and their wire codec (payloads carried by net/).
//
// Wire format, all integers little-endian, 16-byte header then data:
//   u8  type        MsgType
//   u8  data_kind   DataKind
//   u8  requester   FwdRead/FwdWrite/Invalidate: the node the answer goes to; else 0
//   u8  acks        FwdWrite/GrantModified: InvAcks the requester must collect;
//                   RunReadReq/RunWriteReq: pages of the run after `page` (0..63); else 0
//   u32 data_len    number of data bytes that follow (0 unless data_kind == Bytes)
//   u64 page        page index within the coherent region
//   u8  data[data_len]
// The sender's node id is not in the message: the transport knows the peer.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "vmm/base/result.hpp"

namespace spanvm::dsm {

using PageIndex = std::uint64_t;

// Names are shared with tests/model/dsm.pml (see the table there). The
// protocol (vmm/dsm/protocol.hpp) sends page data straight from the node that
// holds it to the requester; the home only keeps the directory.
enum class MsgType : std::uint8_t {
    ReadReq = 1,        // cache -> home: want a Shared copy
    WriteReq = 2,       // cache -> home: want Modified (from Invalid or as an upgrade)
    FwdRead = 3,        // home -> data holder: send a Shared copy to `requester` (M: downgrade first)
    FwdWrite = 4,       // home -> data holder: send the page to `requester` (with `acks`), then drop it
    Invalidate = 5,     // home -> sharer: drop your copy, then InvAck to `requester`
    InvAck = 6,         // sharer -> requester of the write: dropped
    GrantShared = 7,    // home (Zero) or data holder (Bytes) -> requester: install read-only
    GrantModified = 8,  // home (Zero; None = upgrade in place) or data holder (Bytes) -> requester
    Done = 9,           // requester -> home: forwarded data installed / all acks in; the home may go on
    // Runs (docs/dsm-protocol.md "Runs"): optional requests the home may refuse.
    RunReadReq = 10,    // cache -> home: want Shared copies of `page` .. `page + acks` if they can be granted now
    RunWriteReq = 11,   // cache -> home: the same for Modified (`acks` = pages after `page` in the run, <= 63)
    Refuse = 12,        // home -> requester: the run request for `page` was not started; nothing changed
    // First-use claims (docs/dsm-protocol.md "Claims"): a ReadReq / WriteReq
    // that also asks the home to hand over every never-used page of the
    // page's aligned chunk (the page included) to the requester.
    ClaimReadReq = 13,
    ClaimWriteReq = 14,
};

enum class DataKind : std::uint8_t {
    None = 0,   // no page content in this message
    Zero = 1,   // the page is all zeroes (never written); no bytes on the wire
    Bytes = 2,  // `data` holds the full page
};

struct Message {
    MsgType type = MsgType::ReadReq;
    PageIndex page = 0;
    DataKind data_kind = DataKind::None;
    std::vector<std::byte> data;  // owned page data (messages built locally)
    std::uint8_t requester = 0;   // FwdRead/FwdWrite/Invalidate: where the answer goes
    std::uint8_t acks = 0;        // FwdWrite/GrantModified: InvAcks to collect (<= 64)
    // Borrowed page data (decode_message_view): points into the receive
    // buffer, valid only while that buffer lives. Used iff `data` is empty.
    std::span<const std::byte> view{};

    // The page data, owned or borrowed; non-empty iff data_kind == Bytes.
    std::span<const std::byte> payload() const { return data.empty() ? view : std::span<const std::byte>(data); }
    bool operator==(const Message& o) const;
};

inline constexpr std::size_t kMessageHeaderBytes = 16;
// Pages one RunReadReq/RunWriteReq names at most.
inline constexpr std::size_t kMaxRunPages = 64;
// Upper bound on a page payload accepted by decode (2 MiB huge page).
inline constexpr std::size_t kMaxPageBytes = std::size_t{2} << 20;

std::string_view to_string(MsgType t);
std::string_view to_string(DataKind k);

// Appends the encoding of `m` to `out`. Precondition: `m` is well formed
// (validate_message(m) succeeds); violated preconditions are encoded anyway
// and rejected by the receiver's decode.
void encode_message(const Message& m, std::vector<std::byte>& out);
std::vector<std::byte> encode_message(const Message& m);

// Decodes exactly one message occupying all of `bytes`. Rejects short input,
// trailing bytes, unknown type/data kind, requester/acks fields on types that
// do not carry them, acks > 64, a data kind the message type does not allow,
// and length/kind mismatches.
Result<Message> decode_message(std::span<const std::byte> bytes);
// Same checks, but the result borrows its data from `bytes` (Message::view):
// no copy of the page. `bytes` must outlive every use of the message.
Result<Message> decode_message_view(std::span<const std::byte> bytes);

// The per-type data-kind rules used by decode_message.
Result<void> validate_message(const Message& m);

}  // namespace spanvm::dsm
