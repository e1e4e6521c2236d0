#include "vmm/process/loader/elf_file.hpp"

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <climits>
#include <cstring>

#include "vmm/memory/layout.hpp"

namespace spanvm::process {

namespace {

static_assert(std::endian::native == std::endian::little,
              "ELF structures are read with memcpy; the host must be little-endian like x86-64");
static_assert(sizeof(Elf64_Ehdr) == 64 && sizeof(Elf64_Phdr) == 56);
static_assert(kSegmentExec == PF_X && kSegmentWrite == PF_W && kSegmentRead == PF_R);

constexpr uint64_t kPage = memory::layout::kPageSize;
// Linux (load_elf_phdrs) refuses program header tables larger than this.
constexpr uint64_t kMaxPhdrTableBytes = 65536;
// read_whole_file() refuses bigger files rather than risk a huge allocation.
constexpr uint64_t kMaxFileBytes = 4ull << 30;

Error enoexec(std::string message) { return Error{ENOEXEC, std::move(message)}; }

uint16_t read_u16(std::span<const uint8_t> b, size_t off, bool big_endian) {
    uint16_t lo = b[off], hi = b[off + 1];
    return big_endian ? static_cast<uint16_t>((lo << 8) | hi) : static_cast<uint16_t>((hi << 8) | lo);
}

// a + b <= limit, without overflow.
bool fits(uint64_t a, uint64_t b, uint64_t limit) { return a <= limit && b <= limit - a; }

}  // namespace

std::string elf_machine_name(uint16_t m) {
    switch (m) {
        case EM_NONE: return "no machine (EM_NONE)";
        case EM_SPARC: return "SPARC";
        case EM_386: return "i386";
        case EM_68K: return "m68k";
        case EM_MIPS: return "MIPS";
        case EM_PARISC: return "PA-RISC";
        case EM_SPARCV9: return "SPARC64";
        case EM_PPC: return "PowerPC";
        case EM_PPC64: return "PowerPC64";
        case EM_S390: return "s390";
        case EM_ARM: return "ARM";
        case EM_SH: return "SuperH";
        case EM_IA_64: return "IA-64";
        case EM_X86_64: return "x86-64";
        case EM_AARCH64: return "AArch64";
        case EM_RISCV: return "RISC-V";
        case EM_BPF: return "BPF";
        case EM_LOONGARCH: return "LoongArch";
        default: return fmt::format("machine {:#x}", m);
    }
}

Result<ElfFile> ElfFile::parse(std::span<const uint8_t> bytes, std::string name) {
    return parse(bytes.size(), [bytes](uint64_t off, std::span<uint8_t> out) {
        if (!fits(off, out.size(), bytes.size())) return false;
        // An empty file's span has no data pointer: memcpy(0 bytes) from it
        // is still undefined.
        if (!out.empty()) std::memcpy(out.data(), bytes.data() + off, out.size());
        return true;
    }, std::move(name));
}

Result<ElfFile> ElfFile::parse(uint64_t size, const ElfReader& read, std::string name) {
    const std::string& n = name;
    auto unreadable = [&](const char* what) {
        return enoexec(fmt::format("'{}': cannot read its {} (the file changed while it was read?)", n, what));
    };
    // The header, or as much of it as the file has (the checks below name
    // what a short file lacks).
    std::vector<uint8_t> head(std::min<uint64_t>(size, sizeof(Elf64_Ehdr)));
    if (!read(0, head)) return unreadable("ELF header");
    const std::span<const uint8_t> bytes(head);

    if (size < SELFMAG || std::memcmp(bytes.data(), ELFMAG, SELFMAG) != 0) {
        if (size >= 2 && bytes[0] == '#' && bytes[1] == '!')
            return enoexec(fmt::format("'{}' is not an ELF file (it is a #! script; scripts are not supported)", n));
        return enoexec(fmt::format("'{}' is not an ELF file", n));
    }
    if (size < sizeof(Elf64_Ehdr)) {
        // e_machine sits at the same offset in 32- and 64-bit headers.
        if (size >= 20 && (bytes[EI_DATA] == ELFDATA2LSB || bytes[EI_DATA] == ELFDATA2MSB)) {
            uint16_t m = read_u16(bytes, 18, bytes[EI_DATA] == ELFDATA2MSB);
            if (m != EM_X86_64)
                return enoexec(fmt::format("'{}' is an ELF for {}, not x86-64", n, elf_machine_name(m)));
        }
        return enoexec(fmt::format("'{}' is truncated: the ELF header needs {} bytes, the file has {}", n,
                                   sizeof(Elf64_Ehdr), size));
    }
    const uint8_t cls = bytes[EI_CLASS], data = bytes[EI_DATA];
    if (cls != ELFCLASS32 && cls != ELFCLASS64)
        return enoexec(fmt::format("'{}' has an invalid ELF class (EI_CLASS={})", n, cls));
    if (data != ELFDATA2LSB && data != ELFDATA2MSB)
        return enoexec(fmt::format("'{}' has an invalid ELF data encoding (EI_DATA={})", n, data));
    const uint16_t machine = read_u16(bytes, 18, data == ELFDATA2MSB);
    if (machine != EM_X86_64)
        return enoexec(fmt::format("'{}' is an ELF for {}, not x86-64", n, elf_machine_name(machine)));
    if (cls != ELFCLASS64)
        return enoexec(fmt::format("'{}' is a 32-bit (x32) ELF; only 64-bit x86-64 is supported", n));
    if (data != ELFDATA2LSB)
        return enoexec(fmt::format("'{}' is a big-endian ELF; x86-64 is little-endian", n));

    Elf64_Ehdr eh;
    std::memcpy(&eh, bytes.data(), sizeof eh);

    ElfFile f;
    switch (eh.e_type) {
        case ET_EXEC: f.type_ = ElfType::exec; break;
        case ET_DYN: f.type_ = ElfType::dyn; break;
        case ET_REL:
            return enoexec(fmt::format("'{}' is a relocatable object file (ET_REL), not an executable", n));
        case ET_CORE: return enoexec(fmt::format("'{}' is a core dump (ET_CORE), not an executable", n));
        default: return enoexec(fmt::format("'{}' has unsupported ELF type {:#x}", n, eh.e_type));
    }
    if (eh.e_phentsize != sizeof(Elf64_Phdr))
        return enoexec(fmt::format("'{}' has e_phentsize {}, expected {}", n, eh.e_phentsize, sizeof(Elf64_Phdr)));
    if (eh.e_phnum == 0) return enoexec(fmt::format("'{}' has no program headers", n));
    const uint64_t table_bytes = uint64_t{eh.e_phnum} * sizeof(Elf64_Phdr);
    if (table_bytes > kMaxPhdrTableBytes)
        return enoexec(fmt::format("'{}' has too many program headers ({})", n, eh.e_phnum));
    if (!fits(eh.e_phoff, table_bytes, size))
        return enoexec(fmt::format("'{}' is truncated: its program headers (offset {:#x}, {} bytes) end past "
                                   "the end of the file ({:#x} bytes)",
                                   n, eh.e_phoff, table_bytes, size));

    f.entry_ = eh.e_entry;
    f.phoff_ = eh.e_phoff;
    f.phentsize_ = eh.e_phentsize;
    f.phnum_ = eh.e_phnum;
    f.file_size_ = size;

    std::vector<uint8_t> table(table_bytes);
    if (!read(eh.e_phoff, table)) return unreadable("program headers");
    bool saw_gnu_stack = false;
    for (unsigned i = 0; i < eh.e_phnum; ++i) {
        Elf64_Phdr ph;
        std::memcpy(&ph, table.data() + uint64_t{i} * sizeof ph, sizeof ph);
        switch (ph.p_type) {
            case PT_LOAD: {
                if (ph.p_memsz == 0) break;  // Contributes nothing; Linux maps nothing for it either.
                if (ph.p_filesz > ph.p_memsz)
                    return enoexec(fmt::format("'{}': PT_LOAD (program header {}) has p_filesz {:#x} > p_memsz {:#x}",
                                               n, i, ph.p_filesz, ph.p_memsz));
                // A bss-only segment (filesz 0) reads nothing from the file, so its
                // p_offset only has to be congruent, like in Linux.
                if (ph.p_filesz > 0 && !fits(ph.p_offset, ph.p_filesz, size))
                    return enoexec(fmt::format("'{}' is truncated: PT_LOAD (program header {}) needs file bytes "
                                               "[{:#x}, +{:#x}), the file has {:#x}",
                                               n, i, ph.p_offset, ph.p_filesz, size));
                // The end, rounded up to a page, must not wrap.
                if (!fits(ph.p_vaddr, ph.p_memsz, UINT64_MAX - (kPage - 1)))
                    return enoexec(fmt::format("'{}': PT_LOAD (program header {}) at {:#x} size {:#x} wraps the "
                                               "address space", n, i, ph.p_vaddr, ph.p_memsz));
                if ((ph.p_vaddr ^ ph.p_offset) & (kPage - 1))
                    return enoexec(fmt::format("'{}': PT_LOAD (program header {}) has p_vaddr {:#x} and p_offset "
                                               "{:#x} that differ modulo the page size",
                                               n, i, ph.p_vaddr, ph.p_offset));
                if (!f.loads_.empty()) {
                    const LoadSegment& prev = f.loads_.back();
                    if (ph.p_vaddr < prev.vaddr)
                        return enoexec(fmt::format("'{}': PT_LOAD segments are not sorted by address (program "
                                                   "header {} at {:#x} follows one at {:#x})",
                                                   n, i, ph.p_vaddr, prev.vaddr));
                    if (ph.p_vaddr < prev.vaddr + prev.memsz)
                        return enoexec(fmt::format("'{}': PT_LOAD (program header {}) at {:#x} overlaps the "
                                                   "previous one, which ends at {:#x}",
                                                   n, i, ph.p_vaddr, prev.vaddr + prev.memsz));
                }
                f.loads_.push_back(LoadSegment{ph.p_vaddr, ph.p_memsz, ph.p_filesz, ph.p_offset, ph.p_align,
                                               ph.p_flags & (PF_R | PF_W | PF_X)});
                break;
            }
            case PT_INTERP: {
                if (f.interp_) return enoexec(fmt::format("'{}' has more than one PT_INTERP", n));
                if (ph.p_filesz < 2 || ph.p_filesz > PATH_MAX)
                    return enoexec(fmt::format("'{}' has a PT_INTERP of invalid size {}", n, ph.p_filesz));
                if (!fits(ph.p_offset, ph.p_filesz, size))
                    return enoexec(fmt::format("'{}' is truncated: PT_INTERP [{:#x}, +{:#x}) is past the end of "
                                               "the file ({:#x} bytes)", n, ph.p_offset, ph.p_filesz, size));
                std::vector<uint8_t> interp(ph.p_filesz);
                if (!read(ph.p_offset, interp)) return unreadable("PT_INTERP");
                const char* s = reinterpret_cast<const char*>(interp.data());
                if (s[ph.p_filesz - 1] != '\0')
                    return enoexec(fmt::format("'{}': PT_INTERP is not NUL-terminated", n));
                // Like Linux, the path ends at the first NUL.
                std::string path(s, ::strnlen(s, ph.p_filesz));
                if (path.empty()) return enoexec(fmt::format("'{}': PT_INTERP is an empty path", n));
                f.interp_ = std::move(path);
                break;
            }
            case PT_PHDR:
                if (!f.phdr_vaddr_) f.phdr_vaddr_ = ph.p_vaddr;
                break;
            case PT_GNU_STACK:
                if (!saw_gnu_stack) f.exec_stack_ = (ph.p_flags & PF_X) != 0;
                saw_gnu_stack = true;
                break;
            default: break;
        }
    }
    if (f.loads_.empty()) return enoexec(fmt::format("'{}' has no loadable (PT_LOAD) segments", n));
    f.name_ = std::move(name);
    return f;
}

AddressRange ElfFile::image_span() const {
    // loads_ is non-empty and sorted; the last segment has the highest end
    // because segments do not overlap.
    const LoadSegment& first = loads_.front();
    const LoadSegment& last = loads_.back();
    return {memory::layout::page_align_down(first.vaddr), memory::layout::page_align_up(last.vaddr + last.memsz)};
}

Result<uint64_t> ElfFile::phdr_address(uint64_t load_bias) const {
    if (phdr_vaddr_) return *phdr_vaddr_ + load_bias;
    const uint64_t table_bytes = uint64_t{phnum_} * phentsize_;
    for (const LoadSegment& s : loads_) {
        if (s.offset <= phoff_ && phoff_ - s.offset <= s.filesz && table_bytes <= s.filesz - (phoff_ - s.offset))
            return s.vaddr + (phoff_ - s.offset) + load_bias;
    }
    return enoexec(fmt::format("'{}' does not map its program headers (no PT_PHDR, and no PT_LOAD contains "
                               "file offset {:#x})", name_, phoff_));
}

LoadPlan ElfFile::plan_load(uint64_t load_bias) const {
    LoadPlan plan;
    plan.load_bias = load_bias;
    const AddressRange span = image_span();
    uint64_t ignored;
    if (__builtin_add_overflow(span.end, load_bias, &ignored)) {
        plan.address_overflow = true;
        return plan;
    }
    plan.entry = entry_ + load_bias;
    plan.span = {span.start + load_bias, span.end + load_bias};

    for (size_t i = 0; i < loads_.size(); ++i) {
        const LoadSegment& s = loads_[i];
        const uint64_t end = s.vaddr + s.memsz;
        // [lo, hi): the bytes this segment owns, i.e. its pages minus any part
        // of a shared first/last page that belongs to a neighbour.
        uint64_t lo = memory::layout::page_align_down(s.vaddr);
        if (i > 0) lo = std::max(lo, loads_[i - 1].vaddr + loads_[i - 1].memsz);
        uint64_t hi = memory::layout::page_align_up(end);
        if (i + 1 < loads_.size()) hi = std::min(hi, std::max(memory::layout::page_align_down(loads_[i + 1].vaddr), end));

        uint64_t zero_from = lo;
        if (s.filesz > 0) {
            // lo <= vaddr and vaddr - lo <= vaddr % page == offset % page, so
            // the head bytes come from inside the file.
            const uint64_t head = s.vaddr - lo;
            uint64_t len = head + s.filesz;
            // Linux maps a segment's file pages whole and zeroes only from
            // p_filesz to p_memsz (elf_load): in a segment without bss the
            // rest of its last page is the file's bytes, up to the file's
            // end. So here too, within the bytes this segment owns; whole
            // pages can then be mapped rather than read (load_plan_from_file).
            if (s.memsz == s.filesz && file_size_ > s.offset - head)
                len = std::max(len, std::min(hi - lo, file_size_ - (s.offset - head)));
            plan.copies.push_back(CopyOp{s.offset - head, len, lo + load_bias, s.flags});
            zero_from = lo + len;
        }
        if (hi > zero_from) plan.zeros.push_back(ZeroOp{zero_from + load_bias, hi - zero_from});
        plan.protections.push_back(
            SegmentProtection{{memory::layout::page_align_down(s.vaddr) + load_bias, memory::layout::page_align_up(end) + load_bias},
                              s.flags});
    }
    return plan;
}

Result<void> check_load_plan(const LoadPlan& plan, uint64_t file_size, uint64_t ram_size) {
    if (plan.address_overflow)
        return make_error(EINVAL, "load bias {:#x} pushes the image past the end of the address space",
                          plan.load_bias);
    uint64_t needs = 0;
    auto guest_end = [](uint64_t addr, uint64_t len, uint64_t& out) { return !__builtin_add_overflow(addr, len, &out); };
    for (const CopyOp& c : plan.copies) {
        if (!fits(c.file_offset, c.length, file_size))
            return make_error(EINVAL, "load plan reads file bytes [{:#x}, +{:#x}) past the end of the file ({:#x} bytes)",
                              c.file_offset, c.length, file_size);
        uint64_t e;
        if (!guest_end(c.guest_addr, c.length, e))
            return make_error(ENOMEM, "image does not fit in guest memory (segment at {:#x} wraps the address space)",
                              c.guest_addr);
        needs = std::max(needs, e);
    }
    for (const ZeroOp& z : plan.zeros) {
        uint64_t e;
        if (!guest_end(z.guest_addr, z.length, e))
            return make_error(ENOMEM, "image does not fit in guest memory (segment at {:#x} wraps the address space)",
                              z.guest_addr);
        needs = std::max(needs, e);
    }
    if (needs > ram_size)
        return make_error(ENOMEM, "image does not fit in guest memory (needs up to {:#x}, have {:#x})", needs, ram_size);
    return {};
}

Result<void> apply_load_plan(const LoadPlan& plan, std::span<const uint8_t> file, std::span<uint8_t> guest_ram) {
    if (auto r = check_load_plan(plan, file.size(), guest_ram.size()); !r) return r;
    for (const CopyOp& c : plan.copies)
        if (c.length) std::memcpy(guest_ram.data() + c.guest_addr, file.data() + c.file_offset, c.length);
    for (const ZeroOp& z : plan.zeros)
        if (z.length) std::memset(guest_ram.data() + z.guest_addr, 0, z.length);
    return {};
}

CopyOp whole_pages(const CopyOp& c) {
    const uint64_t a = memory::layout::page_align_up(c.guest_addr);
    const uint64_t b = memory::layout::page_align_down(c.guest_addr + c.length);
    if (a >= b || a < c.guest_addr) return CopyOp{0, 0, a, c.flags};  // no whole page (or the rounding wrapped)
    return CopyOp{c.file_offset + (a - c.guest_addr), b - a, a, c.flags};
}

Result<std::vector<uint8_t>> read_whole_file(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno_error(fmt::format("cannot open '{}'", path));
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};

    struct stat st;
    if (::fstat(fd, &st) != 0) return errno_error(fmt::format("cannot stat '{}'", path));
    if (S_ISDIR(st.st_mode)) return make_error(EISDIR, "'{}' is a directory", path);
    if (!S_ISREG(st.st_mode)) return make_error(EACCES, "'{}' is not a regular file", path);
    if (static_cast<uint64_t>(st.st_size) > kMaxFileBytes)
        return make_error(EFBIG, "'{}' is too large ({} bytes, limit {})", path, st.st_size, kMaxFileBytes);

    std::vector<uint8_t> out(static_cast<size_t>(st.st_size));
    size_t done = 0;
    while (done < out.size()) {
        ssize_t r = ::read(fd, out.data() + done, out.size() - done);
        if (r < 0) {
            if (errno == EINTR) continue;
            return errno_error(fmt::format("cannot read '{}'", path));
        }
        if (r == 0) break;  // Shrunk while reading: keep what is there.
        done += static_cast<size_t>(r);
    }
    out.resize(done);
    return out;
}

}  // namespace spanvm::process
