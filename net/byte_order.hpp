#pragma once
// Explicit little-endian load/store, byte by byte, so encoding does not depend
// on host byte order or struct layout. Compilers fold these into single moves.
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace spanvm::net {

template <typename T>
inline void store_le(std::uint8_t* p, T v) {
    static_assert(std::is_unsigned_v<T>);
    for (std::size_t i = 0; i < sizeof(T); ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

template <typename T>
inline T load_le(const std::uint8_t* p) {
    static_assert(std::is_unsigned_v<T>);
    T v = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i) v = static_cast<T>(v | (static_cast<T>(p[i]) << (8 * i)));
    return v;
}

}  // namespace spanvm::net
