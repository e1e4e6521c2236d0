#pragma once
// The Sharing message (pure codec, no I/O): node -> origin, once per
// placement window while the node's threads took DSM faults. For each of
// the node's guest threads, the pages it faulted on in the window with its
// read and write faults there, the CPU time it ran and the pages it made
// the node's (first touches at their home there, zero-fill-ahead included,
// and pages it first wrote there: thread_faults.hpp), and the node's mean
// write-fault latency in
// the window (`--place auto`, sharing_policy.hpp). It
// travels through the ControlChannel like the other cluster messages
// (cluster_messages.hpp); the origin ignores it under the other policies.
#include <cstdint>
#include <vector>

#include "net/wire_frame.hpp"
#include "vmm/base/result.hpp"
#include "vmm/cluster/sharing_policy.hpp"

namespace spanvm::cluster {

inline constexpr std::uint16_t kSharingType = 0x0208;
// Bounds a decoder enforces (a node sends at most this much).
inline constexpr std::size_t kMaxSharingThreads = 4096;
inline constexpr std::size_t kMaxSharingPages = 256;  // per thread
// One placement window: how often each node sends its Sharing message and
// the origin decides. One window of strong sharing (four of weak sharing,
// 250 ms) plus the move itself make the earliest gathering; threads that
// share lock pages (pigz's reader, compressors and writer) fault on them
// hundreds of times a second until then. 62.5 ms (it was 125): pigz -p 2 on
// 8 MiB gathered at 0.29 s of a 0.55 s run and took 187-207 faults/MiB on
// a quiet 2-core host; at 62.5 ms it gathers at 0.16-0.23 s and takes
// 62-133 (docs/architecture/memory.md, "Window length").
inline constexpr std::uint64_t kSharingWindowUs = 62'500;

struct SharingMsg {
    struct Thread {
        std::int32_t tid = 0;
        std::vector<PageUse> pages;
        std::uint64_t cpu_ns = 0;  // CPU time the thread ran in the window (0: unknown)
        std::uint64_t created = 0;  // pages it made the node's in the window (ThreadFaults)
        bool operator==(const Thread&) const = default;
    };
    std::uint64_t fault_ns = 0;  // mean DSM write-fault latency on the node in the window (0: none)
    std::vector<Thread> threads;
    bool operator==(const SharingMsg&) const = default;
};

net::Bytes encode(const SharingMsg& m);
Result<SharingMsg> decode_sharing(net::ByteView b);

}  // namespace spanvm::cluster
