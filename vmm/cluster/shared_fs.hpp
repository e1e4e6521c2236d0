#pragma once
// The proof that a node sees the origin's file system exactly as the
// origin's executor does, so that it may answer the read-only path lookups
// of node_answers.hpp itself (the openMosix DFSA idea: a migrated process
// looks files up directly where the file system is the same).
//
// What is proven, per Spawn (each thread's own view, on the thread's node,
// before it connects its channel):
//  * the node reads, at the same absolute path, the probe file the origin
//    made for this run with fresh random contents (it sees the origin's
//    directory);
//  * the same kernel (/proc/sys/kernel/random/boot_id, random per boot),
//    the same mount namespace and pid namespace (inode numbers of
//    /proc/self/ns/mnt and /ns/pid, unique within one kernel) and the same
//    root directory (dev, ino of "/"): so an absolute path walks the same
//    mounts and dentries on both sides, and /proc/<origin pid>/cwd is the
//    guest's working directory, read live at each relative lookup;
//  * the same credentials: real, effective, saved and fs uid and gid, the
//    supplementary groups and the effective and permitted capabilities of
//    the executor thread and of the node's guest thread (a path walk's
//    permission checks, and access()'s real-id check, read only these);
//    each side's ids must also be all equal (ruid == euid == suid == fsuid,
//    likewise the gids), so the walk's fs ids and access()'s real ids agree.
// What it does not cover, and so stays forwarded: see node_answers.hpp
// (paths under /proc, /dev, /sys; symlinks anywhere in the walk; dirfds
// other than AT_FDCWD for relative paths) and ends_path_answers (a call that
// may change the credentials or the view ends the thread's answers). LSM
// labels are not compared: both sides run the same spanvm binary.
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "vmm/cluster/cluster_messages.hpp"

namespace spanvm::cluster {

// The origin's probe: a file in /tmp with 32 random bytes, made when the
// first Spawn that carries it goes out and unlinked when the last such
// thread's node has sent its first Trap (it checks the probe before), or at
// destruction. Not when the channel connects: one dialled ahead on a
// ChannelOffer may connect after its Spawn went and before the node read
// it. Thread-safe (mu_ is a leaf).
class SharedFsProbe {
public:
    SharedFsProbe() = default;
    ~SharedFsProbe();
    SharedFsProbe(const SharedFsProbe&) = delete;
    SharedFsProbe& operator=(const SharedFsProbe&) = delete;

    // The proof of the calling thread's view, with the probe held until
    // release(); an empty probe_path (nothing held) when the probe or the
    // view cannot be read (the node then forwards every path call).
    SharedFsProof acquire();
    void release();

private:
    std::mutex mu_;
    int users_ = 0;
    std::string path_;  // empty: none on disk
    std::vector<std::uint8_t> bytes_;
};

// Unlinks the probes in `dir` (".spanvm-fsprobe-PID-...") whose process is
// gone: a run killed, or ended by _exit while a probe was held, leaves its
// probe behind, and nothing else would remove it. A probe of a live process
// (kill(pid, 0) does not answer ESRCH) is left alone. acquire() sweeps /tmp
// before it makes a probe. Departure: a process in another pid namespace
// sharing this /tmp looks gone; its probe is then removed and its nodes
// forward path calls (slower, still correct).
void sweep_stale_probes(const std::string& dir);

// On the node, on the guest thread to run: true when it sees what `p`
// describes; otherwise `why` says the first difference (one line).
bool verify_shared_fs(const SharedFsProof& p, std::string& why);

}  // namespace spanvm::cluster
