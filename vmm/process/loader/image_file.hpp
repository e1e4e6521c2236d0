#pragma once
// ImageFile: a program (or its interpreter) opened for exec, and loading an
// ELF load plan from it into guest RAM.
//
// The file stays open from the checks of execve (#!, ELF headers) to the
// load, so what is loaded is what was checked even if the path is renamed
// or replaced meanwhile. Nothing reads the whole file: the checks read its
// head, its program headers and PT_INTERP (ElfFile::parse with a reader,
// which finds them in the first kPrefixBytes, read once at open);
// the load maps the segments' whole pages from the file where the caller can
// (a private copy-on-write file mapping in guest RAM, as Linux's
// load_elf_binary maps them) and reads the rest straight into guest RAM: a
// first page shared with the previous segment, and a bss segment's last
// file page (a segment without bss ends on a whole page, LoadPlan).
#include <algorithm>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "vmm/base/result.hpp"
#include "vmm/process/loader/elf_file.hpp"

namespace spanvm::process {

class ImageFile {
public:
    // Bytes of the start of the file that head() shows: a `#!` line
    // (BINPRM_BUF_SIZE).
    static constexpr uint64_t kHeadBytes = 256;
    // Bytes read at open, one pread: the ELF header, the program headers
    // and PT_INTERP of every usual image lie within them, so the checks and
    // the load (which parse the headers twice) read nothing more.
    static constexpr uint64_t kPrefixBytes = 4096;

    // Errors (with the errno execve would return): "cannot open 'x':
    // <strerror>", "'x' is a directory" (EISDIR), "'x' is not a regular
    // file" (EACCES), "cannot read 'x': <strerror>".
    static Result<ImageFile> open(const std::string& path);

    ImageFile(ImageFile&& o) noexcept;
    ImageFile& operator=(ImageFile&& o) noexcept;
    ImageFile(const ImageFile&) = delete;
    ImageFile& operator=(const ImageFile&) = delete;
    ~ImageFile();

    const std::string& path() const { return path_; }
    int fd() const { return fd_; }
    uint64_t size() const { return size_; }
    // The first min(size, kHeadBytes) bytes.
    std::span<const uint8_t> head() const {
        return std::span<const uint8_t>(prefix_).first(std::min<size_t>(prefix_.size(), kHeadBytes));
    }
    // Exactly out.size() bytes at `offset` (from the prefix read at open
    // where they lie in it, else pread); false on a short read.
    bool read(uint64_t offset, std::span<uint8_t> out) const;
    ElfReader reader() const;
    Result<ElfFile> parse_elf(std::string name) const { return ElfFile::parse(size_, reader(), std::move(name)); }

private:
    ImageFile() = default;
    std::string path_;
    int fd_ = -1;
    uint64_t size_ = 0;
    std::vector<uint8_t> prefix_;  // the first min(size, kPrefixBytes) bytes
};

// Maps file `fd` at `offset` over guest [guest_addr, +length) (whole pages)
// copy-on-write; false when it cannot (the range is then unchanged, zero-filled).
// `segment_flags` (kSegment*) are the segment's: the loader writes no byte
// of the pages it has mapped, so they may get its final protection now.
using PageMapper =
    std::function<bool(uint64_t guest_addr, uint64_t length, int fd, uint64_t offset, uint32_t segment_flags)>;

// Places `plan` (checked with check_load_plan first) in guest RAM `ram`
// (guest address a at ram.data() + a): the whole pages of each copy through
// `map` when it is set and maps them, every other byte of a copy read from
// `file`. Zero ops write only their partial pages: the caller loads into a
// range it has just mapped, which reads as zero (the address space's
// invariant), and the pages of a large bss stay untouched until the guest
// uses them, as on Linux. Returns how many bytes were mapped.
Result<uint64_t> load_plan_from_file(const LoadPlan& plan, const ImageFile& file, std::span<uint8_t> ram,
                                     const PageMapper& map);

}  // namespace spanvm::process
