#pragma once
// --stats: the run report as the text tables spanvm prints on stderr. Test
// and bench scripts parse these tables by their headers and columns; keep
// them stable.
#include <cstddef>
#include <string>
#include <vector>

#include "vmm/report/run_report.hpp"

namespace spanvm::report {

// The hot-page rows --stats prints (the report may carry more for --json).
inline constexpr std::size_t kTextHotPages = 8;

// Machine table (if any), platform line, thread table, hot pages (if any).
std::string render_text(const RunReport& r);

// The pieces, for tests and other callers.
std::string render_thread_table(const std::vector<ThreadReport>& rows);
std::string render_machine_table(const std::vector<MachineReport>& rows);
std::string render_hot_pages(const std::vector<HotPage>& pages, std::size_t n);

}  // namespace spanvm::report
