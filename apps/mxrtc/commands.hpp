// The `mxrtc` CLI: each subcommand lives in its own cmd_*.cpp and registers itself here.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

#include "mxrtc/common/ids.hpp"
#include "mxrtc/common/time.hpp"
#include "mxrtc/core/event.hpp"

namespace mxrtc::cli {

struct GlobalOptions {
    bool json = false;  // machine-readable output for scripts
    bool quiet = false;
    std::string profile;  // session store directory (default $MXRTC_PROFILE or ~/.local/share/mxrtc/default)
};

// A command's action returns the process exit code; a thrown CliError prints one line and exits 1.
using Action = std::function<int()>;

struct CliError {
    std::string message;
    int exitCode = 1;
};

void registerInspect(CLI::App& app, const GlobalOptions& global, Action& action);
void registerMatrixCommands(CLI::App& app, const GlobalOptions& global, Action& action);
void registerDoctor(CLI::App& app, const GlobalOptions& global, Action& action);

// The sessions / call-history report shared by `inspect` (offline dump) and `sessions`/`history`
// (live room): events in timeline order, evaluated at `now`.
int printRoomReport(const GlobalOptions& global, const RoomId& room,
                    const std::vector<core::RoomEvent>& events, TimePoint now,
                    std::vector<std::string> problems);

}  // namespace mxrtc::cli
