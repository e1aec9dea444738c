// The `mxrtc` CLI: each subcommand lives in its own cmd_*.cpp and registers itself here.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

namespace mxrtc::cli {

struct GlobalOptions {
    bool json = false;  // machine-readable output for scripts
    bool quiet = false;
};

// A command's action returns the process exit code; a thrown CliError prints one line and exits 1.
using Action = std::function<int()>;

struct CliError {
    std::string message;
    int exitCode = 1;
};

void registerInspect(CLI::App& app, const GlobalOptions& global, Action& action);

}  // namespace mxrtc::cli
