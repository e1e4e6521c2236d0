#!/usr/bin/env python3
# instrument.py TREE: adds the phase lines of a placed exec to a copy of the
# source tree (NOT for merging). SPANVM_LOG_TS=1 then prints
# "[CLOCK_MONOTONIC pid] spanvm: T ..." on stderr (SPANVM_DEBUG_DEPUTY=1
# keeps the sessions' stderr). Works on main at f40537e and on h-fixed.
# phases.py LOG... turns the logs into the table of README.md.
HDR = r"""#pragma once
// SCRATCH instrumentation (not for merging): SPANVM_LOG_TS=1 prints
// "[mono_s pid] spanvm: T ..." lines on stderr.
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <unistd.h>
#include <fmt/format.h>
namespace spanvm::tst {
inline bool on() {
    static const bool b = std::getenv("SPANVM_LOG_TS") != nullptr;
    return b;
}
template <class... A>
void T(fmt::format_string<A...> f, A&&... a) {
    if (!on()) return;
    timespec t{};
    ::clock_gettime(CLOCK_MONOTONIC, &t);
    std::string line = fmt::format("[{}.{:06} {}] spanvm: T ", t.tv_sec, t.tv_nsec / 1000, ::getpid()) +
                       fmt::format(f, std::forward<A>(a)...) + "\n";
    std::fwrite(line.data(), 1, line.size(), stderr);
}
}  // namespace spanvm::tst
"""
import re,sys
root=sys.argv[1]
open(root+'/vmm/base/ts_trace.hpp','w').write(HDR)
def edit(path, pairs, inc=True):
    p=root+'/'+path; s=open(p).read()
    if inc and 'ts_trace.hpp' not in s:
        # after first #include line
        i=s.index('#include'); j=s.index('\n',i)+1
        s=s[:j]+'#include "vmm/base/ts_trace.hpp"\n'+s[j:]
    for a,b in pairs:
        if a not in s: raise SystemExit(f'{path}: not found: {a!r}')
        s=s.replace(a,b,1)
    open(p,'w').write(s)
edit('vmm/cli/exec_deputies.cpp',[
 ('    auto port = request_session(node, deputy_port','    tst::T("deputy: asking");\n    auto port = request_session(node, deputy_port'),
 ('    if (!port) {\n','    tst::T("deputy: port");\n    if (!port) {\n'),
 ('    if (r) r = oc->attach_memory(ram, prot);\n    if (r) oc->layout_changed(prot.accessible_runs());',
  '    tst::T("deputy: OriginCluster made");\n    if (r) r = oc->attach_memory(ram, prot);\n    tst::T("deputy: attached");\n    if (r) oc->layout_changed(prot.accessible_runs());\n    tst::T("deputy: joined");'),
])
edit('vmm/cluster/node_runner.cpp',[
 ('    auto pc = platform::choose_platform(opts_.platform, opts_.mem_size);','    tst::T("node: serve");\n    auto pc = platform::choose_platform(opts_.platform, opts_.mem_size);'),
 ('    engine_ = std::move(*e);\n    channel_.bind','    engine_ = std::move(*e);\n    tst::T("node: engine made");\n    channel_.bind'),
 ('    if (opts_.deputy_fd >= 0 && !await_deputy()) ::_exit(0);  // dropped: no deputy, nothing to say\n',
  '    if (opts_.deputy_fd >= 0 && !await_deputy()) ::_exit(0);  // dropped: no deputy, nothing to say\n    tst::T("node: deputy port in");\n'),
 ('    if (opts_.on_joined) opts_.on_joined();','    tst::T("node: joined");\n    if (opts_.on_joined) opts_.on_joined();'),
 ('        case kSpawnType: {\n','        case kSpawnType: {\n            tst::T("node: Spawn");\n'),
 ('            auto m = decode_layout(payload);\n            if (!m) bad(m.error().message);\n            apply_layout(*m);',
  '            auto m = decode_layout(payload);\n            if (!m) bad(m.error().message);\n            tst::T("node: Layout files {} runs {} fills {}", m->files.size(), m->runs.size(), m->fills.size());\n            apply_layout(*m);'),
 ('        case kShutdownType: {\n','        case kShutdownType: {\n            tst::T("node: Shutdown");\n'),
 ('    if (!ch) fail(ch.error().message);\n','    if (!ch) fail(ch.error().message);\n    tst::T("node: channel connected");\n'),
 ('    NodeCallState calls;\n','    tst::T("node: thread up");\n    NodeCallState calls;\n'),
 ('        if (auto s = (*ch)->send(ChannelType::trap, encode(tr)); !s) park();','        tst::T("node: Trap {}", (long long)tr.state.regs.rax);\n        if (auto s = (*ch)->send(ChannelType::trap, encode(tr)); !s) park();'),
 ('        if (r.layout) apply_layout(*r.layout);','        if (r.layout) tst::T("node: ridden Layout runs {} fills {}", r.layout->runs.size(), r.layout->fills.size());\n        if (r.layout) apply_layout(*r.layout);'),
])
edit('vmm/cluster/origin_cluster.cpp',[
 ('    auto e = dsm::DsmEngine::create(std::move(o));\n    if (!e) return e.error();\n    engine_ = std::move(*e);',
  '    tst::T("attach: begin");\n    auto e = dsm::DsmEngine::create(std::move(o));\n    if (!e) return e.error();\n    engine_ = std::move(*e);\n    tst::T("attach: engine made");'),
 ('    listener_ = std::move(*l);\n    return engine_->start();','    listener_ = std::move(*l);\n    tst::T("attach: listener");\n    auto started = engine_->start();\n    tst::T("attach: engine started (connected)");\n    return started;'),
 ('void OriginCluster::on_channel(std::int32_t tid, std::unique_ptr<SyscallChannel> ch) {\n','void OriginCluster::on_channel(std::int32_t tid, std::unique_ptr<SyscallChannel> ch) {\n    tst::T("deputy: syscall channel of {} in", tid);\n'),
 ('    ++layout_round_trips_;\n','    ++layout_round_trips_;\n    tst::T("deputy: Layout round trip files {} runs {} fills {}", m.files.size(), m.runs.size(), m.fills.size());\n'),
])
edit('vmm/cluster/session_launcher.cpp',[
 ('void SessionLauncher::serve(SessionStartMsg m) {\n','void SessionLauncher::serve(SessionStartMsg m) {\n    tst::T("daemon: SessionStart");\n'),
 ('        send_(kSessionReadyType, encode(SessionReadyMsg{m.seq, s->port, sessions_, {}}));','        send_(kSessionReadyType, encode(SessionReadyMsg{m.seq, s->port, sessions_, {}}));\n        tst::T("daemon: SessionReady sent");'),
])
edit('vmm/process/process.cpp',[
 ('    if (cfg_.remote) cfg_.remote->shutdown(status);','    if (cfg_.remote) tst::T("end: process ending {}", status);\n    if (cfg_.remote) cfg_.remote->shutdown(status);\n    if (cfg_.remote) tst::T("end: shutdown done");'),
])
edit('vmm/process/process_exec_placed.cpp',[
 ('    exec_node_ = static_cast<int>(cfg_.exec_placer->place_exec());\n    if (exec_node_ == 0) return;','    exec_node_ = static_cast<int>(cfg_.exec_placer->place_exec());\n    if (exec_node_ == 0) return;\n    tst::T("exec: placing on {}", exec_node_);'),
 ('    RemoteThreads* r = cfg_.exec_placer','    tst::T("exec: discarded");\n    RemoteThreads* r = cfg_.exec_placer'),
])
edit('vmm/process/syscalls/process_exec.cpp',[
 ('    sync_host_protection(memory::layout::kUserBase, platform_->memory().size());','    tst::T("exec: loaded");\n    sync_host_protection(memory::layout::kUserBase, platform_->memory().size());\n    tst::T("exec: synced");'),
])
edit('vmm/process/threads/thread_migration.cpp',[
 ('    remote.thread_moved(row_.tid, from, to, static_cast<std::uint64_t>(ns.count()));','    tst::T("migrate: thread {} moved to {}", row_.tid, to);\n    remote.thread_moved(row_.tid, from, to, static_cast<std::uint64_t>(ns.count()));'),
])

edit('vmm/process/process.cpp',[
 ('    if (!main) return main.error();\n','    if (!main) return main.error();\n    tst::T("load: main image");\n'),
 ('        entry = interp->entry;\n','        entry = interp->entry;\n        tst::T("load: interp");\n'),
], inc=False)
edit('vmm/cluster/node_runner.cpp',[
 ('        start_timekeeper(m.vvar_gva);\n','        tst::T("node: thread started");\n        start_timekeeper(m.vvar_gva);\n        tst::T("node: timekeeper");\n'),
], inc=False)
edit('net/peer_link.cpp',[
 ('    accept_hs_ = std::make_unique<AcceptHandshake>(ctx_.handshake_setup(), ctx_.self, hello);\n','    tst::T("net: adopt hello from {}", id_);\n    accept_hs_ = std::make_unique<AcceptHandshake>(ctx_.handshake_setup(), ctx_.self, hello);\n    tst::T("net: challenge made");\n'),
 ('void PeerLink::mark_connected() {\n','void PeerLink::mark_connected() {\n    tst::T("net: connected {}", id_);\n'),
])
print("instrumented", root)
