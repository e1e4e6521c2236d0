#include <doctest/doctest.h>

#include <dirent.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "vmm/process/syscalls/proc_fd_dir.hpp"

using spanvm::process::classify_proc_fd_dir;
using spanvm::process::ProcFdDir;
using spanvm::process::write_fd_dirents;

namespace {

struct Entry {
    std::string name;
    unsigned char type;
    int64_t off;
};

// Parses linux_dirent64 records as readdir(3) does.
std::vector<Entry> parse(const std::vector<uint8_t>& buf, int64_t n) {
    std::vector<Entry> out;
    for (int64_t at = 0; at < n;) {
        uint16_t reclen = 0;
        int64_t off = 0;
        std::memcpy(&off, buf.data() + at + 8, 8);
        std::memcpy(&reclen, buf.data() + at + 16, 2);
        REQUIRE(reclen % 8 == 0);
        REQUIRE(reclen >= 24);
        out.push_back({reinterpret_cast<const char*>(buf.data() + at + 19), buf[static_cast<size_t>(at) + 18], off});
        at += reclen;
    }
    return out;
}

}  // namespace

TEST_CASE("own /proc fd directories are recognised from their link, others are not") {
    CHECK(classify_proc_fd_dir("/proc/42/fd", 42) == ProcFdDir::fd);
    CHECK(classify_proc_fd_dir("/proc/42/fdinfo", 42) == ProcFdDir::fdinfo);
    CHECK(classify_proc_fd_dir("/proc/42/task/43/fd", 42) == ProcFdDir::fd);
    CHECK(classify_proc_fd_dir("/proc/42/task/43/fdinfo", 42) == ProcFdDir::fdinfo);
    CHECK(classify_proc_fd_dir("/proc/420/fd", 42) == ProcFdDir::none);
    CHECK(classify_proc_fd_dir("/proc/4/fd", 42) == ProcFdDir::none);
    CHECK(classify_proc_fd_dir("/proc/42/fd/3", 42) == ProcFdDir::none);
    CHECK(classify_proc_fd_dir("/proc/42/task//fd", 42) == ProcFdDir::none);
    CHECK(classify_proc_fd_dir("/proc/42/ns", 42) == ProcFdDir::none);
    CHECK(classify_proc_fd_dir("/tmp/proc/42/fd", 42) == ProcFdDir::none);
}

TEST_CASE("the listing is dot, dot-dot and the guest's fds, resumable from any position") {
    const std::vector<int> fds = {0, 1, 2, 7, 1000};
    std::vector<uint8_t> buf(4096);
    uint64_t pos = 0;
    int64_t n = write_fd_dirents(buf, pos, fds, ProcFdDir::fd);
    REQUIRE(n > 0);
    auto all = parse(buf, n);
    REQUIRE(all.size() == 7);
    CHECK(all[0].name == ".");
    CHECK(all[1].name == "..");
    CHECK(all[0].type == DT_DIR);
    CHECK(all[5].name == "7");
    CHECK(all[6].name == "1000");
    CHECK(all[6].type == DT_LNK);
    CHECK(all[5].off == 7 + 3);  // as Linux: an fd's position is its number + 2
    CHECK(all[6].off == 1000 + 3);
    CHECK(pos == 1003);
    // At the end: 0 bytes, as getdents64 returns at end of directory.
    CHECK(write_fd_dirents(buf, pos, fds, ProcFdDir::fd) == 0);

    SUBCASE("a small buffer takes several calls and loses nothing") {
        std::vector<uint8_t> small(48);  // two records of 24 bytes
        pos = 0;
        std::vector<std::string> names;
        for (int guard = 0; guard < 10; ++guard) {
            int64_t m = write_fd_dirents(small, pos, fds, ProcFdDir::fdinfo);
            REQUIRE(m >= 0);
            if (m == 0) break;
            for (auto& e : parse(small, m)) {
                names.push_back(e.name);
                if (e.name != "." && e.name != "..") CHECK(e.type == DT_REG);
            }
        }
        CHECK(names == std::vector<std::string>{".", "..", "0", "1", "2", "7", "1000"});
    }
    SUBCASE("a buffer too small for one record is EINVAL") {
        std::vector<uint8_t> tiny(16);
        pos = 3;
        CHECK(write_fd_dirents(tiny, pos, fds, ProcFdDir::fd) == -EINVAL);
        CHECK(pos == 3);
    }
    SUBCASE("fds closed between calls move none of the others") {
        // A reader with room for one record that closes each fd it reads.
        std::vector<int> live = {0, 1, 2, 3, 4, 5, 9, 11, 12};
        std::vector<uint8_t> one(24);
        pos = 2;
        std::vector<std::string> seen;
        for (int guard = 0; guard < 20; ++guard) {
            int64_t m = write_fd_dirents(one, pos, live, ProcFdDir::fd);
            REQUIRE(m >= 0);
            if (m == 0) break;
            auto e = parse(one, m);
            REQUIRE(e.size() == 1);
            seen.push_back(e[0].name);
            const int fd = std::stoi(e[0].name);
            if (fd >= 3) live.erase(std::find(live.begin(), live.end(), fd));
        }
        CHECK(seen == std::vector<std::string>{"0", "1", "2", "3", "4", "5", "9", "11", "12"});
        CHECK(live == std::vector<int>{0, 1, 2});
    }
    SUBCASE("a position between fds resumes at the next one") {
        pos = 5;  // fd 3, which is not open: the next is 7
        int64_t m = write_fd_dirents(buf, pos, fds, ProcFdDir::fd);
        auto e = parse(buf, m);
        REQUIRE(e.size() == 2);
        CHECK(e[0].name == "7");
        CHECK(e[1].name == "1000");
    }
}
