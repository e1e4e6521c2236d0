#include "vmm/cluster/node_local_calls.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysinfo.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "vmm/cluster/cluster_messages.hpp"
#include "vmm/memory/layout.hpp"
#include "vmm/process/syscalls/syscall_names.hpp"

namespace spanvm::cluster {

OwnedFd::~OwnedFd() {
    if (fd >= 0) ::close(fd);
}

OwnedFd& OwnedFd::operator=(OwnedFd&& o) noexcept {
    if (this != &o) {
        if (fd >= 0) ::close(fd);
        fd = std::exchange(o.fd, -1);
    }
    return *this;
}

namespace {

constexpr std::uint64_t kRobustListHeadSize = 24;  // sizeof(struct robust_list_head), x86-64

long raw(long nr, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0) {
    const long r = ::syscall(nr, a, b, c, d, e);
    return r == -1 ? -errno : r;
}
long P(const void* p) { return reinterpret_cast<long>(p); }


// The NUL-terminated path at `gva`, read where the guest may read; false
// when it is not (or has no NUL within PATH_MAX): the origin answers.
bool read_path(const NodeGuestRam& m, std::uint64_t gva, std::string& out) {
    out.clear();
    std::uint64_t a = gva;
    while (out.size() < kPathMax) {
        if (a < m.lo || a >= m.ram.size()) return false;
        const std::uint64_t page_end = (a & ~(memory::layout::kPageSize - 1)) + memory::layout::kPageSize;
        const std::uint64_t n = std::min<std::uint64_t>({page_end - a, kPathMax - out.size(), m.ram.size() - a});
        if (m.readable && !m.readable(a, n)) return false;
        const auto* p = m.ram.data() + a;
        if (const void* z = std::memchr(p, 0, n)) {
            out.append(reinterpret_cast<const char*>(p), static_cast<const std::uint8_t*>(z) - p);
            return true;
        }
        out.append(reinterpret_cast<const char*>(p), n);
        a += n;
    }
    return false;
}

bool guest_writable(const NodeGuestRam& m, std::uint64_t gva, std::uint64_t len) {
    if (gva < m.lo || gva > m.ram.size() || len > m.ram.size() - gva) return false;
    return !m.writable || m.writable(gva, len);
}

// The walk's errors that equal the origin's (see the header).
bool walk_error_answerable(long e) { return e == -ENOENT || e == -ENOTDIR || e == -EACCES || e == -ENAMETOOLONG; }

// fstat, or statx with `p`'s flags and mask, of the node file under guest fd
// `p.fd` into `out`; nullopt: not one the node keeps.
std::optional<long> node_file_stat(const NodeCallState& st, const LocalCallPlan& p, std::uint8_t* out) {
    if (!st.files) return std::nullopt;
    const auto it = st.node_files.find(p.fd);
    if (it == st.node_files.end()) return std::nullopt;
    const long r = p.kind == LocalCall::statx
                       ? raw(SYS_statx, it->second.fd.fd, P(""), static_cast<long>(AT_EMPTY_PATH | p.at_flags), p.mask,
                             P(out))
                       : raw(SYS_newfstatat, it->second.fd.fd, P(""), P(out), AT_EMPTY_PATH);
    if (r < 0) return std::nullopt;  // unexpected on a held descriptor: the origin answers
    return r;
}

// Runs a planned path call; nullopt: forward it.
std::optional<long> path_call(NodeCallState& st, const LocalCallPlan& p, const NodeGuestRam& m) {
    if (!st.paths) return std::nullopt;
    std::string path;
    if (!read_path(m, p.path, path)) return std::nullopt;
    if (p.out_len && !guest_writable(m, p.out, p.out_len)) return std::nullopt;
    if (path.empty() && p.empty_path && !p.dirfd_cwd) {
        // newfstatat(fd, "", AT_EMPTY_PATH) (glibc's fstat), statx alike.
        std::array<std::uint8_t, 256> out{};
        auto r = node_file_stat(st, p, out.data());
        if (r) std::memcpy(m.ram.data() + p.out, out.data(), p.out_len);
        return r;
    }
    const bool relative = !path.empty() && path[0] != '/';
    if (relative && !p.dirfd_cwd) return std::nullopt;
    int dir = AT_FDCWD;
    std::optional<OwnedFd> cwd;
    std::string cwd_path;
    if (relative) {
        // The guest's cwd now, as the origin's kernel would use it.
        cwd.emplace(::open(fmt::format("/proc/{}/cwd", st.origin_pid).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (cwd->fd < 0) return std::nullopt;
        char buf[kPathMax];
        const long n = raw(SYS_readlink, P(fmt::format("/proc/self/fd/{}", cwd->fd).c_str()), P(buf), sizeof buf);
        if (n <= 0 || n >= static_cast<long>(sizeof buf)) return std::nullopt;
        cwd_path.assign(buf, static_cast<std::size_t>(n));
        dir = cwd->fd;
    }
    if (!path_answerable(path, cwd_path)) return std::nullopt;
    open_how how{};
    how.flags = O_PATH | O_CLOEXEC | (p.follow ? 0 : O_NOFOLLOW);
    how.resolve = RESOLVE_NO_SYMLINKS;
    long o = raw(SYS_openat2, dir, P(path.c_str()), P(&how), sizeof how);
    if (o < 0 && p.kind == LocalCall::open && o == -ELOOP && st.files) {
        // A symlink on the way (/lib -> usr/lib): no walk error may be
        // answered, but the node may still keep the file, the origin's
        // (dev, ino) telling whether it is the one the origin opened.
        o = raw(SYS_openat, dir, P(path.c_str()), O_PATH | O_CLOEXEC | (p.follow ? 0 : O_NOFOLLOW));
        if (o < 0) return std::nullopt;
    }
    if (o < 0) return walk_error_answerable(o) ? std::optional<long>(o) : std::nullopt;
    OwnedFd fd(static_cast<int>(o));
    // A file system whose answers depend on the process (mounted elsewhere
    // than /proc, /sys or /dev): forwarded.
    struct statfs sf;
    if (::fstatfs(fd.fd, &sf) != 0) return std::nullopt;
    if (sf.f_type == PROC_SUPER_MAGIC || sf.f_type == SYSFS_MAGIC || sf.f_type == DEVPTS_SUPER_MAGIC)
        return std::nullopt;
    // The file exists: the origin opens it (its fd table gets the fd). A
    // regular file or directory is kept until the Resume (note_resume).
    if (p.kind == LocalCall::open) {
        struct stat s;
        if (st.files && ::fstat(fd.fd, &s) == 0 && (S_ISREG(s.st_mode) || S_ISDIR(s.st_mode))) {
            const bool read_only = (p.open_flags & O_ACCMODE) == O_RDONLY || (p.open_flags & O_PATH) != 0;
            NodeCallState::PendingOpen po;
            po.file.fd = std::move(fd);
            po.file.close_here = read_only;
            const int acc = static_cast<int>(p.open_flags & O_ACCMODE);
            po.file.readable = S_ISREG(s.st_mode) && (acc == O_RDONLY || acc == O_RDWR) &&
                               (p.open_flags & (O_PATH | O_DIRECT | O_NOATIME)) == 0;
            po.dev = static_cast<std::uint64_t>(s.st_dev);
            po.ino = static_cast<std::uint64_t>(s.st_ino);
            st.pending_open = std::move(po);
        }
        return std::nullopt;
    }
    std::array<std::uint8_t, 256> out{};
    long r = 0;
    switch (p.kind) {
        case LocalCall::stat: r = raw(SYS_newfstatat, fd.fd, P(""), P(out.data()), AT_EMPTY_PATH); break;
        case LocalCall::statx:
            r = raw(SYS_statx, fd.fd, P(""), static_cast<long>(AT_EMPTY_PATH | p.at_flags), p.mask, P(out.data()));
            break;
        case LocalCall::access:
            r = raw(SYS_faccessat2, fd.fd, P(""), p.mode, AT_EMPTY_PATH | (p.eaccess ? AT_EACCESS : 0));
            if (r == -ENOSYS || r == -EINVAL) return std::nullopt;  // a kernel without faccessat2's AT_EMPTY_PATH
            return r;
        case LocalCall::readlink: {
            struct stat s;
            if (::fstatat(fd.fd, "", &s, AT_EMPTY_PATH) != 0) return std::nullopt;
            if (!S_ISLNK(s.st_mode)) return -EINVAL;  // readlink of a non-symlink
            // A link's target is shorter than PATH_MAX: a larger buffer gets
            // no more bytes (the whole buffer was checked writable, as the
            // origin checks it).
            std::string target(std::min<std::uint64_t>(p.out_len, kPathMax), '\0');
            r = raw(SYS_readlinkat, fd.fd, P(""), P(target.data()), static_cast<long>(target.size()));
            if (r < 0) return std::nullopt;
            std::memcpy(m.ram.data() + p.out, target.data(), static_cast<std::size_t>(r));
            return r;
        }
        default: return std::nullopt;
    }
    if (r < 0) return std::nullopt;  // the walk succeeded: a failure here is unexpected
    std::memcpy(m.ram.data() + p.out, out.data(), p.out_len);
    return r;
}

// The origin's guest_prlimit (process_syscalls_misc.cpp) for a read of
// resource `res`; nullopt: forward it.
std::optional<long> rlimit_call(const NodeCallState& st, const LocalCallPlan& p, const NodeGuestRam& m) {
    if (!guest_writable(m, p.out, p.out_len)) return std::nullopt;
    struct rlimit cur {};
    switch (p.mode) {
        case RLIMIT_NOFILE: return std::nullopt;  // the origin's fd table
        // Constants of the run: the default stack, and --mem (this node's
        // RAM has the origin's size: the DSM handshake checks it).
        case RLIMIT_STACK: cur = {memory::layout::kDefaultStackSize, RLIM_INFINITY}; break;
        case RLIMIT_AS:
        case RLIMIT_DATA: cur = {m.ram.size(), m.ram.size()}; break;
        default:
            // The deputy's own host limit (its getrlimit), read live: only
            // where the same kernel and pid namespace and credentials are
            // proven (prlimit of another process needs them too).
            if (!st.paths || raw(SYS_prlimit64, st.origin_pid, p.mode, 0, P(&cur)) != 0) return std::nullopt;
    }
    static_assert(sizeof cur == 16);
    std::memcpy(m.ram.data() + p.out, &cur, sizeof cur);
    return 0;
}

// read/pread64 of a node file ("Node files" in the header); nullopt: forward.
std::optional<long> file_read(NodeCallState& st, const LocalCallPlan& p, const NodeGuestRam& m) {
    if (!st.files) return std::nullopt;
    const auto it = st.node_files.find(p.fd);
    if (it == st.node_files.end() || !it->second.readable) return std::nullopt;
    NodeFile& f = it->second;
    if (p.kind == LocalCall::read && !f.offset) return std::nullopt;
    if (!guest_writable(m, p.out, p.out_len)) return std::nullopt;
    if (f.rd.fd < 0) {
        f.rd = OwnedFd(::open(fmt::format("/proc/self/fd/{}", f.fd.fd).c_str(), O_RDONLY | O_CLOEXEC));
        if (f.rd.fd < 0) {
            f.readable = false;  // (a chmod since the origin's open): the origin reads
            return std::nullopt;
        }
    }
    const std::uint64_t at = p.kind == LocalCall::read ? *f.offset : p.offset;
    std::vector<std::uint8_t> buf(p.out_len);
    const long r = raw(SYS_pread64, f.rd.fd, P(buf.data()), static_cast<long>(buf.size()), static_cast<long>(at));
    if (r < 0) return std::nullopt;
    std::memcpy(m.ram.data() + p.out, buf.data(), static_cast<std::size_t>(r));
    if (p.kind == LocalCall::read && r > 0) {
        f.offset = at + static_cast<std::uint64_t>(r);
        f.owed = f.offset;
    }
    return r;
}

// lseek of a node file whose offset the node tracks: the new offset, owed
// to the origin like a read's; nullopt: forward (a negative or huge result,
// whose EINVAL is the origin's, or an offset the node does not track).
std::optional<long> file_seek(NodeCallState& st, const LocalCallPlan& p) {
    constexpr std::int64_t kMaxSeek = std::int64_t{1} << 40;  // below any file system's s_maxbytes here
    if (!st.files) return std::nullopt;
    const auto it = st.node_files.find(p.fd);
    if (it == st.node_files.end() || !it->second.readable || !it->second.offset) return std::nullopt;
    NodeFile& f = it->second;
    const auto off = static_cast<std::int64_t>(p.offset);
    if (off < -kMaxSeek || off > kMaxSeek) return std::nullopt;
    std::int64_t base = 0;
    if (p.mode == SEEK_CUR) {
        base = static_cast<std::int64_t>(*f.offset);
    } else if (p.mode == SEEK_END) {
        struct stat s;
        if (::fstat(f.fd.fd, &s) != 0) return std::nullopt;
        base = s.st_size;
    }
    const std::int64_t to = base + off;
    if (to < 0 || to > kMaxSeek) return std::nullopt;
    f.offset = static_cast<std::uint64_t>(to);
    f.owed = f.offset;
    return static_cast<long>(to);
}

// sysinfo: the host's, read here (the proof says this is the origin's
// kernel; the origin passes its own host's through). nullopt: forward it.
std::optional<long> sysinfo_call(const NodeCallState& st, const LocalCallPlan& p, const NodeGuestRam& m) {
    if (!st.paths || !guest_writable(m, p.out, p.out_len)) return std::nullopt;
    std::array<std::uint8_t, 112> out{};
    static_assert(sizeof(struct sysinfo) == 112);
    if (raw(SYS_sysinfo, P(out.data())) != 0) return std::nullopt;
    std::memcpy(m.ram.data() + p.out, out.data(), out.size());
    return 0;
}

// getrandom: this kernel's random bytes (the origin passes the host's
// through; a CSPRNG on another host is as good). Any failure (EAGAIN of
// GRND_NONBLOCK before the pool is ready, EINTR) is forwarded.
std::optional<long> getrandom_call(const LocalCallPlan& p, const NodeGuestRam& m) {
    if (!guest_writable(m, p.out, p.out_len)) return std::nullopt;
    std::array<std::uint8_t, kMaxLocalRandom> out{};
    const long r = raw(SYS_getrandom, P(out.data()), static_cast<long>(p.out_len), p.mode);
    if (r <= 0) return std::nullopt;
    std::memcpy(m.ram.data() + p.out, out.data(), static_cast<std::size_t>(r));
    return r;
}

}  // namespace

namespace {

bool answer_here(NodeCallState& st, platform::Vcpu& v, std::uint64_t& fs, const NodeGuestRam& mem,
                 const LocalCallPlan& p) {
    auto& r = v.regs();
    const std::uint64_t a[6] = {r.rdi, r.rsi, r.rdx, r.r10, r.r8, r.r9};
    long result = 0;
    switch (p.kind) {
        case LocalCall::none: return false;
        // The guest tid is the Spawn's; no other state is read.
        case LocalCall::gettid: result = st.tid; break;
        // A hint to this host's scheduler; nothing at the origin depends on it.
        case LocalCall::sched_yield: ::sched_yield(); break;
        // The origin answers every rseq with ENOSYS (glibc then runs without
        // it), reading nothing.
        case LocalCall::rseq: result = -ENOSYS; break;
        // The origin stores the word in the thread's row and returns the tid;
        // the row gets it with the next Trap, before anything there can read
        // it (it is read at the thread's exit, which is itself a Trap).
        case LocalCall::set_tid_address:
            st.clear_child_tid = a[0];
            result = st.tid;
            break;
        // As the origin: EINVAL unless the length is the head's size; the row
        // gets the pair with the next Trap (get_robust_list is a Trap too).
        case LocalCall::set_robust_list:
            if (a[1] != kRobustListHeadSize) {
                result = -EINVAL;
                break;
            }
            st.robust_list = std::make_pair(a[0], a[1]);
            break;
        // The origin's executor stores the base and answers 0; the node loads
        // it at the Resume. Loaded here at once and sent with every Trap; a
        // base this platform refuses is forwarded (the origin then fails the
        // run at the Resume, as before).
        case LocalCall::arch_set_fs:
            if (!v.set_fs_base(a[1])) return false;
            fs = a[1];
            break;
        case LocalCall::rlimit: {
            auto rl = rlimit_call(st, p, mem);
            if (!rl) return false;
            result = *rl;
            break;
        }
        case LocalCall::fstat: {
            if (!guest_writable(mem, p.out, p.out_len)) return false;
            std::array<std::uint8_t, 256> out{};
            auto fr = node_file_stat(st, p, out.data());
            if (!fr) return false;
            std::memcpy(mem.ram.data() + p.out, out.data(), p.out_len);
            result = *fr;
            break;
        }
        // A read-only node file: the origin closes it at the next Trap.
        case LocalCall::close: {
            const auto it = st.files ? st.node_files.find(p.fd) : st.node_files.end();
            if (it == st.node_files.end() || !it->second.close_here || st.closed.size() >= kMaxClosedFds) return false;
            st.node_files.erase(it);
            st.closed.push_back(p.fd);
            break;
        }
        case LocalCall::lseek: {
            auto sr = file_seek(st, p);
            if (!sr) return false;
            result = *sr;
            break;
        }
        case LocalCall::read:
        case LocalCall::pread: {
            auto rr = file_read(st, p, mem);
            if (!rr) return false;
            result = *rr;
            break;
        }
        case LocalCall::sysinfo: {
            auto si = sysinfo_call(st, p, mem);
            if (!si) return false;
            result = *si;
            break;
        }
        case LocalCall::getrandom: {
            auto gr = getrandom_call(p, mem);
            if (!gr) return false;
            result = *gr;
            break;
        }
        default: {
            auto pr = path_call(st, p, mem);
            if (!pr) return false;
            result = *pr;
            break;
        }
    }
    r.rax = static_cast<std::uint64_t>(result);
    v.mark_regs_dirty();
    ++st.answered;
    return true;
}

}  // namespace

bool answer_on_node(NodeCallState& st, platform::Vcpu& v, std::uint64_t& fs, const NodeGuestRam& mem) {
    const auto& r = v.regs();
    const auto nr = static_cast<std::int64_t>(r.rax);
    const std::uint64_t a[6] = {r.rdi, r.rsi, r.rdx, r.r10, r.r8, r.r9};
    LocalCallPlan p;
    st.pending_open.reset();
    if (ends_path_answers(nr)) {
        st.paths = false;
    } else {
        p = plan_local_call(nr, a, st.mode);
        if (answer_here(st, v, fs, mem, p)) return true;
    }
    // Forwarded: the offsets owed go with it, before anything below may
    // forget their files; then what it does to the fd table (node files).
    // A file forgotten with its offset known was the description's only fd.
    st.seeks = take_seeks(st);
    const FdEffect e = fd_effect(nr, a);
    switch (e.kind) {
        case FdEffect::Kind::none: break;
        case FdEffect::Kind::drop: st.node_files.erase(static_cast<std::int32_t>(e.first)); break;
        case FdEffect::Kind::range:
            for (auto it = st.node_files.begin(); it != st.node_files.end();) {
                const auto f = static_cast<std::uint32_t>(it->first);
                it = f >= e.first && f <= e.last ? st.node_files.erase(it) : std::next(it);
            }
            break;
        case FdEffect::Kind::end: st.files = false; break;
    }
    for (auto& [fd, f] : st.node_files)
        if (f.offset && may_use_offset(nr, a, fd)) f.offset.reset();
    if (!st.paths) st.files = false;
    if (!st.files) {
        st.node_files.clear();
        st.pending_open.reset();
    }
    auto& c = st.forwarded[nr];
    ++c.first;
    if (p.kind != LocalCall::none) ++c.second;
    return false;
}

void note_resume(NodeCallState& st, std::int64_t nr, std::int64_t ret,
                 const std::optional<std::pair<std::uint64_t, std::uint64_t>>& opened) {
    auto pending = std::exchange(st.pending_open, std::nullopt);
    if (!pending || !st.files || (nr != SYS_open && nr != SYS_openat) || ret < 0 || ret > INT32_MAX) return;
    // Another file than the walk found (renamed or replaced in between):
    // not kept.
    if (!opened || opened->first != pending->dev || opened->second != pending->ino) return;
    if (st.node_files.size() >= kMaxNodeFiles) return;
    pending->file.offset = 0;  // a new description
    st.node_files.insert_or_assign(static_cast<std::int32_t>(ret), std::move(pending->file));
}

std::vector<std::pair<std::int32_t, std::uint64_t>> take_seeks(NodeCallState& st) {
    auto out = std::exchange(st.seeks, {});
    for (auto& [fd, f] : st.node_files)
        if (auto o = std::exchange(f.owed, std::nullopt)) out.emplace_back(fd, *o);
    return out;
}

std::string forwarded_summary(const NodeCallState& st) {
    std::vector<std::pair<std::int64_t, std::pair<std::uint64_t, std::uint64_t>>> v(st.forwarded.begin(),
                                                                                   st.forwarded.end());
    std::stable_sort(v.begin(), v.end(), [](const auto& x, const auto& y) { return x.second.first > y.second.first; });
    std::string out;
    std::uint64_t total = 0;
    for (const auto& [nr, c] : v) {
        total += c.first;
        if (!out.empty()) out += ", ";
        out += fmt::format("{} {}", process::syscall_name(static_cast<std::uint64_t>(nr)), c.first);
        if (c.second) out += fmt::format(" (refused {})", c.second);
    }
    return fmt::format("{} forwarded: {}", total, out);
}

}  // namespace spanvm::cluster
