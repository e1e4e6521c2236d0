#pragma once
// Finds currently free TCP ports on a loopback address: random ports below
// the kernel's ephemeral range (net.ipv4.ip_local_port_range), each bound
// to check it is free (all held together so the ports are distinct), then
// closed. Not port 0: the kernel hands ephemeral ports to every bind(0) and
// connect(), so a port chosen that way and closed could be given to another
// process's listener or outgoing connection before the node re-binds it (a
// node of one run once dialled another run's syscall-channel listener).
// Below the range only another free_tcp_ports caller can pick the same
// port, at random. Callers (tests, the RTT probe) still retry start-up on
// "address in use".
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
