#pragma once
// `#!` interpreter lines, as Linux's binfmt_script reads them: the first line
// (at most 255 bytes after "#!"), an interpreter path, and optionally ONE
// argument, which is the rest of the line with surrounding blanks trimmed.
// Pure; used by Process::create to turn `script args` into
// `interp [arg] script args`.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "vmm/base/result.hpp"

namespace spanvm::process {

struct Shebang {
    std::string interpreter;
    std::optional<std::string> argument;
};

// nullopt if `file` does not start with "#!"; an error if it does but names
// no interpreter or the line is too long.
Result<std::optional<Shebang>> parse_shebang(std::span<const uint8_t> file);

// argv for the interpreter: interp [arg] script_path argv[1..].
std::vector<std::string> shebang_argv(const Shebang& s, const std::string& script_path,
                                      const std::vector<std::string>& argv);

}  // namespace spanvm::process
