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
// Opening (vmm/cluster/channel_hello.hpp): the origin sends a fresh
// challenge, the node answers with a hello that proves the cluster key for
// this connection; with --encrypt every later frame is one AES-GCM record.
// Threads: one thread sends and receives (the executor, or the node's guest
// thread); shutdown() may come from any thread and wakes a blocked receive.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "net/cluster_key.hpp"
#include "net/handshake.hpp"
#include "net/record_cipher.hpp"
#include "net/wire_frame.hpp"
#include "vmm/base/result.hpp"

namespace spanvm::cluster {

enum class ChannelType : std::uint16_t {
    hello = 0x0301,        // node -> origin, answers the challenge: ChannelHello
    challenge = 0x0306,    // origin -> node, first frame: nonce_O (32 bytes)
    trap = 0x0302,         // node -> origin: TrapMsg
    resume = 0x0303,       // origin -> node: ResumeMsg
    fpu_request = 0x0304,  // origin -> node: send the FPU image (empty)
    fpu = 0x0305,          // node -> origin: the FPU image (raw bytes)
};

// A Trap carries registers, an optional FPU image and at most 64 KiB of
// input snapshot; anything bigger is a bug or an attack.
inline constexpr std::uint32_t kChannelMaxPayload = 128 * 1024;

// What both ends of a channel need to open it.
struct ChannelSecurity {
    net::ClusterKey key;
    bool encrypt = false;
    std::uint16_t node = 0;  // the connecting node's id (its end only)
};

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

    // Connects to the origin's listener, answers its challenge with the
    // hello, and turns on encryption if `sec` says so.
    static Result<std::unique_ptr<SyscallChannel>> connect(const std::string& address, std::uint16_t port,
                                                          const ChannelSecurity& sec, std::uint64_t cookie,
                                                          std::int32_t tid);

    Result<void> send(ChannelType t, net::ByteView payload);
    // Blocks for the next frame; EINTR is retried. The peer closing gives
    // ECONNRESET.
    Result<ChannelFrame> receive();
    void shutdown();  // any thread
    // From now on every frame is a record under these keys.
    void secure(const net::SessionKeys& keys);

private:
    Result<void> read_exact(std::uint8_t* p, std::size_t n);
    Result<void> write_all(const net::Bytes& b);
    int fd_;
    net::Bytes out_;  // reused send buffer (single sender)
    std::unique_ptr<net::RecordSealer> sealer_;
    std::unique_ptr<net::RecordOpener> opener_;
};

// The origin's listening socket for channels (an ephemeral port on node 0's
// address; the port and a random cookie travel in every Spawn). Its accept
// thread challenges each connection, checks the hello (key proof for this
// connection, cookie) and hands the channel to `on_hello`; a forged,
// replayed or late (2 s) hello is dropped with one warning line.
class ChannelListener {
public:
    using OnHello = std::function<void(std::int32_t tid, std::unique_ptr<SyscallChannel>)>;
    static Result<std::unique_ptr<ChannelListener>> start(const std::string& address, ChannelSecurity sec,
                                                          OnHello on_hello);
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
    ChannelSecurity sec_;
    OnHello on_hello_;
    std::thread thread_;
};

}  // namespace spanvm::cluster
