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
//
// Fillers (docs/dsm-protocol.md "Fillers"): a Layout may also name files
// (FileDecl: an id, the origin's path and the file's identity) and set the
// filler of page ranges (memory::FillRun: a file id and offset, or zero).
// A node opens each named file by its path and keeps it only if its
// identity equals the origin's; the LayoutAck lists the ids it refused.
// The origin sets fills only from files no node refused. A node applies a
// Layout's files, then its runs, then its fills.
#include <cstdint>
#include <string>
#include <vector>

#include "net/wire_frame.hpp"
#include "vmm/base/result.hpp"
#include "vmm/memory/fill_table.hpp"
#include "vmm/memory/layout_table.hpp"

namespace spanvm::cluster {

inline constexpr std::uint16_t kLayoutType = 0x0209;
inline constexpr std::uint16_t kLayoutAckType = 0x020A;
// A decoder's bound (an mm call changes at most a few runs per mapping it
// touches; 65530 is Linux's default vm.max_map_count).
inline constexpr std::size_t kMaxLayoutRuns = 1u << 17;

inline constexpr std::size_t kMaxLayoutFiles = 64;
inline constexpr std::size_t kMaxFilePath = 4096;  // PATH_MAX

// What makes a node's file "the same file" as the origin's: equal device,
// inode, size, modification and change times (nanoseconds). Exact between
// nodes on one machine and file system (any write changes mtime and ctime;
// a rename or replacement changes the inode); nodes on separate machines
// never match (their devices and inodes differ), so they fall back to the
// origin's data (docs/dsm-protocol.md "Fillers", "The file's identity").
struct FileIdentity {
    std::uint64_t dev = 0;
    std::uint64_t ino = 0;
    std::uint64_t size = 0;
    std::int64_t mtime_ns = 0;
    std::int64_t ctime_ns = 0;
    bool operator==(const FileIdentity&) const = default;
};

struct FileDecl {
    std::uint32_t id = 0;  // never memory::kZeroFile
    std::string path;      // absolute, as the origin opened it
    FileIdentity identity;
    bool operator==(const FileDecl&) const = default;
};

struct LayoutMsg {
    std::uint64_t seq = 0;
    std::vector<memory::LayoutRun> runs;
    std::vector<FileDecl> files;
    std::vector<memory::FillRun> fills;
    bool operator==(const LayoutMsg&) const = default;
};

struct LayoutAckMsg {
    std::uint64_t seq = 0;
    std::vector<std::uint32_t> refused;  // ids of this Layout's files the node does not have
    bool operator==(const LayoutAckMsg&) const = default;
};

net::Bytes encode(const LayoutMsg& m);
net::Bytes encode(const LayoutAckMsg& m);
Result<LayoutMsg> decode_layout(net::ByteView b);
Result<LayoutAckMsg> decode_layout_ack(net::ByteView b);

}  // namespace spanvm::cluster
