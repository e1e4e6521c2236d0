#pragma once
// The 512-byte FXSAVE image (SDM vol. 1, table 10-2) <-> its fields, the
// layout KVM's struct kvm_fpu also uses. Pure: plain arrays, so this stays
// free of <linux/kvm.h>.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace spanvm::arch::x86 {

// The XSAVE standard format around the FXSAVE area (SDM vol. 1, 13.4):
// bytes 464-511 are software's (Linux puts fpx_sw_bytes there), the XSAVE
// header follows at 512 and starts with XSTATE_BV, whose bits 0 and 1 say
// the x87 and SSE state in the legacy area are live (clear: XRSTOR loads
// their init values instead).
inline constexpr std::size_t kFxswBytesOffset = 464;
inline constexpr std::size_t kFxswBytesSize = 48;
inline constexpr std::size_t kXsaveHeaderOffset = 512;
inline constexpr uint64_t XFEATURE_MASK_FP = 1u << 0;
inline constexpr uint64_t XFEATURE_MASK_SSE = 1u << 1;

struct FxsaveFields {
    uint8_t fpr[8][16];
    uint16_t fcw, fsw;
    uint8_t ftwx;  // abridged tag word
    uint16_t last_opcode;
    uint64_t last_ip, last_dp;
    uint8_t xmm[16][16];
    uint32_t mxcsr;
};

// MXCSR_MASK is written as 0xFFFF.
std::vector<uint8_t> fxsave_image(const FxsaveFields& f);
// Fields of an image of at least 512 bytes (zero fields for a shorter one).
FxsaveFields parse_fxsave(std::span<const uint8_t> img512);

}  // namespace spanvm::arch::x86
