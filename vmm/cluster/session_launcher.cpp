#include "vmm/cluster/session_launcher.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "net/cluster_key.hpp"
#include "net/free_ports.hpp"
#include "vmm/base/log.hpp"

extern char** environ;

namespace spanvm::cluster {

namespace {

// The only descriptors above stderr a session inherits: the key, a pidfd
// of this daemon (`--daemon`), for one started ahead its end of the socket
// on which the deputy's port comes (`--deputy-fd`), and its listener's
// socket, bound to its port (`--listen-fd`).
constexpr int kSessionKeyFd = 3;
constexpr int kSessionDaemonFd = 4;
constexpr int kSessionDeputyFd = 5;
constexpr int kSessionListenFd = 6;

// An fd closed on every path out of a scope.
struct Fd {
    int fd = -1;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

}  // namespace

std::uint32_t usable_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(0, sizeof set, &set) != 0) return 1;
    return static_cast<std::uint32_t>(std::max(1, CPU_COUNT(&set)));
}

SessionLauncher::SessionLauncher(net::ClusterConfig cluster, unsigned self, std::uint64_t mem_size,
                                 std::string platform, Send send)
    : cluster_(std::move(cluster)), self_(self), mem_size_(mem_size), platform_(std::move(platform)),
      send_(std::move(send)) {}

NodeLoadMsg SessionLauncher::load() {
    std::lock_guard lk(mu_);
    return NodeLoadMsg{sessions_, usable_cpus()};
}

void SessionLauncher::start(SessionStartMsg m) {
    try {
        std::thread([this, m] { serve(m); }).detach();
    } catch (const std::system_error& e) {
        std::lock_guard lk(mu_);
        send_(kSessionReadyType, encode(SessionReadyMsg{m.seq, 0, sessions_, fmt::format("no thread: {}", e.what())}));
    }
}

void SessionLauncher::serve(SessionStartMsg m) {
    Result<Session> s = hand_ahead(m.deputy_port);
    if (!s) s = spawn_session(m.deputy_port, -1);
    {
        std::lock_guard lk(mu_);
        if (!s) {
            send_(kSessionReadyType, encode(SessionReadyMsg{m.seq, 0, sessions_, s.error().message}));
            return;
        }
        ++sessions_;
        send_(kSessionReadyType, encode(SessionReadyMsg{m.seq, s->port, sessions_, {}}));
    }
    start_ahead();  // for the next exec placed here
    reap(s->pid);
}

void SessionLauncher::reap(int pid) {
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    std::lock_guard lk(mu_);
    --sessions_;
    send_(kNodeLoadType, encode(NodeLoadMsg{sessions_, usable_cpus()}));
}

Result<SessionLauncher::Session> SessionLauncher::spawn_session(std::uint16_t deputy_port, int deputy_fd) {
    const std::string& self_address = cluster_.node(static_cast<net::NodeId>(self_)).address;
    try {
        // Held until the session has it (its own copy): see the header.
        const net::HeldPort held = net::hold_free_tcp_port(self_address);
        const Fd hold{held.fd};
        // Listening before the spawn: the deputy's dial waits in the backlog
        // until the session's engine accepts, instead of being refused and
        // redialled with backoff while the session execs (up to ~20 ms past
        // its listen, per exec placed on a host with no session ahead).
        if (::listen(held.fd, SOMAXCONN) != 0)
            return make_error(errno, "listen on {}:{}: {}", self_address, held.port, std::strerror(errno));
        auto pid = spawn(deputy_port, held.port, held.fd, deputy_fd);
        if (!pid) return pid.error();
        return Session{*pid, held.port};
    } catch (const std::exception& e) {
        return make_error(EADDRNOTAVAIL, "{}", e.what());
    }
}

void SessionLauncher::start_ahead() {
    {
        std::lock_guard lk(mu_);
        if (ahead_.pid > 0 || ahead_starting_) return;
        ahead_starting_ = true;
    }
    int sv[2];
    Result<Session> s = make_error(errno, "socketpair");
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0) {
        // The node 0 port in its spec is a placeholder (the run's origin
        // port) until hand_ahead sends the deputy's.
        s = spawn_session(cluster_.node(0).port, sv[1]);
        ::close(sv[1]);
        if (!s) ::close(sv[0]);
    }
    std::lock_guard lk(mu_);
    ahead_starting_ = false;
    if (!s) {
        log::warn("node {}: no session started ahead: {}", self_, s.error().message);
        return;
    }
    ahead_ = Ahead{s->pid, s->port, sv[0]};
}

Result<SessionLauncher::Session> SessionLauncher::hand_ahead(std::uint16_t deputy_port) {
    Ahead a;
    {
        std::lock_guard lk(mu_);
        std::swap(a, ahead_);
    }
    if (a.pid <= 0) return make_error(ENOENT, "no session started ahead");
    const std::string line = fmt::format("{}\n", deputy_port);
    const ssize_t n = ::send(a.fd, line.data(), line.size(), MSG_NOSIGNAL);
    const int err = errno;
    ::close(a.fd);
    if (n != static_cast<ssize_t>(line.size())) {
        // It ended before its exec came (EPIPE): reap it, start one now.
        int st = 0;
        while (::waitpid(a.pid, &st, 0) < 0 && errno == EINTR) {
        }
        return make_error(err, "the session started ahead is gone");
    }
    log::info("node {}: session {} (started ahead, port {}) handed the deputy at {}:{}", self_, a.pid, a.port,
              cluster_.node(0).address, deputy_port);
    return Session{a.pid, a.port};
}

Result<int> SessionLauncher::spawn(std::uint16_t deputy_port, std::uint16_t port, int listen_fd, int deputy_fd) {
    if (!cluster_.key) return make_error(EINVAL, "no cluster key");
    char exe[4096];
    const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return make_error(errno, "cannot find spanvm's own executable");
    exe[n] = 0;
    const auto& origin = cluster_.node(0);
    const auto& me = cluster_.node(static_cast<net::NodeId>(self_));
    const std::string spec = fmt::format("0={}:{},1={}:{}", origin.address, deputy_port, me.address, port);
    // The key in a memfd (moved to 10 or above, below).
    Fd memfd{::memfd_create("spanvm-cluster-key", MFD_CLOEXEC)};
    if (memfd.fd < 0) return make_error(errno, "memfd_create: {}", std::strerror(errno));
    const std::string key_text = net::format_cluster_key(*cluster_.key);
    if (::write(memfd.fd, key_text.data(), key_text.size()) != static_cast<ssize_t>(key_text.size()))
        return make_error(errno, "cannot write the cluster key: {}", std::strerror(errno));
    Fd key{::fcntl(memfd.fd, F_DUPFD_CLOEXEC, 10)};
    if (key.fd < 0) return make_error(errno, "fcntl: {}", std::strerror(errno));

    // Until it has joined, the session also ends with this daemon: a
    // deputy that died before dialling it (the run ending, or failing for
    // this host) would otherwise leave it waiting out its connect timeout.
    Fd self{static_cast<int>(::syscall(SYS_pidfd_open, ::getpid(), 0))};
    if (self.fd < 0) return make_error(errno, "pidfd_open: {}", std::strerror(errno));
    std::vector<std::string> args{exe,      "node", "--cluster-spec", spec, "--node", "1",
                                  "--key-fd", std::to_string(kSessionKeyFd), "--mem", std::to_string(mem_size_),
                                  "--platform", platform_, "--daemon", fmt::format("{}:{}", ::getpid(), kSessionDaemonFd),
                                  "--listen-fd", std::to_string(kSessionListenFd)};
    if (cluster_.encrypt) args.emplace_back("--encrypt");
    if (deputy_fd >= 0) args.insert(args.end(), {"--deputy-fd", std::to_string(kSessionDeputyFd)});
    // -v reaches the session, with its stderr: its info lines (such as why
    // a thread's path calls are forwarded, node_runner.cpp) are the run's.
    const bool verbose = log::enabled(log::Level::info);
    if (verbose) args.insert(args.begin() + 1, "-v");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    // The child: its own process group (a guest's kill(0) at the origin
    // never reaches it anyway, and ^C at a terminal must not), default
    // signal actions, nothing blocked, and of this daemon's descriptors only
    // stdin, stdout, stderr (/dev/null unless SPANVM_DEBUG_DEPUTY or -v) and
    // the key: the daemon's sockets are not close-on-exec (Boost.Asio), and a
    // session holding one would keep a lost daemon's links open.
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    if (!verbose && !std::getenv("SPANVM_DEBUG_DEPUTY"))
        posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    // Both sources at 10 or above: neither dup2 overwrites the other's
    // source, nor meets itself.
    Fd self_high{::fcntl(self.fd, F_DUPFD_CLOEXEC, 10)};
    if (self_high.fd < 0) return make_error(errno, "fcntl: {}", std::strerror(errno));
    posix_spawn_file_actions_adddup2(&fa, key.fd, kSessionKeyFd);
    posix_spawn_file_actions_adddup2(&fa, self_high.fd, kSessionDaemonFd);
    Fd deputy_high{deputy_fd >= 0 ? ::fcntl(deputy_fd, F_DUPFD_CLOEXEC, 10) : -1};
    if (deputy_fd >= 0 && deputy_high.fd < 0) return make_error(errno, "fcntl: {}", std::strerror(errno));
    if (deputy_fd >= 0) posix_spawn_file_actions_adddup2(&fa, deputy_high.fd, kSessionDeputyFd);
    Fd listen_high{::fcntl(listen_fd, F_DUPFD_CLOEXEC, 10)};
    if (listen_high.fd < 0) return make_error(errno, "fcntl: {}", std::strerror(errno));
    posix_spawn_file_actions_adddup2(&fa, listen_high.fd, kSessionListenFd);
    posix_spawn_file_actions_addclosefrom_np(&fa, kSessionListenFd + 1);
    pid_t pid = -1;
    const int rc = ::posix_spawn(&pid, exe, &fa, &at, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (rc != 0) return make_error(rc, "posix_spawn {}: {}", exe, std::strerror(rc));
    log::info("node {}: session {} for the deputy at {}:{} started (port {}{})", self_, pid, origin.address,
              deputy_port, port, deputy_fd >= 0 ? ", ahead" : "");
    return static_cast<int>(pid);
}

}  // namespace spanvm::cluster
