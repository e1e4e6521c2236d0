#pragma once
// Latency trace points: a diagnostic for finding where the time of a fault or
// a message goes, across threads and processes.
//
// Off unless the environment variable SPANVM_LATENCY_TRACE names a directory
// when the first point is hit. Then every mark() appends {CLOCK_MONOTONIC ns,
// thread id, point, argument} to a fixed in-memory buffer (kCapacity entries,
// later marks are dropped), and at process exit (or write_now(), for a
// process that ends with _exit) the buffer is written to
// DIR/trace-<pid>.tsv ("ns tid point arg" per line). On one host every
// process reads the same monotonic clock, so the files of the nodes of a
// loopback cluster merge into one timeline (scripts/latency-trace-report).
//
// With SPANVM_LATENCY_TRACE_CPU=1 as well, every mark's argument is replaced
// by the process's CPU time in ns (CLOCK_PROCESS_CPUTIME_ID, all its
// threads): the CPU a stretch between two marks of one process cost, e.g.
// the phases of a fork (bench/results/session-2026-12-06c/phases.py).
// SPANVM_LATENCY_TRACE_CPU=faults records the process's minor page faults
// (getrusage ru_minflt) times 1000 instead, so the same script counts faults.
//
// Cost when off: one relaxed atomic load per mark. When on: one fetch_add and
// a clock read; no allocation, no lock. Points must be string literals (the
// pointer is stored).
#include <cstdint>

namespace spanvm::trace {

bool enabled();
// Writes the buffer now (for a process that ends with _exit); once.
void write_now();
void mark_slow(const char* point, std::uint64_t arg);

inline void mark(const char* point, std::uint64_t arg = 0) {
    if (enabled()) mark_slow(point, arg);
}

}  // namespace spanvm::trace
