#pragma once
// The distributed process mode's messages (pure codec, no I/O). They travel
// on the connections the DSM engine's transport keeps between the nodes, as
// types kClusterTypeFirst..Last, which a router hands to the cluster's own
// ControlChannel (control_channel.hpp), not to the engine.
//
//   Spawn     origin -> node   start guest thread `tid` there, from `state`
//   Trap      node -> origin   thread `tid` left the guest: a syscall, a CPU
//                              exception or a kick; carries its whole state
//   Resume    origin -> node   the executor is done: new state, or `exit`
//   Kick      origin -> node   a signal is pending for `tid`: leave the guest
//   Shutdown  origin -> node   the program ended with `status`; answer Bye
//   Bye       node -> origin   the node has stopped its guest threads
//   Stats     node -> origin   the node's DSM counters (machine table), sent
//                              right before its Bye on the same connection
//   Abort     origin -> node   the origin is ending on a failure: `reason`
//                              (which names the failed node); print it, exit
//   Sharing   node -> origin   one placement window of the node's threads'
//                              faults per page and pages made the node's (sharing_messages.hpp)
//   Layout, LayoutAck          the guest's layout on every node (layout_messages.hpp)
//   SessionStart, SessionReady, NodeLoad
//                              a placed exec's session on a node's host, and
//                              the nodes' load (session_messages.hpp)
//
// Trap and Resume travel on the thread's own SyscallChannel
// (syscall_channel.hpp), the others through the ControlChannel.
//
// A thread's register file and FS/GS base move with every Trap and Resume
// (the executor at the origin runs the syscall on a copy of the thread's
// state, exactly as a local vCPU thread would). The FPU image moves only
// when needed: the executor asks for it (signal frames, sigreturn) and
// sends it back only when it changed it. A Trap also carries the memory the
// call only reads (arg_capture.hpp).
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "net/wire_frame.hpp"
#include "vmm/base/result.hpp"
#include "vmm/cluster/layout_messages.hpp"
#include "vmm/cluster/node_brk.hpp"
#include "vmm/cluster/node_map_window.hpp"
#include "vmm/memory/arg_memory.hpp"
#include "vmm/platform/regs.hpp"
#include "vmm/platform/vcpu.hpp"

namespace spanvm::cluster {

inline constexpr std::uint16_t kSpawnType = 0x0200;
inline constexpr std::uint16_t kTrapType = 0x0201;    // reserved: Trap and Resume travel on the SyscallChannel
inline constexpr std::uint16_t kResumeType = 0x0202;
inline constexpr std::uint16_t kKickType = 0x0203;
inline constexpr std::uint16_t kShutdownType = 0x0204;
inline constexpr std::uint16_t kByeType = 0x0205;
inline constexpr std::uint16_t kStatsType = 0x0206;
inline constexpr std::uint16_t kAbortType = 0x0207;
inline constexpr std::uint16_t kClusterTypeFirst = kSpawnType;
inline constexpr std::uint16_t kClusterTypeLast = 0x020E;  // kChannelOfferType (session_messages.hpp)

struct ThreadState {
    platform::Regs regs;
    std::uint64_t fs_base = 0;
    std::uint64_t gs_base = 0;
    std::vector<std::uint8_t> fpu;  // empty: unchanged / not sent
};

// What the origin's executor thread sees of the file system, for a node to
// compare with its own view before it answers path lookups itself
// (shared_fs.hpp says what each field proves).
struct SharedFsProof {
    std::string probe_path;  // empty: none offered (the node forwards every path call)
    std::vector<std::uint8_t> probe_bytes;
    std::string boot_id;
    std::uint64_t mnt_ns = 0;  // inode of /proc/self/ns/mnt
    std::uint64_t pid_ns = 0;  // inode of /proc/self/ns/pid
    std::uint64_t root_dev = 0;
    std::uint64_t root_ino = 0;
    std::int32_t pid = 0;  // the origin process: /proc/<pid>/cwd is the guest's cwd
    std::vector<std::uint32_t> ids;  // ruid euid suid fsuid rgid egid sgid fsgid, then the groups
    std::uint64_t cap_effective = 0;
    std::uint64_t cap_permitted = 0;
    bool operator==(const SharedFsProof&) const = default;
};

struct SpawnMsg {
    std::int32_t tid = 0;
    std::uint16_t channel_port = 0;  // the origin's ChannelListener
    std::uint64_t cookie = 0;        // proves the channel's hello
    std::uint64_t vvar_gva = 0;      // the vDSO's node-local time page, or 0
    ThreadState state;
    std::uint8_t node_answers = 0;  // NodeAnswers (node_answers.hpp): what the node may answer itself
    SharedFsProof fs;
    // The thread is its process's only thread, and every change to the
    // process's fd table is one of its own calls (the first Spawn of an
    // exec placed on another node: execve left one thread, and the image's
    // threads all run on this node). The node may then keep its own view of
    // the files the thread opened (node_local_calls.hpp, "Node files").
    bool sole_thread = false;
};

struct TrapMsg {
    std::int32_t tid = 0;
    std::int32_t host_tid = 0;  // the node's host thread (thread table)
    platform::VcpuExit exit;    // kind, signo, si_code, fault_addr, what, in_guest
    ThreadState state;
    memory::ArgMemory args;  // syscall traps only: memory the call reads or writes; may be empty
    std::uint64_t read_faults = 0;   // the thread's DSM faults on its node so far
    std::uint64_t write_faults = 0;
    std::uint64_t local_syscalls = 0;  // calls the node ran itself so far (node_runner.cpp)
    // Words the node's own set_tid_address / set_robust_list set since the
    // previous Trap, for the origin's thread table (node_answers.hpp).
    std::optional<std::uint64_t> clear_child_tid;
    std::optional<std::pair<std::uint64_t, std::uint64_t>> robust_list;  // head, length
    // Guest fds the node's thread closed since the previous Trap (answered
    // there: node_local_calls.hpp, "Node files"), in order; the executor
    // closes them in the process's fd table before it handles this Trap.
    std::vector<std::int32_t> closed_fds;
    // File offsets the node's reads moved since the previous Trap (guest
    // fd, offset), which the executor sets (SEEK_SET) before it handles it.
    std::vector<std::pair<std::int32_t, std::uint64_t>> seeks;
    // The program break the node's thread moved inside its window since the
    // previous Trap (node_brk.hpp, docs/dsm-protocol.md F8), which the
    // executor applies before it handles this Trap.
    std::optional<std::uint64_t> brk;
    // The anonymous mappings the node made in its mapping window since the
    // previous Trap, in order (node_map_window.hpp, F9): the executor makes
    // them after the break, before anything else.
    std::vector<OwedMap> maps;
};

// The most closes a node holds back for one Trap.
inline constexpr std::size_t kMaxClosedFds = 64;
// The most offsets one Trap sets (one per file a node keeps).
inline constexpr std::size_t kMaxSeeks = 256;

// Bytes the node stores into guest memory before the thread continues: the
// output of a call whose buffer was handled on the node (arg_memory.hpp).
struct GuestWrite {
    std::uint64_t gva = 0;
    std::vector<std::uint8_t> bytes;
};

struct ResumeMsg {
    std::int32_t tid = 0;
    bool exit = false;  // the thread ended (SYS_exit): the node stops it
    ThreadState state;
    std::vector<GuestWrite> writes;
    // A ridden Layout (docs/dsm-protocol.md "Fillers", F6): the layout
    // changes of the call this Resume ends, when the thread is its node's
    // only guest thread. The node applies it (runs, then fills; it never
    // names files) before the writes and before the thread continues, and
    // answers a LayoutAck of its seq on the control channel, which nobody
    // waits for on the call's path.
    std::optional<LayoutMsg> layout;
    // For an open/openat that returned an fd: the (st_dev, st_ino) of the
    // file the origin opened, so the node can tell it opened the same one.
    std::optional<std::pair<std::uint64_t, std::uint64_t>> opened;
    // The thread's heap window (node_brk.hpp, F8): the break and the limit
    // the node may grow it to by itself. Absent: none (any the thread had
    // is revoked).
    std::optional<BrkWindow> brk_window;
    // The thread's mapping window (node_map_window.hpp, F9): free in the
    // origin's address space until the thread's next Trap. None: revoked.
    std::optional<MapWindow> map_window;
};

struct KickMsg {
    std::int32_t tid = 0;
};

struct ShutdownMsg {
    std::int32_t status = 0;
};

// A node's dsm::DsmStats counters at the time it sends them (fixed order on
// the wire: one u64 each, in the order below).
struct NodeStatsMsg {
    std::uint64_t bytes_sent = 0;
    std::uint64_t bytes_received = 0;
    std::uint64_t read_faults = 0;
    std::uint64_t write_faults = 0;
    std::uint64_t remote_fetches = 0;
    // Memory policy (dsm_stats.hpp): first touches at the home that reached
    // user space, requests for never-used pages that crossed the network,
    // migrated pages, fresh pages homed at the mapping thread's node.
    std::uint64_t home_first_touch_faults = 0;
    std::uint64_t remote_first_touches = 0;
    std::uint64_t home_migrations = 0;
    std::uint64_t pages_rehomed = 0;
    // First-use claims: claims sent, claims granted (as a home), pages they moved.
    std::uint64_t claim_requests = 0;
    std::uint64_t claims = 0;
    std::uint64_t pages_claimed = 0;
    // Pages installed from a file filler there (docs/dsm-protocol.md "Fillers").
    std::uint64_t pages_filled = 0;
    // Requests for never-used pages in a chunk two nodes use (dsm_stats.hpp).
    std::uint64_t shared_chunk_first_touches = 0;
    bool operator==(const NodeStatsMsg&) const = default;
};

struct AbortMsg {
    std::string reason;  // at most kMaxAbortReason bytes
};
inline constexpr std::size_t kMaxAbortReason = 1024;

net::Bytes encode(const SpawnMsg& m);
net::Bytes encode(const TrapMsg& m);
net::Bytes encode(const ResumeMsg& m);
net::Bytes encode(const KickMsg& m);
net::Bytes encode(const ShutdownMsg& m);
net::Bytes encode(const NodeStatsMsg& m);
net::Bytes encode(const AbortMsg& m);

Result<SpawnMsg> decode_spawn(net::ByteView b);
Result<TrapMsg> decode_trap(net::ByteView b);
Result<ResumeMsg> decode_resume(net::ByteView b);
Result<KickMsg> decode_kick(net::ByteView b);
Result<ShutdownMsg> decode_shutdown(net::ByteView b);
Result<NodeStatsMsg> decode_stats(net::ByteView b);
Result<AbortMsg> decode_abort(net::ByteView b);

}  // namespace spanvm::cluster
