#pragma once
// FileFiller: the DSM's page fillers of a process spread over hosts
// (dsm::PageFiller; docs/dsm-protocol.md "Fillers"): which guest pages are
// filled from which file (memory::FillTable, from the Layout messages), and
// this node's own open copy of each such file. The origin adopts the file
// it maps; a node opens the path the origin names and keeps it only if it
// is the same file (FileIdentity equal: layout_messages.hpp). A node then
// reads a never-used page of a private file mapping from its own copy
// instead of receiving it.
//
// Thread safety: every member may be called from any thread; mu_ (a leaf)
// guards the table and the files. Files stay open until destruction, so a
// read needs no lock.
// Departures: a page is read from the file when a node first uses it, not
// when it is mapped; a file changed in place afterwards shows the change in
// pages not used before (Linux's MAP_PRIVATE "may" too, but one node's
// copy of a page can then differ from another's first use of it); a read
// error gives zeros (Linux: SIGBUS).
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "vmm/base/result.hpp"
#include "vmm/cluster/layout_messages.hpp"
#include "vmm/dsm/page_filler.hpp"
#include "vmm/memory/fill_table.hpp"

namespace spanvm::cluster {

// The identity of open file `fd` (fstat); an error for a file that is not
// regular.
Result<FileIdentity> file_identity(int fd);

class FileFiller final : public dsm::PageFiller {
public:
    // Page 0 of the DSM region is guest address `user_base`.
    explicit FileFiller(std::uint64_t user_base) : base_(user_base) {}
    ~FileFiller() override;
    FileFiller(const FileFiller&) = delete;
    FileFiller& operator=(const FileFiller&) = delete;

    // Node: opens d.path and keeps it as file d.id iff it is the same file
    // as the origin's (identity equal, and its path not refused by the
    // test knob SPANVM_FILL_REFUSE=SUBSTRING). Returns whether it was kept.
    bool open_declared(const FileDecl& d);
    // Origin: keeps a duplicate of `fd` as file `id`.
    Result<void> adopt(std::uint32_t id, int fd);
    // Sets the fills in order; a fill naming a file not kept here is an error.
    Result<void> apply(const std::vector<memory::FillRun>& fills);
    // Some page of guest [start, end) has a file filler.
    bool any_in(std::uint64_t start, std::uint64_t end);

    bool filled(std::uint64_t page) override;
    bool fill(std::uint64_t page, std::byte* out) override;
    // One pread per stretch of pages that are consecutive in one file.
    void fill_run(std::uint64_t page, std::size_t count, std::byte* out) override;

private:
    // Reads len bytes of file `fd` from pf.offset into out; zeros past its
    // end or after an error (warned).
    static void read_file(int fd, const memory::PageFill& pf, std::byte* out, std::size_t len);
    const std::uint64_t base_;
    std::mutex mu_;
    memory::FillTable table_;
    std::unordered_map<std::uint32_t, int> fds_;
    std::atomic<bool> any_{false};  // table_ not empty: the common case asks no lock
};

}  // namespace spanvm::cluster
