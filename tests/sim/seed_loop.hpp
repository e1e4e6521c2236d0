#pragma once
// The seed loop of both simulators (dsm_sim, layout_sim): consecutive seeds
// from `first`, each run by `run_seed`, and the --expect-failure rule (with
// a planted bug some seed must fail, or the checker missed it).
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace spanvm::sim {

struct SeedFailure {
    std::string what;       // the check that failed
    std::string reproduce;  // the command line that runs this seed alone
};

// The exit status: 0 when every seed passed, or when one failed under
// expect_failure; 1 otherwise. Prints the failing seed (or the missed bug)
// to stderr, prefixed with `tool`. The caller prints its totals only when
// this returns 0 and expect_failure is false.
inline int run_seeds(std::string_view tool, std::uint64_t first, std::uint64_t count, bool expect_failure,
                     std::string_view bug, const std::function<std::optional<SeedFailure>(std::uint64_t)>& run_seed) {
    for (std::uint64_t i = 0; i < count; ++i) {
        const std::uint64_t seed = first + i;
        if (auto f = run_seed(seed)) {
            fmt::print(stderr, "{}: {} seed {}: {}\n  reproduce: {}\n", tool,
                       expect_failure ? "expected failure at" : "FAIL", seed, f->what, f->reproduce);
            return expect_failure ? 0 : 1;
        }
    }
    if (expect_failure) {
        fmt::print(stderr, "{}: expected a failure with --bug {}, but {} seeds passed\n", tool, bug, count);
        return 1;
    }
    return 0;
}

}  // namespace spanvm::sim
