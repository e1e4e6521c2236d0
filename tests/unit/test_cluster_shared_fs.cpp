// The shared-file-system proof (vmm/cluster/shared_fs): the probe's
// lifetime under SharedFsProbe's counting, and when an executor's
// RemoteVcpu lets go of it (remote_vcpu.cpp): only once the node has
// checked it, whichever way the thread's channel came.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <string>

#include <fmt/format.h>

#include "vmm/cluster/cluster_messages.hpp"
#include "vmm/cluster/node_answers.hpp"
#include "vmm/cluster/remote_vcpu.hpp"
#include "vmm/cluster/shared_fs.hpp"
#include "vmm/cluster/syscall_channel.hpp"

using namespace spanvm;
using namespace spanvm::cluster;

namespace {

bool on_disk(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0;
}

// An origin of one node whose probe is real: what the RemoteVcpu sends is
// kept, the Spawn decoded.
class FakeOrigin final : public ExecutorServices {
public:
    void register_thread(int, RemoteVcpu*) override {}
    void unregister_thread(int, RemoteVcpu*) override {}
    std::uint16_t channel_port() const override { return 1; }
    std::uint64_t channel_cookie() const override { return 2; }
    std::uint64_t vdso_data() const override { return 0; }
    std::uint8_t node_answers() const override { return static_cast<std::uint8_t>(NodeAnswers::all); }
    bool sole_thread_spawn() override { return false; }
    SharedFsProof acquire_fs_proof() override { return probe.acquire(); }
    void release_fs_proof() override { probe.release(); }
    Result<void> send(unsigned, std::uint16_t, const net::Bytes& payload) override {
        auto m = decode_spawn(payload);
        REQUIRE(m);
        spawn = std::move(*m);
        ++spawns;
        return {};
    }
    void channel_lost(unsigned, int, const std::string& why) override { FAIL("channel lost: " << why); }
    std::optional<LayoutMsg> take_ride(unsigned, int) override { return std::nullopt; }
    void settle_rides(unsigned) override {}

    SharedFsProbe probe;
    SpawnMsg spawn;
    int spawns = 0;
};

// The two ends of a thread's channel: the origin's (for attach_channel)
// and the node's.
struct ChannelPair {
    std::unique_ptr<SyscallChannel> origin, node;
    ChannelPair() {
        int sv[2];
        REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
        origin = std::make_unique<SyscallChannel>(sv[0]);
        node = std::make_unique<SyscallChannel>(sv[1]);
    }
};

void send_first_trap(SyscallChannel& node, int tid) {
    TrapMsg t;
    t.tid = tid;
    t.exit.kind = platform::VcpuExit::Kind::syscall;
    REQUIRE(node.send(ChannelType::trap, encode(t)));
}

}  // namespace

SCENARIO("the probe lives while any thread's proof is held") {
    SharedFsProbe probe;
    const SharedFsProof a = probe.acquire();
    REQUIRE_FALSE(a.probe_path.empty());
    std::string why;
    CHECK_MESSAGE(verify_shared_fs(a, why), why);
    const SharedFsProof b = probe.acquire();
    CHECK(b.probe_path == a.probe_path);  // one file for the threads spawned together
    probe.release();
    CHECK_MESSAGE(verify_shared_fs(b, why), why);  // the second thread's node has not checked yet
    probe.release();
    CHECK_FALSE(on_disk(a.probe_path));
    CHECK_FALSE(verify_shared_fs(b, why));
    CHECK(why.find("is not here") != std::string::npos);
    const SharedFsProof c = probe.acquire();  // a later Spawn makes a fresh one
    CHECK(c.probe_path != a.probe_path);
    CHECK_MESSAGE(verify_shared_fs(c, why), why);
    probe.release();
    probe.release();  // an extra release changes nothing
    CHECK_FALSE(on_disk(c.probe_path));
}

SCENARIO("an executor holds the probe until the node's first Trap") {
    FakeOrigin origin;
    ChannelPair ch;
    constexpr int kTid = 7;
    std::string why;
    GIVEN("a channel dialled ahead that connects after the Spawn went (ChannelOffer)") {
        RemoteVcpu v(origin, 1, 0);
        v.set_guest_tid(kTid);
        REQUIRE(v.set_initial_state({}, 0, 0));
        REQUIRE(origin.spawns == 1);
        const SharedFsProof& p = origin.spawn.fs;
        REQUIRE_FALSE(p.probe_path.empty());
        // The node dialled on the offer, before it got the Spawn: its
        // connection says nothing about its check.
        v.attach_channel(std::move(ch.origin));
        THEN("the node, reading the Spawn only now, still finds the probe") {
            CHECK_MESSAGE(verify_shared_fs(p, why), why);
        }
        WHEN("the node's first Trap comes") {
            send_first_trap(*ch.node, kTid);
            const platform::VcpuExit e = v.run();
            CHECK(e.kind == platform::VcpuExit::Kind::syscall);
            THEN("the probe is gone") { CHECK_FALSE(on_disk(p.probe_path)); }
        }
    }
    GIVEN("a channel dialled ahead that connected before the Spawn") {
        RemoteVcpu v(origin, 1, 0);
        v.set_guest_tid(kTid);
        v.attach_channel(std::move(ch.origin));
        REQUIRE(v.set_initial_state({}, 0, 0));
        const SharedFsProof& p = origin.spawn.fs;
        REQUIRE_FALSE(p.probe_path.empty());
        CHECK_MESSAGE(verify_shared_fs(p, why), why);
        send_first_trap(*ch.node, kTid);
        (void)v.run();
        CHECK_FALSE(on_disk(p.probe_path));
    }
    GIVEN("a thread whose node never traps") {
        std::string path;
        {
            RemoteVcpu v(origin, 1, 0);
            v.set_guest_tid(kTid);
            REQUIRE(v.set_initial_state({}, 0, 0));
            path = origin.spawn.fs.probe_path;
            REQUIRE(on_disk(path));
        }
        THEN("dropping its vCPU lets go of the probe") { CHECK_FALSE(on_disk(path)); }
    }
}

SCENARIO("probes left by processes that are gone are swept") {
    GIVEN("a directory with a probe of a dead process, one of this process and an unrelated file") {
        char tmpl[] = "/tmp/spanvm-sweep-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        const std::string dir = tmpl;
        const pid_t child = ::fork();
        REQUIRE(child >= 0);
        if (child == 0) ::_exit(0);
        int status = 0;
        REQUIRE(::waitpid(child, &status, 0) == child);  // reaped: its pid answers ESRCH (unless reused)
        const std::string dead = fmt::format("{}/.spanvm-fsprobe-{}-00000000000000aa", dir, child);
        const std::string live = fmt::format("{}/.spanvm-fsprobe-{}-00000000000000bb", dir, ::getpid());
        const std::string other = dir + "/.spanvm-fsprobe-notapid";
        for (const auto& p : {dead, live, other}) {
            const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
            REQUIRE(fd >= 0);
            ::close(fd);
        }
        WHEN("the directory is swept") {
            sweep_stale_probes(dir);
            THEN("only the dead process's probe is gone") {
                if (::kill(child, 0) != 0) CHECK_FALSE(on_disk(dead));  // the pid was not reused meanwhile
                CHECK(on_disk(live));
                CHECK(on_disk(other));
            }
        }
        for (const auto& p : {dead, live, other}) ::unlink(p.c_str());
        ::rmdir(dir.c_str());
    }
}
