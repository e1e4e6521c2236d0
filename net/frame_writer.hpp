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
// into one gathered non-blocking sendmsg (write); what the socket does not
// take waits for writability. Every byte goes out under the mutex and the
// writer counts it, so the position of the byte stream relative to frame
// boundaries is always known: last_words() can finish the frame cut in
// half and append one more, from any thread, even while the I/O thread is
// blocked. Our handshake frames always leave first, alone.
//
// Encryption (--encrypt): once set_sealer() ran (the handshake succeeded),
// every frame is sealed into one record (net/record_cipher.hpp) under the
// mutex at the moment its bytes take their place in the stream: a direct
// write when it is written, a queued frame when a batch takes it, last
// words when they are written. So the records' counters follow the byte
// stream's order, and frames queued before the handshake (plain until
// then) are sealed too. Positions (sent_, owed_bytes) count record bytes.
#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include <boost/asio/ip/tcp.hpp>

#include "net/record_cipher.hpp"
#include "net/wire_frame.hpp"

namespace spanvm::net {

class FrameWriter {
public:
    static constexpr std::size_t MAX_WRITE_BATCH = 64;  // frames gathered into one sendmsg

    // Any thread. Writes `frame` directly when allowed and not `batch`,
    // otherwise (or for what a partial direct write left) queues it. Returns
    // true when the caller must post a write start to the I/O thread.
    bool send(const std::unique_ptr<boost::asio::ip::tcp::socket>& socket, Bytes frame, bool batch);

    // I/O thread. Queues a frame (the caller then starts a write).
    void push(Bytes frame);

    // I/O thread. A handshake frame of ours, written (after any earlier one)
    // before anything else, never sealed.
    void push_handshake(Bytes frame);
    // I/O thread, when the handshake succeeded and before the link counts as
    // connected: seal every frame from now on.
    void set_sealer(std::unique_ptr<RecordSealer> sealer);

    // I/O thread. Writes batches until nothing is left that may be written
    // (idle), the socket is full (blocked: wait for writability, then call
    // again), or the socket failed (error, with errno in `err`). Queued
    // frames leave only once `connected`; after the first such batch direct
    // writes are allowed.
    enum class WriteState { idle, blocked, error };
    WriteState write(const std::unique_ptr<boost::asio::ip::tcp::socket>& socket, bool connected, int& err);

    // Any thread. For a process about to exit: completes the frame that a
    // write left cut in half, then writes `frame` (waiting for the socket up
    // to `deadline`), and from then on writes nothing more. False if the
    // frame did not go out whole (not connected, closed, error, deadline).
    bool last_words(const std::unique_ptr<boost::asio::ip::tcp::socket>& socket, const Bytes& frame,
                    std::chrono::steady_clock::time_point deadline);
    // Any thread, after last_words: waits until the peer's TCP acknowledged
    // every byte written (so closing our socket, even with a reset, cannot
    // discard them), or `deadline`. False on deadline or if closed.
    bool wait_acknowledged(const std::unique_ptr<boost::asio::ip::tcp::socket>& socket,
                           std::chrono::steady_clock::time_point deadline);

    // I/O thread. Nothing more will be written: stops direct writes, drops the
    // queue and the handshake frame, and closes the socket (under the mutex,
    // so no direct writer is inside ::send on that fd while it closes).
    void close(std::unique_ptr<boost::asio::ip::tcp::socket>& socket);

private:
    // Moves the next batch into flight (mu_ held); false if there is none.
    bool take_batch(bool connected);
    // Bytes still owed to finish the frame the stream is in the middle of (mu_ held).
    Bytes owed_bytes() const;
    // `frame` as it goes on the wire: sealed if a sealer is set (mu_ held).
    // False if sealing failed (the link must then fail).
    bool wire_form(Bytes& frame);

    // Guards everything below except hello_ (I/O thread only), and the
    // socket's fd for every write.
    std::mutex mu_;
    std::deque<Bytes> queue_;  // user frames waiting for the connection / the writer
    std::vector<Bytes> in_flight_;
    std::size_t sent_ = 0;           // bytes of in_flight_ (concatenated) already written
    bool front_remainder_ = false;   // the next unwritten element is the tail of a frame cut by a direct write
    bool writing_ = false;           // in_flight_ is not empty: direct writes must queue behind it
    bool direct_ok_ = false;         // connected, handshake frame written: direct writes allowed
    bool kick_posted_ = false;       // a write start is posted and has not run yet
    bool finished_ = false;          // last_words or close: nothing more is written
    bool seal_failed_ = false;       // a seal failed: write() reports an error
    std::unique_ptr<RecordSealer> sealer_;
    Bytes hello_;  // our handshake frames not yet written (I/O thread only)
};

}  // namespace spanvm::net
