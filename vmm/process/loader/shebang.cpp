#include "vmm/process/loader/shebang.hpp"

#include <cerrno>

namespace spanvm::process {

namespace {
constexpr size_t kMaxLine = 256;  // BINPRM_BUF_SIZE
bool blank(char c) { return c == ' ' || c == '\t'; }
}  // namespace

Result<std::optional<Shebang>> parse_shebang(std::span<const uint8_t> file) {
    if (file.size() < 2 || file[0] != '#' || file[1] != '!') return std::optional<Shebang>{};
    std::string line;
    size_t i = 2;
    for (; i < file.size() && file[i] != '\n'; ++i) {
        if (i >= kMaxLine) return make_error(ENOEXEC, "interpreter line longer than {} bytes", kMaxLine);
        line.push_back(static_cast<char>(file[i]));
    }
    size_t b = 0;
    while (b < line.size() && blank(line[b])) ++b;
    size_t e = b;
    while (e < line.size() && !blank(line[e])) ++e;
    if (b == e) return make_error(ENOEXEC, "'#!' line names no interpreter");
    Shebang s{line.substr(b, e - b), std::nullopt};
    size_t ab = e;
    while (ab < line.size() && blank(line[ab])) ++ab;
    size_t ae = line.size();
    while (ae > ab && (blank(line[ae - 1]) || line[ae - 1] == '\r')) --ae;
    if (ab < ae) s.argument = line.substr(ab, ae - ab);
    return std::optional<Shebang>{s};
}

std::vector<std::string> shebang_argv(const Shebang& s, const std::string& script_path,
                                      const std::vector<std::string>& argv) {
    std::vector<std::string> out{s.interpreter};
    if (s.argument) out.push_back(*s.argument);
    out.push_back(script_path);
    for (size_t i = 1; i < argv.size(); ++i) out.push_back(argv[i]);
    return out;
}

}  // namespace spanvm::process
