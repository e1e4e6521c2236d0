#pragma once
// The guest's view of its own /proc/self/maps: the guest's address space in
// the kernel's format (fs/proc/task_mmu.c, show_map_vma), pure text work.
// The host's file describes spanvm's host process: on KVM it names host
// addresses the guest never sees (none of its own mappings is there), and
// spread over hosts its files are not mapped at all (fillers). On the
// native platform on one host the host's is used (Process::own_maps_view):
// the guest's lines are right there, among spanvm's own.
//
// Each line: start-end, the rwx and s/p letters, the file offset, the
// device as major:minor and the inode (a file mapping's; 00:00 0 for
// anonymous memory), and, padded to column 74 as the kernel pads it, the
// name: the file's path, [heap] (the brk area), [stack] (the initial
// stack), [vvar] and [vdso] (spanvm's vDSO pair). Departures: the lines
// are spanvm's mappings as it records them (two adjacent anonymous
// mappings that Linux would merge may show as two lines), and [vvar] is
// one page.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "vmm/process/mm/address_space.hpp"

namespace spanvm::process {

// A range spanvm records as anonymous memory that Linux shows by a name:
// an execve'd image's file pages (a PT_LOAD segment's pages that hold the
// file's bytes: a mapping of the file at `offset`), and spanvm's vDSO pair
// ([vvar], [vdso]; offset, dev and ino 0).
struct ImagePages {
    uint64_t start = 0, end = 0;  // page-aligned
    uint64_t offset = 0;          // file offset of `start`
    uint64_t dev = 0, ino = 0;
    std::string path;             // the file's path, or [vvar] / [vdso]
};

// `vmas` in address order; `names` in address order and disjoint: where a
// private anonymous VMA meets one of them it is split there and that part
// shown by its name. Departure: a mapping the program makes later over
// such pages keeps their name.
std::string render_proc_maps(const std::vector<Vma>& vmas, const std::vector<ImagePages>& names = {});

// Whether `path` names the caller's own maps: /proc/self/maps,
// /proc/thread-self/maps or /proc/PID/maps with PID == `pid`.
bool is_own_maps_path(std::string_view path, int pid);

}  // namespace spanvm::process
