// dsm::ChunkedArray: lazily filled chunks carved from shared slabs.
#include <doctest/doctest.h>

#include <cstdint>
#include <utility>

#include "vmm/dsm/protocol.hpp"

using spanvm::dsm::ChunkedArray;

namespace {
using Array = ChunkedArray<std::uint64_t>;
constexpr std::size_t kChunk = Array::kChunk;
// More chunks than one slab holds, so chunks come from several slabs.
constexpr std::size_t kChunks = 3 * Array::kSlabChunks + 5;
}  // namespace

TEST_CASE("untouched elements read as the initial value, touched ones keep what was written") {
    Array a(kChunks * kChunk, 7);
    CHECK(a.get(0) == 7);
    CHECK(a.get(kChunks * kChunk - 1) == 7);
    // Every other chunk, in an order that is not the chunks' order.
    for (std::size_t c = 0; c < kChunks; c += 2) a.at(((c * 5) % kChunks) * kChunk + c % kChunk) = 1000 + c;
    for (std::size_t c = 0; c < kChunks; c += 2) {
        const std::size_t base = ((c * 5) % kChunks) * kChunk;
        CHECK(a.get(base + c % kChunk) == 1000 + c);
        CHECK(a.get(base + (c + 1) % kChunk) == 7);  // the rest of a touched chunk holds `init`
    }
    std::size_t sevens = 0, total = 0;
    CHECK(a.all_of([&](std::uint64_t v) {
        ++total;
        sevens += v == 7;
        return v == 7 || v >= 1000;
    }));
    CHECK(total == ((kChunks + 1) / 2) * kChunk);  // only touched chunks are visited
    CHECK(total - sevens == (kChunks + 1) / 2);
}

TEST_CASE("a copy is independent, a move keeps the elements") {
    Array a(kChunks * kChunk, 0);
    for (std::size_t c = 0; c < kChunks; ++c) a.at(c * kChunk + 1) = c + 1;
    Array b = a;
    b.at(1) = 99;
    b.at((kChunks - 1) * kChunk + 2) = 98;
    CHECK(a.get(1) == 1);
    CHECK(a.get((kChunks - 1) * kChunk + 2) == 0);
    CHECK(b.get(kChunk + 1) == 2);
    Array m = std::move(b);
    CHECK(m.get(1) == 99);
    CHECK(m.get((kChunks - 1) * kChunk + 2) == 98);
    m.at(2) = 5;  // writable after the move
    CHECK(m.get(2) == 5);
    a = m;
    CHECK(a.get(1) == 99);
    CHECK(a.get(kChunk + 1) == 2);
}

TEST_CASE("elements in far-apart pointer blocks: the last element, copies and all_of see each") {
    // Four blocks of chunk pointers and a partial fifth; only three chunks
    // are touched, in the first, third and last block.
    constexpr std::size_t kPerBlock = Array::kBlockChunks * kChunk;
    constexpr std::size_t n = 4 * kPerBlock + 3 * kChunk + 1;
    Array a(n, 3);
    CHECK(a.get(n - 1) == 3);
    a.at(5) = 50;
    a.at(2 * kPerBlock + kChunk + 7) = 51;
    a.at(n - 1) = 52;
    CHECK(a.get(5) == 50);
    CHECK(a.get(2 * kPerBlock + kChunk + 7) == 51);
    CHECK(a.get(n - 1) == 52);
    CHECK(a.get(kPerBlock) == 3);  // an untouched block
    std::size_t visited = 0;
    CHECK(a.all_of([&](std::uint64_t v) {
        ++visited;
        return v == 3 || v >= 50;
    }));
    CHECK(visited == 3 * kChunk);
    Array b = a;
    b.at(n - 1) = 60;
    CHECK(a.get(n - 1) == 52);
    CHECK(b.get(n - 1) == 60);
    CHECK(b.get(2 * kPerBlock + kChunk + 7) == 51);
    CHECK_FALSE(b.all_of([](std::uint64_t v) { return v != 51; }));
}
