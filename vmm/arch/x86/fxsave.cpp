#include "vmm/arch/x86/fxsave.hpp"

#include <cstring>

namespace spanvm::arch::x86 {

namespace {
template <typename T>
void put(std::vector<uint8_t>& b, size_t off, T v) {
    std::memcpy(b.data() + off, &v, sizeof v);
}
template <typename T>
T get(std::span<const uint8_t> b, size_t off) {
    T v;
    std::memcpy(&v, b.data() + off, sizeof v);
    return v;
}
}  // namespace

std::vector<uint8_t> fxsave_image(const FxsaveFields& f) {
    std::vector<uint8_t> b(512, 0);
    put<uint16_t>(b, 0, f.fcw);
    put<uint16_t>(b, 2, f.fsw);
    b[4] = f.ftwx;
    put<uint16_t>(b, 6, f.last_opcode);
    put<uint64_t>(b, 8, f.last_ip);
    put<uint64_t>(b, 16, f.last_dp);
    put<uint32_t>(b, 24, f.mxcsr);
    put<uint32_t>(b, 28, 0xFFFF);  // MXCSR_MASK
    std::memcpy(b.data() + 32, f.fpr, sizeof f.fpr);
    std::memcpy(b.data() + 160, f.xmm, sizeof f.xmm);
    return b;
}

FxsaveFields parse_fxsave(std::span<const uint8_t> b) {
    FxsaveFields f{};
    if (b.size() < 512) return f;
    f.fcw = get<uint16_t>(b, 0);
    f.fsw = get<uint16_t>(b, 2);
    f.ftwx = b[4];
    f.last_opcode = get<uint16_t>(b, 6);
    f.last_ip = get<uint64_t>(b, 8);
    f.last_dp = get<uint64_t>(b, 16);
    f.mxcsr = get<uint32_t>(b, 24);
    std::memcpy(f.fpr, b.data() + 32, sizeof f.fpr);
    std::memcpy(f.xmm, b.data() + 160, sizeof f.xmm);
    return f;
}

}  // namespace spanvm::arch::x86
