#include <doctest/doctest.h>

#include <string>

#include "vmm/process/loader/shebang.hpp"

using namespace spanvm::process;

namespace {
std::span<const uint8_t> bytes(const std::string& s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
}  // namespace

SCENARIO("#! interpreter lines") {
    GIVEN("an ELF-looking file") {
        std::string f = "\x7f" "ELF....";
        THEN("it is not a script") {
            auto r = parse_shebang(bytes(f));
            REQUIRE(r.has_value());
            CHECK_FALSE(r->has_value());
        }
    }
    GIVEN("'#!/bin/sh' with no argument") {
        std::string f = "#!/bin/sh\necho hi\n";
        auto r = parse_shebang(bytes(f));
        REQUIRE(r.has_value());
        REQUIRE(r->has_value());
        THEN("the interpreter is /bin/sh and argv becomes sh script args") {
            CHECK((*r)->interpreter == "/bin/sh");
            CHECK_FALSE((*r)->argument.has_value());
            auto argv = shebang_argv(**r, "./s.sh", {"s.sh", "a", "b"});
            CHECK(argv == std::vector<std::string>{"/bin/sh", "./s.sh", "a", "b"});
        }
    }
    GIVEN("'#! /usr/bin/env  python3 -u ' with blanks and CRLF") {
        std::string f = "#! /usr/bin/env  python3 -u \r\nprint(1)\n";
        auto r = parse_shebang(bytes(f));
        REQUIRE(r.has_value());
        REQUIRE(r->has_value());
        THEN("the rest of the line is ONE argument, trimmed (Linux semantics)") {
            CHECK((*r)->interpreter == "/usr/bin/env");
            REQUIRE((*r)->argument.has_value());
            CHECK(*(*r)->argument == "python3 -u");
        }
    }
    GIVEN("'#!' followed only by blanks") {
        std::string f = "#!   \n";
        THEN("it is an error") { CHECK_FALSE(parse_shebang(bytes(f)).has_value()); }
    }
    GIVEN("an interpreter line longer than 256 bytes") {
        std::string f = "#!/" + std::string(300, 'x') + "\n";
        THEN("it is an error") { CHECK_FALSE(parse_shebang(bytes(f)).has_value()); }
    }
}
