#pragma once
// RunFrame: the wire form of a run of protocol messages that differ only in
// their page (docs/dsm-protocol.md "Runs"). Pure codec, no I/O.
//
// A node's engine sends, in one frame, consecutive messages to one peer that
// have the same type, data kind, requester and acks and name consecutive
// pages (the Invalidates, forwards, grants, InvAcks, Dones or Refuses of one
// run). The receiver hands them to the protocol one by one, in page order:
// exactly the messages the sender's protocol emitted, in the order it
// emitted them, so the protocol sees no difference. Grants with data carry
// every page back to back, so the receiver installs a contiguous stretch
// with one UFFDIO_COPY.
//
// Wire format (16-byte header, then the data):
//   u8  marker      kRunFrameMarker (no MsgType has this value)
//   u8  type        MsgType of every message of the run
//   u8  data_kind   DataKind of every message
//   u8  requester   as in each message
//   u8  acks        as in each message
//   u8  count - 1   messages in the frame, 2..kMaxRunPages
//   u16 zero
//   u64 first page  message i is for page first + i
//   u8  data[count * page_size] when data_kind == Bytes, else nothing
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "vmm/base/result.hpp"
#include "vmm/dsm/messages.hpp"

namespace spanvm::dsm {

inline constexpr std::uint8_t kRunFrameMarker = 0x80;

struct RunFrame {
    Message head;  // type, data_kind, requester, acks and the first page; no data
    std::size_t count = 0;
    std::span<const std::byte> data;  // count pages back to back when head.data_kind == Bytes

    // Message i (0 <= i < count), borrowing its page bytes from `data`.
    Message message(std::size_t i, std::size_t page_size) const;
};

// Whether `next` may follow `prev` in one frame: same type, data kind,
// requester and acks, and the next page.
bool run_continues(const Message& prev, const Message& next);

// Encodes `msgs` (2..kMaxRunPages messages, each continuing the one before,
// every Bytes payload page_size long) as one frame appended to `out`.
void encode_run_frame(std::span<const Message> msgs, std::vector<std::byte>& out);

// Decodes one frame occupying all of `bytes`, borrowing its data. Rejects a
// bad marker or count, trailing or missing data, and a message that
// validate_message rejects.
Result<RunFrame> decode_run_frame(std::span<const std::byte> bytes, std::size_t page_size);

}  // namespace spanvm::dsm
