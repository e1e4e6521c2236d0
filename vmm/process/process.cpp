#include "vmm/process/process.hpp"
#include "vmm/base/latency_trace.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <thread>

#include "vmm/arch/x86/exception_signal.hpp"
#include "vmm/base/log.hpp"
#include "vmm/memory/layout.hpp"
#include "vmm/process/loader/elf_file.hpp"
#include "vmm/process/threads/guest_thread.hpp"
#include "vmm/process/mm/host_fault_report.hpp"
#include "vmm/process/loader/initial_stack.hpp"
#include "vmm/process/loader/shebang.hpp"
#include "vmm/process/syscalls/syscall_names.hpp"
#include "vmm/process/loader/vdso.hpp"
#include "vmm/process/signals/signal_frame.hpp"

namespace spanvm::process {

namespace {
// Where a position-independent main program goes: just above the user base,
// leaving the brk heap the rest of the low area to grow into.
constexpr uint64_t kPieLoadHint = 0x400000;

}  // namespace

std::string absolute_path(const std::string& p) {
    char buf[4096];
    if (::realpath(p.c_str(), buf)) return buf;
    return p;
}

Process::Process(const ProcessConfig& cfg, platform::PlatformChoice pc)
    : cfg_(cfg),
      platform_(std::move(pc.platform)),
      platform_reason_(std::move(pc.reason)),
      mem_(platform_->memory().host_base(), memory::layout::kUserBase, platform_->memory().size()),
      pid_(::getpid()),
      threads_(pid_),
      host_ctx_{mem_, fds_, cfg.vcpus, absolute_path(cfg.program)},
      access_map_(platform_->memory().size()),
      protection_(std::make_unique<memory::GuestProtection>(
          platform_->memory(), (platform_->host_prot() & PROT_EXEC) != 0, cfg.remote != nullptr)) {
    mem_.set_access_map(&access_map_);
    root_pid_ = pid_;
    host_ctx_.proc_view = [this](std::string_view host, OwnProcFile file, bool thread_self) {
        return proc_view(host, file, thread_self);
    };
    host_ctx_.host_tid_of = [this](int tid) { return host_tid_of(tid); };
    host_ctx_.own_maps = [this] { return own_maps_view(); };
}

Process::~Process() = default;

// Follows `#!` lines (at most 4 levels, as Linux allows): `script args`
// becomes `interp [arg] script args`. Then checks that the program is an
// x86-64 ELF whose interpreter exists. Errors carry the errno execve(2)
// would return.
Result<Process::Image> Process::resolve_image(ProcessConfig cfg) {
    const std::string original = cfg.program;
    auto file = ImageFile::open(cfg.program);
    if (!file) return file.error();
    for (int depth = 0;; ++depth) {
        auto sb = parse_shebang(file->head());
        if (!sb) return make_error(ENOEXEC, "'{}': {}", cfg.program, sb.error().message);
        if (!sb->has_value()) break;
        if (depth == 4) return make_error(ELOOP, "'{}': too many levels of #! interpreters", original);
        const std::string script = cfg.program;
        cfg.argv = shebang_argv(**sb, script, cfg.argv);
        cfg.program = (*sb)->interpreter;
        file = ImageFile::open(cfg.program);
        if (!file) return make_error(file.error().code, "'{}': interpreter {}", script, file.error().message);
    }
    auto elf = file->parse_elf(cfg.program);
    if (!elf) return elf.error();
    if (elf->interpreter() && ::access(elf->interpreter()->c_str(), R_OK) != 0)
        return make_error(ENOENT, "'{}': interpreter {} not found: {}", cfg.program, *elf->interpreter(),
                          std::strerror(errno));
    return Image{std::move(cfg), std::move(*file)};
}

void Process::name_task(std::string_view path, bool leader) {
    std::string name(path.substr(path.find_last_of('/') + 1));
    name.resize(std::min<size_t>(name.size(), 15));
    (void)::prctl(PR_SET_NAME, name.c_str());
    if (!leader) return;
    const int fd = ::open("/proc/self/comm", O_WRONLY | O_CLOEXEC);
    if (fd < 0) return;
    (void)!::write(fd, name.data(), name.size());
    ::close(fd);
}

Result<std::unique_ptr<Process>> Process::create(const ProcessConfig& cfg_in) {
    // Check the program before touching the platform, so that bad input is
    // reported as such even on a host where no platform runs.
    auto resolved = resolve_image(cfg_in);
    if (!resolved) return resolved.error();
    const ProcessConfig& cfg = resolved->cfg;
    const auto tsc_baseline = time::Timekeeper::take_baseline();

    // From here on a failure is spanvm's, not the program's (code 0).
    // Guest RAM reachable as the address space maps it (sync_host_protection).
    auto pc = platform::choose_platform(cfg.platform, cfg.mem_size, platform::RamBacking::on_demand);
    if (!pc) return Error{0, pc.error().message};
    // Host signals meant for the guest (kill from another process, ^C,
    // SIGCHLD) go to one forwarder thread: blocked in this thread before
    // the Process (or a cluster's attach_memory) starts any thread, so every
    // later thread has them blocked too (process_lifetime.cpp).
    block_forwarded_signals();
    // The run's process is the subreaper of every process it starts, as
    // a container's init is: an orphan is reparented to it, and it ends
    // them all when it ends. (In a cluster, the --local-hosts nodes are not
    // its children: local_hosts.hpp.)
    (void)::prctl(PR_SET_CHILD_SUBREAPER, 1);
    std::unique_ptr<Process> p(new Process(cfg, std::move(*pc)));
    name_task(cfg_in.program, true);
    // RLIMIT_NOFILE as the program would have inherited it (the soft limit;
    // the guest's table enforces it, not the host's).
    if (struct rlimit nofile{}; ::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY)
        (void)p->fds_.set_limit(static_cast<int>(std::min<rlim_t>(nofile.rlim_cur, FdTable::kMaxLimit)));
    for (const int fd : cfg.inherited_fds)
        if (p->fds_.install_at(fd, fd, false) < 0) log::warn("inherited fd {}: above RLIMIT_NOFILE, not passed", fd);
    p->tsc_baseline_ = tsc_baseline;
    p->root_pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, ::getpid(), 0));
    p->registry_ = ProcessRegistry::create();
    if (p->registry_) p->slot_ = p->registry_->claim(p->pid_, ::getppid(), cfg.program);
    if (cfg.remote)
        if (auto a = cfg.remote->attach_memory(p->platform_->memory(), *p->protection_); !a) return Error{0, a.error().message};
    auto as = AddressSpace::create(memory::layout::kUserBase, p->platform_->memory().size());
    if (!as) return Error{0, as.error().message};
    p->aspace_ = std::make_unique<AddressSpace>(std::move(*as));
    auto start = p->load_program(resolved->file);
    if (!start) return Error{0, start.error().message};
    {
        std::lock_guard lk(p->aspace_mu_);
        p->sync_host_protection(memory::layout::kUserBase, p->platform_->memory().size());
    }
    p->initial_ = *start;
    return p;
}

namespace {
struct LoadedImage {
    uint64_t bias = 0;
    uint64_t entry = 0;
    LoadPlan plan;
};

int prot_of(uint32_t f) {
    return ((f & kSegmentRead) ? PROT_READ : 0) | ((f & kSegmentWrite) ? PROT_WRITE : 0) |
           ((f & kSegmentExec) ? PROT_EXEC : 0);
}

// Places one ELF image in the address space and in guest RAM: whole pages
// through `map` where it maps them, the rest read from the file.
Result<LoadedImage> load_image(AddressSpace& as, memory::GuestMemory& mem, const ElfFile& elf, const ImageFile& file,
                               uint64_t hint, uint64_t ram_size, const PageMapper& map) {
    const auto span = elf.image_span();
    uint64_t bias = 0;
    if (elf.position_independent()) {
        auto m = as.map(hint, span.size(), PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS);
        if (!m) return make_error(ENOMEM, "'{}' ({} KiB) does not fit in guest memory (--mem {} MiB)", elf.name(),
                                  span.size() >> 10, ram_size >> 20);
        bias = m->addr - span.start;
    } else {
        if (span.start < memory::layout::kUserBase || span.end > ram_size)
            return make_error(ENOMEM, "'{}' wants addresses [{:#x}, {:#x}) outside guest memory [{:#x}, {:#x}) (--mem {} MiB)",
                              elf.name(), span.start, span.end, memory::layout::kUserBase, ram_size, ram_size >> 20);
        auto m = as.map(span.start, span.size(), PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
        if (!m) return make_error(ENOMEM, "'{}' cannot be placed in guest memory: {}", elf.name(), m.error().message);
    }
    LoadedImage img{bias, 0, elf.plan_load(bias)};
    img.entry = img.plan.entry;
    if (auto r = load_plan_from_file(img.plan, file, std::span<uint8_t>(mem.host_base(), mem.size()), map); !r)
        return make_error(r.error().code == EIO ? EIO : ENOMEM, "'{}': {}", elf.name(), r.error().message);
    for (auto& pr : img.plan.protections) (void)as.protect(pr.range.start, pr.range.size(), prot_of(pr.flags));
    return img;
}
}  // namespace

Result<ThreadStart> Process::load_program(const ImageFile& program) {
    auto& mem = platform_->memory();
    auto elf = program.parse_elf(cfg_.program);
    if (!elf) return elf.error();
    // A segment's whole pages are the file's, copy-on-write, where private
    // file mappings are (process_file_map.cpp: one host); else read.
    const PageMapper map = [this](uint64_t guest, uint64_t len, int fd, uint64_t off, uint32_t flags) {
        return map_image_pages(guest, len, fd, off, prot_of(flags));
    };

    auto stack = aspace_->reserve_stack(memory::layout::kDefaultStackSize);
    if (!stack) return make_error(ENOMEM, "no room for the stack in guest memory (--mem {} MiB)", mem.size() >> 20);

    auto main = load_image(*aspace_, mem, *elf, program, kPieLoadHint, mem.size(), map);
    if (!main) return main.error();
    image_pages_.clear();
    if (own_maps_view()) note_image_pages(main->plan, program);
    // PT_GNU_STACK with PF_X (or none): an executable stack, as Linux's
    // exec gives it (where NX is enforced, native, code there must run).
    if (elf->executable_stack())
        if (auto r = aspace_->protect(stack->start, stack->len, PROT_READ | PROT_WRITE | PROT_EXEC); !r)
            return r.error();
    if (auto r = aspace_->set_brk_base(memory::layout::page_align_up(main->plan.span.end)); !r) return r.error();

    uint64_t entry = main->entry, interp_base = 0;
    if (elf->interpreter()) {
        auto ib = ImageFile::open(*elf->interpreter());
        if (!ib) return make_error(ENOENT, "'{}': interpreter {}", cfg_.program, ib.error().message);
        auto ielf = ib->parse_elf(*elf->interpreter());
        if (!ielf) return make_error(ENOEXEC, "'{}': bad interpreter: {}", cfg_.program, ielf.error().message);
        auto interp = load_image(*aspace_, mem, *ielf, *ib, 0, mem.size(), map);
        if (!interp) return interp.error();
        if (own_maps_view()) note_image_pages(interp->plan, *ib);
        entry = interp->entry;
        interp_base = interp->bias;
    }

    // The vDSO (clock_gettime and friends without an exit). Without an
    // invariant TSC the guest runs without one, as with vdso=0 on Linux.
    uint64_t sysinfo_ehdr = 0;
    auto vdso = install_vdso(*aspace_, mem);
    if (!vdso) return vdso.error();
    vvar_addr_ = vdso->vvar_addr;
    if (own_maps_view()) {
        image_pages_.push_back(ImagePages{vdso->vvar_addr, vdso->base, 0, 0, 0, "[vvar]"});
        image_pages_.push_back(ImagePages{vdso->base, vdso->end, 0, 0, 0, "[vdso]"});
        std::sort(image_pages_.begin(), image_pages_.end(),
                  [](const ImagePages& a, const ImagePages& b) { return a.start < b.start; });
    }
    if (cfg_.remote)
        if (auto r = cfg_.remote->set_vdso_data(vdso->vvar_addr); !r) return r.error();
    // After an execve the process's timekeeper (detached by exec) goes on
    // on the new page with its rate window; a fresh one calibrates.
    if (timekeeper_) {
        if (auto a = timekeeper_->attach(vdso->vvar); !a) {
            log::debug("execve: {}; a new timekeeper", a.error().message);
            if (driven_tk_.exchange(nullptr) == timekeeper_.get())
                (void)timekeeper_.release();  // the forwarder may be in its tick() (detached: a no-op)
            else
                timekeeper_.reset();
        }
    }
    if (timekeeper_) {
        sysinfo_ehdr = vdso->base;
    } else if (auto tk = time::Timekeeper::start(vdso->vvar, time::Timekeeper::kDefaultPeriod, nullptr,
                                                 tsc_baseline_ ? &*tsc_baseline_ : nullptr)) {
        timekeeper_ = std::move(*tk);
        sysinfo_ehdr = vdso->base;
    } else {
        log::warn("running without a vDSO: {}", tk.error().message);
    }

    auto phdr = elf->phdr_address(main->bias);
    if (!phdr) return phdr.error();
    StandardAuxvParams ap;
    ap.phdr = *phdr;
    ap.phnum = elf->phnum();
    ap.interp_base = interp_base;
    ap.entry = main->entry;
    ap.uid = ::getuid();
    ap.euid = ::geteuid();
    ap.gid = ::getgid();
    ap.egid = ::getegid();
    ap.hwcap = platform_->cpu().hwcap;
    ap.minsigstksz = sigframe::max_frame_size(platform_->cpu().xstate_size);
    ap.sysinfo_ehdr = sysinfo_ehdr;
    InitialStackInput in;
    in.stack_top = stack->end();
    in.argv = cfg_.argv;
    in.envp = cfg_.envp;
    in.auxv = standard_auxv(ap);
    in.execfn = cfg_.program;
    in.max_size = memory::layout::kDefaultStackSize / 4;  // Linux's limit for argv+envp
    if (::getrandom(in.random.data(), in.random.size(), 0) != static_cast<ssize_t>(in.random.size()))
        return errno_error("getrandom");
    auto st = build_initial_stack(in);
    if (!st) return st.error();
    if (!mem.write(st->rsp, st->bytes.data(), st->bytes.size()))
        return make_error(ENOMEM, "initial stack outside guest memory");
    if (!cfg_.remote) show_args_on_host(st->arg_start, st->arg_end, st->env_start, st->env_end);

    ThreadStart start;
    start.regs.rip = entry;
    start.regs.rsp = st->rsp;
    start.regs.rflags = 0x202 & ~0x200ull;  // IF stays clear: no interrupts are ever injected
    start.regs.rflags |= 0x2;
    return start;
}

void Process::discard(const std::vector<Range>& ranges, uint64_t resync_start, uint64_t resync_end, int resync_prot,
                      uint64_t replaced) {
    if (cfg_.remote) {
        // Guest RAM is under the DSM: dropping a page locally would leave the
        // directory believing this node still holds it. OriginCluster::discard
        // zeroes a page some node had through the coherent mapping, which a
        // PROT_NONE range refuses: the range is opened for that (`open`) and
        // put back as the layout says. A discard that zeroes nothing (every
        // page dropped by its home or pristine: all of a program whose
        // threads stay at the origin) leaves the host protection alone, which
        // under protection_'s lock always equals the layout's here (no host
        // file or shared mappings in a cluster): no mprotect at all.
        for (auto& r : ranges) {
            if (!platform_->memory().host_ptr(r.start, r.len)) continue;
            bool opened = false;
            cfg_.remote->discard(r.start, r.len, [&] {
                host_allow(r.start, r.len);
                opened = true;
            });
            if (!opened) continue;
            if (auto e = protection_->restore(r.start, r.start + r.len); !e)
                log::warn("guest RAM [{:#x}, +{:#x}): {}", r.start, r.len, e.error().message);
            // A thread here that was off its CPU when munmap made the range
            // inaccessible and ran again while it was open for the zeroing
            // wrote without faulting: what it left is zeroed again, until
            // nothing is left (it faults on its next write). Only for a range
            // the layout already refuses (munmap, brk) and that was opened; a
            // mapping replaced in place (MAP_FIXED) may take racing writes, as
            // on Linux.
            for (int pass = 0; pass < 8 && !protection_->accessible(r.start); ++pass) {
                auto left = protection_->nonzero_pages(r.start, r.start + r.len);
                if (!left || left->empty()) break;
                for (uint64_t gpa : *left) {
                    bool page_opened = false;
                    cfg_.remote->discard(gpa, memory::layout::kPageSize, [&] {
                        host_allow(gpa, memory::layout::kPageSize);
                        page_opened = true;
                    });
                    if (page_opened) (void)protection_->restore(gpa, gpa + memory::layout::kPageSize);
                }
            }
        }
        return;
    }
    // The part the caller replaces whole next (mmap MAP_FIXED of a file's
    // pages or of shared memory: the kernel drops what was there) needs
    // neither fresh memory nor a release first; map_file_pages() and
    // map_shared() drop its bookkeeping.
    const uint64_t replaced_end = resync_start + replaced;
    auto& mem = platform_->memory();
    auto one = [&](uint64_t start, uint64_t len) {
        if (!len) return;
        const bool resynced = resync_start <= start && start + len <= resync_end;
        if (resynced && resync_prot >= 0 && platform_->kind() == platform::PlatformKind::native) {
            // mmap over old mappings (native): fresh zero-filled memory with
            // the new mapping's protection, in one mmap that also replaces
            // a file's or shared pages and drops private ones, and leaves
            // the re-sync nothing to do there (an ld.so bss over its
            // reservation: one host call, where release, remap and
            // mprotect were four). Where the memory is private already and
            // the host protection right, releasing the pages is all.
            const int hp = protection_->host_prot(resync_prot);
            const bool hosted = !forget_host_ranges(start, start + len).empty();
            if (hosted || !protection_->host_known(start, start + len, hp)) {
                if (auto u = mem.unshare(start, len, hp); u) {
                    protection_->host_mapped(start, start + len, hp);
                    return;
                } else {
                    log::warn("guest RAM [{:#x}, +{:#x}): {}", start, len, u.error().message);
                    protection_->host_mapped(start, start + len, memory::HostProtTable::kUnknown);
                }
            }
            if (auto e = mem.discard(start, len); !e)
                log::warn("cannot release guest pages [{:#x}, +{:#x}): {}", start, len, e.error().message);
            return;
        }
        // unshare() maps with the host protection the range must end with:
        // the new mapping's where the caller re-syncs the range next, else
        // the layout's where it is one throughout (munmap discards after
        // the layout changed: PROT_NONE), else the full one and then back
        // to the layout's (restore() calls only where that differs).
        const int acc = resynced ? -1 : protection_->uniform_access(start, start + len);
        const int hp = resynced && resync_prot >= 0 ? protection_->host_prot(resync_prot)
                       : acc >= 0                   ? protection_->host_prot(acc)
                                                    : platform_->host_prot();
        const uint64_t remapped = unshare(start, start + len, hp);
        if (remapped && !resynced)
            if (auto e = protection_->restore(start, start + len); !e)
                log::warn("guest RAM [{:#x}, +{:#x}): {}", start, len, e.error().message);
        // Memory unshare() just mapped holds no page: nothing to release.
        if (remapped == len) return;
        if (auto e = mem.discard(start, len); !e)
            log::warn("cannot release guest pages [{:#x}, +{:#x}): {}", start, len, e.error().message);
    };
    for (auto& r : ranges) {
        // Patched syscall sites go back to their bytes while the memory
        // under them is still as it was (and readable: what replaces it
        // may be PROT_NONE); sync_range's own call then finds none.
        platform_->guest_code_changed(r.start, r.end());
        const uint64_t a = std::max(r.start, resync_start), b = std::min(r.end(), replaced_end);
        if (a >= b) {
            one(r.start, r.len);
            continue;
        }
        one(r.start, a - r.start);
        one(b, r.end() - b);
    }
}

void Process::offer_syscall_site(const platform::Regs& regs) {
    const uint64_t rip = regs.rip;
    // Single host only: in a cluster guest code is DSM memory, and a patch
    // written here would not reach the copies other nodes hold.
    if (cfg_.remote || !platform_->patching_active() || platform_->syscall_site_known(rip)) return;
    std::lock_guard lk(aspace_mu_);
    // Eligible: [rip-7, rip) in one private, executable mapping the guest
    // cannot write (code as the loader or ld.so mapped it, or a JIT's buffer
    // after mprotect to R-X). Writable or shared code (RWX JIT buffers,
    // double-mapped W^X JITs, self-modifying code) stays trapped; code that
    // is made writable again gets its sites restored first (sync_host_protection).
    bool eligible = false;
    if (rip >= 7) {
        auto v = aspace_->find(rip - 7);
        eligible = v && v->contains(rip - 1) && (v->prot & PROT_EXEC) && !(v->prot & PROT_WRITE) && !v->shared();
    }
    // One live guest thread: the caller, stopped here (a new thread needs a
    // clone from it), so a site may be rewritten without an atomic store.
    platform_->offer_syscall_site(rip, eligible, threads_.live_threads() == 1, regs);
}

void Process::mapped(GuestThread& t, uint64_t start, uint64_t len) {
    if (cfg_.remote && t.remote_link() && len) cfg_.remote->mapped(start, len, t.remote_link()->node());
}

Result<void> Process::map_shared(uint64_t start, uint64_t len, int fd, uint64_t off) {
    len = memory::layout::page_align_up(len);
    // The MAP_FIXED below replaces whatever shared or file mapping was
    // there: only the bookkeeping goes first, not the memory.
    (void)forget_host_ranges(start, start + len);
    if (auto r = platform_->memory().map_shared(start, len, platform_->host_prot(), fd, off); !r) {
        // A failed MAP_FIXED may have taken the old memory away, or left a
        // file's pages: fresh zero-filled memory, which the caller releases.
        const bool back = static_cast<bool>(platform_->memory().unshare(start, len, platform_->host_prot()));
        protection_->host_mapped(start, start + len, back ? platform_->host_prot() : memory::HostProtTable::kUnknown);
        return r;
    }
    protection_->host_mapped(start, start + len, platform_->host_prot());
    shared_[start] = start + len;
    shared_count_.store(shared_.size());
    return {};
}

bool Process::in_shared_mapping(uint64_t a) {
    if (shared_count_.load(std::memory_order_relaxed) == 0) return false;
    std::lock_guard lk(aspace_mu_);
    auto it = shared_.upper_bound(a);
    return it != shared_.begin() && a < std::prev(it)->second;
}

uint64_t Process::unshare(uint64_t start, uint64_t end, int host_prot) {
    uint64_t remapped = 0;
    for (const Range& r : forget_host_ranges(start, end)) {
        if (auto m = platform_->memory().unshare(r.start, r.len, host_prot); !m) {
            log::warn("guest RAM [{:#x}, {:#x}): {}", r.start, r.end(), m.error().message);
            protection_->host_mapped(r.start, r.end(), memory::HostProtTable::kUnknown);
        } else {
            remapped += r.len;
            protection_->host_mapped(r.start, r.end(), host_prot);
        }
    }
    return remapped;
}

std::vector<Range> Process::forget_host_ranges(uint64_t start, uint64_t end) {
    std::vector<Range> out;
    // Every shared (or host file) range overlapping [start, end): the
    // overlap leaves the bookkeeping, the rest of the range stays in it.
    for (auto* ranges : {&shared_, &file_private_}) {
        auto it = ranges->upper_bound(start);
        if (it != ranges->begin()) --it;
        while (it != ranges->end() && it->first < end) {
            const uint64_t s = it->first, e = it->second;
            if (e <= start) {
                ++it;
                continue;
            }
            it = ranges->erase(it);
            const uint64_t a = std::max(s, start), b = std::min(e, end);
            out.push_back(Range{a, b - a});
            if (s < a) (*ranges)[s] = a;
            if (b < e) it = ranges->emplace(b, e).first, ++it;
        }
    }
    shared_count_.store(shared_.size());
    // A shmat whose memory goes (in part: Linux's shmdt then finds no
    // attach there either) is no longer one.
    for (auto it = sysv_attaches_.lower_bound(start); it != sysv_attaches_.begin() && std::prev(it)->second > start;)
        it = sysv_attaches_.erase(std::prev(it));
    sysv_attaches_.erase(sysv_attaches_.lower_bound(start), sysv_attaches_.lower_bound(end));
    return out;
}

bool Process::discard_replaces() const {
    return !cfg_.remote && platform_->kind() == platform::PlatformKind::native;
}

bool Process::renew_user_memory() {
    if (cfg_.remote || platform_->kind() != platform::PlatformKind::native) return false;
    const uint64_t lo = memory::layout::kUserBase, hi = platform_->memory().size();
    if (lo >= hi) return false;
    if (auto r = platform_->memory().unshare(lo, hi - lo, platform_->host_prot()); !r) {
        log::warn("guest RAM [{:#x}, {:#x}): {}", lo, hi, r.error().message);
        protection_->host_mapped(lo, hi, memory::HostProtTable::kUnknown);
        return false;  // discard() goes range by range
    }
    protection_->renewed(lo, hi, platform_->host_prot());
    shared_.clear();
    file_private_.clear();
    sysv_attaches_.clear();
    shared_count_.store(0);
    return true;
}

int Process::segv_code(uint64_t addr, int code) {
    if (code != arch::x86::SEGV_MAPERR && code != arch::x86::SEGV_ACCERR) return code;
    if (addr < memory::layout::kUserBase || addr >= platform_->memory().size()) return code;
    std::lock_guard lk(aspace_mu_);
    return aspace_->find(addr) ? arch::x86::SEGV_ACCERR : arch::x86::SEGV_MAPERR;
}

std::unique_ptr<platform::Vcpu> Process::take_vcpu() {
    std::lock_guard lk(vcpu_pool_mu_);
    if (!vcpu_pool_.empty()) {
        auto v = std::move(vcpu_pool_.back());
        vcpu_pool_.pop_back();
        return v;
    }
    if (next_vcpu_id_ >= platform_->max_vcpus()) {
        // clone() then fails with EAGAIN, as Linux does at its thread limit.
        report_unsupported_feature(fmt::format(
            "more than {} live guest threads: the {} platform allows {} vCPUs (clone returns EAGAIN)",
            platform_->max_vcpus(), platform_->name(), platform_->max_vcpus()));
        return nullptr;
    }
    auto v = platform_->create_vcpu(next_vcpu_id_);
    if (!v) {
        log::warn("cannot create vCPU {}: {}", next_vcpu_id_, v.error().message);
        return nullptr;
    }
    ++next_vcpu_id_;
    return std::move(*v);
}

int64_t Process::spawn_thread(const ThreadStart& start, uint64_t clear_child_tid, SpawnTidWrites writes) {
    // Syscall sites patched with a plain store (site_patcher.hpp) go back
    // while the caller is still the only thread.
    if (threads_.live_threads() == 1) {
        std::lock_guard lk(aspace_mu_);
        platform_->guest_before_second_thread();
    }
    const unsigned node = cfg_.remote ? cfg_.remote->place_thread() : 0;
    std::unique_ptr<platform::Vcpu> vcpu;
    RemoteLink* link = nullptr;  // part of *vcpu: a thread on another node
    if (node != 0) {
        std::lock_guard lk(vcpu_pool_mu_);
        auto rv = cfg_.remote->create_vcpu(node, next_vcpu_id_++);
        vcpu = std::move(rv.vcpu);
        link = vcpu ? rv.link : nullptr;
    } else {
        vcpu = take_vcpu();
    }
    if (!vcpu) {
        if (cfg_.remote) cfg_.remote->thread_gone(node);
        return -EAGAIN;
    }
    ThreadRow& row = threads_.add(static_cast<unsigned>(vcpu->id()), node);
    if (link) link->set_guest_tid(row.tid);
    row.clear_child_tid = clear_child_tid;
    row.sigmask = start.sigmask;
    row.seccomp_filter = start.seccomp_filter;
    row.seccomp_mode = start.seccomp_mode;
    const uint32_t tid = static_cast<uint32_t>(row.tid);
    if (writes.parent_tid_addr) (void)mem_.write(writes.parent_tid_addr, tid);
    if (writes.child_tid_addr) (void)mem_.write(writes.child_tid_addr, tid);
    live_.fetch_add(1);
    if (slot_) ++slot_->threads, ++slot_->threads_total;
    auto* gt = new GuestThread(*this, row, std::move(vcpu), link);
    try {
        std::thread([gt, start] {
            std::unique_ptr<GuestThread> owned(gt);
            owned->run(start);
        }).detach();
    } catch (const std::system_error& e) {
        delete gt;  // returns nothing to the pool: the vCPU is dropped with it
        row.state = ThreadState::exited;
        live_.fetch_sub(1);
        return -EAGAIN;
    }
    return row.tid;
}

void Process::thread_exited(ThreadRow& row, std::unique_ptr<platform::Vcpu> vcpu, RemoteLink* link, int code) {
    // Its robust futexes first, then the tid word, in Linux's order
    // (exit_mm_release: futex_exit_release, then mm_release).
    release_robust_futexes(row);
    // CLONE_CHILD_CLEARTID: clear the tid word and wake one joiner.
    if (row.clear_child_tid) {
        if (mem_.write(row.clear_child_tid, uint32_t{0})) futexes_.wake(row.clear_child_tid, 1, ~0u);
    }
    row.exit_code = code;
    if (cfg_.remote) cfg_.remote->thread_gone(row.node_id.load());
    if (link) {
        link->on_thread_exit();  // tells the remote node the thread ended
    } else {
        std::lock_guard lk(vcpu_pool_mu_);
        vcpu_pool_.push_back(std::move(vcpu));
    }
    if (slot_) --slot_->threads;
    if (live_.fetch_sub(1) == 1) exit_process(code);  // the last thread: the process ends
}

void Process::pool_vcpu(std::unique_ptr<platform::Vcpu> v) {
    std::lock_guard lk(vcpu_pool_mu_);
    vcpu_pool_.push_back(std::move(v));
}

std::vector<LiveThread> Process::live_threads() {
    std::vector<LiveThread> out;
    for (ThreadRow* r : threads_.live_rows()) out.push_back({r->tid, r->host_tid, r->node_id.load()});
    return out;
}

bool Process::request_move(int tid, unsigned node) {
    ThreadRow* r = threads_.find_live(tid);
    if (!r || exiting_) return false;
    r->move_to.store(static_cast<int>(node));
    // Out of the guest, so that it sees the request. A thread in a system
    // call moves when the call returns: it is not kicked, so no host call
    // of it fails with EINTR for this (a kick racing with its entry into a
    // call can still cause one: see ARCHITECTURE.md, Migration).
    const unsigned at = r->node_id.load();
    if (at != 0) {
        if (cfg_.remote) cfg_.remote->kick(at, tid);
    } else if (r->state.load() == ThreadState::running && r->host_tid != 0) {
        platform::Platform::kick_host_thread(r->host_tid);
    }
    return true;
}

Process::CpuMask Process::guest_affinity() const {
    std::lock_guard lk(affinity_mu_);
    if (guest_affinity_) return *guest_affinity_;
    CpuMask all{};
    for (unsigned i = 0; i < cfg_.vcpus && i < 64 * all.size(); ++i) all[i / 64] |= uint64_t{1} << (i % 64);
    return all;
}

void Process::set_guest_affinity(const CpuMask& m) {
    std::lock_guard lk(affinity_mu_);
    guest_affinity_ = m;
}

int Process::host_thread_of_process(int pid) const {
    if (pid != root_pid_ || !registry_) return pid;
    const int tid = registry_->root_main_host_tid();
    return tid ? tid : pid;
}

void Process::first_thread_started(int host_tid) {
    if (root_ && registry_ && pid_ == root_pid_) registry_->set_root_main_host_tid(host_tid);
    // run() started the forwarder on the VMM's main thread's CPU, and the
    // scheduler put this thread on another (the idle one): the forwarder
    // joins it, as a forked child's does (start_signal_forwarder).
    pin_forwarder_here();
}

void Process::run() {
    platform_->install_signal_handlers(
        install_host_fault_report(platform_->memory().host_base(), platform_->memory().size()));
    if (cfg_.remote) cfg_.remote->start_placement(*this);
    start_signal_forwarder();
    int64_t tid = spawn_thread(initial_, 0);
    if (tid < 0) {
        log::error("cannot start the guest's main thread: {}", std::strerror(static_cast<int>(-tid)));
        exit_process(1);
    }
    // The VMM's own main thread just waits: guest threads end the process.
    for (;;) ::pause();
}

void Process::exit_process(int status) { end_process(status, 0); }

void Process::exit_process_signal(int sig) { end_process(128 + sig, sig); }

void Process::end_process(int status, int sig) {
    trace::mark("proc.exit", static_cast<std::uint64_t>(status));
    {
        std::unique_lock lk(exit_mu_);
        if (exiting_.exchange(true)) {
            lk.unlock();
            for (;;) ::pause();  // another thread is ending the process
        }
    }
    // Every thread still here ends with the process, and Linux releases
    // each one's robust futexes as it exits: those in MAP_SHARED memory
    // are what another process can still lock.
    for (ThreadRow* r : threads_.live_rows()) release_robust_futexes(*r);
    futexes_.shutdown();
    std::fflush(stdout);
    vfork_release();
    if (slot_) {
        slot_->status = sig ? sig : status;
        slot_->state.store(sig ? ProcessSlot::kKilled : ProcessSlot::kExited);
    }
    if (root_) end_descendants();
    if (cfg_.remote) cfg_.remote->shutdown(status);
    if (cfg_.remote && exec_node_ > 0 && slot_) {
        // The placed image's node sent its counters with its goodbye.
        const auto [fetched, filled] = cfg_.remote->node_page_counts();
        slot_->node_pages_fetched += fetched;
        slot_->node_pages_filled += filled;
        const auto [local, forwarded] = threads_.remote_syscalls();
        slot_->node_syscalls_local += local;
        slot_->node_syscalls_forwarded += forwarded;
    }
    if (cfg_.remote && slot_) {
        const auto [sent, ridden] = cfg_.remote->layout_counts();
        slot_->layout_round_trips += sent;
        slot_->layouts_ridden += ridden;
    }
    exec_image_gone();
    if (cfg_.remote)
        threads_.refresh_faults([&](int host_tid) { return cfg_.remote->thread_faults(host_tid); });
    if (cfg_.report_sink) {
        // The creator renders it (--stats) or writes it (--json); nothing
        // here may keep the process from exiting with the guest's status.
        try {
            report::RunReport r;
            r.platform = platform_->name();
            r.platform_reason = platform_reason_;
            r.pid = pid_;
            r.vcpus_created = next_vcpu_id_;
            r.exit_status = status;
            r.threads = threads_.report();
            for (auto& t : r.threads) t.pid = pid_;
            if (registry_) {
                r.processes = registry_->report(true);
                if (r.processes.size() == 1) r.processes.clear();  // no fork: the thread table says it all
            }
            cfg_.report_sink(std::move(r));
        } catch (const std::exception& e) {
            log::error("cannot report the run: {}", e.what());
        } catch (...) {
            log::error("cannot report the run");
        }
    }
    std::fflush(stdout);
    std::fflush(stderr);
    trace::write_now();
    if (!root_ && sig) die_of_signal(sig);
    ::_exit(status);
}

void Process::report_unsupported(uint64_t nr) {
    std::lock_guard lk(exit_mu_);
    if (reported_syscalls_.insert(nr).second)
        log::warn("unsupported syscall {} ({}): returning ENOSYS", nr, syscall_name(nr));
}

void Process::report_unsupported_feature(const std::string& what) {
    std::lock_guard lk(exit_mu_);
    if (reported_features_.insert(what).second) log::warn("unsupported: {}", what);
}

void Process::report_out_of_memory(uint64_t len) {
    // A request larger than all of guest memory is just a bad argument
    // (ENOMEM on Linux too), not the guest running out of --mem.
    if (len == 0 || len >= cfg_.mem_size) return;
    if (!oom_reported_.exchange(true))
        log::error("guest out of memory: cannot map {} KiB more within --mem {} MiB", (len + 1023) >> 10,
                   cfg_.mem_size >> 20);
}

}  // namespace spanvm::process
