#pragma once
// The guest vDSO: spanvm's own image (guest-shim/vdso, embedded at build
// time) and its placement in a process's guest memory.
//
// Guest layout: [vvar page][vDSO image], one private anonymous VMA pair placed
// top-down in the mmap area (below the stack, away from brk). The vvar page
// (read-only to the guest in bookkeeping; the guest page tables map all user
// memory RWX) holds the record the Timekeeper writes; the image finds it
// PC-relatively one page below its base. AT_SYSINFO_EHDR = the image's base.
//
// Departure from Linux: the vvar page is ordinary guest RAM. A guest that
// munmaps it and maps something else there would have that memory
// overwritten by the Timekeeper (Linux's vvar is a special mapping).
#include <cstdint>
#include <span>

#include "guest-shim/vdso/vvar.h"
#include "vmm/base/result.hpp"
#include "vmm/memory/guest_memory.hpp"
#include "vmm/process/mm/address_space.hpp"

namespace spanvm::process {

// The embedded vDSO ELF image.
std::span<const uint8_t> vdso_image();

struct InstalledVdso {
    uint64_t vvar_addr = 0;       // guest address of the vvar page
    uint64_t base = 0;            // guest address of the image: AT_SYSINFO_EHDR
    uint64_t end = 0;             // end of the image's pages
    spanvm_vvar* vvar = nullptr;  // host view of the vvar record (zeroed: readers fall back until published)
};

// Maps the vvar page and the image in `as` and copies the image into `mem`.
// The caller holds the address-space lock (or runs before any vCPU).
Result<InstalledVdso> install_vdso(AddressSpace& as, memory::GuestMemory& mem);

}  // namespace spanvm::process
