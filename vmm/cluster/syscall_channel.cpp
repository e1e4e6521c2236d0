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

#include "net/byte_order.hpp"
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
                                                               std::uint64_t cookie, std::int32_t tid) {
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
    std::uint8_t hello[12];
    net::store_le<std::uint64_t>(hello, cookie);
    net::store_le<std::uint32_t>(hello + 8, static_cast<std::uint32_t>(tid));
    if (auto s = ch->send(ChannelType::hello, net::ByteView(hello, sizeof hello)); !s) return s.error();
    return ch;
}

Result<void> SyscallChannel::send(ChannelType t, net::ByteView payload) {
    out_.clear();
    if (auto e = net::encode_frame(static_cast<std::uint16_t>(t), 0, 0, payload, out_, kChannelMaxPayload); !e)
        return e.error();
    // One write per frame: with TCP_NODELAY it leaves as one segment train.
    std::size_t off = 0;
    while (off < out_.size()) {
        ssize_t n = ::send(fd_, out_.data() + off, out_.size() - off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            return make_error(errno, "syscall channel send: {}", std::strerror(errno));
        }
        off += static_cast<std::size_t>(n);
    }
    return {};
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

Result<std::unique_ptr<ChannelListener>> ChannelListener::start(const std::string& address, OnHello on_hello) {
    std::unique_ptr<ChannelListener> l(new ChannelListener());
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
        // The hello follows the connect at once; a silent peer is dropped.
        timeval tv{2, 0};
        (void)::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        auto ch = std::make_unique<SyscallChannel>(fd);
        auto f = ch->receive();
        if (!f || f->type != ChannelType::hello || f->payload.size() != 12 ||
            net::load_le<std::uint64_t>(f->payload.data()) != cookie_) {
            log::warn("syscall channel: dropped a connection without a valid hello");
            continue;
        }
        timeval none{0, 0};
        (void)::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof none);
        on_hello_(static_cast<std::int32_t>(net::load_le<std::uint32_t>(f->payload.data() + 8)), std::move(ch));
    }
}

}  // namespace spanvm::cluster
