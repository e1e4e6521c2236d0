#pragma once
// SessionLauncher: host k's `spanvm node` (the daemon of the run) starting
// the session of an exec placed on its host (`spanvm run --place-exec`;
// docs/ARCHITECTURE.md, "An exec placed on another node").
//
// On SessionStart (session_messages.hpp) it starts a `spanvm node` process
// here, so the session lives in this host's network namespace, on this
// daemon's CPUs (its affinity is inherited) and with this daemon's guest
// RAM size and platform:
//   spanvm node --cluster-spec 0=ORIGIN:DEPUTY_PORT,1=SELF:PORT --node 1
//               --key-fd 3 --mem BYTES --platform NAME --daemon PID:4 --listen-fd 6
//               [--encrypt]
// i.e. node 1 of the deputy's cluster of two, keyed with the run's key (a
// memfd, never on a command line). PORT is held from its pick: fd 6 is a
// socket this daemon bound to SELF:PORT (net::hold_free_tcp_port) and put
// in listen before the spawn (a dial waits in its backlog while the session
// starts), whose connections the session's engine accepts. A port picked and closed here would be
// free until the session binds it, which for one started ahead is when its
// exec comes: another deputy of the run once picked and bound it meanwhile,
// the session could not listen, and the exec's deputy dialled that other
// deputy, was refused and ended with status 70 (xargs lost one echo's line).
//
// Started ahead: from the first SessionStart on, it keeps one session
// started ahead (`--deputy-fd 5`, a socket to this daemon; node 0's port in
// its spec a placeholder): it makes its platform, guest RAM and DSM engine,
// then waits there for its deputy's port. A SessionStart hands it that port
// ("PORT\n") and answers at once; the next one is started ahead after the
// answer. One that ended meanwhile (the send fails) is reaped and a session
// is spawned as above. One never handed ends with this daemon (end of file
// on its socket, and `--daemon`). The deputy dials PORT (the lower id
// dials: net/transport.hpp); the session dials the deputy's syscall-channel
// listener at the origin's address when its thread starts.
//
// The session ends with its deputy: Shutdown (exit 0) when the image ends,
// and its transport's peer failure when the deputy's link drops (a reset
// when the deputy dies, the 3 s silence when the origin's host is cut).
// Once joined it does not watch this daemon: a session on a lost daemon's
// host goes when the run's deputies go (they end with the run, which ends
// when this daemon is lost), and a session that ended on its own would
// make its deputy print a second line. Before it has joined it does
// (`--daemon`, a pidfd of this process): its deputy may have died before
// dialling it (the run ending or failing meanwhile), and the deputy's
// dialler retries quietly, so no second line can come of it. Its stderr
// is /dev/null (the run prints the one line of any failure;
// SPANVM_DEBUG_DEPUTY=1 keeps it, and so does -v, which it passes on).
//
// Threads: start() runs on the transport's I/O thread and only starts a
// thread per session, which hands the one started ahead or spawns one
// (posix_spawn: no copy of this process's page tables), answers
// SessionReady, starts the next one ahead, reaps its session and reports
// the load (NodeLoad). mu_ (leaf) guards the count, the session held ahead
// and orders the reports (each is sent under it, so the origin sees the
// counts in order); spawning and the hand-over's send happen outside it.
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include "net/cluster_config.hpp"
#include "net/wire_frame.hpp"
#include "vmm/base/result.hpp"
#include "vmm/cluster/session_messages.hpp"

namespace spanvm::cluster {

class SessionLauncher {
public:
    // Sends one cluster message to the origin (from any thread).
    using Send = std::function<void(std::uint16_t type, const net::Bytes& payload)>;

    SessionLauncher(net::ClusterConfig cluster, unsigned self, std::uint64_t mem_size, std::string platform,
                    Send send);

    // SessionStart from the origin (I/O thread; never blocks).
    void start(SessionStartMsg m);
    // This daemon's load now (NodeLoad's fields).
    NodeLoadMsg load();

private:
    struct Session {
        int pid = -1;
        std::uint16_t port = 0;
    };
    // A session started ahead, waiting for its deputy's port on fd.
    struct Ahead {
        int pid = -1;
        std::uint16_t port = 0;
        int fd = -1;
    };
    void serve(SessionStartMsg m);  // the session's own thread
    // The session started ahead, told its deputy's port; an error when
    // there is none or it has ended (then reaped).
    Result<Session> hand_ahead(std::uint16_t deputy_port);
    // Starts the next session ahead unless one is held or being started.
    void start_ahead();
    Result<Session> spawn_session(std::uint16_t deputy_port, int deputy_fd);
    // `listen_fd`: the held port's socket (net::hold_free_tcp_port).
    Result<int> spawn(std::uint16_t deputy_port, std::uint16_t port, int listen_fd, int deputy_fd);
    void reap(int pid);  // waits for a handed session's end, reports the load

    const net::ClusterConfig cluster_;
    const unsigned self_;
    const std::uint64_t mem_size_;
    const std::string platform_;
    const Send send_;
    std::mutex mu_;
    std::uint32_t sessions_ = 0;  // mu_
    Ahead ahead_;                 // mu_; never reaped while held (it ends with this daemon)
    bool ahead_starting_ = false;  // mu_
};

// CPUs this process may use (sched_getaffinity).
std::uint32_t usable_cpus();

}  // namespace spanvm::cluster
