#include "net/frame_decoder.hpp"

namespace spanvm::net {

void FrameDecoder::feed(ByteView chunk) {
    if (error_ || chunk.empty()) return;
    // Compact before growing so the buffer stays bounded by about one frame
    // plus one chunk instead of the whole stream.
    if (start_ > 0 && (start_ == buf_.size() || start_ >= buf_.size() / 2)) {
        buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(start_));
        start_ = 0;
    }
    buf_.insert(buf_.end(), chunk.begin(), chunk.end());
}

Result<std::optional<Frame>> FrameDecoder::next() {
    if (error_) return *error_;
    ByteView avail(buf_.data() + start_, buf_.size() - start_);
    if (!header_) {
        if (avail.size() < FRAME_HEADER_SIZE) return std::optional<Frame>{};
        auto h = decode_header(avail, max_payload_);
        if (!h) {
            error_ = h.error();
            return *error_;
        }
        header_ = *h;
    }
    std::size_t total = FRAME_HEADER_SIZE + header_->payload_length;
    if (avail.size() < total) return std::optional<Frame>{};
    Frame f;
    f.header = *header_;
    f.payload.assign(avail.begin() + FRAME_HEADER_SIZE, avail.begin() + static_cast<std::ptrdiff_t>(total));
    start_ += total;
    header_.reset();
    if (start_ == buf_.size()) {
        buf_.clear();
        start_ = 0;
    }
    return std::optional<Frame>{std::move(f)};
}

Bytes FrameDecoder::take_buffered() {
    Bytes rest(buf_.begin() + static_cast<std::ptrdiff_t>(start_), buf_.end());
    buf_.clear();
    start_ = 0;
    header_.reset();
    return rest;
}

Result<void> FrameDecoder::finish() const {
    if (error_) return *error_;
    std::size_t n = buffered();
    if (n == 0) return {};
    if (header_)
        return make_error(DECODE_TRUNCATED, "stream ended inside a frame: {} of {} bytes", n,
                          FRAME_HEADER_SIZE + header_->payload_length);
    return make_error(DECODE_TRUNCATED, "stream ended inside a frame header: {} of {} bytes", n, FRAME_HEADER_SIZE);
}

}  // namespace spanvm::net
