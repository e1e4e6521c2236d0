#pragma once
// The Layout and LayoutAck messages (pure codec, no I/O). Layout: origin ->
// every node, once per mm system call that changed what the guest may do
// with some pages (mmap, munmap, mprotect, mremap, brk, execve): the
// changed runs (memory::LayoutRun: range and access), in order. The node applies them to its host
// mapping of guest RAM (memory::GuestProtection) and answers LayoutAck with
// the same sequence number; the origin returns from the call only when
// every node has answered (OriginCluster::layout_changed). Both travel
// through the ControlChannel like the other cluster messages
// (cluster_messages.hpp), not through the DSM protocol.
#include <cstdint>
#include <vector>

#include "net/wire_frame.hpp"
#include "vmm/base/result.hpp"
#include "vmm/memory/layout_table.hpp"

namespace spanvm::cluster {

inline constexpr std::uint16_t kLayoutType = 0x0209;
inline constexpr std::uint16_t kLayoutAckType = 0x020A;
// A decoder's bound (an mm call changes at most a few runs per mapping it
// touches; 65530 is Linux's default vm.max_map_count).
inline constexpr std::size_t kMaxLayoutRuns = 1u << 17;

struct LayoutMsg {
    std::uint64_t seq = 0;
    std::vector<memory::LayoutRun> runs;
    bool operator==(const LayoutMsg&) const = default;
};

struct LayoutAckMsg {
    std::uint64_t seq = 0;
    bool operator==(const LayoutAckMsg&) const = default;
};

net::Bytes encode(const LayoutMsg& m);
net::Bytes encode(const LayoutAckMsg& m);
Result<LayoutMsg> decode_layout(net::ByteView b);
Result<LayoutAckMsg> decode_layout_ack(net::ByteView b);

}  // namespace spanvm::cluster
