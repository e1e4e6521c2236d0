#pragma once
// `spanvm run --local-hosts N [--netns]`: starts N-1 `spanvm node`
// processes on this machine and returns the cluster they form with this
// process as node 0 (the origin).
//  * loopback: every node listens on 127.0.0.1 on a free port, whose socket
//    this process binds and puts in the listening state before any node
//    starts (net::hold_free_tcp_port, then listen()): node k inherits its
//    own (`spanvm node --listen-fd`), the origin's engine takes node 0's
//    (`LocalHosts::origin_listen_fd`). So a dial to a node that has not
//    reached its accept yet waits in the kernel's backlog instead of being
//    refused and redialled; a node that dies before accepting resets it
//    (this process closes its copies once the nodes are started), and one
//    that never accepts is named by the dialler's handshake timeout;
//  * --netns: this process moves into a fresh network namespace holding a
//    bridge (10.232.0.1/24), and each node runs in a namespace of its own
//    joined to it by a veth pair (10.232.0.(K+1)). The namespaces are
//    anonymous: they disappear with the processes, nothing is left behind.
// The cluster gets a throw-away key made here (net/cluster_key.hpp); each
// node reads it from an inherited memfd (--key-fd), so it is never on a
// command line nor in a file. The nodes are not children of this process
// (a middle process forks each and exits), so a guest's wait4 and the end
// of the run's process tree never see them; each watches this process
// through an inherited pidfd (`spanvm node --origin PID:FD`) and exits the
// moment it ends, whatever the way. Start-up failures throw
// std::runtime_error with one line (start-up code, CLI only).
//
// `--host-cpus C` pins each host to C CPUs of its own: node k (the origin is
// node 0: this process and every thread it starts) to the k-th group of C
// CPUs among those this process may use (sched_getaffinity, in id order),
// i.e. cores [k*C, (k+1)*C) on an unrestricted machine. The origin pins
// itself before it starts any thread; each node child pins itself before
// exec. Without --local-hosts it pins the one host (the origin).
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "net/cluster_config.hpp"

namespace spanvm::cli {

struct LocalHostsOptions {
    unsigned hosts = 2;
    bool netns = false;
    std::string mem;       // passed to every node as --mem
    std::string platform;  // passed to every node as --platform
    // --host-cpus: the CPUs node k is pinned to (host_cpus[k]); empty: none.
    std::vector<std::vector<int>> host_cpus;
    bool encrypt = false;  // --encrypt: passed to every node too
};

struct LocalHosts {
    net::ClusterConfig cluster;
    // Loopback only: node 0's listening socket (close-on-exec), for
    // OriginCluster::listen_on; -1 with --netns (its nodes are in other
    // namespaces: each binds its own address and the origin redials).
    int origin_listen_fd = -1;
};

LocalHosts start_local_hosts(const LocalHostsOptions& o);

// --host-cpus C for `hosts` hosts: the k-th group of C CPUs among those this
// process may use, for k < hosts. Throws std::runtime_error (one line) when
// C is 0 or C * hosts exceeds them.
std::vector<std::vector<int>> split_host_cpus(unsigned cpus_per_host, unsigned hosts);

// `spanvm node --origin PID:FD` (given by start_local_hosts): FD is an
// inherited pidfd of the origin PID; a thread of this node ends the node
// (status 70, no line: the origin's own line says why) the moment the
// origin ends. With `until` (`--daemon PID:FD`, given to a session by its
// node daemon: session_launcher.hpp) only if that PID ends before *until
// is set (the session joined its deputy, whose link then says when to
// end). Throws std::runtime_error (one line) on a bad value.
void watch_origin(const std::string& spec, const std::atomic<bool>* until = nullptr);

// Pins the calling thread (and the threads it starts later) to `cpus`;
// throws std::runtime_error (one line) on failure.
void pin_to_cpus(const std::vector<int>& cpus);

}  // namespace spanvm::cli
