#pragma once
// ElfFile: a validated view of an x86-64 ELF executable (ET_EXEC or ET_DYN)
// and the plan for loading it into identity-mapped guest memory.
//
// Pure: parse() works on bytes the caller supplies (all of them, or through
// an ElfReader: only the header, the program headers and PT_INTERP are read)
// and keeps no reference to them; only read_whole_file() touches the file
// system (image_file.hpp opens programs for exec).
//
// Invariants after a successful parse():
//  - the program header table lies inside the file;
//  - load_segments() is non-empty, sorted by vaddr, pairwise non-overlapping
//    (on exact [vaddr, vaddr+memsz) ranges), every segment has memsz > 0,
//    filesz <= memsz, [offset, offset+filesz) inside the file when filesz > 0,
//    vaddr % 4096 == offset % 4096, and page_align_up(vaddr+memsz) does not
//    overflow 64 bits;
//  - interpreter(), when present, is a non-empty path shorter than PATH_MAX.
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "vmm/base/result.hpp"

namespace spanvm::process {

enum class ElfType { exec, dyn };

// Segment permission bits, numerically equal to PF_X / PF_W / PF_R.
inline constexpr uint32_t kSegmentExec = 1;
inline constexpr uint32_t kSegmentWrite = 2;
inline constexpr uint32_t kSegmentRead = 4;

struct LoadSegment {
    uint64_t vaddr = 0;   // unbiased p_vaddr
    uint64_t memsz = 0;
    uint64_t filesz = 0;
    uint64_t offset = 0;  // p_offset
    uint64_t align = 0;   // p_align (informational; congruence is checked mod 4096)
    uint32_t flags = 0;   // kSegment{Read,Write,Exec}

    bool readable() const { return flags & kSegmentRead; }
    bool writable() const { return flags & kSegmentWrite; }
    bool executable() const { return flags & kSegmentExec; }
};

// Half-open address range [start, end).
struct AddressRange {
    uint64_t start = 0;
    uint64_t end = 0;
    uint64_t size() const { return end - start; }
    bool operator==(const AddressRange&) const = default;
};

// Copy file bytes [file_offset, file_offset+length) to guest [guest_addr, +length).
struct CopyOp {
    uint64_t file_offset = 0;
    uint64_t length = 0;
    uint64_t guest_addr = 0;
    uint32_t flags = 0;  // the segment's kSegment{Read,Write,Exec}
};

// Zero guest [guest_addr, guest_addr+length).
struct ZeroOp {
    uint64_t guest_addr = 0;
    uint64_t length = 0;
};

// Page-granular protection of one segment (biased, page-aligned range).
struct SegmentProtection {
    AddressRange range;
    uint32_t flags = 0;  // kSegment{Read,Write,Exec}
};

// How to place an image in guest memory. Semantics follow Linux's
// load_elf_binary(): each segment's first page also receives the file bytes
// that precede p_vaddr in that page; in a segment with bss (memsz > filesz)
// everything from vaddr+filesz up to the end of its last page is zero, and
// in one without, the rest of its last page holds the file's next bytes (up
// to the file's end; zero after it), as Linux's whole-page mapping shows.
// Departure from Linux: where two segments share a page, Linux lets the later
// mmap win for the whole page; here the ops are clipped so they never overlap
// (each segment keeps its own bytes), hence copies and zeros may be applied
// in any order.
struct LoadPlan {
    uint64_t load_bias = 0;
    uint64_t entry = 0;          // e_entry + load_bias
    AddressRange span;           // image_span() + load_bias
    std::vector<CopyOp> copies;
    std::vector<ZeroOp> zeros;
    std::vector<SegmentProtection> protections;  // one per PT_LOAD, in order
    // The bias pushed some address past 2^64; the ops are meaningless and
    // apply_load_plan() refuses the plan.
    bool address_overflow = false;
};

// Fills `out` with the file's bytes [offset, offset + out.size()); false when
// it cannot (parse() only asks for bytes within the file size it was given).
using ElfReader = std::function<bool(uint64_t offset, std::span<uint8_t> out)>;

class ElfFile {
public:
    // Validates the ELF header and program headers; `name` is used in errors
    // only ("'name' is not an ELF file").
    static Result<ElfFile> parse(std::span<const uint8_t> bytes, std::string name);
    // The same for a file of `file_size` bytes read through `read` (what
    // execve reads: the header, the program headers, PT_INTERP). A failed
    // read is ENOEXEC.
    static Result<ElfFile> parse(uint64_t file_size, const ElfReader& read, std::string name);

    const std::string& name() const { return name_; }
    ElfType type() const { return type_; }
    uint64_t entry() const { return entry_; }  // unbiased e_entry
    uint64_t phoff() const { return phoff_; }
    uint16_t phentsize() const { return phentsize_; }
    uint16_t phnum() const { return phnum_; }
    uint64_t file_size() const { return file_size_; }
    const std::vector<LoadSegment>& load_segments() const { return loads_; }
    const std::optional<std::string>& interpreter() const { return interp_; }
    std::optional<uint64_t> phdr_vaddr() const { return phdr_vaddr_; }  // PT_PHDR p_vaddr
    // PT_GNU_STACK with PF_X (or no PT_GNU_STACK, the legacy default).
    bool executable_stack() const { return exec_stack_; }
    // ET_DYN: may be loaded at any page-aligned bias. ET_EXEC needs bias 0.
    bool position_independent() const { return type_ == ElfType::dyn; }
    // [page_align_down(lowest vaddr), page_align_up(highest vaddr+memsz)), unbiased.
    AddressRange image_span() const;

    // Guest address of the program header table for AT_PHDR: PT_PHDR's
    // vaddr, else the address at which the PT_LOAD whose file bytes contain
    // the whole table maps e_phoff. Fails if neither exists.
    Result<uint64_t> phdr_address(uint64_t load_bias) const;

    // load_bias should be page-aligned (0 for ET_EXEC); a misaligned bias
    // yields a plan whose page-granular ranges do not match the image.
    LoadPlan plan_load(uint64_t load_bias) const;

private:
    ElfFile() = default;

    std::string name_;
    ElfType type_ = ElfType::exec;
    uint64_t entry_ = 0;
    uint64_t phoff_ = 0;
    uint16_t phentsize_ = 0;
    uint16_t phnum_ = 0;
    uint64_t file_size_ = 0;
    std::vector<LoadSegment> loads_;
    std::optional<std::string> interp_;
    std::optional<uint64_t> phdr_vaddr_;
    bool exec_stack_ = true;
};

// Bounds-checks every op of `plan` against a file of `file_size` bytes and
// guest RAM holding guest addresses [0, ram_size).
Result<void> check_load_plan(const LoadPlan& plan, uint64_t file_size, uint64_t ram_size);

// Applies `plan` to `guest_ram`, which holds guest addresses [0, size).
// Every op is bounds-checked (check_load_plan) before anything is written,
// so a failed call leaves guest_ram untouched.
Result<void> apply_load_plan(const LoadPlan& plan, std::span<const uint8_t> file,
                             std::span<uint8_t> guest_ram);

// The whole pages of a copy: page-aligned guest address and length, and the
// file offset that goes there (page-aligned too, since a copy's guest address
// and file offset agree modulo the page size). What may be mapped from the
// file instead of copied; the partial first and last page stay copies.
// length 0 when the copy has no whole page.
CopyOp whole_pages(const CopyOp& c);

// Reads a regular file into memory. Errors: "cannot open 'x': <strerror>",
// "'x' is not a regular file", "cannot read 'x': <strerror>".
Result<std::vector<uint8_t>> read_whole_file(const std::string& path);

// "AArch64", "i386", "RISC-V", ... or "machine 0x1234" for unknown values.
std::string elf_machine_name(uint16_t e_machine);

}  // namespace spanvm::process
