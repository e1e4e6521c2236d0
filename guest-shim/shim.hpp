#pragma once
// Host-side view of the guest shim (guest-shim/entry.S): where its entries
// are and which I/O port each entry's first instruction writes.
#include <cstdint>
#include <span>

extern "C" const uint8_t spanvm_shim_start[];
extern "C" const uint8_t spanvm_shim_end[];

namespace spanvm::shim {

inline constexpr uint64_t kSyscallEntryOffset = 0x000;
inline constexpr uint64_t kVectorEntryOffset = 0x100;
inline constexpr uint64_t kVectorEntryStride = 8;
inline constexpr uint16_t kSyscallPort = 0xE0;
inline constexpr uint16_t kExceptionPortBase = 0xA0;
inline constexpr unsigned kVectors = 32;
// Length of the `out imm8, al` instruction: RIP at the exit points past it.
inline constexpr uint64_t kOutInsnLength = 2;

inline std::span<const uint8_t> image() {
    return {spanvm_shim_start, static_cast<size_t>(spanvm_shim_end - spanvm_shim_start)};
}

}  // namespace spanvm::shim
