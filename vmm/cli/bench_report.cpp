#include "vmm/cli/bench_report.hpp"

#include <cmath>
#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include "vmm/base/log.hpp"

namespace spanvm::cli {

int report_bench_figures(const BenchFigures& figures, unsigned iterations, const std::string& json_path) {
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    for (const auto& [name, ns] : figures) {
        std::printf("%s %.0f\n", name.c_str(), ns);
        j[name] = std::llround(ns);
    }
    std::printf("iterations %u\n", iterations);
    j["iterations"] = iterations;
    if (json_path.empty()) return 0;
    std::ofstream f(json_path);
    f << j.dump() << '\n';
    if (!f) {
        log::error("cannot write --json {}", json_path);
        return 1;
    }
    return 0;
}

}  // namespace spanvm::cli
