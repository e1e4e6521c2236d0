#pragma once
// `spanvm run --local-hosts N [--netns]`: starts N-1 `spanvm node`
// processes on this machine and returns the cluster they form with this
// process as node 0 (the origin).
//  * loopback: every node listens on 127.0.0.1 on a free port;
//  * --netns: this process moves into a fresh network namespace holding a
//    bridge (10.232.0.1/24), and each node runs in a namespace of its own
//    joined to it by a veth pair (10.232.0.(K+1)). The namespaces are
//    anonymous: they disappear with the processes, nothing is left behind.
// Nodes die with the origin (PR_SET_PDEATHSIG). Start-up failures throw
// std::runtime_error with one line (start-up code, CLI only).
#include <cstdint>
#include <string>

#include "net/cluster_config.hpp"

namespace spanvm::cli {

struct LocalHostsOptions {
    unsigned hosts = 2;
    bool netns = false;
    std::string mem;       // passed to every node as --mem
    std::string platform;  // passed to every node as --platform
};

net::ClusterConfig start_local_hosts(const LocalHostsOptions& o);

}  // namespace spanvm::cli
