// Process: the seccomp filters of its threads (Process::install_seccomp_filter).
// What a filter is and how it runs is vmm/process/seccomp/seccomp_filter.hpp;
// the calls that install one and the check before every call are
// syscalls/process_syscalls_seccomp.cpp.
#include <algorithm>

#include "vmm/process/process.hpp"
#include "vmm/process/seccomp/seccomp_filter.hpp"

namespace spanvm::process {

namespace {
// Linux's is_ancestor(): `ancestor` is null or on `chain`'s path.
bool on_path(const seccomp::Filter* ancestor, const seccomp::Filter* chain) {
    if (!ancestor) return true;
    for (const seccomp::Filter* f = chain; f; f = f->prev.get())
        if (f == ancestor) return true;
    return false;
}
}  // namespace

int Process::install_seccomp_filter(ThreadRow& self, std::shared_ptr<const seccomp::Filter> f, bool tsync) {
    std::lock_guard lk(fork_mu_);
    std::vector<ThreadRow*> rows{&self};
    if (tsync) {
        rows = threads_.live_rows();
        const seccomp::Filter* mine = self.seccomp_filter.load();
        for (ThreadRow* r : rows) {
            if (r == &self) continue;
            const uint8_t mode = r->seccomp_mode.load();
            if (mode == 1 || (mode == 2 && !on_path(r->seccomp_filter.load(), mine))) return r->tid;
        }
    }
    seccomp_filters_.push_back(f);
    for (ThreadRow* r : rows) {
        r->seccomp_filter.store(f.get(), std::memory_order_release);
        r->seccomp_mode.store(2, std::memory_order_release);
    }
    return 0;
}

std::shared_ptr<const seccomp::Filter> Process::seccomp_filter_owner(const seccomp::Filter* f) {
    if (!f) return nullptr;
    std::lock_guard lk(fork_mu_);
    auto it = std::find_if(seccomp_filters_.begin(), seccomp_filters_.end(), [f](const auto& p) { return p.get() == f; });
    return it == seccomp_filters_.end() ? nullptr : *it;
}

}  // namespace spanvm::process
