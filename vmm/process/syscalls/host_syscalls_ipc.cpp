// Host syscalls for System V semaphores and message queues, the System V
// shared-memory calls that touch no mapping (shmget, shmctl; shmat and shmdt
// map memory: process_syscalls_shm.cpp), and POSIX message queues. See
// host_syscalls.hpp for the rules.
//
// Their objects are the host kernel's: the ids and keys of the host's IPC
// namespace, a queue's fd a host fd. So processes under spanvm share them
// with each other, as Linux's processes do, and with host processes too.
// The waits (semop, semtimedop, msgsnd, msgrcv, mq_timedsend,
// mq_timedreceive) are kick-cancellable host calls (may_block_in_host).
// The structs are the x86-64 kernel's (checked against glibc's below).
#include <mqueue.h>
#include <signal.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>

#include <cstring>

#include "vmm/process/syscalls/host_syscalls_detail.hpp"

namespace spanvm::process::detail {
namespace {

constexpr uint64_t kSembufSize = 6;        // struct sembuf
constexpr uint64_t kSemid64DsSize = 104;   // struct semid64_ds
constexpr uint64_t kSeminfoSize = 40;      // struct seminfo
constexpr uint64_t kMsqid64DsSize = 120;   // struct msqid64_ds
constexpr uint64_t kMsginfoSize = 32;      // struct msginfo
constexpr uint64_t kShmid64DsSize = 112;   // struct shmid64_ds
constexpr uint64_t kShminfo64Size = 72;    // struct shminfo64 (IPC_INFO)
constexpr uint64_t kShmInfoSize = 48;      // struct shm_info (SHM_INFO)
constexpr uint64_t kTimespecSize = 16;     // struct __kernel_timespec
constexpr uint64_t kMqAttrSize = 64;       // struct mq_attr
constexpr uint64_t kSigeventSize = 64;     // struct sigevent
constexpr uint64_t kMsgTypeSize = 8;       // a message's `long mtype`, before its text
constexpr int kIpc64 = 0x100;              // IPC_64, which some libcs OR into a ctl cmd
constexpr size_t kMqNameMax = 256;         // NAME_MAX + 1
static_assert(sizeof(sembuf) == kSembufSize && sizeof(semid_ds) == kSemid64DsSize &&
              sizeof(seminfo) == kSeminfoSize && sizeof(msqid_ds) == kMsqid64DsSize &&
              sizeof(msginfo) == kMsginfoSize && sizeof(shmid_ds) == kShmid64DsSize &&
              sizeof(shminfo) == kShminfo64Size && sizeof(shm_info) == kShmInfoSize &&
              sizeof(mq_attr) == kMqAttrSize && sizeof(sigevent) == kSigeventSize);

// Guest memory for an optional pointer argument: null stays null; a
// pointer that does not reach `len` bytes of guest memory is EFAULT.
bool optional_range(HostSyscallContext& ctx, uint64_t gva, uint64_t len, uint8_t*& out) {
    out = nullptr;
    if (gva == 0) return true;
    out = ctx.mem.ptr(gva, len);
    return out != nullptr;
}

// What a ctl command's last argument is: the bytes of the buffer it points
// to; kValue, a value the kernel reads as such (SETVAL's) or ignores; or
// kUnknown, a command this table does not know, passed with 0 in place of
// the argument (the kernel refuses unknown commands with EINVAL; a guest
// pointer must never reach the host call untranslated).
constexpr uint64_t kValue = 0, kUnknown = ~0ull;
uint64_t sem_ctl_bytes(int cmd) {
    switch (cmd) {
        case IPC_STAT: case IPC_SET: case SEM_STAT: case SEM_STAT_ANY: return kSemid64DsSize;
        case IPC_INFO: case SEM_INFO: return kSeminfoSize;
        case IPC_RMID: case SETVAL: case GETVAL: case GETPID: case GETNCNT: case GETZCNT: return kValue;
        default: return kUnknown;
    }
}
uint64_t msg_ctl_bytes(int cmd) {
    switch (cmd) {
        case IPC_STAT: case IPC_SET: case MSG_STAT: case MSG_STAT_ANY: return kMsqid64DsSize;
        case IPC_INFO: case MSG_INFO: return kMsginfoSize;
        case IPC_RMID: return kValue;
        default: return kUnknown;
    }
}
uint64_t shm_ctl_bytes(int cmd) {
    switch (cmd) {
        case IPC_STAT: case IPC_SET: case SHM_STAT: case SHM_STAT_ANY: return kShmid64DsSize;
        case IPC_INFO: return kShminfo64Size;
        case SHM_INFO: return kShmInfoSize;
        case IPC_RMID: case SHM_LOCK: case SHM_UNLOCK: return kValue;
        default: return kUnknown;
    }
}

// semop's and semtimedop's array: nsops structs. An empty array is EINVAL
// and a longer one than any kernel takes E2BIG before any memory is read,
// as Linux answers.
constexpr uint64_t kSemopsLimit = 1u << 16;
int64_t semops(HostSyscallContext& ctx, const SyscallArgs& a, long nr, uint64_t timeout_gva) {
    const uint64_t n = as_uint(a[2]);
    if (n == 0 || as_int(a[0]) < 0) return -EINVAL;
    if (n > kSemopsLimit) return -E2BIG;
    uint8_t* sops = ctx.mem.ptr(a[1], n * kSembufSize);
    if (sops == nullptr) return -EFAULT;
    uint8_t* ts;
    if (!optional_range(ctx, timeout_gva, kTimespecSize, ts)) return -EFAULT;
    return raw(nr, as_int(a[0]), P(sops), static_cast<long>(n), P(ts));
}

int64_t sys_semop(HostSyscallContext& ctx, const SyscallArgs& a) { return semops(ctx, a, SYS_semop, 0); }
int64_t sys_semtimedop(HostSyscallContext& ctx, const SyscallArgs& a) {
    return semops(ctx, a, SYS_semtimedop, a[3]);
}

int64_t sys_semctl(HostSyscallContext& ctx, const SyscallArgs& a) {
    const int id = as_int(a[0]), num = as_int(a[1]), cmd = as_int(a[2]);
    const int base = cmd & ~kIpc64;
    uint64_t bytes = sem_ctl_bytes(base);
    if (base == GETALL || base == SETALL) {
        // One unsigned short per semaphore of the set: its size first.
        semid_ds ds{};
        if (int64_t r = raw(SYS_semctl, id, 0, IPC_STAT, P(&ds)); r < 0) return r;
        bytes = ds.sem_nsems * sizeof(unsigned short);
    }
    if (bytes == kUnknown) return raw(SYS_semctl, id, num, cmd, 0);
    if (bytes == kValue) return raw(SYS_semctl, id, num, cmd, static_cast<long>(a[3]));
    uint8_t* buf = ctx.mem.ptr(a[3], bytes);
    if (buf == nullptr) return -EFAULT;
    return raw(SYS_semctl, id, num, cmd, P(buf));
}

int64_t sys_msgsnd(HostSyscallContext& ctx, const SyscallArgs& a) {
    const auto len = static_cast<int64_t>(a[2]);
    if (len < 0 || len > INT32_MAX) return -EINVAL;  // above any MSGMAX
    uint8_t* msg = ctx.mem.ptr(a[1], kMsgTypeSize + static_cast<uint64_t>(len));
    if (msg == nullptr) return -EFAULT;
    return raw(SYS_msgsnd, as_int(a[0]), P(msg), len, as_int(a[3]));
}

int64_t sys_msgrcv(HostSyscallContext& ctx, const SyscallArgs& a) {
    const auto len = static_cast<int64_t>(a[2]);
    if (len < 0) return -EINVAL;
    // The kernel writes at most the message's size: a buffer larger than
    // INT32_MAX is one no message fills.
    const uint64_t room = kMsgTypeSize + static_cast<uint64_t>(std::min<int64_t>(len, INT32_MAX));
    uint8_t* msg = ctx.mem.ptr(a[1], room);
    if (msg == nullptr) return -EFAULT;
    return raw(SYS_msgrcv, as_int(a[0]), P(msg), len, static_cast<long>(a[3]), as_int(a[4]));
}

int64_t ctl_call(HostSyscallContext& ctx, const SyscallArgs& a, long nr, uint64_t bytes) {
    if (bytes == kUnknown) return raw(nr, as_int(a[0]), as_int(a[1]), 0);
    if (bytes == kValue) return raw(nr, as_int(a[0]), as_int(a[1]), static_cast<long>(a[2]));
    uint8_t* buf = ctx.mem.ptr(a[2], bytes);
    if (buf == nullptr) return -EFAULT;
    return raw(nr, as_int(a[0]), as_int(a[1]), P(buf));
}

int64_t sys_msgctl(HostSyscallContext& ctx, const SyscallArgs& a) {
    return ctl_call(ctx, a, SYS_msgctl, msg_ctl_bytes(as_int(a[1]) & ~kIpc64));
}

int64_t sys_shmctl(HostSyscallContext& ctx, const SyscallArgs& a) {
    return ctl_call(ctx, a, SYS_shmctl, shm_ctl_bytes(as_int(a[1]) & ~kIpc64));
}

// POSIX message queues. A queue's name is the kernel's (glibc drops the
// leading '/'); the queue is a host fd, installed in the guest's table.
int64_t sys_mq_open(HostSyscallContext& ctx, const SyscallArgs& a) {
    auto name = ctx.mem.cstring(a[0], kMqNameMax);
    if (!name) return -(name.error().code ? name.error().code : EFAULT);
    const std::string n(*name);
    const int oflag = as_int(a[1]);
    uint8_t* attr;
    if (!optional_range(ctx, a[3], kMqAttrSize, attr)) return -EFAULT;
    const int64_t fd = raw(SYS_mq_open, P(n.c_str()), oflag | O_CLOEXEC, static_cast<long>(as_uint(a[2])), P(attr));
    return install_new(ctx, fd, (oflag & O_CLOEXEC) != 0);
}

int64_t sys_mq_unlink(HostSyscallContext& ctx, const SyscallArgs& a) {
    auto name = ctx.mem.cstring(a[0], kMqNameMax);
    if (!name) return -(name.error().code ? name.error().code : EFAULT);
    const std::string n(*name);
    return raw(SYS_mq_unlink, P(n.c_str()));
}

int64_t sys_mq_timedsend(HostSyscallContext& ctx, const SyscallArgs& a) {
    FdRef f = ctx.fds.acquire(as_int(a[0]));
    if (!f) return -EBADF;
    uint8_t* msg = ctx.mem.ptr(a[1], a[2]);
    if (msg == nullptr && a[2] != 0) return -EFAULT;
    uint8_t* ts;
    if (!optional_range(ctx, a[4], kTimespecSize, ts)) return -EFAULT;
    return raw(SYS_mq_timedsend, f->fd(), P(msg), static_cast<long>(a[2]), static_cast<long>(as_uint(a[3])), P(ts));
}

int64_t sys_mq_timedreceive(HostSyscallContext& ctx, const SyscallArgs& a) {
    FdRef f = ctx.fds.acquire(as_int(a[0]));
    if (!f) return -EBADF;
    uint8_t* msg = ctx.mem.ptr(a[1], a[2]);
    if (msg == nullptr && a[2] != 0) return -EFAULT;
    uint8_t *prio, *ts;
    if (!optional_range(ctx, a[3], sizeof(unsigned), prio) || !optional_range(ctx, a[4], kTimespecSize, ts))
        return -EFAULT;
    return raw(SYS_mq_timedreceive, f->fd(), P(msg), static_cast<long>(a[2]), P(prio), P(ts));
}

int64_t sys_mq_notify(HostSyscallContext& ctx, const SyscallArgs& a) {
    FdRef f = ctx.fds.acquire(as_int(a[0]));
    if (!f) return -EBADF;
    if (a[1] == 0) return raw(SYS_mq_notify, f->fd(), 0);
    sigevent ev{};
    const uint8_t* g = ctx.mem.ptr(a[1], kSigeventSize);
    if (g == nullptr) return -EFAULT;
    std::memcpy(&ev, g, sizeof ev);
    // SIGEV_SIGNAL: the host signal reaches the host process, which the
    // forwarder makes the guest's. SIGEV_THREAD (glibc's): sigev_signo is a
    // netlink socket, a guest fd. Not supported: SIGEV_THREAD_ID's tid.
    FdRef sock;
    if (ev.sigev_notify == SIGEV_THREAD) {
        sock = ctx.fds.acquire(ev.sigev_signo);
        if (!sock) return -EBADF;
        ev.sigev_signo = sock->fd();
    } else if (ev.sigev_notify != SIGEV_NONE && ev.sigev_notify != SIGEV_SIGNAL) {
        return -EINVAL;
    }
    return raw(SYS_mq_notify, f->fd(), P(&ev));
}

int64_t sys_mq_getsetattr(HostSyscallContext& ctx, const SyscallArgs& a) {
    FdRef f = ctx.fds.acquire(as_int(a[0]));
    if (!f) return -EBADF;
    uint8_t *in, *out;
    if (!optional_range(ctx, a[1], kMqAttrSize, in) || !optional_range(ctx, a[2], kMqAttrSize, out)) return -EFAULT;
    return raw(SYS_mq_getsetattr, f->fd(), P(in), P(out));
}

template <long NR>
int64_t ids_call(HostSyscallContext&, const SyscallArgs& a) {
    return raw(NR, static_cast<long>(a[0]), static_cast<long>(a[1]), static_cast<long>(a[2]));
}

}  // namespace

void register_ipc(HandlerTable& t) {
    t.add(SYS_semget, ids_call<SYS_semget>);
    t.add(SYS_semop, sys_semop);
    t.add(SYS_semtimedop, sys_semtimedop);
    t.add(SYS_semctl, sys_semctl);
    t.add(SYS_msgget, ids_call<SYS_msgget>);
    t.add(SYS_msgsnd, sys_msgsnd);
    t.add(SYS_msgrcv, sys_msgrcv);
    t.add(SYS_msgctl, sys_msgctl);
    t.add(SYS_shmget, ids_call<SYS_shmget>);
    t.add(SYS_shmctl, sys_shmctl);
    t.add(SYS_mq_open, sys_mq_open);
    t.add(SYS_mq_unlink, sys_mq_unlink);
    t.add(SYS_mq_timedsend, sys_mq_timedsend);
    t.add(SYS_mq_timedreceive, sys_mq_timedreceive);
    t.add(SYS_mq_notify, sys_mq_notify);
    t.add(SYS_mq_getsetattr, sys_mq_getsetattr);
}

}  // namespace spanvm::process::detail
