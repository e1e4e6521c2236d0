#pragma once
// Forked children that keep spanvm's code mapped.
//
// Linux's fork copies a private mapping's page-table entries only when the
// mapping has anonymous pages (mm/memory.c, vma_needs_copy(): "don't copy
// ptes where a page fault will fill them correctly"). spanvm's own code and
// read-only data are private file mappings without any, so each forked
// guest process faulted on every page of spanvm's code it ran again, though
// the page was in the page cache and mapped in its parent: ~34 faults per
// fork+exec+wait, each 10-50 us on a shadow-paging host
// (bench/results/session-2026-12-06e).
//
// keep_code_mapped_across_fork() gives each such mapping of spanvm (every
// read-only PT_LOAD segment of every loaded object but the vDSO) one
// anonymous page: a forced write of one byte's own value through
// /proc/self/mem, as a debugger plants a breakpoint, copies that page (4 KiB
// each, the same bytes) and marks the mapping, whose entries every later
// fork then copies with it. The children of such a child inherit the mark.
// Segments code_on_huge_pages() moved (huge_code.hpp) need no mark: fork
// copies their few huge-page entries anyway.
// Best effort: a kernel that refuses forced writes (proc_mem.force_override)
// leaves the mappings as they were. Runs once per process (the first fork).
namespace spanvm::process {

void keep_code_mapped_across_fork();

}  // namespace spanvm::process
