// fuzz-sources: vmm/dsm/messages.cpp
// decode_message must never crash on arbitrary bytes, and whatever it accepts
// must re-encode to exactly the same bytes (the format has one encoding).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "vmm/dsm/messages.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::span<const std::byte> in(reinterpret_cast<const std::byte*>(data), size);
    auto m = spanvm::dsm::decode_message(in);
    if (!m) {
        if (m.error().message.empty()) std::abort();
        return 0;
    }
    auto again = spanvm::dsm::encode_message(*m);
    if (again.size() != size) std::abort();
    for (std::size_t i = 0; i < size; ++i)
        if (again[i] != in[i]) std::abort();
    if (!spanvm::dsm::validate_message(*m)) std::abort();
    return 0;
}
