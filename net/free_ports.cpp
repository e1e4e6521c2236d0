#include "net/free_ports.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <stdexcept>
#include <utility>  // before Boost 1.74 asio, whose awaitable.hpp misses it under GCC 12

#include <boost/asio.hpp>
#include <fmt/format.h>

namespace spanvm::net {

namespace {

// The low end of the kernel's ephemeral port range (Linux default 32768).
std::uint16_t ephemeral_low() {
    std::ifstream f("/proc/sys/net/ipv4/ip_local_port_range");
    unsigned lo = 0, hi = 0;
    if (f >> lo >> hi && lo > 2048 && lo <= 65535) return static_cast<std::uint16_t>(lo);
    return 32768;
}

// Candidates in [kLow, ephemeral low): above the well-known and most
// registered service ports, below what the kernel hands out itself.
constexpr std::uint16_t kLow = 10000;

std::uniform_int_distribution<unsigned> port_range() {
    const std::uint16_t high = ephemeral_low();
    return std::uniform_int_distribution<unsigned>(kLow, high > kLow + 1000 ? high - 1u : 65535u);
}

}  // namespace

HeldPort hold_free_tcp_port(const std::string& address) {
    namespace asio = boost::asio;
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(address, ec);
    if (ec) throw std::invalid_argument(fmt::format("hold_free_tcp_port: bad address '{}'", address));
    std::mt19937 rng(std::random_device{}());
    auto pick = port_range();
    for (int tries = 0; tries < 1000; ++tries) {
        const asio::ip::tcp::endpoint ep(addr, static_cast<std::uint16_t>(pick(rng)));
        const int fd = ::socket(ep.protocol().family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) throw std::runtime_error(fmt::format("hold_free_tcp_port: socket: {}", std::strerror(errno)));
        if (::bind(fd, ep.data(), static_cast<socklen_t>(ep.size())) == 0) return HeldPort{fd, ep.port()};
        ::close(fd);  // taken (or in TIME_WAIT): another
    }
    throw std::runtime_error(fmt::format("hold_free_tcp_port: no free port on {}", address));
}

std::vector<std::uint16_t> free_tcp_ports(std::size_t count, const std::string& address) {
    namespace asio = boost::asio;
    using asio::ip::tcp;
    asio::io_context io;
    std::vector<std::unique_ptr<tcp::acceptor>> held;
    std::vector<std::uint16_t> ports;
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(address, ec);
    if (ec) throw std::invalid_argument(fmt::format("free_tcp_ports: bad address '{}'", address));
    std::mt19937 rng(std::random_device{}());
    auto pick = port_range();
    for (int tries = 0; ports.size() < count; ++tries) {
        if (tries >= 1000) throw std::runtime_error(fmt::format("free_tcp_ports: no free port on {}", address));
        auto a = std::make_unique<tcp::acceptor>(io);
        tcp::endpoint ep(addr, static_cast<std::uint16_t>(pick(rng)));
        a->open(ep.protocol(), ec);
        if (ec) throw std::runtime_error(fmt::format("free_tcp_ports: cannot open a socket: {}", ec.message()));
        a->set_option(tcp::acceptor::reuse_address(true), ec);  // as the node's acceptor binds
        a->bind(ep, ec);
        if (ec) continue;  // taken: another
        ports.push_back(ep.port());
        held.push_back(std::move(a));
    }
    return ports;
}

ClusterConfig loopback_cluster(std::size_t count, std::string name, const std::string& address) {
    ClusterConfig c;
    c.name = std::move(name);
    auto ports = free_tcp_ports(count, address);
    for (std::size_t i = 0; i < count; ++i) c.nodes.push_back({static_cast<NodeId>(i), address, ports[i]});
    validate_cluster(c, "loopback cluster");
    c.key = generate_cluster_key();
    return c;
}

}  // namespace spanvm::net
