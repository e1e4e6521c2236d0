#pragma once
// SyscallChannel: the TCP connection between one remote guest thread and
// its executor at the origin. Traps go up it, Resumes come down it, and the
// executor may ask for the thread's FPU image on it (lazily: only signal
// delivery and sigreturn need it).
//
// Why a connection per thread, not the DSM engine's: on the engine's
// connection a Trap is read by the transport's I/O thread and handed to the
// executor, and the Resume again to the guest thread on the node: two
// thread hand-offs (5-16 us each here) on top of the round trip. Here the
// executor and the guest thread block in recv() on their own socket, so the
// kernel wakes the very thread that runs next. Plain blocking sockets, by
// hand: Boost.Asio's reactor would put an I/O thread back in the path.
//
// Frames use the wire frame of net/wire_frame.hpp with ChannelType types.
// Threads: one thread sends and receives (the executor, or the node's guest
// thread); shutdown() may come from any thread and wakes a blocked receive.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "net/wire_frame.hpp"
#include "vmm/base/result.hpp"

namespace spanvm::cluster {

enum class ChannelType : std::uint16_t {
    hello = 0x0301,        // node -> origin, first frame: cookie, tid
    trap = 0x0302,         // node -> origin: TrapMsg
    resume = 0x0303,       // origin -> node: ResumeMsg
    fpu_request = 0x0304,  // origin -> node: send the FPU image (empty)
    fpu = 0x0305,          // node -> origin: the FPU image (raw bytes)
};

// A Trap carries registers, an optional FPU image and at most 64 KiB of
// input snapshot; anything bigger is a bug or an attack.
inline constexpr std::uint32_t kChannelMaxPayload = 128 * 1024;

struct ChannelFrame {
    ChannelType type{};
    net::Bytes payload;
};

class SyscallChannel {
public:
    explicit SyscallChannel(int fd);  // takes ownership; sets TCP_NODELAY
    ~SyscallChannel();
    SyscallChannel(const SyscallChannel&) = delete;
    SyscallChannel& operator=(const SyscallChannel&) = delete;

    // Connects to the origin's listener and sends the hello.
    static Result<std::unique_ptr<SyscallChannel>> connect(const std::string& address, std::uint16_t port,
                                                          std::uint64_t cookie, std::int32_t tid);

    Result<void> send(ChannelType t, net::ByteView payload);
    // Blocks for the next frame; EINTR is retried. The peer closing gives
    // ECONNRESET.
    Result<ChannelFrame> receive();
    void shutdown();  // any thread

private:
    Result<void> read_exact(std::uint8_t* p, std::size_t n);
    int fd_;
    net::Bytes out_;  // reused send buffer (single sender)
};

// The origin's listening socket for channels (an ephemeral port on node 0's
// address; the port and a random cookie travel in every Spawn). Its accept
// thread reads each hello and hands the channel to `on_hello`; a wrong
// cookie or a silent peer (2 s) is dropped with a warning.
class ChannelListener {
public:
    using OnHello = std::function<void(std::int32_t tid, std::unique_ptr<SyscallChannel>)>;
    static Result<std::unique_ptr<ChannelListener>> start(const std::string& address, OnHello on_hello);
    ~ChannelListener();  // stops and joins the accept thread
    ChannelListener(const ChannelListener&) = delete;
    ChannelListener& operator=(const ChannelListener&) = delete;

    std::uint16_t port() const { return port_; }
    std::uint64_t cookie() const { return cookie_; }

private:
    ChannelListener() = default;
    void accept_loop();
    int listen_fd_ = -1;
    int stop_fd_ = -1;  // eventfd: wakes the accept thread's poll
    std::uint16_t port_ = 0;
    std::uint64_t cookie_ = 0;
    OnHello on_hello_;
    std::thread thread_;
};

}  // namespace spanvm::cluster
