#pragma once
// --json: the run report as the JSON document `spanvm run --json FILE`
// writes. Keys (sorted, as nlohmann::json writes them): platform,
// platform_reason, exit_status, threads, and for a program that spans hosts
// machines and hot_pages. Readers: tests/integration/cluster_selfcheck.sh,
// bench/. Keep them stable.
#include <string>

#include "vmm/report/run_report.hpp"

namespace spanvm::report {

// The document, indented by 2, with a final newline. Never throws (an
// unencodable string is replaced, see the .cpp).
std::string to_json_text(const RunReport& r);

}  // namespace spanvm::report
