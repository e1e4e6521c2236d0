#include "vmm/cluster/syscall_channel.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include <fmt/format.h>

#include "net/byte_order.hpp"
#include "vmm/cluster/channel_hello.hpp"
#include "vmm/base/log.hpp"

namespace spanvm::cluster {

namespace {

// IPv4 or IPv6 literal (cluster files carry literals only) and port.
Result<socklen_t> make_sockaddr(const std::string& address, std::uint16_t port, sockaddr_storage& ss) {
    std::memset(&ss, 0, sizeof ss);
    auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
    if (::inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        return static_cast<socklen_t>(sizeof(sockaddr_in));
    }
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (::inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        return static_cast<socklen_t>(sizeof(sockaddr_in6));
    }
    return make_error(EINVAL, "'{}' is not an IP address", address);
}

void set_nodelay(int fd) {
    int one = 1;
    (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

}  // namespace

SyscallChannel::SyscallChannel(int fd) : fd_(fd) { set_nodelay(fd_); }

SyscallChannel::~SyscallChannel() {
    if (fd_ >= 0) ::close(fd_);
}

Result<std::unique_ptr<SyscallChannel>> SyscallChannel::connect(const std::string& address, std::uint16_t port,
                                                               const ChannelSecurity& sec, std::uint64_t cookie,
                                                               std::int32_t tid) {
    sockaddr_storage ss;
    auto len = make_sockaddr(address, port, ss);
    if (!len) return len.error();
    int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return make_error(errno, "syscall channel socket: {}", std::strerror(errno));
    int r;
    do r = ::connect(fd, reinterpret_cast<sockaddr*>(&ss), *len);
    while (r != 0 && errno == EINTR);
    if (r != 0) {
        int e = errno;
        ::close(fd);
        return make_error(e, "syscall channel to {}:{}: {}", address, port, std::strerror(e));
    }
    auto ch = std::make_unique<SyscallChannel>(fd);
    auto challenge = ch->receive();
    if (!challenge) return make_error(challenge.error().code, "syscall channel: no challenge: {}", challenge.error().message);
    if (challenge->type != ChannelType::challenge || challenge->payload.size() != net::HANDSHAKE_NONCE_SIZE)
        return make_error(EPROTO, "syscall channel: the origin's first frame is not a challenge");
    net::Nonce nonce_o;
    std::copy(challenge->payload.begin(), challenge->payload.end(), nonce_o.begin());
    ChannelHello hello{cookie, tid, sec.node, net::fresh_nonce(), {}};
    hello.mac = channel_hello_mac(sec.key, nonce_o, hello);
    if (auto s = ch->send(ChannelType::hello, encode_channel_hello(hello)); !s) return s.error();
    if (sec.encrypt) ch->secure(channel_record_keys(sec.key, nonce_o, hello.nonce, true));
    return ch;
}

void SyscallChannel::secure(const net::SessionKeys& keys) {
    sealer_ = std::make_unique<net::RecordSealer>(keys.send);
    opener_ = std::make_unique<net::RecordOpener>(keys.receive, net::FRAME_HEADER_SIZE + kChannelMaxPayload);
}

Result<void> SyscallChannel::write_all(const net::Bytes& b) {
    // One write per frame: with TCP_NODELAY it leaves as one segment train.
    std::size_t off = 0;
    while (off < b.size()) {
        ssize_t n = ::send(fd_, b.data() + off, b.size() - off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            return make_error(errno, "syscall channel send: {}", std::strerror(errno));
        }
        off += static_cast<std::size_t>(n);
    }
    return {};
}

Result<void> SyscallChannel::send(ChannelType t, net::ByteView payload) {
    out_.clear();
    if (auto e = net::encode_frame(static_cast<std::uint16_t>(t), 0, 0, payload, out_, kChannelMaxPayload); !e)
        return e.error();
    if (!sealer_) return write_all(out_);
    auto record = sealer_->seal(out_);
    if (!record) return record.error();
    return write_all(*record);
}

Result<void> SyscallChannel::read_exact(std::uint8_t* p, std::size_t n) {
    std::size_t off = 0;
    while (off < n) {
        ssize_t r = ::recv(fd_, p + off, n - off, 0);
        if (r == 0) return make_error(ECONNRESET, "syscall channel closed by the peer");
        if (r < 0) {
            if (errno == EINTR) continue;
            return make_error(errno, "syscall channel receive: {}", std::strerror(errno));
        }
        off += static_cast<std::size_t>(r);
    }
    return {};
}

Result<ChannelFrame> SyscallChannel::receive() {
    if (opener_) {
        // One record holds one frame.
        std::uint8_t len[net::RECORD_HEADER_SIZE];
        if (auto r = read_exact(len, sizeof len); !r) return r.error();
        const std::uint32_t body = net::load_le<std::uint32_t>(len);
        if (body < net::RECORD_TAG_SIZE || body > net::FRAME_HEADER_SIZE + kChannelMaxPayload + net::RECORD_TAG_SIZE)
            return make_error(EMSGSIZE, "syscall channel: encrypted record of {} bytes is out of range", body);
        net::Bytes rec(body);
        if (auto r = read_exact(rec.data(), rec.size()); !r) return r.error();
        opener_->feed(net::ByteView(len, sizeof len));
        opener_->feed(rec);
        auto plain = opener_->next();
        if (!plain) return plain.error();
        if (!*plain) return make_error(EPROTO, "syscall channel: incomplete record");
        auto fr = net::decode_frame(**plain, kChannelMaxPayload);
        if (!fr) return fr.error();
        return ChannelFrame{static_cast<ChannelType>(fr->header.type), std::move(fr->payload)};
    }
    std::uint8_t hdr[net::FRAME_HEADER_SIZE];
    if (auto r = read_exact(hdr, sizeof hdr); !r) return r.error();
    auto h = net::decode_header(net::ByteView(hdr, sizeof hdr), kChannelMaxPayload);
    if (!h) return h.error();
    ChannelFrame f;
    f.type = static_cast<ChannelType>(h->type);
    f.payload.resize(h->payload_length);
    if (auto r = read_exact(f.payload.data(), f.payload.size()); !r) return r.error();
    return f;
}

void SyscallChannel::shutdown() {
    if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
}

Result<std::unique_ptr<ChannelListener>> ChannelListener::start(const std::string& address, ChannelSecurity sec,
                                                                OnHello on_hello) {
    std::unique_ptr<ChannelListener> l(new ChannelListener());
    l->sec_ = std::move(sec);
    sockaddr_storage ss;
    auto len = make_sockaddr(address, 0, ss);
    if (!len) return len.error();
    l->listen_fd_ = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (l->listen_fd_ < 0) return make_error(errno, "syscall channel listener: {}", std::strerror(errno));
    if (::bind(l->listen_fd_, reinterpret_cast<sockaddr*>(&ss), *len) != 0 || ::listen(l->listen_fd_, 64) != 0)
        return make_error(errno, "syscall channel listener on {}: {}", address, std::strerror(errno));
    socklen_t sl = sizeof ss;
    if (::getsockname(l->listen_fd_, reinterpret_cast<sockaddr*>(&ss), &sl) != 0)
        return make_error(errno, "getsockname: {}", std::strerror(errno));
    l->port_ = ntohs(ss.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&ss)->sin_port
                                             : reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
    if (::getrandom(&l->cookie_, sizeof l->cookie_, 0) != sizeof l->cookie_)
        return make_error(errno, "getrandom: {}", std::strerror(errno));
    l->stop_fd_ = ::eventfd(0, EFD_CLOEXEC);
    if (l->stop_fd_ < 0) return make_error(errno, "eventfd: {}", std::strerror(errno));
    l->on_hello_ = std::move(on_hello);
    l->thread_ = std::thread([p = l.get()] { p->accept_loop(); });
    return l;
}

ChannelListener::~ChannelListener() {
    if (thread_.joinable()) {
        std::uint64_t one = 1;
        (void)!::write(stop_fd_, &one, sizeof one);
        thread_.join();
    }
    if (stop_fd_ >= 0) ::close(stop_fd_);
    if (listen_fd_ >= 0) ::close(listen_fd_);
}

void ChannelListener::accept_loop() {
    for (;;) {
        pollfd p[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
        if (::poll(p, 2, -1) < 0) {
            if (errno == EINTR) continue;
            log::warn("syscall channel listener: poll: {}", std::strerror(errno));
            return;
        }
        if (p[1].revents != 0) return;
        int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        // The hello answers our challenge at once; a silent peer is dropped.
        timeval tv{2, 0};
        (void)::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        auto ch = std::make_unique<SyscallChannel>(fd);
        std::string why;
        const net::Nonce nonce_o = net::fresh_nonce();
        std::optional<ChannelHello> hello;
        if (auto s = ch->send(ChannelType::challenge, nonce_o); !s) {
            why = s.error().message;
        } else if (auto f = ch->receive(); !f) {
            why = f.error().message;
        } else if (f->type != ChannelType::hello) {
            why = fmt::format("first frame has type {:#06x}, not a hello", static_cast<unsigned>(f->type));
        } else if (auto h = decode_channel_hello(f->payload); !h) {
            why = "malformed hello: " + h.error().message;
        } else if (!channel_hello_valid(sec_.key, nonce_o, *h)) {
            why = "its proof of the cluster key does not verify (forged or replayed)";
        } else if (h->cookie != cookie_) {
            why = "the cookie is not this run's";
        } else {
            hello = *h;
        }
        if (!hello) {
            log::warn("syscall channel: dropped a connection without a valid hello: {}", why);
            continue;
        }
        if (sec_.encrypt) ch->secure(channel_record_keys(sec_.key, nonce_o, hello->nonce, false));
        timeval none{0, 0};
        (void)::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof none);
        on_hello_(hello->tid, std::move(ch));
    }
}

}  // namespace spanvm::cluster
