// The cluster's own way out (vmm/cluster/cluster_failure.hpp) and the build
// identity (vmm/cluster/build_identity.hpp).
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "net/cluster_config.hpp"
#include "vmm/base/fatal_exit.hpp"
#include "vmm/cluster/build_identity.hpp"
#include "vmm/cluster/cluster_failure.hpp"

using namespace spanvm;
using namespace std::chrono_literals;

namespace {

struct ChildResult {
    int status = -1;  // exit status, -1 if it did not exit normally
    std::string err;  // everything it wrote to stderr
};

// Runs `body` in a child whose stderr is captured; the body must not return.
ChildResult run_child(const std::function<void()>& body) {
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        body();
        _exit(99);
    }
    close(fds[1]);
    ChildResult r;
    char buf[4096];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof buf)) > 0) r.err.append(buf, static_cast<std::size_t>(n));
    close(fds[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    if (WIFEXITED(st)) r.status = WEXITSTATUS(st);
    return r;
}

std::size_t lines(const std::string& s) { return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n')); }

}  // namespace

SCENARIO("a cluster failure ends the process with the one fatal line and status 70") {
    auto cfg = net::parse_cluster_spec("0=127.0.0.1:7400,1=127.0.0.1:7401");
    GIVEN("a node's ClusterFailure with 3 faults pending") {
        WHEN("node 1 is lost") {
            auto r = run_child([&] {
                cluster::ClusterFailure f;
                f.set_pending_faults([] { return std::size_t{3}; });
                f.fail(cfg.describe_failure(1, "node 1 (127.0.0.1:7401): connection reset"));
            });
            THEN("one line in the DSM's words, naming the node, and status 70") {
                CHECK(r.status == cluster::ClusterFailure::kExitCode);
                CHECK(r.status == 70);
                CHECK(r.err ==
                      "spanvm: fatal: DSM: node 1 (127.0.0.1:7401) failed: connection reset (3 fault(s) pending); "
                      "exiting with status 70\n");
            }
        }
    }
    GIVEN("two threads failing at once through the two paths") {
        auto r = run_child([&] {
            cluster::ClusterFailure f;
            std::thread t([&] { f.fail("node 1 (127.0.0.1:7401) failed: no traffic for 3.0 s"); });
            exit_fatally([] { std::fputs("spanvm: the other path\n", stderr); });
        });
        THEN("exactly one of them prints its line") {
            CHECK(r.status == 70);
            CHECK_MESSAGE(lines(r.err) == 1, r.err);
        }
    }
}

SCENARIO("the build identity comes from the source") {
    THEN("the source id is a SHA-256 in hex") {
        auto id = cluster::source_id();
        CHECK(id.size() == 64);
        CHECK(std::all_of(id.begin(), id.end(), [](char c) { return std::isxdigit(c) && !std::isupper(c); }));
    }
    THEN("the salt depends on the id, the protocol and the RAM size, and on nothing else") {
        const std::string a(64, 'a'), b(64, 'b');
        const auto s = cluster::version_salt(a, 1, 128 << 20);
        CHECK(cluster::version_salt(a, 1, 128 << 20) == s);
        CHECK(cluster::version_salt(b, 1, 128 << 20) != s);
        CHECK(cluster::version_salt(a, 2, 128 << 20) != s);
        CHECK(cluster::version_salt(a, 1, 64 << 20) != s);
        CHECK(cluster::cluster_version_salt(128 << 20) ==
              cluster::version_salt(cluster::source_id(), cluster::kClusterProtocolVersion, 128 << 20));
    }
}
