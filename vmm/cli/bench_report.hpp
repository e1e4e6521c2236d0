#pragma once
// Output of `spanvm bench-trap` and `spanvm bench-exit`: one "name value"
// line per figure (value rounded to whole nanoseconds) and "iterations N",
// and with --json FILE the same names and values as one JSON object, in the
// same order. The one place these figures are rendered.
#include <string>
#include <utility>
#include <vector>

namespace spanvm::cli {

using BenchFigures = std::vector<std::pair<std::string, double>>;  // name, ns

// Returns the command's exit status: 0, or 1 if the JSON file cannot be written.
int report_bench_figures(const BenchFigures& figures, unsigned iterations, const std::string& json_path);

}  // namespace spanvm::cli
