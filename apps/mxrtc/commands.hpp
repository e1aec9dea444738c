// The `mxrtc` CLI: each subcommand lives in its own cmd_*.cpp and registers itself here.
#pragma once

#include <CLI/CLI.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mxrtc/common/ids.hpp"
#include "mxrtc/common/time.hpp"
#include "mxrtc/core/event.hpp"

namespace mxrtc::matrix {
class Store;
struct LoginSession;
struct MatrixError;
}  // namespace mxrtc::matrix

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

// The profile directory: --profile, else $MXRTC_PROFILE, else ~/.local/share/mxrtc/default.
std::string profileDir(const GlobalOptions& g);
// Opens (creating) the profile's session store; CliError on failure.
std::unique_ptr<matrix::Store> openStore(const GlobalOptions& g);
// The saved login, or CliError "not logged in".
matrix::LoginSession requireSession(const matrix::Store& store);

// Progress text on stderr (not with --json or -q).
void progress(const GlobalOptions& g, const std::string& text);
// Throws CliError "<what>: <error> (<hint>)".
[[noreturn]] void fail(const std::string& what, const matrix::MatrixError& e);
// Runs `body` to completion on a fresh io_context; CliError thrown inside propagates.
int runAsync(std::function<boost::asio::awaitable<int>(boost::asio::io_context&)> body);
// A room id, or CliError (aliases must be joined with join-room first).
RoomId parseRoom(const std::string& text);
// "HH:MM:SS" (UTC) for human-readable output.
std::string isoTime(TimePoint t);

void registerInspect(CLI::App& app, const GlobalOptions& global, Action& action);
void registerMatrixCommands(CLI::App& app, const GlobalOptions& global, Action& action);
void registerDoctor(CLI::App& app, const GlobalOptions& global, Action& action);
void registerMediaCommands(CLI::App& app, const GlobalOptions& global, Action& action);
void registerCallCommands(CLI::App& app, const GlobalOptions& global, Action& action);

// The sessions / call-history report shared by `inspect` (offline dump) and `sessions`/`history`
// (live room): events in timeline order, evaluated at `now`.
int printRoomReport(const GlobalOptions& global, const RoomId& room,
                    const std::vector<core::RoomEvent>& events, TimePoint now,
                    std::vector<std::string> problems);

}  // namespace mxrtc::cli
