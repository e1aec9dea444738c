// mxrtc: a MatrixRTC call client on the command line.
#include <cstdio>
#include <exception>

#include "commands.hpp"
#include "mxrtc/version.hpp"

int main(int argc, char** argv) {
    using namespace mxrtc::cli;
    CLI::App app{"mxrtc: MatrixRTC calls from the command line"};
    app.require_subcommand(1);
    app.set_version_flag("--version", std::string("mxrtc ") + mxrtc::kVersion);
    GlobalOptions global;
    app.add_flag("--json", global.json, "print machine-readable JSON");
    app.add_flag("-q,--quiet", global.quiet, "no progress messages");
    app.add_option("--profile", global.profile, "directory holding the login session (env MXRTC_PROFILE)");
    Action action;
    registerInspect(app, global, action);
    registerMatrixCommands(app, global, action);
    registerDoctor(app, global, action);
    registerCallCommands(app, global, action);
    registerMediaCommands(app, global, action);
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {  // one line, like every other error
        std::fprintf(stderr, "mxrtc: %s (see --help)\n", e.what());
        return e.get_exit_code() != 0 ? e.get_exit_code() : 2;
    }
    try {
        return action ? action() : 0;
    } catch (const CliError& e) {
        std::fprintf(stderr, "mxrtc: %s\n", e.message.c_str());
        return e.exitCode;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "mxrtc: internal error: %s\n", e.what());
        return 70;
    }
}
