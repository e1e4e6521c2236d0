#pragma once
// Internal to the transport (see net/link_context.hpp). The write side of one
// peer connection: its FIFO of frames, the batch being written, and the rule
// for direct writes.
//
// Direct writes: send() from any thread writes the frame straight to the
// socket (non-blocking sendmsg under the writer's mutex) when nothing is
// queued or being written for that peer, saving the hand-off to the I/O
// thread (a thread wake-up, 5-16 us here and a source of millisecond tails
// under load). Otherwise the frame is appended to the queue under the mutex
// and the I/O thread is asked to write it. Both paths append to one byte
// stream under the mutex, so per-peer FIFO order holds for frames from one
// thread.
//
// Batched writes: the I/O thread takes up to MAX_WRITE_BATCH queued frames
// into one gathered async_write (take_batch / batch_written). Our handshake
// frame always leaves first, alone.
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "net/wire_frame.hpp"

namespace spanvm::net {

class FrameWriter {
public:
    static constexpr std::size_t MAX_WRITE_BATCH = 64;  // frames gathered into one async_write

    // Any thread. Writes `frame` directly when allowed and not `batch`,
    // otherwise (or for what a partial direct write left) queues it. Returns
    // true when the caller must post a write start to the I/O thread.
    bool send(const std::unique_ptr<boost::asio::ip::tcp::socket>& socket, Bytes frame, bool batch);

    // I/O thread. Queues a frame (the caller then starts a write).
    void push(Bytes frame);

    // I/O thread. Our handshake frame, written before anything else.
    void set_hello(Bytes hello);

    // I/O thread. Moves the next batch into flight and returns its buffers;
    // empty when a write is already running or nothing may be written yet.
    // Queued frames leave only once `connected`; after the first such batch
    // direct writes are allowed.
    std::vector<boost::asio::const_buffer> take_batch(bool connected);

    // I/O thread, from the async_write completion: the batch is done.
    void batch_written();

    // I/O thread. Nothing more will be written: stops direct writes, drops the
    // queue and the handshake frame, and closes the socket (under the mutex,
    // so no direct writer is inside ::send on that fd while it closes).
    void close(std::unique_ptr<boost::asio::ip::tcp::socket>& socket);

private:
    // Guards everything below except hello_ (I/O thread only), and the
    // socket's fd for direct writes. in_flight_ is owned by the running
    // async_write while writing_ is true.
    std::mutex mu_;
    std::deque<Bytes> queue_;  // user frames waiting for the connection / the writer
    std::vector<Bytes> in_flight_;
    bool writing_ = false;
    bool direct_ok_ = false;    // connected, handshake frame written: direct writes allowed
    bool kick_posted_ = false;  // a write start is posted and has not run yet
    Bytes hello_;
};

}  // namespace spanvm::net
