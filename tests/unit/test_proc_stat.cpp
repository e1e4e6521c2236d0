// The guest's view of /proc/self/stat and the mm fields PR_SET_MM_MAP gives
// back (vmm/process/syscalls/proc_stat.hpp).
#include <doctest/doctest.h>

#include <string>

#include "vmm/process/syscalls/proc_stat.hpp"

using namespace spanvm::process;

namespace {
// A line as Linux 6.x writes it (52 fields), comm with a space and a ')'.
const std::string kHost =
    "4242 (a b) c) S 4000 4242 4000 34816 4242 4194304 120 0 0 0 3 1 0 0 20 0 4 0 123456 "
    "25165824 1500 18446744073709551615 93824992231424 93824992345000 140737488347136 0 0 "
    "4096 16384 0 65536 0 0 0 17 1 0 0 0 0 0 93824992355000 93824992356000 93824994000000 "
    "140737488349000 140737488349100 140737488349100 140737488350000 0\n";
}  // namespace

TEST_CASE("proc stat: the caller's own stat paths") {
    bool ts = true;
    CHECK(is_own_stat_path("/proc/self/stat", 42, ts));
    CHECK_FALSE(ts);
    CHECK(is_own_stat_path("/proc/thread-self/stat", 42, ts));
    CHECK(ts);
    CHECK(is_own_stat_path("/proc/42/stat", 42, ts));
    CHECK_FALSE(is_own_stat_path("/proc/43/stat", 42, ts));
    CHECK_FALSE(is_own_stat_path("/proc/self/status", 42, ts));
    CHECK_FALSE(is_own_stat_path("/proc/self/statm", 42, ts));
    CHECK_FALSE(is_own_stat_path("/proc/42/task/42/stat", 42, ts));
    CHECK_FALSE(is_own_stat_path("/proc/selfstat", 42, ts));
    CHECK_FALSE(is_own_stat_path("/proc//stat", 42, ts));
}

TEST_CASE("proc stat: num_threads and the four signal sets become the guest's") {
    StatusFields f;
    f.threads = 1;
    f.sig_pending = 1ULL << (10 - 1);           // SIGUSR1
    f.blocked = (1ULL << (2 - 1)) | (1ULL << 40);  // SIGINT, and an RT signal Linux leaves out
    f.ignored = 1ULL << (13 - 1);               // SIGPIPE
    f.caught = 1ULL << (17 - 1);                // SIGCHLD
    const std::string out = rewrite_stat(kHost, f);
    CHECK(out ==
          "4242 (a b) c) S 4000 4242 4000 34816 4242 4194304 120 0 0 0 3 1 0 0 20 0 1 0 123456 "
          "25165824 1500 18446744073709551615 93824992231424 93824992345000 140737488347136 0 0 "
          "512 2 4096 65536 0 0 0 17 1 0 0 0 0 0 93824992355000 93824992356000 93824994000000 "
          "140737488349000 140737488349100 140737488349100 140737488350000 0\n");
    // A line too short to hold field 34 is left alone.
    CHECK(rewrite_stat("1 (x) S 0 1", f) == "1 (x) S 0 1");
    CHECK(rewrite_stat("no comm here", f) == "no comm here");
}

TEST_CASE("proc stat: the mm fields PR_SET_MM_MAP must keep") {
    auto m = parse_stat_mm(kHost);
    REQUIRE(m);
    CHECK(m->start_code == 93824992231424ULL);
    CHECK(m->end_code == 93824992345000ULL);
    CHECK(m->start_stack == 140737488347136ULL);
    CHECK(m->start_data == 93824992355000ULL);
    CHECK(m->end_data == 93824992356000ULL);
    CHECK(m->start_brk == 93824994000000ULL);
    CHECK_FALSE(parse_stat_mm("1 (x) S 0 1 2 3"));
    std::string bad = kHost;
    bad.replace(bad.find("93824992231424"), 3, "9x8");
    CHECK_FALSE(parse_stat_mm(bad));
}
