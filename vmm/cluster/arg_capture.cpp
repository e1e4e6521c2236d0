#include "vmm/cluster/arg_capture.hpp"

#include <cstring>

#include "vmm/cluster/arg_rules.hpp"

namespace spanvm::cluster {

namespace {

using memory::ArgRange;
constexpr std::uint64_t kPage = 4096;
constexpr std::uint64_t kIovecSize = 16;  // struct iovec: {u64 base, u64 len}

void add_string(memory::ArgMemory& s, std::uint64_t gva, std::span<const std::uint8_t> ram, std::uint64_t lo,
                const ArgReadable& readable) {
    if (gva < lo || gva >= ram.size()) return;
    const std::size_t avail = ram.size() - gva;
    std::size_t scan = avail < kPathMax ? avail : kPathMax;
    if (readable) {
        // Only as far as the guest may read: page by page from gva.
        std::size_t ok = 0;
        while (ok < scan) {
            const std::uint64_t at = gva + ok, chunk = kPage - (at % kPage);
            if (!readable(at, 1)) break;
            ok += chunk;
        }
        if (ok < scan) scan = ok;
        if (scan == 0) return;
    }
    const auto* p = ram.data() + gva;
    const void* nul = std::memchr(p, 0, scan);
    if (nul == nullptr) return;  // too long or runs off RAM: the executor reports it
    const auto n = static_cast<std::size_t>(static_cast<const std::uint8_t*>(nul) - p) + 1;
    s.ranges.push_back({gva, ArgRange::Kind::string, std::vector<std::uint8_t>(p, p + n)});
}

bool in_ram(std::uint64_t gva, std::uint64_t len, std::span<const std::uint8_t> ram, std::uint64_t lo,
            const ArgReadable& readable) {
    return gva >= lo && gva <= ram.size() && len <= ram.size() - gva && (!readable || readable(gva, len));
}

ArgRange input(std::uint64_t gva, std::uint64_t len, std::span<const std::uint8_t> ram) {
    return {gva, ArgRange::Kind::buffer, std::vector<std::uint8_t>(ram.data() + gva, ram.data() + gva + len)};
}

// The iovec array at `gva` and the buffers it names, all or none.
bool add_iovecs(std::vector<ArgRange>& data, std::uint64_t gva, std::uint64_t count,
                std::span<const std::uint8_t> ram, std::uint64_t lo, const ArgReadable& readable) {
    if (count == 0) return true;
    if (count > kMaxCapturedIovecs || !in_ram(gva, count * kIovecSize, ram, lo, readable)) return false;
    std::vector<ArgRange> got;
    got.push_back(input(gva, count * kIovecSize, ram));
    for (std::uint64_t i = 0; i < count; ++i) {
        std::uint64_t e[2];
        std::memcpy(e, ram.data() + gva + i * kIovecSize, sizeof e);
        if (e[1] == 0) continue;  // never dereferenced (GuestAccess::ptr of 0 bytes)
        if (e[1] > kMaxCapturedBuffer || !in_ram(e[0], e[1], ram, lo, readable)) return false;
        got.push_back(input(e[0], e[1], ram));
    }
    for (auto& r : got) data.push_back(std::move(r));
    return true;
}

bool overlap(const ArgRange& a, const ArgRange& b) {
    return a.gva < b.gva + b.bytes.size() && b.gva < a.gva + a.bytes.size();
}

// No two ranges overlap unless both are inputs; an input and an output of
// the same address and size become one inout range. False: some other
// overlap.
bool settle_overlaps(std::vector<ArgRange>& data) {
    for (std::size_t i = 0; i < data.size(); ++i) {
        for (std::size_t j = i + 1; j < data.size(); ++j) {
            ArgRange &a = data[i], &b = data[j];
            if (!overlap(a, b) || (a.kind == ArgRange::Kind::buffer && b.kind == ArgRange::Kind::buffer)) continue;
            const bool same = a.gva == b.gva && a.bytes.size() == b.bytes.size();
            ArgRange* in = a.kind == ArgRange::Kind::buffer ? &a : b.kind == ArgRange::Kind::buffer ? &b : nullptr;
            ArgRange* out = a.kind == ArgRange::Kind::output ? &a : b.kind == ArgRange::Kind::output ? &b : nullptr;
            if (!same || in == nullptr || out == nullptr) return false;
            out->kind = ArgRange::Kind::inout;
            out->bytes = std::move(in->bytes);
            data.erase(data.begin() + (in - data.data()));
            return settle_overlaps(data);  // at most kMaxArgRules merges
        }
    }
    return true;
}

}  // namespace

memory::ArgMemory capture_arg_memory(std::int64_t nr, const std::uint64_t (&args)[6],
                                     std::span<const std::uint8_t> ram, std::uint64_t lo,
                                     const ArgReadable& readable, const ArgReadable& writable) {
    memory::ArgMemory s;
    const ArgReadable& can_write = writable ? writable : readable;
    std::vector<ArgRange> data;  // the non-string ranges, all or none
    bool all = true;
    for (const ArgRule& r : arg_rules(nr, args)) {
        const std::uint64_t gva = args[r.arg];
        const std::uint64_t len = r.bytes(args);
        switch (r.use) {
            case ArgUse::none:
                break;
            case ArgUse::path:
                add_string(s, gva, ram, lo, readable);
                break;
            case ArgUse::in:
                // Not captured: the executor reads it through the DSM.
                if (gva != 0 && len != 0 && len <= kMaxCapturedBuffer && in_ram(gva, len, ram, lo, readable))
                    data.push_back(input(gva, len, ram));
                break;
            case ArgUse::out:
                if (gva == 0 || len == 0) break;
                if (len > kMaxCapturedBuffer || !in_ram(gva, len, ram, lo, can_write)) {
                    all = false;
                    break;
                }
                data.push_back({gva, ArgRange::Kind::output, std::vector<std::uint8_t>(len), r.store});
                break;
            case ArgUse::iovec_in:
                (void)add_iovecs(data, gva, len, ram, lo, readable);  // none: read through the DSM
                break;
        }
    }
    std::size_t total = 0;
    for (const auto& r : data) total += r.bytes.size();
    if (!all || total > kMaxCapturedBuffer || !settle_overlaps(data)) return s;
    for (auto& r : data) s.ranges.push_back(std::move(r));
    return s;
}

}  // namespace spanvm::cluster
