#pragma once
// spanvm's own code and read-only data on transparent huge pages.
//
// Every guest fork is a host fork of spanvm, and on a host where a page
// fault or a page-table write is a trip through the hypervisor (shadow
// paging, PVM) the fork's cost grows with the page-table entries it copies:
// ~0.13 us each here, ~1,000 of them for spanvm's read-only segments, which
// keep_code_mapped_across_fork() makes every fork copy so that children need
// not fault them in again (fork_page_tables.hpp). On 2 MiB pages the same
// segments are 5 page-directory entries (spanvm's 10 MiB of them): nothing
// to fault in, little to copy.
//
// code_on_huge_pages() copies each read-only PT_LOAD segment of the spanvm
// executable into anonymous memory that asks for huge pages
// (MADV_HUGEPAGE), and moves the copy over the segment with mremap: the
// same bytes at the same addresses. Only what is 2 MiB-aligned moves: the
// link puts each segment at a 2 MiB boundary (-z max-page-size=0x200000,
// CMakeLists.txt), and a segment's last huge page may cover the gap up to
// the next boundary only while nothing is mapped there.
//
// `spanvm run` calls it once, at start-up (~1.6 ms of CPU here: the copy),
// before any other thread exists and before guest memory turns huge pages
// off for the whole process (PR_SET_THP_DISABLE, guest_memory.hpp); forked
// guest processes inherit the moved mappings. Nothing happens where the
// host gives no huge pages (transparent_hugepage "never", or
// PR_SET_THP_DISABLE inherited from the process that started spanvm), or
// with SPANVM_HUGE_CODE=off. The cost: profilers see the moved code as
// anonymous memory (perf's [unknown]); SPANVM_HUGE_CODE=off keeps the file
// mappings for them.
#include <cstdint>
#include <vector>

namespace spanvm::process {

struct CodeRange {
    uintptr_t lo = 0, hi = 0;
};

// Moves what it can; returns how many bytes moved. Call it once.
uint64_t code_on_huge_pages();

// The ranges it moved (empty before it ran, or where nothing moved).
const std::vector<CodeRange>& moved_code_ranges();

}  // namespace spanvm::process
