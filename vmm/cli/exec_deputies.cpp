#include "vmm/cli/exec_deputies.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include "net/cluster_key.hpp"
#include "net/free_ports.hpp"
#include "vmm/base/log.hpp"
#include "vmm/cluster/origin_cluster.hpp"

namespace spanvm::cli {

Result<ExecPolicy> parse_exec_policy(const std::string& s) {
    if (s == "origin") return ExecPolicy::origin;
    if (s == "round-robin") return ExecPolicy::round_robin;
    if (s == "least-loaded") return ExecPolicy::least_loaded;
    return make_error(EINVAL, "unknown exec placement '{}' (expected origin, round-robin or least-loaded)", s);
}

struct ExecDeputies::Shared {
    std::atomic<unsigned> turn{0};
    std::atomic<int> live[kMaxHosts];  // placed images running per host
};

ExecDeputies::ExecDeputies(ExecDeputyOptions o) : o_(std::move(o)) {
    void* m = ::mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) throw std::runtime_error(fmt::format("--place-exec: mmap: {}", std::strerror(errno)));
    shared_ = new (m) Shared;
    for (auto& l : shared_->live) l.store(0);
}

unsigned ExecDeputies::place_exec() {
    const auto n = static_cast<unsigned>(std::min<std::size_t>(o_.cluster.size(), kMaxHosts));
    unsigned node = 0;
    if (o_.policy == ExecPolicy::round_robin) {
        node = shared_->turn.fetch_add(1) % n;
    } else if (o_.policy == ExecPolicy::least_loaded) {
        // Fewest running images per CPU; a host's CPUs are its --host-cpus
        // group (1 each without it).
        auto cpus = [&](unsigned k) {
            return k < o_.host_cpus.size() && !o_.host_cpus[k].empty() ? o_.host_cpus[k].size() : std::size_t{1};
        };
        for (unsigned k = 1; k < n; ++k)
            if (static_cast<std::size_t>(shared_->live[k].load()) * cpus(node) <
                static_cast<std::size_t>(shared_->live[node].load()) * cpus(k))
                node = k;
    }
    shared_->live[node].fetch_add(1);
    return node;
}

void ExecDeputies::exec_gone(unsigned node) {
    if (node < kMaxHosts) shared_->live[node].fetch_sub(1);
    if (node_pid_ <= 0) return;
    // The deputy is ending (its cluster has shut down): reap its node
    // process, so it is never reparented to the run's process, whose guest
    // would see a stranger in wait4.
    const pid_t pid = std::exchange(node_pid_, -1);
    for (int i = 0; i < 200; ++i) {
        if (::waitpid(pid, nullptr, WNOHANG) != 0) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ::kill(pid, SIGKILL);
    (void)::waitpid(pid, nullptr, 0);
}

process::RemoteThreads* ExecDeputies::start_deputy(unsigned node, memory::GuestMemory& ram,
                                                   memory::GuestProtection& prot) {
    auto fail = [&](const std::string& why) -> process::RemoteThreads* {
        log::warn("--place-exec: the image runs at the origin instead of host {}: {}", node, why);
        return nullptr;
    };
    if (!o_.cluster.key) return fail("no cluster key");
    char exe[4096];
    const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return fail("cannot find spanvm's own executable");
    exe[n] = 0;
    std::vector<std::uint16_t> ports;
    try {
        ports = net::free_tcp_ports(2);
    } catch (const std::exception& e) {
        return fail(e.what());
    }
    const std::string spec = fmt::format("0=127.0.0.1:{},1=127.0.0.1:{}", ports[0], ports[1]);
    net::ClusterConfig cc;
    try {
        cc = net::parse_cluster_spec(spec, "local");
        net::validate_cluster(cc, "--place-exec");
    } catch (const std::exception& e) {
        return fail(e.what());
    }
    cc.key = o_.cluster.key;
    cc.encrypt = o_.cluster.encrypt;

    const int key_fd = ::memfd_create("spanvm-cluster-key", MFD_CLOEXEC);
    const std::string key_text = net::format_cluster_key(*cc.key);
    if (key_fd < 0 || ::write(key_fd, key_text.data(), key_text.size()) != static_cast<ssize_t>(key_text.size())) {
        if (key_fd >= 0) ::close(key_fd);
        return fail("cannot pass the cluster key");
    }
    const pid_t self = ::getpid();
    const int self_fd = static_cast<int>(::syscall(SYS_pidfd_open, self, 0));
    if (self_fd < 0) {
        ::close(key_fd);
        return fail(fmt::format("pidfd_open: {}", std::strerror(errno)));
    }
    std::vector<std::string> args{exe,      "node", "--cluster-spec", spec, "--node", "1", "--key-fd",
                                  std::to_string(key_fd), "--origin", fmt::format("{}:{}", self, self_fd)};
    if (cc.encrypt) args.emplace_back("--encrypt");
    if (!o_.mem.empty()) args.insert(args.end(), {"--mem", o_.mem});
    if (!o_.platform.empty()) args.insert(args.end(), {"--platform", o_.platform});
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    cpu_set_t set;
    CPU_ZERO(&set);
    const bool pin = node < o_.host_cpus.size() && !o_.host_cpus[node].empty();
    if (pin)
        for (int c : o_.host_cpus[node]) CPU_SET(c, &set);
    // Only async-signal-safe calls between fork and exec: this process has
    // guest threads and spanvm's own.
    // Its stderr is /dev/null: the deputy says the one line for any failure
    // of their pair, and when the deputy ends (the run ending, a node of the
    // run lost) this node must go quietly, not add a second line.
    // SPANVM_DEBUG_DEPUTY=1 keeps it (for debugging a node that fails).
    const int null_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    const pid_t pid = ::fork();
    if (pid == 0) {
        (void)::setpgid(0, 0);
        if (null_fd >= 0 && !::getenv("SPANVM_DEBUG_DEPUTY")) (void)::dup2(null_fd, STDERR_FILENO);
        if (pin && ::sched_setaffinity(0, sizeof set, &set) != 0) ::_exit(125);
        if (::fcntl(key_fd, F_SETFD, 0) != 0 || ::fcntl(self_fd, F_SETFD, 0) != 0) ::_exit(125);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);  // spanvm's forwarded signals are blocked here
        ::execv(exe, argv.data());
        ::_exit(127);
    }
    ::close(key_fd);
    ::close(self_fd);
    if (null_fd >= 0) ::close(null_fd);
    if (pid < 0) return fail(fmt::format("fork: {}", std::strerror(errno)));
    node_pid_ = pid;
    // Leaked on purpose: it serves this process until it exits, and a fork
    // of this process must never destroy its copy (remote_threads.hpp).
    auto* oc = new cluster::OriginCluster(std::move(cc), cluster::PlacePolicy::away);
    // The node starts with all guest RAM inaccessible and hears later mm
    // calls one at a time (layout_changed); what is mapped already (the
    // exec's stack, vDSO and image so far) it gets here, acked before the
    // thread moves. The alias is this process's own (a fork child inherits
    // its parent's, bound to the parent's memory).
    auto r = prot.open_alias();
    if (r) r = oc->attach_memory(ram, prot);
    if (r) oc->layout_changed(prot.accessible_runs());
    if (!r) {
        ::kill(pid, SIGKILL);
        (void)::waitpid(pid, nullptr, 0);
        node_pid_ = -1;
        return fail(r.error().message);
    }
    return oc;
}

}  // namespace spanvm::cli
