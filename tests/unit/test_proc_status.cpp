// The guest's view of /proc/self/status (vmm/process/syscalls/proc_status.hpp):
// which paths are its own, and the lines spanvm replaces.
#include <doctest/doctest.h>

#include <string>

#include "vmm/process/syscalls/proc_status.hpp"

using namespace spanvm::process;

TEST_CASE("proc status: the caller's own status paths") {
    bool ts = true;
    CHECK(is_own_status_path("/proc/self/status", 42, ts));
    CHECK_FALSE(ts);
    CHECK(is_own_status_path("/proc/thread-self/status", 42, ts));
    CHECK(ts);
    CHECK(is_own_status_path("/proc/42/status", 42, ts));
    CHECK_FALSE(ts);
    CHECK_FALSE(is_own_status_path("/proc/43/status", 42, ts));      // another process: the host's
    CHECK_FALSE(is_own_status_path("/proc/42/task/44/status", 42, ts));
    CHECK_FALSE(is_own_status_path("/proc/self/stat", 42, ts));
    CHECK_FALSE(is_own_status_path("/proc/self/statusx", 42, ts));
    CHECK_FALSE(is_own_status_path("/proc/4x/status", 42, ts));
    CHECK_FALSE(is_own_status_path("/proc//status", 42, ts));
    CHECK_FALSE(is_own_status_path("/status", 42, ts));
}

TEST_CASE("proc status: spanvm's lines become the guest's, the others stay") {
    const std::string host =
        "Name:\tspanvm\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t42\nPid:\t42\nThreads:\t4\n"
        "SigQ:\t1/96367\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000000000\n"
        "SigBlk:\t000000003fcb6a07\nSigIgn:\t0000000000001000\nSigCgt:\t00000021400004d8\n"
        "NoNewPrivs:\t0\nSeccomp:\t0\nSeccomp_filters:\t0\nCpus_allowed_list:\t0-1\n";
    StatusFields f;
    f.threads = 2;
    f.sig_pending = 0x100;
    f.shared_pending = 0x4000;
    f.blocked = 0x10000;
    f.ignored = 0x6;
    f.caught = 0x10200;
    f.seccomp_mode = 2;
    f.seccomp_filters = 3;
    const std::string want =
        "Name:\tspanvm\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t42\nPid:\t42\nThreads:\t2\n"
        "SigQ:\t1/96367\nSigPnd:\t0000000000000100\nShdPnd:\t0000000000004000\n"
        "SigBlk:\t0000000000010000\nSigIgn:\t0000000000000006\nSigCgt:\t0000000000010200\n"
        "NoNewPrivs:\t0\nSeccomp:\t2\nSeccomp_filters:\t3\nCpus_allowed_list:\t0-1\n";
    CHECK(rewrite_status(host, f) == want);
    // No trailing newline, a line without a colon, lines the host lacks.
    CHECK(rewrite_status("Threads:\t9\nodd line\nName:\tx", f) == "Threads:\t2\nodd line\nName:\tx");
    CHECK(rewrite_status("", f).empty());
}
