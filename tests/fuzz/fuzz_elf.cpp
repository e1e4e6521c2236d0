// fuzz-sources: vmm/process/loader/elf_file.cpp
// libFuzzer target: ElfFile::parse + plan_load + apply_load_plan on arbitrary
// bytes. Besides "no crash", it checks the invariants the loader relies on and
// aborts if one is broken.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "vmm/process/loader/elf_file.hpp"

using namespace spanvm::process;

namespace {

void require(bool ok) {
    if (!ok) std::abort();
}

void check_plan(const ElfFile& elf, const LoadPlan& plan, size_t file_size) {
    if (plan.address_overflow) return;
    std::vector<AddressRange> ops;
    for (const CopyOp& c : plan.copies) {
        require(c.file_offset <= file_size && c.length <= file_size - c.file_offset);
        ops.push_back({c.guest_addr, c.guest_addr + c.length});
    }
    for (const ZeroOp& z : plan.zeros) ops.push_back({z.guest_addr, z.guest_addr + z.length});
    std::sort(ops.begin(), ops.end(), [](const AddressRange& a, const AddressRange& b) { return a.start < b.start; });
    for (size_t i = 0; i < ops.size(); ++i) {
        require(ops[i].start <= ops[i].end);
        require(ops[i].start >= plan.span.start && ops[i].end <= plan.span.end);
        if (i) require(ops[i].start >= ops[i - 1].end);  // ops never overlap
    }
    require(plan.protections.size() == elf.load_segments().size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::span<const uint8_t> bytes(data, size);
    auto elf = ElfFile::parse(bytes, "fuzz");
    if (!elf) {
        require(!elf.error().message.empty());
        return 0;
    }
    const AddressRange span = elf->image_span();
    require(span.start <= span.end);
    (void)elf->phdr_address(0);
    (void)elf->interpreter();

    // Bias 0, a typical PIE bias, and one taken from the input (may overflow).
    uint64_t tail_bias = 0;
    if (size >= 8) std::memcpy(&tail_bias, data + size - 8, 8);
    for (uint64_t bias : {uint64_t{0}, uint64_t{0x200000}, tail_bias & ~uint64_t{0xfff}}) {
        (void)elf->phdr_address(bias);
        LoadPlan plan = elf->plan_load(bias);
        check_plan(*elf, plan, size);
        // Small guest RAM, rebased so small images fit: treat RAM as [0, 1 MiB).
        LoadPlan rebased = elf->plan_load(bias - span.start);
        check_plan(*elf, rebased, size);
        std::vector<uint8_t> ram(1 << 20, 0xAA);
        auto r = apply_load_plan(rebased, bytes, ram);
        if (r) {
            for (const ZeroOp& z : rebased.zeros)
                for (uint64_t a = z.guest_addr; a < z.guest_addr + z.length; ++a) require(ram[a] == 0);
        } else {
            require(!r.error().message.empty());
        }
        (void)apply_load_plan(plan, bytes, ram);
    }
    return 0;
}
