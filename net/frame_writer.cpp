#include "net/frame_writer.hpp"

#include <sys/socket.h>

#include "net/link_context.hpp"
#include "vmm/base/latency_trace.hpp"

namespace spanvm::net {

bool FrameWriter::send(const std::unique_ptr<tcp::socket>& socket, Bytes frame, bool batch) {
    std::unique_lock lk(mu_);
    std::size_t done = 0;
    if (!batch && direct_ok_ && !writing_ && queue_.empty()) {
        // MSG_DONTWAIT: never block a fault-handling thread on a full socket.
        ssize_t n = ::send(socket->native_handle(), frame.data(), frame.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        trace::mark("net.send.direct", static_cast<std::uint64_t>(n));
        if (n == static_cast<ssize_t>(frame.size())) return false;
        if (n > 0) done = static_cast<std::size_t>(n);
        // EAGAIN or an error: the I/O thread writes the rest and sees any error itself.
    }
    if (done != 0) frame.erase(frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(done));
    queue_.push_back(std::move(frame));
    bool kick = !writing_ && !kick_posted_;
    if (kick) kick_posted_ = true;
    lk.unlock();
    trace::mark("net.send.queued", kick ? 1 : 0);
    return kick;
}

void FrameWriter::push(Bytes frame) {
    std::lock_guard lk(mu_);
    queue_.push_back(std::move(frame));
}

void FrameWriter::set_hello(Bytes hello) { hello_ = std::move(hello); }

std::vector<asio::const_buffer> FrameWriter::take_batch(bool connected) {
    std::lock_guard lk(mu_);
    kick_posted_ = false;
    if (writing_) return {};
    if (!hello_.empty()) {
        in_flight_.push_back(std::move(hello_));
        hello_.clear();
    } else if (connected) {
        while (!queue_.empty() && in_flight_.size() < MAX_WRITE_BATCH) {
            in_flight_.push_back(std::move(queue_.front()));
            queue_.pop_front();
        }
        // The handshake frame is out and the queue drained: from now on
        // other threads may write directly when the writer is idle.
        direct_ok_ = true;
    }
    if (in_flight_.empty()) return {};
    std::vector<asio::const_buffer> bufs;
    bufs.reserve(in_flight_.size());
    for (const Bytes& b : in_flight_) bufs.emplace_back(asio::buffer(b));
    writing_ = true;
    return bufs;
}

void FrameWriter::batch_written() {
    std::lock_guard lk(mu_);
    writing_ = false;
    in_flight_.clear();
}

void FrameWriter::close(std::unique_ptr<tcp::socket>& socket) {
    {
        std::lock_guard lk(mu_);
        direct_ok_ = false;
        queue_.clear();
        if (socket) close_socket(*socket);
    }
    hello_.clear();
}

}  // namespace spanvm::net
