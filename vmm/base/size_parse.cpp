#include "vmm/base/size_parse.hpp"

#include <cctype>
#include <string>

namespace spanvm {

Result<uint64_t> parse_size(std::string_view text) {
    size_t i = 0;
    uint64_t v = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
        uint64_t d = static_cast<uint64_t>(text[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return make_error(EINVAL, "size '{}' is too large", text);
        v = v * 10 + d;
        ++i;
    }
    if (i == 0) return make_error(EINVAL, "invalid size '{}' (expected e.g. 512M or 2G)", text);
    std::string suf(text.substr(i));
    for (auto& c : suf) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    unsigned shift = 0;
    if (suf.empty() || suf == "B") shift = 0;
    else if (suf == "K" || suf == "KB" || suf == "KIB") shift = 10;
    else if (suf == "M" || suf == "MB" || suf == "MIB") shift = 20;
    else if (suf == "G" || suf == "GB" || suf == "GIB") shift = 30;
    else if (suf == "T" || suf == "TB" || suf == "TIB") shift = 40;
    else return make_error(EINVAL, "invalid size suffix in '{}' (use K, M, G or T)", text);
    if (shift && v > (UINT64_MAX >> shift)) return make_error(EINVAL, "size '{}' is too large", text);
    return v << shift;
}

}  // namespace spanvm
