#include "vmm/cluster/shared_fs.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "vmm/base/log.hpp"

namespace spanvm::cluster {

namespace {

constexpr std::size_t kProbeBytes = 32;

// Reads at most `max` bytes of a small file; false if it cannot.
bool read_small(const std::string& path, std::size_t max, std::vector<std::uint8_t>& out) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return false;
    out.assign(max + 1, 0);
    std::size_t n = 0;
    for (;;) {
        const ssize_t r = ::read(fd, out.data() + n, out.size() - n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        n += static_cast<std::size_t>(r);
        if (n == out.size()) break;
    }
    ::close(fd);
    out.resize(n);
    return n <= max;
}

bool inode_of(const char* path, std::uint64_t& dev, std::uint64_t& ino) {
    struct stat st;
    if (::stat(path, &st) != 0) return false;
    dev = st.st_dev;
    ino = st.st_ino;
    return true;
}

// The calling thread's view (raw calls: credentials are per thread).
bool read_view(SharedFsProof& p) {
    std::vector<std::uint8_t> boot;
    if (!read_small("/proc/sys/kernel/random/boot_id", 64, boot) || boot.empty()) return false;
    p.boot_id.assign(boot.begin(), boot.end());
    std::uint64_t dev = 0;
    if (!inode_of("/proc/self/ns/mnt", dev, p.mnt_ns) || !inode_of("/proc/self/ns/pid", dev, p.pid_ns) ||
        !inode_of("/", p.root_dev, p.root_ino))
        return false;
    p.pid = static_cast<std::int32_t>(::getpid());
    uid_t ru, eu, su;
    gid_t rg, eg, sg;
    if (::syscall(SYS_getresuid, &ru, &eu, &su) != 0 || ::syscall(SYS_getresgid, &rg, &eg, &sg) != 0) return false;
    // setfsuid/setfsgid with an invalid id change nothing and return the current one.
    const auto fu = static_cast<std::uint32_t>(::syscall(SYS_setfsuid, -1));
    const auto fg = static_cast<std::uint32_t>(::syscall(SYS_setfsgid, -1));
    p.ids = {ru, eu, su, fu, rg, eg, sg, fg};
    const long n = ::syscall(SYS_getgroups, 0, nullptr);
    if (n < 0) return false;
    std::vector<gid_t> groups(static_cast<std::size_t>(n));
    if (n > 0 && ::syscall(SYS_getgroups, n, groups.data()) != n) return false;
    for (gid_t g : groups) p.ids.push_back(g);
    __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct d[2]{};
    if (::syscall(SYS_capget, &h, d) != 0) return false;
    p.cap_effective = d[0].effective | (std::uint64_t{d[1].effective} << 32);
    p.cap_permitted = d[0].permitted | (std::uint64_t{d[1].permitted} << 32);
    return true;
}

// ruid == euid == suid == fsuid and likewise the gids.
bool ids_uniform(const std::vector<std::uint32_t>& ids) {
    if (ids.size() < 8) return false;
    for (int i = 1; i < 4; ++i)
        if (ids[i] != ids[0] || ids[4 + i] != ids[4]) return false;
    return true;
}

}  // namespace

void sweep_stale_probes(const std::string& dir) {
    DIR* d = ::opendir(dir.c_str());
    if (!d) return;
    const std::string prefix = ".spanvm-fsprobe-";
    while (const dirent* e = ::readdir(d)) {
        const std::string name = e->d_name;
        if (name.rfind(prefix, 0) != 0) continue;
        char* rest = nullptr;
        const long pid = std::strtol(name.c_str() + prefix.size(), &rest, 10);
        if (pid <= 0 || !rest || *rest != '-') continue;
        if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;  // alive (or not ours to judge)
        (void)::unlinkat(::dirfd(d), name.c_str(), 0);
    }
    ::closedir(d);
}

SharedFsProbe::~SharedFsProbe() {
    if (!path_.empty()) ::unlink(path_.c_str());
}

SharedFsProof SharedFsProbe::acquire() {
    SharedFsProof p;
    if (!read_view(p)) return {};
    std::lock_guard lk(mu_);
    if (path_.empty()) {
        sweep_stale_probes("/tmp");
        std::vector<std::uint8_t> b(kProbeBytes);
        std::uint64_t name = 0;
        if (::getrandom(b.data(), b.size(), 0) != static_cast<ssize_t>(b.size()) ||
            ::getrandom(&name, sizeof name, 0) != sizeof name)
            return {};
        std::string path = fmt::format("/tmp/.spanvm-fsprobe-{}-{:016x}", ::getpid(), name);
        const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
            log::info("shared file system: no probe in /tmp ({}); nodes forward path calls", std::strerror(errno));
            return {};
        }
        const bool ok = ::write(fd, b.data(), b.size()) == static_cast<ssize_t>(b.size());
        ::close(fd);
        if (!ok) {
            ::unlink(path.c_str());
            return {};
        }
        path_ = std::move(path);
        bytes_ = std::move(b);
    }
    ++users_;
    p.probe_path = path_;
    p.probe_bytes = bytes_;
    return p;
}

void SharedFsProbe::release() {
    std::lock_guard lk(mu_);
    if (users_ == 0 || --users_ > 0) return;
    if (!path_.empty()) ::unlink(path_.c_str());
    path_.clear();
    bytes_.clear();
}

bool verify_shared_fs(const SharedFsProof& p, std::string& why) {
    if (p.probe_path.empty()) {
        why = "the origin offered no proof";
        return false;
    }
    std::vector<std::uint8_t> seen;
    if (!read_small(p.probe_path, p.probe_bytes.size(), seen) || seen != p.probe_bytes) {
        why = fmt::format("the origin's probe {} is not here", p.probe_path);
        return false;
    }
    SharedFsProof mine;
    if (!read_view(mine)) {
        why = "this node's view cannot be read";
        return false;
    }
    if (mine.boot_id != p.boot_id) why = "another kernel (boot_id)";
    else if (mine.mnt_ns != p.mnt_ns) why = "another mount namespace";
    else if (mine.pid_ns != p.pid_ns) why = "another pid namespace";
    else if (mine.root_dev != p.root_dev || mine.root_ino != p.root_ino) why = "another root directory";
    else if (mine.ids != p.ids || !ids_uniform(p.ids)) why = "other (or mixed) credentials";
    else if (mine.cap_effective != p.cap_effective || mine.cap_permitted != p.cap_permitted) why = "other capabilities";
    else return true;
    return false;
}

}  // namespace spanvm::cluster
