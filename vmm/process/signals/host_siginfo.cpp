#include "vmm/process/signals/host_siginfo.hpp"

namespace spanvm::process {

SigInfoFields guest_siginfo(int sig, const siginfo_t& si, uint64_t last_stop) {
    SigInfoFields info;
    info.code = si.si_code;
    if (!(sig == SIGIO && si.si_code > 0) && si.si_code != SI_TIMER) {
        info.pid = si.si_pid;
        info.uid = si.si_uid;
    }
    // A sigqueue's value (SI_QUEUE and the other negative codes but
    // tgkill's; kill's SI_USER and the kernel's codes carry none).
    if (si.si_code < 0 && si.si_code != SI_TKILL) info.value = reinterpret_cast<uint64_t>(si.si_value.sival_ptr);
    if (sig == SIGCHLD && si.si_code > 0) {  // CLD_EXITED .. CLD_CONTINUED
        info.child = true;
        info.status = si.si_status;
        // Linux's race (header): the stop signal the wait reported.
        if (si.si_code == CLD_STOPPED && si.si_status == 0 && last_stop != 0 &&
            last_stop >> 8 == static_cast<uint32_t>(si.si_pid))
            info.status = static_cast<int32_t>(last_stop & 0x7f);
        info.utime = static_cast<int64_t>(si.si_utime);
        info.stime = static_cast<int64_t>(si.si_stime);
    }
    return info;
}

}  // namespace spanvm::process
