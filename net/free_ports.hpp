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
// "address in use". A port that stays unbound for long between the pick and
// its listener (a placed exec's session started ahead waits for its exec)
// must be held instead: hold_free_tcp_port.
#include <cstdint>
#include <string>
#include <vector>

#include "net/cluster_config.hpp"

namespace spanvm::net {

std::vector<std::uint16_t> free_tcp_ports(std::size_t count, const std::string& address = "127.0.0.1");

// A port of the same range, held from its pick until its listener: `fd` is
// a TCP socket (close-on-exec) bound to address:port, not listening (a dial
// to it is refused, as to a port nobody bound, until its owner calls
// listen()) and without SO_REUSEADDR, so no other socket can bind the port
// meanwhile (free_tcp_ports' SO_REUSEADDR probe fails on it). The caller
// owns `fd`. Throws std::runtime_error (one line) if none is free.
struct HeldPort {
    int fd = -1;
    std::uint16_t port = 0;
};
HeldPort hold_free_tcp_port(const std::string& address);

// A cluster of `count` nodes on `address` with free ports and a fresh key.
ClusterConfig loopback_cluster(std::size_t count, std::string name = "loopback",
                               const std::string& address = "127.0.0.1");

}  // namespace spanvm::net
