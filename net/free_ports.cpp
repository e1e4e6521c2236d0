#include "net/free_ports.hpp"

#include <memory>
#include <stdexcept>
#include <utility>  // before Boost 1.74 asio, whose awaitable.hpp misses it under GCC 12

#include <boost/asio.hpp>
#include <fmt/format.h>

namespace spanvm::net {

std::vector<std::uint16_t> free_tcp_ports(std::size_t count, const std::string& address) {
    namespace asio = boost::asio;
    using asio::ip::tcp;
    asio::io_context io;
    std::vector<std::unique_ptr<tcp::acceptor>> held;
    std::vector<std::uint16_t> ports;
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(address, ec);
    if (ec) throw std::invalid_argument(fmt::format("free_tcp_ports: bad address '{}'", address));
    for (std::size_t i = 0; i < count; ++i) {
        auto a = std::make_unique<tcp::acceptor>(io);
        tcp::endpoint ep(addr, 0);
        a->open(ep.protocol(), ec);
        if (!ec) a->bind(ep, ec);
        if (ec) throw std::runtime_error(fmt::format("free_tcp_ports: cannot bind {}: {}", address, ec.message()));
        ports.push_back(a->local_endpoint().port());
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
