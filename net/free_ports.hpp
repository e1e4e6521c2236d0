#pragma once
// Finds currently free TCP ports on a loopback address by binding port 0
// (all sockets held open together so the ports are distinct), then closing
// them. Another process can take a port before it is re-bound; callers
// (tests, the RTT probe) retry start-up on "address in use".
#include <cstdint>
#include <string>
#include <vector>

#include "net/cluster_config.hpp"

namespace spanvm::net {

std::vector<std::uint16_t> free_tcp_ports(std::size_t count, const std::string& address = "127.0.0.1");

// A cluster of `count` nodes on `address` with free ports and a fresh key.
ClusterConfig loopback_cluster(std::size_t count, std::string name = "loopback",
                               const std::string& address = "127.0.0.1");

}  // namespace spanvm::net
