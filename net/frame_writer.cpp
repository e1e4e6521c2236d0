#include "net/frame_writer.hpp"

#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <thread>

#include "net/link_context.hpp"
#include "vmm/base/latency_trace.hpp"

namespace spanvm::net {

namespace {

// Writes all of `p` to a non-blocking socket, polling for room until
// `deadline`. False on an error or at the deadline.
bool write_all_until(int fd, const std::uint8_t* p, std::size_t n, std::chrono::steady_clock::time_point deadline) {
    while (n != 0) {
        ssize_t w = ::send(fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= static_cast<std::size_t>(w);
            continue;
        }
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return false;
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return false;
        pollfd pfd{fd, POLLOUT, 0};
        (void)::poll(&pfd, 1, static_cast<int>(left.count()));
    }
    return true;
}

}  // namespace

bool FrameWriter::send(const std::unique_ptr<tcp::socket>& socket, Bytes frame, bool batch) {
    std::unique_lock lk(mu_);
    if (finished_) return false;
    // `wire`: `frame` now holds bytes that must go out next, as they are
    // (a sealed record, or the tail of a frame a direct write cut).
    bool wire = false;
    std::size_t done = 0;
    if (!batch && direct_ok_ && !writing_ && queue_.empty() && wire_form(frame)) {
        wire = sealer_ != nullptr;
        // MSG_DONTWAIT: never block a fault-handling thread on a full socket.
        ssize_t n = ::send(socket->native_handle(), frame.data(), frame.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        trace::mark("net.send.direct", static_cast<std::uint64_t>(n));
        if (n == static_cast<ssize_t>(frame.size())) return false;
        if (n > 0) {
            done = static_cast<std::size_t>(n);
            wire = true;
        }
        // EAGAIN or an error: the I/O thread writes the rest and sees any error itself.
    }
    if (wire) {
        frame.erase(frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(done));
        front_remainder_ = true;  // the queue was empty: these bytes are its front
    }
    queue_.push_back(std::move(frame));
    bool kick = !writing_ && !kick_posted_;
    if (kick) kick_posted_ = true;
    lk.unlock();
    trace::mark("net.send.queued", kick ? 1 : 0);
    return kick;
}

void FrameWriter::push(Bytes frame) {
    std::lock_guard lk(mu_);
    if (!finished_) queue_.push_back(std::move(frame));
}

void FrameWriter::push_handshake(Bytes frame) { hello_.insert(hello_.end(), frame.begin(), frame.end()); }

void FrameWriter::set_sealer(std::unique_ptr<RecordSealer> sealer) {
    std::lock_guard lk(mu_);
    sealer_ = std::move(sealer);
}

bool FrameWriter::wire_form(Bytes& frame) {
    if (!sealer_) return true;
    auto sealed = sealer_->seal(frame);
    if (!sealed) {
        seal_failed_ = true;
        return false;
    }
    frame = std::move(*sealed);
    return true;
}

bool FrameWriter::take_batch(bool connected) {
    if (!hello_.empty()) {
        in_flight_.push_back(std::move(hello_));
        hello_.clear();
    } else if (connected) {
        // The front may be the tail of a frame a direct write cut: already wire bytes.
        bool wire = front_remainder_;
        while (!queue_.empty() && in_flight_.size() < MAX_WRITE_BATCH) {
            in_flight_.push_back(std::move(queue_.front()));
            queue_.pop_front();
            if (!wire && !wire_form(in_flight_.back())) {
                in_flight_.pop_back();
                break;
            }
            wire = false;
        }
        // The handshake frame is out and the queue drained: from now on
        // other threads may write directly when the writer is idle.
        direct_ok_ = true;
    }
    sent_ = 0;
    writing_ = !in_flight_.empty();
    return writing_;
}

FrameWriter::WriteState FrameWriter::write(const std::unique_ptr<tcp::socket>& socket, bool connected, int& err) {
    std::lock_guard lk(mu_);
    kick_posted_ = false;
    for (;;) {
        if (finished_) return WriteState::idle;
        if (seal_failed_) {
            err = EIO;
            return WriteState::error;
        }
        if (in_flight_.empty() && !take_batch(connected)) return WriteState::idle;
        iovec iov[MAX_WRITE_BATCH + 1];
        int iovcnt = 0;
        std::size_t skip = sent_, total = 0;
        for (Bytes& b : in_flight_) {
            total += b.size();
            if (skip >= b.size()) {
                skip -= b.size();
                continue;
            }
            iov[iovcnt++] = iovec{b.data() + skip, b.size() - skip};
            skip = 0;
        }
        msghdr msg{};
        msg.msg_iov = iov;
        msg.msg_iovlen = static_cast<std::size_t>(iovcnt);
        trace::mark("net.write", static_cast<std::uint64_t>(iovcnt));
        ssize_t n = ::sendmsg(socket->native_handle(), &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return WriteState::blocked;
            err = errno;
            return WriteState::error;
        }
        if (n > 0) front_remainder_ = false;  // the stream is now inside or past in_flight_'s first element
        sent_ += static_cast<std::size_t>(n);
        if (sent_ < total) return WriteState::blocked;
        in_flight_.clear();
        sent_ = 0;
        writing_ = false;
    }
}

Bytes FrameWriter::owed_bytes() const {
    if (sealer_) {
        // Every sealed record not yet written must go before the last words,
        // or the peer's record counter would not match theirs.
        Bytes owed;
        std::size_t skip = sent_;
        for (const Bytes& b : in_flight_) {
            if (skip >= b.size()) {
                skip -= b.size();
                continue;
            }
            owed.insert(owed.end(), b.begin() + static_cast<std::ptrdiff_t>(skip), b.end());
            skip = 0;
        }
        if (in_flight_.empty() && front_remainder_ && !queue_.empty())
            owed.insert(owed.end(), queue_.front().begin(), queue_.front().end());
        return owed;
    }
    // Every element (frame, or the tail of a frame cut by a direct write) ends
    // on a frame boundary, so only the element the stream is in is owed.
    std::size_t skip = sent_;
    for (const Bytes& b : in_flight_) {
        if (skip >= b.size()) {
            skip -= b.size();
            continue;
        }
        if (skip != 0 || front_remainder_) return {b.begin() + static_cast<std::ptrdiff_t>(skip), b.end()};
        return {};
    }
    if (front_remainder_ && !queue_.empty()) return queue_.front();
    return {};
}

bool FrameWriter::last_words(const std::unique_ptr<tcp::socket>& socket, const Bytes& frame,
                             std::chrono::steady_clock::time_point deadline) {
    std::lock_guard lk(mu_);
    if (finished_ || !direct_ok_) return false;
    finished_ = true;  // whatever happens below, nothing else follows
    direct_ok_ = false;
    const int fd = socket->native_handle();
    const Bytes owed = owed_bytes();
    Bytes last = frame;
    return wire_form(last) && write_all_until(fd, owed.data(), owed.size(), deadline) &&
           write_all_until(fd, last.data(), last.size(), deadline);
}

bool FrameWriter::wait_acknowledged(const std::unique_ptr<tcp::socket>& socket,
                                    std::chrono::steady_clock::time_point deadline) {
    for (;;) {
        {
            std::lock_guard lk(mu_);
            if (!socket || !socket->is_open()) return false;
            // A connection that is no longer established (reset, or the
            // peer closed: it reads nothing more) will never acknowledge.
            tcp_info info{};
            socklen_t len = sizeof info;
            if (::getsockopt(socket->native_handle(), IPPROTO_TCP, TCP_INFO, &info, &len) != 0 ||
                info.tcpi_state != TCP_ESTABLISHED)
                return false;
            int unacked = 0;
            if (::ioctl(socket->native_handle(), SIOCOUTQ, &unacked) != 0) return false;
            if (unacked == 0) return true;
        }
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

void FrameWriter::close(std::unique_ptr<tcp::socket>& socket) {
    {
        std::lock_guard lk(mu_);
        finished_ = true;
        direct_ok_ = false;
        queue_.clear();
        if (socket) close_socket(*socket);
    }
    hello_.clear();
}

}  // namespace spanvm::net
