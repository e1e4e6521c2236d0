#pragma once
// Incremental frame decoder for a byte stream. Pure: no I/O.
//
// Feed it whatever chunks the socket returns (split or coalesced frames);
// next() yields each complete frame in order. The header is validated as soon
// as its 24 bytes are present, so a hostile length is rejected before any
// payload is buffered. Once an error is returned the stream has lost framing:
// the decoder stays failed and every later next() returns the same error.
#include <cstdint>
#include <optional>

#include "net/wire_frame.hpp"
#include "vmm/base/result.hpp"

namespace spanvm::net {

class FrameDecoder {
public:
    explicit FrameDecoder(std::uint32_t max_payload = MAX_PAYLOAD_SIZE) : max_payload_(max_payload) {}

    // Appends a chunk. Ignored once failed.
    void feed(ByteView chunk);

    // The next complete frame, std::nullopt if more bytes are needed, or the
    // (sticky) decode error.
    Result<std::optional<Frame>> next();

    // Call at end of stream: DECODE_TRUNCATED if a partial frame is buffered,
    // else the sticky error if failed, else success.
    Result<void> finish() const;

    std::size_t buffered() const { return buf_.size() - start_; }
    // Removes and returns the bytes not yet decoded (none of the next frame's
    // header is validated yet: call only between frames, as the transport
    // does when the stream turns encrypted after the handshake).
    Bytes take_buffered();
    bool failed() const { return error_.has_value(); }
    std::uint32_t max_payload() const { return max_payload_; }

private:
    std::uint32_t max_payload_;
    Bytes buf_;               // bytes [start_, size) are undecoded
    std::size_t start_ = 0;
    std::optional<FrameHeader> header_;  // validated header of the frame at start_
    std::optional<Error> error_;
};

}  // namespace spanvm::net
