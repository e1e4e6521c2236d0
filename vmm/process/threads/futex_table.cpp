#include "vmm/process/threads/futex_table.hpp"

#include <cerrno>

namespace spanvm::process {

int64_t FutexTable::wait(uint64_t addr, uint32_t expected, uint32_t bitset, std::optional<Clock::time_point> deadline,
                         const WordReader& read_word, int tid, const std::function<bool()>* interrupted) {
    if (bitset == 0) return -EINVAL;
    std::unique_lock lk(mu_);
    if (shut_down_) return -EINTR;
    auto v = read_word(addr);
    if (!v) return -EFAULT;
    if (*v != expected) return -EAGAIN;
    if (interrupted && (*interrupted)()) return -EINTR;
    Waiter w{addr, bitset, tid};
    auto& q = queues_[addr];
    auto it = q.insert(q.end(), &w);
    bool timed_out = false;
    while (!w.woken && !shut_down_ && !(interrupted && (*interrupted)())) {
        if (deadline) {
            if (w.cv.wait_until(lk, *deadline) == std::cv_status::timeout && !w.woken) {
                timed_out = true;
                break;
            }
        } else {
            w.cv.wait(lk);
        }
    }
    if (w.woken) return 0;  // a waker already unlinked us (possibly from a requeued queue)
    // Still queued: unlink from whichever queue holds us now (requeue may have moved us).
    auto qit = queues_.find(w.addr);
    if (qit != queues_.end()) {
        qit->second.remove(&w);
        if (qit->second.empty()) queues_.erase(qit);
    }
    (void)it;
    return timed_out ? -ETIMEDOUT : -EINTR;
}

int64_t FutexTable::wake(uint64_t addr, int n, uint32_t bitset) {
    if (bitset == 0) return -EINVAL;
    std::lock_guard lk(mu_);
    auto qit = queues_.find(addr);
    if (qit == queues_.end()) return 0;
    int woken = 0;
    auto& q = qit->second;
    for (auto it = q.begin(); it != q.end() && woken < n;) {
        if ((*it)->bitset & bitset) {
            (*it)->woken = true;
            (*it)->cv.notify_one();
            it = q.erase(it);
            ++woken;
        } else {
            ++it;
        }
    }
    if (q.empty()) queues_.erase(qit);
    return woken;
}

int64_t FutexTable::requeue(uint64_t addr, uint64_t addr2, int n_wake, int n_requeue,
                            std::optional<uint32_t> expected, const WordReader& read_word) {
    std::lock_guard lk(mu_);
    if (expected) {
        auto v = read_word(addr);
        if (!v) return -EFAULT;
        if (*v != *expected) return -EAGAIN;
    }
    auto qit = queues_.find(addr);
    if (qit == queues_.end()) return 0;
    auto& q = qit->second;
    int woken = 0, moved = 0;
    while (!q.empty() && woken < n_wake) {
        q.front()->woken = true;
        q.front()->cv.notify_one();
        q.pop_front();
        ++woken;
    }
    if (addr2 != addr) {
        while (!q.empty() && moved < n_requeue) {
            Waiter* w = q.front();
            q.pop_front();
            w->addr = addr2;
            queues_[addr2].push_back(w);
            ++moved;
        }
    }
    // Re-find: queues_[addr2] may have rehashed the map.
    qit = queues_.find(addr);
    if (qit != queues_.end() && qit->second.empty()) queues_.erase(qit);
    return woken + moved;
}

void FutexTable::interrupt(int tid) {
    std::lock_guard lk(mu_);
    for (auto& [a, q] : queues_)
        for (Waiter* w : q)
            if (w->tid == tid) w->cv.notify_one();
}

void FutexTable::shutdown() {
    std::lock_guard lk(mu_);
    shut_down_ = true;
    for (auto& [a, q] : queues_)
        for (Waiter* w : q) w->cv.notify_one();
}

size_t FutexTable::waiters() const {
    std::lock_guard lk(mu_);
    size_t n = 0;
    for (auto& [a, q] : queues_) n += q.size();
    return n;
}

}  // namespace spanvm::process
