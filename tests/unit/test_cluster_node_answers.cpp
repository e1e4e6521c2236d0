// Which calls a node answers itself (vmm/cluster/node_answers), and the
// Spawn's proof and the Trap's thread words on the wire (cluster_messages).
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>

#include "vmm/cluster/cluster_messages.hpp"
#include "vmm/cluster/node_answers.hpp"

using namespace spanvm::cluster;
using spanvm::net::ByteView;
using spanvm::net::Bytes;

namespace {
constexpr std::uint64_t RLIMIT_STACK_NR = 3;  // RLIMIT_STACK
const std::uint64_t kCwd = static_cast<std::uint64_t>(static_cast<std::uint32_t>(AT_FDCWD));
LocalCallPlan plan(long nr, std::uint64_t a0 = 0, std::uint64_t a1 = 0, std::uint64_t a2 = 0, std::uint64_t a3 = 0,
                   std::uint64_t a4 = 0, NodeAnswers m = NodeAnswers::all) {
    const std::uint64_t a[6] = {a0, a1, a2, a3, a4, 0};
    return plan_local_call(nr, a, m);
}
}  // namespace

SCENARIO("the knob says which calls a node answers") {
    CHECK(parse_node_answers("all") == NodeAnswers::all);
    CHECK(parse_node_answers("thread") == NodeAnswers::thread);
    CHECK(parse_node_answers("off") == NodeAnswers::off);
    CHECK_FALSE(parse_node_answers("on").has_value());
    CHECK_FALSE(parse_node_answers("").has_value());
    GIVEN("the mode off") {
        THEN("only gettid and sched_yield stay on the node, as before") {
            CHECK(plan(SYS_gettid, 0, 0, 0, 0, 0, NodeAnswers::off).kind == LocalCall::gettid);
            CHECK(plan(SYS_sched_yield, 0, 0, 0, 0, 0, NodeAnswers::off).kind == LocalCall::sched_yield);
            CHECK(plan(SYS_rseq, 0, 0, 0, 0, 0, NodeAnswers::off).kind == LocalCall::none);
            CHECK(plan(SYS_readlink, 0x1000, 0x2000, 64, 0, 0, NodeAnswers::off).kind == LocalCall::none);
        }
    }
    GIVEN("the mode thread") {
        THEN("the per-thread calls stay, path lookups go") {
            CHECK(plan(SYS_rseq, 0, 0, 0, 0, 0, NodeAnswers::thread).kind == LocalCall::rseq);
            CHECK(plan(SYS_set_tid_address, 0x1000, 0, 0, 0, 0, NodeAnswers::thread).kind == LocalCall::set_tid_address);
            CHECK(plan(SYS_set_robust_list, 0x1000, 24, 0, 0, 0, NodeAnswers::thread).kind == LocalCall::set_robust_list);
            CHECK(plan(SYS_arch_prctl, 0x1002, 0x7000, 0, 0, 0, NodeAnswers::thread).kind == LocalCall::arch_set_fs);
            CHECK(plan(SYS_access, 0x1000, 0, 0, 0, 0, NodeAnswers::thread).kind == LocalCall::none);
        }
    }
}

SCENARIO("only reads of the process's own limits are answered") {
    THEN("prlimit64(0, res, NULL, old) and getrlimit are") {
        auto p = plan(SYS_prlimit64, 0, RLIMIT_STACK_NR, 0, 0x3000);
        CHECK(p.kind == LocalCall::rlimit);
        CHECK(p.mode == RLIMIT_STACK_NR);
        CHECK(p.out == 0x3000);
        CHECK(p.out_len == 16);
        auto g = plan(SYS_getrlimit, 9, 0x3000);
        CHECK(g.kind == LocalCall::rlimit);
        CHECK(g.mode == 9);
        CHECK(plan(SYS_getrlimit, 9, 0x3000, 0, 0, 0, NodeAnswers::off).kind == LocalCall::none);
    }
    THEN("another pid, a new limit, no buffer or an unknown resource are not") {
        CHECK(plan(SYS_prlimit64, 1234, RLIMIT_STACK_NR, 0, 0x3000).kind == LocalCall::none);
        CHECK(plan(SYS_prlimit64, 0, RLIMIT_STACK_NR, 0x2000, 0x3000).kind == LocalCall::none);
        CHECK(plan(SYS_prlimit64, 0, RLIMIT_STACK_NR, 0, 0).kind == LocalCall::none);
        CHECK(plan(SYS_prlimit64, 0, 16, 0, 0x3000).kind == LocalCall::none);
        CHECK(plan(SYS_getrlimit, 3, 0).kind == LocalCall::none);
    }
}

SCENARIO("a call with arguments Linux rejects is left to the origin") {
    THEN("arch_prctl other than ARCH_SET_FS is forwarded") {
        CHECK(plan(SYS_arch_prctl, 0x1001, 0x7000).kind == LocalCall::none);  // ARCH_SET_GS
        CHECK(plan(SYS_arch_prctl, 0x1003, 0x7000).kind == LocalCall::none);  // ARCH_GET_FS writes memory
    }
    THEN("path calls with unknown flags, modes or sizes are forwarded") {
        CHECK(plan(SYS_newfstatat, kCwd, 0x1000, 0x2000, 0x4000).kind == LocalCall::none);
        CHECK(plan(SYS_access, 0x1000, 8).kind == LocalCall::none);
        CHECK(plan(SYS_faccessat2, kCwd, 0x1000, 0, 0x400).kind == LocalCall::none);
        CHECK(plan(SYS_readlink, 0x1000, 0x2000, 0).kind == LocalCall::none);
        CHECK(plan(SYS_readlink, 0x1000, 0x2000, 0xFFFFFFFFu).kind == LocalCall::none);  // -1 as int
        CHECK(plan(SYS_statx, kCwd, 0x1000, 0x6000, 0x7FF, 0x2000).kind == LocalCall::none);
        CHECK(plan(SYS_statx, kCwd, 0x1000, 0, 0x80000000u, 0x2000).kind == LocalCall::none);
    }
    THEN("a NULL path (newfstatat's fd form) is forwarded") {
        CHECK(plan(SYS_newfstatat, 3, 0, 0x2000, AT_EMPTY_PATH).kind == LocalCall::none);
    }
}

SCENARIO("a path call is decoded for the node") {
    WHEN("lstat and newfstatat(AT_SYMLINK_NOFOLLOW)") {
        auto l = plan(SYS_lstat, 0x1000, 0x2000);
        auto n = plan(SYS_newfstatat, 5, 0x1000, 0x2000, AT_SYMLINK_NOFOLLOW);
        THEN("they stat the link itself into a 144-byte struct") {
            CHECK(l.kind == LocalCall::stat);
            CHECK_FALSE(l.follow);
            CHECK(l.dirfd_cwd);
            CHECK(l.out == 0x2000);
            CHECK(l.out_len == 144);
            CHECK(n.kind == LocalCall::stat);
            CHECK_FALSE(n.follow);
            CHECK_FALSE(n.dirfd_cwd);  // only an absolute path may then be answered
        }
    }
    WHEN("readlinkat, faccessat2 and statx") {
        auto r = plan(SYS_readlinkat, kCwd, 0x1000, 0x3000, 1023);
        auto a = plan(SYS_faccessat2, kCwd, 0x1000, 1, AT_EACCESS);
        auto s = plan(SYS_statx, kCwd, 0x1000, 0x2000, 0x7FF, 0x4000);
        THEN("their buffers, modes and flags are kept") {
            CHECK(r.kind == LocalCall::readlink);
            CHECK(r.out == 0x3000);
            CHECK(r.out_len == 1023);
            CHECK_FALSE(r.follow);
            CHECK(a.kind == LocalCall::access);
            CHECK(a.mode == 1);
            CHECK(a.eaccess);
            CHECK(s.kind == LocalCall::statx);
            CHECK(s.at_flags == 0x2000);
            CHECK(s.mask == 0x7FF);
            CHECK(s.out_len == 256);
        }
    }
}

SCENARIO("an open is planned only where its walk can fail the same way at the origin") {
    WHEN("open and openat read a file") {
        auto o = plan(SYS_open, 0x1000, O_RDONLY | O_CLOEXEC);
        auto a = plan(SYS_openat, 5, 0x1000, O_RDONLY | O_NOFOLLOW | O_NOCTTY);
        THEN("the node walks the path (following the last link or not)") {
            CHECK(o.kind == LocalCall::open);
            CHECK(o.dirfd_cwd);
            CHECK(o.follow);
            CHECK(o.out_len == 0);  // nothing is written: only a failed walk is answered
            CHECK(a.kind == LocalCall::open);
            CHECK(a.path == 0x1000);
            CHECK_FALSE(a.dirfd_cwd);
            CHECK_FALSE(a.follow);
        }
    }
    THEN("a creating open, O_TMPFILE, a NULL path or the mode thread are not") {
        CHECK(plan(SYS_open, 0x1000, O_WRONLY | O_CREAT | O_TRUNC, 0644).kind == LocalCall::none);
        CHECK(plan(SYS_openat, kCwd, 0x1000, O_RDWR | O_TMPFILE, 0600).kind == LocalCall::none);
        CHECK(plan(SYS_openat, kCwd, 0, O_RDONLY).kind == LocalCall::none);
        CHECK(plan(SYS_openat, kCwd, 0x1000, O_RDONLY, 0, 0, NodeAnswers::thread).kind == LocalCall::none);
    }
}

SCENARIO("sysinfo and small getrandoms are planned for the node") {
    THEN("sysinfo writes its 112 bytes, in the mode all only") {
        auto s = plan(SYS_sysinfo, 0x2000);
        CHECK(s.kind == LocalCall::sysinfo);
        CHECK(s.out == 0x2000);
        CHECK(s.out_len == 112);
        CHECK(plan(SYS_sysinfo, 0).kind == LocalCall::none);  // EFAULT: the origin's
        CHECK(plan(SYS_sysinfo, 0x2000, 0, 0, 0, 0, NodeAnswers::thread).kind == LocalCall::none);
    }
    THEN("getrandom up to kMaxLocalRandom bytes with known flags") {
        auto g = plan(SYS_getrandom, 0x2000, 8, 1);  // GRND_NONBLOCK, glibc's malloc
        CHECK(g.kind == LocalCall::getrandom);
        CHECK(g.out == 0x2000);
        CHECK(g.out_len == 8);
        CHECK(g.mode == 1);
        CHECK(plan(SYS_getrandom, 0x2000, kMaxLocalRandom, 0, 0, 0, NodeAnswers::thread).kind == LocalCall::getrandom);
        CHECK(plan(SYS_getrandom, 0x2000, 8, 0, 0, 0, NodeAnswers::off).kind == LocalCall::none);
    }
    THEN("a larger one, no buffer, no bytes, unknown flags or GRND_INSECURE|GRND_RANDOM go to the origin") {
        CHECK(plan(SYS_getrandom, 0x2000, kMaxLocalRandom + 1, 0).kind == LocalCall::none);
        CHECK(plan(SYS_getrandom, 0, 8, 0).kind == LocalCall::none);
        CHECK(plan(SYS_getrandom, 0x2000, 0, 0).kind == LocalCall::none);
        CHECK(plan(SYS_getrandom, 0x2000, 8, 8).kind == LocalCall::none);
        CHECK(plan(SYS_getrandom, 0x2000, 8, 6).kind == LocalCall::none);
    }
}

SCENARIO("only paths whose walk cannot depend on the process are answered") {
    THEN("ordinary absolute paths are") {
        CHECK(path_answerable("/usr/lib/gcc/x86_64-linux-gnu/12/include", ""));
        CHECK(path_answerable("/usr/lib/gcc/x86_64-linux-gnu/12/../../../../include/stdio.h", ""));
        CHECK(path_answerable("/", ""));
        CHECK(path_answerable("/tmp//x/./y/", ""));
    }
    THEN("/proc, /dev and /sys are not, however spelled") {
        CHECK_FALSE(path_answerable("/proc/self/exe", ""));
        CHECK_FALSE(path_answerable("/proc", ""));
        CHECK_FALSE(path_answerable("//proc/self", ""));
        CHECK_FALSE(path_answerable("/usr/../proc/1/status", ""));
        CHECK_FALSE(path_answerable("/../../dev/fd/0", ""));
        CHECK_FALSE(path_answerable("/sys/devices/system/cpu/online", ""));
        CHECK_FALSE(path_answerable("/./dev", ""));
    }
    THEN("names that only start like them are answered") {
        CHECK(path_answerable("/procfs/x", ""));
        CHECK(path_answerable("/usr/proc/x", ""));
        CHECK(path_answerable("/devices", ""));
    }
    THEN("a relative path needs the cwd, and is walked from it") {
        CHECK_FALSE(path_answerable("f0.c", ""));
        CHECK(path_answerable("f0.c", "/tmp/proj"));
        CHECK_FALSE(path_answerable("f0.c", "/proc/self"));
        CHECK_FALSE(path_answerable("../../proc/self/exe", "/tmp/proj"));
        CHECK(path_answerable("../../usr/include", "/tmp/proj"));
        CHECK_FALSE(path_answerable("proc/1", "/"));
        CHECK_FALSE(path_answerable("x", "relative/cwd"));
    }
    THEN("empty and over-long paths are not") {
        CHECK_FALSE(path_answerable("", "/"));
        CHECK_FALSE(path_answerable("/" + std::string(4095, 'a'), ""));
        CHECK(path_answerable("/" + std::string(4094, 'a'), ""));
    }
}

SCENARIO("calls that may change the credentials or the view end path answers") {
    for (long nr : {SYS_setuid, SYS_setresgid, SYS_setfsuid, SYS_setgroups, SYS_capset, SYS_prctl, SYS_execve,
                    SYS_chroot, SYS_unshare, SYS_setns, SYS_mount})
        CHECK(ends_path_answers(nr));
    for (long nr : {SYS_chdir, SYS_fchdir, SYS_openat, SYS_readlink, SYS_getuid, SYS_umask})
        CHECK_FALSE(ends_path_answers(nr));
}

SCENARIO("the Spawn carries the node answers and the file system proof") {
    GIVEN("a Spawn with a proof") {
        SpawnMsg m;
        m.tid = 77;
        m.channel_port = 4000;
        m.node_answers = static_cast<std::uint8_t>(NodeAnswers::all);
        m.fs.probe_path = "/tmp/.spanvm-fsprobe-1-ab";
        m.fs.probe_bytes = {1, 2, 3, 250};
        m.fs.boot_id = "b7c1\n";
        m.fs.mnt_ns = 4026531841ull;
        m.fs.pid_ns = 4026531836ull;
        m.fs.root_dev = 0x803;
        m.fs.root_ino = 2;
        m.fs.pid = 4242;
        m.fs.ids = {1000, 1000, 1000, 1000, 100, 100, 100, 100, 27, 44};
        m.fs.cap_effective = 0;
        m.fs.cap_permitted = 0x1'0000'0000ull;
        Bytes b = encode(m);
        THEN("it decodes to itself") {
            auto d = decode_spawn(b);
            REQUIRE(d.has_value());
            CHECK(d->tid == 77);
            CHECK(d->node_answers == m.node_answers);
            CHECK(d->fs == m.fs);
        }
        THEN("truncated, padded or with an unknown mode it is rejected") {
            for (std::size_t n = 0; n < b.size(); n += 7) CHECK_FALSE(decode_spawn(ByteView(b.data(), n)).has_value());
            Bytes longer = b;
            longer.push_back(0);
            CHECK_FALSE(decode_spawn(longer).has_value());
            m.node_answers = 3;
            CHECK_FALSE(decode_spawn(encode(m)).has_value());
        }
    }
}

SCENARIO("a Trap carries the thread words its node set") {
    TrapMsg t;
    t.tid = 9;
    WHEN("neither word changed") {
        auto d = decode_trap(encode(t));
        REQUIRE(d.has_value());
        THEN("none arrives") {
            CHECK_FALSE(d->clear_child_tid.has_value());
            CHECK_FALSE(d->robust_list.has_value());
        }
    }
    WHEN("both changed (a zero clear_child_tid is a change too)") {
        t.clear_child_tid = 0;
        t.robust_list = std::make_pair(0x7fff0000ull, 24ull);
        Bytes b = encode(t);
        auto d = decode_trap(b);
        REQUIRE(d.has_value());
        THEN("both arrive") {
            REQUIRE(d->clear_child_tid.has_value());
            CHECK(*d->clear_child_tid == 0);
            REQUIRE(d->robust_list.has_value());
            CHECK(d->robust_list->first == 0x7fff0000ull);
            CHECK(d->robust_list->second == 24);
        }
        THEN("a truncated one is rejected") { CHECK_FALSE(decode_trap(ByteView(b.data(), b.size() - 1)).has_value()); }
    }
}
