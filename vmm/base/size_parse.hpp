#pragma once
// Parses sizes such as "64M", "2G", "512MiB", "1048576" (bytes). Suffixes are
// binary (K = KiB). Pure; used for --mem.
#include <cstdint>
#include <string_view>

#include "vmm/base/result.hpp"

namespace spanvm {

Result<uint64_t> parse_size(std::string_view text);

}  // namespace spanvm
