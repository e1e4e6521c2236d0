#include "vmm/cli/local_hosts.hpp"

#include <sched.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <thread>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include "net/free_ports.hpp"
#include "vmm/base/latency_trace.hpp"
#include "vmm/base/log.hpp"

namespace spanvm::cli {

namespace {

constexpr const char* kSubnet = "10.232.0";
constexpr std::uint16_t kNetnsPort = 7500;

// Runs `ip ARGS...` (iproute2) and waits; throws on failure.
void ip(const std::vector<std::string>& args) {
    pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error(fmt::format("fork: {}", std::strerror(errno)));
    if (pid == 0) {
        std::vector<char*> argv{const_cast<char*>("ip")};
        for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        int devnull = ::open("/dev/null", O_WRONLY);
        if (devnull >= 0) ::dup2(devnull, 1);
        ::execvp("ip", argv.data());
        ::_exit(127);
    }
    int st = 0;
    ::waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        std::string cmd = "ip";
        for (auto& a : args) cmd += " " + a;
        throw std::runtime_error(fmt::format("--netns: '{}' failed{}", cmd,
                                             WIFEXITED(st) && WEXITSTATUS(st) == 127 ? " (iproute2 missing?)" : ""));
    }
}

std::string self_exe() {
    char buf[4096];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) throw std::runtime_error("cannot find spanvm's own executable (/proc/self/exe)");
    buf[n] = 0;
    return buf;
}

}  // namespace

std::vector<std::vector<int>> split_host_cpus(unsigned cpus_per_host, unsigned hosts) {
    if (cpus_per_host == 0) throw std::runtime_error("--host-cpus 0: want at least 1 CPU per host");
    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(0, sizeof set, &set) != 0)
        throw std::runtime_error(fmt::format("--host-cpus: sched_getaffinity: {}", std::strerror(errno)));
    std::vector<int> usable;
    for (int c = 0; c < CPU_SETSIZE; ++c)
        if (CPU_ISSET(c, &set)) usable.push_back(c);
    if (static_cast<std::size_t>(cpus_per_host) * hosts > usable.size())
        throw std::runtime_error(fmt::format("--host-cpus {}: {} host(s) x {} CPUs exceeds the {} CPUs this process may use",
                                             cpus_per_host, hosts, cpus_per_host, usable.size()));
    std::vector<std::vector<int>> out(hosts);
    for (unsigned k = 0; k < hosts; ++k)
        out[k].assign(usable.begin() + k * cpus_per_host, usable.begin() + (k + 1) * cpus_per_host);
    return out;
}

void pin_to_cpus(const std::vector<int>& cpus) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int c : cpus) CPU_SET(c, &set);
    if (::sched_setaffinity(0, sizeof set, &set) != 0)
        throw std::runtime_error(fmt::format("--host-cpus: sched_setaffinity: {}", std::strerror(errno)));
}

LocalHosts start_local_hosts(const LocalHostsOptions& o) {
    if (o.hosts < 2 || o.hosts > 16) throw std::runtime_error(fmt::format("--local-hosts {}: want 2..16", o.hosts));
    net::ClusterConfig cfg;
    // Loopback: each node's socket, bound and listening (local_hosts.hpp).
    std::vector<int> listen_fds;
    auto close_held = [&listen_fds](std::size_t from) {
        for (std::size_t k = from; k < listen_fds.size(); ++k) ::close(listen_fds[k]);
    };
    cfg.name = "local";  // the name nodes get with --cluster-spec
    if (o.netns) {
        if (::unshare(CLONE_NEWNET) != 0)
            throw std::runtime_error(fmt::format("--netns: unshare(CLONE_NEWNET): {} (needs root)", std::strerror(errno)));
        ip({"link", "set", "lo", "up"});
        ip({"link", "add", "br0", "type", "bridge"});
        ip({"addr", "add", fmt::format("{}.1/24", kSubnet), "dev", "br0"});
        ip({"link", "set", "br0", "up"});
        for (unsigned k = 0; k < o.hosts; ++k)
            cfg.nodes.push_back({static_cast<net::NodeId>(k), fmt::format("{}.{}", kSubnet, k + 1), kNetnsPort});
    } else {
        for (unsigned k = 0; k < o.hosts; ++k) {
            net::HeldPort held;
            try {
                held = net::hold_free_tcp_port("127.0.0.1");
            } catch (...) {
                close_held(0);
                throw;
            }
            listen_fds.push_back(held.fd);
            if (::listen(held.fd, SOMAXCONN) != 0) {
                close_held(0);
                throw std::runtime_error(fmt::format("listen on 127.0.0.1:{}: {}", held.port, std::strerror(errno)));
            }
            cfg.nodes.push_back({static_cast<net::NodeId>(k), "127.0.0.1", held.port});
        }
    }
    net::validate_cluster(cfg, "--local-hosts");
    cfg.key = net::generate_cluster_key();
    cfg.encrypt = o.encrypt;
    // The key travels in a memfd the nodes inherit (close-on-exec is cleared
    // in each child only); they pread it from offset 0 and close it.
    const int key_fd = ::memfd_create("spanvm-cluster-key", MFD_CLOEXEC);
    if (key_fd < 0) throw std::runtime_error(fmt::format("memfd_create: {}", std::strerror(errno)));
    const std::string key_text = net::format_cluster_key(*cfg.key);
    if (::write(key_fd, key_text.data(), key_text.size()) != static_cast<ssize_t>(key_text.size())) {
        ::close(key_fd);
        throw std::runtime_error(fmt::format("cannot write the cluster key: {}", std::strerror(errno)));
    }

    // The nodes read the cluster from a spec on their command line.
    std::string spec;
    for (auto& n : cfg.nodes) spec += fmt::format("{}{}={}:{}", spec.empty() ? "" : ",", n.id, n.address, n.port);
    const std::string exe = self_exe();
    const pid_t origin = ::getpid();
    // The nodes are not this process's children (a guest's wait4(-1) here
    // must not see them, nor its end reap them; see local_hosts.hpp): each
    // is forked by a short-lived middle process, and watches this process
    // through an inherited pidfd instead of PR_SET_PDEATHSIG.
    const int origin_fd = static_cast<int>(::syscall(SYS_pidfd_open, origin, 0));
    if (origin_fd < 0) throw std::runtime_error(fmt::format("pidfd_open: {}", std::strerror(errno)));
    for (unsigned k = 1; k < o.hosts; ++k) {
        int go[2];
        if (::pipe(go) != 0) throw std::runtime_error(fmt::format("pipe: {}", std::strerror(errno)));
        int ready[2];
        if (::pipe(ready) != 0) throw std::runtime_error(fmt::format("pipe: {}", std::strerror(errno)));
        int pidp[2];  // the middle process hands the node's pid back here
        if (::pipe(pidp) != 0) throw std::runtime_error(fmt::format("pipe: {}", std::strerror(errno)));
        const pid_t mid = ::fork();
        if (mid < 0) throw std::runtime_error(fmt::format("fork: {}", std::strerror(errno)));
        if (mid == 0) {
            // The middle process: forks the node, tells the origin its pid, and leaves.
            const pid_t node = ::fork();
            if (node < 0) ::_exit(125);
            if (node > 0) {
                (void)!::write(pidp[1], &node, sizeof node);
                ::_exit(0);
            }
            ::close(pidp[0]);
            ::close(pidp[1]);
            // A group of its own: ^C at a terminal and a guest's kill(0)
            // reach the origin's process group, not the nodes.
            (void)::setpgid(0, 0);
            ::close(go[1]);
            ::close(ready[0]);
            if (o.netns) {
                if (::unshare(CLONE_NEWNET) != 0) ::_exit(125);
                char c = 1;
                (void)!::write(ready[1], &c, 1);
                if (::read(go[0], &c, 1) != 1) ::_exit(125);  // the origin added our eth0
                try {
                    ip({"link", "set", "lo", "up"});
                    ip({"addr", "add", fmt::format("{}.{}/24", kSubnet, k + 1), "dev", "eth0"});
                    ip({"link", "set", "eth0", "up"});
                } catch (const std::exception& e) {
                    std::fprintf(stderr, "spanvm: node %u: %s\n", k, e.what());
                    ::_exit(125);
                }
            }
            if (k < o.host_cpus.size()) {
                cpu_set_t set;
                CPU_ZERO(&set);
                for (int c : o.host_cpus[k]) CPU_SET(c, &set);
                if (::sched_setaffinity(0, sizeof set, &set) != 0) {
                    std::fprintf(stderr, "spanvm: node %u: --host-cpus: sched_setaffinity: %s\n", k, std::strerror(errno));
                    ::_exit(125);
                }
            }
            if (::fcntl(key_fd, F_SETFD, 0) != 0 || ::fcntl(origin_fd, F_SETFD, 0) != 0) ::_exit(125);
            std::vector<std::string> args{exe,          "node", "--cluster-spec", spec, "--node", std::to_string(k),
                                          "--key-fd",   std::to_string(key_fd),
                                          "--origin",   fmt::format("{}:{}", origin, origin_fd)};
            if (k < listen_fds.size()) {  // its own socket only: the others stay close-on-exec
                if (::fcntl(listen_fds[k], F_SETFD, 0) != 0) ::_exit(125);
                args.insert(args.end(), {"--listen-fd", std::to_string(listen_fds[k])});
            }
            if (o.encrypt) args.emplace_back("--encrypt");
            if (!o.mem.empty()) args.insert(args.end(), {"--mem", o.mem});
            if (!o.platform.empty()) args.insert(args.end(), {"--platform", o.platform});
            if (log::enabled(log::Level::info)) args.insert(args.begin() + 1, "-v");  // the run's -v
            std::vector<char*> argv;
            for (auto& a : args) argv.push_back(a.data());
            argv.push_back(nullptr);
            ::execv(exe.c_str(), argv.data());
            ::_exit(127);
        }
        ::close(go[0]);
        ::close(ready[1]);
        ::close(pidp[1]);
        pid_t pid = -1;
        const bool forked = ::read(pidp[0], &pid, sizeof pid) == static_cast<ssize_t>(sizeof pid);
        ::close(pidp[0]);
        int st = 0;
        while (::waitpid(mid, &st, 0) < 0 && errno == EINTR) {
        }
        if (!forked) throw std::runtime_error(fmt::format("node {} did not start", k));
        if (o.netns) {
            char c;
            if (::read(ready[0], &c, 1) != 1) throw std::runtime_error(fmt::format("node {} did not start", k));
            const std::string veth = fmt::format("v{}", k);
            ip({"link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", std::to_string(pid)});
            ip({"link", "set", veth, "master", "br0"});
            ip({"link", "set", veth, "up"});
            (void)!::write(go[1], &c, 1);
        }
        ::close(go[1]);
        ::close(ready[0]);
    }
    ::close(key_fd);
    ::close(origin_fd);
    // The nodes hold their own sockets now: a node that dies resets the
    // connections waiting in its backlog.
    close_held(1);
    return LocalHosts{std::move(cfg), listen_fds.empty() ? -1 : listen_fds[0]};
}

void watch_origin(const std::string& spec, const std::atomic<bool>* until) {
    const auto colon = spec.find(':');
    int pid = 0, fd = -1;
    try {
        if (colon == std::string::npos) throw std::invalid_argument(spec);
        pid = std::stoi(spec.substr(0, colon));
        fd = std::stoi(spec.substr(colon + 1));
    } catch (const std::exception&) {
        throw std::runtime_error(fmt::format("--origin {}: expected PID:FD", spec));
    }
    if (pid <= 0 || fd < 0 || ::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0)
        throw std::runtime_error(fmt::format("--origin {}: not an inherited pidfd", spec));
    std::thread([fd, until] {
        pollfd p{fd, POLLIN, 0};
        while (::poll(&p, 1, -1) < 0 && errno == EINTR) {
        }
        if (until && until->load()) return;  // joined: the link decides from now on
        trace::write_now();
        ::_exit(70);  // the origin is gone: its own line (or the guest's status) told why
    }).detach();
}

}  // namespace spanvm::cli
