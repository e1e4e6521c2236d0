// hold_free_tcp_port and TransportOptions::listen_fd: a port held from its
// pick until its listener, so no other free-port caller can bind it in
// between (a placed exec's session started ahead once lost its port to
// another deputy of the run, and that exec's deputy failed).
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <thread>
#include <utility>  // before Boost 1.74 asio, whose awaitable.hpp misses it under GCC 12

#include <boost/asio.hpp>

#include "net/free_ports.hpp"
#include "net/transport.hpp"

using namespace spanvm::net;
using namespace std::chrono_literals;

namespace {

// What free_tcp_ports and the transport's own listener do to a port:
// bind with SO_REUSEADDR. Returns errno (0: bound).
int reuseaddr_bind_errno(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    int one = 1;
    REQUIRE(::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const int r = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    const int e = r == 0 ? 0 : errno;
    ::close(fd);
    return e;
}

int connect_errno(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const int r = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    const int e = r == 0 ? 0 : errno;
    ::close(fd);
    return e;
}

}  // namespace

TEST_CASE("a held port cannot be bound by another free-port caller, and refuses dials until it listens") {
    const HeldPort held = hold_free_tcp_port("127.0.0.1");
    REQUIRE(held.fd >= 0);
    CHECK(held.port >= 10000);
    CHECK(reuseaddr_bind_errno(held.port) == EADDRINUSE);
    CHECK(connect_errno(held.port) == ECONNREFUSED);
    ::close(held.fd);
    // Released: the port is anyone's again.
    CHECK(reuseaddr_bind_errno(held.port) == 0);
}

TEST_CASE("a transport listens on an inherited held socket (listen_fd) and its peer connects") {
    const HeldPort held = hold_free_tcp_port("127.0.0.1");
    ClusterConfig cfg = loopback_cluster(2, "held");
    cfg.nodes[1].port = held.port;
    TransportOptions opt;
    opt.connect_timeout = 3000ms;
    opt.retry_interval = 5ms;
    const MessageTypes types{1, 2, 3, 4};
    auto ignore = [](NodeId, std::uint16_t, std::uint64_t, ByteView) {};
    std::atomic<int> failures{0};  // before the teardown (which fails the links)
    auto no_failure = [&failures](NodeId, const std::string&) { ++failures; };
    TransportOptions with_fd = opt;
    with_fd.listen_fd = held.fd;  // the transport owns it from start()
    Transport acceptor(cfg, 1, types, ignore, no_failure, with_fd);
    Transport dialer(cfg, 0, types, ignore, no_failure, opt);
    acceptor.start();
    // Listening now on the held socket: still no other socket may bind it.
    CHECK(reuseaddr_bind_errno(held.port) == EADDRINUSE);
    dialer.start();
    CHECK(dialer.wait_connected(3000ms).has_value());
    CHECK(acceptor.wait_connected(3000ms).has_value());
    CHECK(failures.load() == 0);
}

// `spanvm run --local-hosts` (cli/local_hosts.hpp): the origin binds every
// node's socket and listens on it before the nodes start, so a dial waits
// in the backlog until the node's transport accepts it; the dialler's
// handshake is then given until its connect deadline, not only
// handshake_timeout (a node slow to start is not failed sooner than a
// refused, redialled one would be).
TEST_CASE("a dial queued on a held listening socket before its transport starts connects when it does") {
    const HeldPort held = hold_free_tcp_port("127.0.0.1");
    REQUIRE(::listen(held.fd, SOMAXCONN) == 0);
    ClusterConfig cfg = loopback_cluster(2, "backlog");
    cfg.nodes[1].port = held.port;
    TransportOptions opt;
    opt.connect_timeout = 5000ms;
    opt.handshake_timeout = 100ms;  // shorter than the wait below: the connect deadline must apply
    const MessageTypes types{1, 2, 3, 4};
    auto ignore = [](NodeId, std::uint16_t, std::uint64_t, ByteView) {};
    std::atomic<int> failures{0};
    auto count_failure = [&failures](NodeId, const std::string&) { ++failures; };
    Transport dialer(cfg, 0, types, ignore, count_failure, opt);
    dialer.start();
    std::this_thread::sleep_for(300ms);  // the node is still starting: the dial waits in the backlog
    CHECK(failures.load() == 0);
    TransportOptions with_fd = opt;
    with_fd.listen_fd = held.fd;
    Transport acceptor(cfg, 1, types, ignore, count_failure, with_fd);
    acceptor.start();
    CHECK(dialer.wait_connected(5000ms).has_value());
    CHECK(acceptor.wait_connected(5000ms).has_value());
    CHECK(failures.load() == 0);
}

TEST_CASE("a dial queued on a held listening socket fails, naming the peer, when the socket closes unaccepted") {
    const HeldPort held = hold_free_tcp_port("127.0.0.1");
    REQUIRE(::listen(held.fd, SOMAXCONN) == 0);
    ClusterConfig cfg = loopback_cluster(2, "backlog");
    cfg.nodes[1].port = held.port;
    TransportOptions opt;
    opt.connect_timeout = 5000ms;
    const MessageTypes types{1, 2, 3, 4};
    auto ignore = [](NodeId, std::uint16_t, std::uint64_t, ByteView) {};
    auto no_handler = [](NodeId, const std::string&) {};
    Transport dialer(cfg, 0, types, ignore, no_handler, opt);
    dialer.start();
    // Queued (connected in the kernel), then the node dies before accepting.
    std::this_thread::sleep_for(50ms);
    ::close(held.fd);
    const auto connected = dialer.wait_connected(5000ms);
    REQUIRE_FALSE(connected.has_value());
    INFO(connected.error().message);
    CHECK(connected.error().message.find("node 1") != std::string::npos);
    CHECK(connected.error().message.find("connection reset") != std::string::npos);
}
