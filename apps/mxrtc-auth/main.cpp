// mxrtc-auth: a drop-in, lk-jwt-service-compatible MatrixRTC authorization service.
//
// Configuration: lk-jwt-service's environment variables (LIVEKIT_URL, LIVEKIT_KEY/LIVEKIT_SECRET,
// *_FROM_FILE, LIVEKIT_KEY_FILE, LIVEKIT_FULL_ACCESS_HOMESERVERS, LIVEKIT_JWT_BIND, ...), a JSON
// config file (--config / MXRTC_AUTH_CONFIG), MXRTC_AUTH_* variables, and these flags (highest
// precedence). A bad configuration is one line on stderr and exit status 2.
#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "mxrtc/auth/config.hpp"
#include "mxrtc/auth/log.hpp"
#include "mxrtc/auth/server.hpp"
#include "mxrtc/version.hpp"

extern char** environ;

namespace {

std::optional<std::string> readFile(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) return std::nullopt;
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

std::map<std::string, std::string> environment() {
    std::map<std::string, std::string> env;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
        std::string_view kv(*e);
        const auto eq = kv.find('=');
        if (eq != std::string_view::npos)
            env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
    }
    return env;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace mxrtc::auth;
    CLI::App app{"mxrtc-auth: lk-jwt-service-compatible MatrixRTC authorization service"};
    std::string configPath, bind, liveKitUrl, fullAccess, verifyVia, logLevel, logFormat, rateLimit, portFile;
    std::vector<std::string> homeserverUrls;
    bool allowLoopback = false, allowPrivate = false, noCors = false, checkOnly = false, showVersion = false;
    app.add_option("-c,--config", configPath, "JSON config file (also MXRTC_AUTH_CONFIG)");
    app.add_option("--bind", bind, "listen address [host]:port (LIVEKIT_JWT_BIND; default :8080)");
    app.add_option("--livekit-url", liveKitUrl, "LiveKit URL handed to clients (LIVEKIT_URL)");
    app.add_option(
        "--full-access", fullAccess,
        "homeservers whose users may create rooms, comma separated, or * (LIVEKIT_FULL_ACCESS_HOMESERVERS)");
    app.add_option("--homeserver-url", homeserverUrls,
                   "server_name=base_url: where to verify that server's OpenID tokens (repeatable)");
    app.add_option("--verify-via", verifyVia, "federation (default) or client: which API serves userinfo")
        ->check(CLI::IsMember({"federation", "client"}));
    app.add_flag("--allow-loopback-targets", allowLoopback,
                 "allow discovered homeservers on loopback addresses");
    app.add_flag("--allow-private-targets", allowPrivate,
                 "allow discovered homeservers on private addresses");
    app.add_flag("--no-cors", noCors, "do not add CORS headers (a reverse proxy adds them)");
    app.add_option("--rate-limit", rateLimit, "per-client limit <per_second>/<burst>, or off");
    app.add_option("--log-level", logLevel, "trace|debug|info|warn|error (LIVEKIT_LOG_LEVEL)");
    app.add_option("--log-format", logFormat, "json (default) or text")
        ->check(CLI::IsMember({"json", "text"}));
    app.add_option("--port-file", portFile, "write the bound port to this file once listening");
    app.add_flag("--check-config", checkOnly, "validate the configuration and exit");
    app.add_flag("--version", showVersion, "print the version and exit");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    if (showVersion) {
        std::cout << "mxrtc-auth " << mxrtc::kVersion << " (lk-jwt-service compatible)\n";
        return 0;
    }

    ConfigInputs inputs;
    inputs.env = environment();
    inputs.readFile = readFile;
    if (configPath.empty())
        if (auto it = inputs.env.find("MXRTC_AUTH_CONFIG"); it != inputs.env.end()) configPath = it->second;
    if (!configPath.empty()) {
        inputs.fileText = readFile(configPath);
        inputs.filePath = configPath;
        if (!inputs.fileText) {
            std::cerr << "mxrtc-auth: cannot read config file " << configPath << "\n";
            return 2;
        }
    }
    auto& o = inputs.overrides;
    if (!bind.empty()) o["LIVEKIT_JWT_BIND"] = bind, o["LIVEKIT_JWT_PORT"] = "";
    if (!liveKitUrl.empty()) o["LIVEKIT_URL"] = liveKitUrl;
    if (!fullAccess.empty()) o["LIVEKIT_FULL_ACCESS_HOMESERVERS"] = fullAccess;
    if (!verifyVia.empty()) o["MXRTC_AUTH_VERIFY_VIA"] = verifyVia;
    if (!homeserverUrls.empty()) {
        std::string joined;
        for (const auto& h : homeserverUrls)
            joined += (joined.empty() ? "" : ",") + h;
        o["MXRTC_AUTH_HOMESERVER_URLS"] = joined;
    }
    if (allowLoopback) o["MXRTC_AUTH_ALLOW_LOOPBACK_TARGETS"] = "true";
    if (allowPrivate) o["MXRTC_AUTH_ALLOW_PRIVATE_TARGETS"] = "true";
    if (noCors) o["MXRTC_AUTH_CORS"] = "false";
    if (!rateLimit.empty()) o["MXRTC_AUTH_RATE_LIMIT"] = rateLimit;
    if (!logLevel.empty()) o["LIVEKIT_LOG_LEVEL"] = logLevel;
    if (!logFormat.empty()) o["MXRTC_AUTH_LOG_FORMAT"] = logFormat;
    // An explicit --bind must win over an environment LIVEKIT_JWT_PORT (they are exclusive).
    if (!bind.empty()) inputs.env.erase("LIVEKIT_JWT_PORT");

    auto config = loadConfig(inputs);
    if (!config) {
        std::cerr << "mxrtc-auth: " << config.error().message << "\n";
        return 2;
    }
    if (checkOnly) {
        std::cout << "configuration OK\n";
        return 0;
    }

    auto log = makeLogger(config->logLevel, config->logJson);
    for (const auto& w : config->warnings)
        log->warn(LogLine("configuration warning").str("warning", w).done());
    if (config->skipVerifyTls)
        log->warn(
            LogLine("TLS certificate verification of homeservers is OFF (LIVEKIT_INSECURE_SKIP_VERIFY_TLS)")
                .done());

    boost::asio::io_context io(1);
    AuthServer server(io, *config, log);
    auto port = server.start();
    if (!port) {
        std::cerr << "mxrtc-auth: " << port.error().message << "\n";
        return 1;
    }
    std::string fullList;
    for (const auto& h : config->fullAccessHomeservers)
        fullList += (fullList.empty() ? "" : ",") + h;
    log->info(LogLine("listening")
                  .str("bind", config->bindHost.empty() ? "*" : config->bindHost)
                  .integer("port", *port)
                  .str("livekit_url", config->liveKitUrl)
                  .str("livekit_key", config->liveKitKey)
                  .str("livekit_secret", config->liveKitSecret.fingerprint())
                  .str("full_access_homeservers", fullList)
                  .str("verify_via", toString(config->defaultVia))
                  .boolean("cors", config->cors)
                  .boolean("room_creation", config->createRooms)
                  .boolean("membership_check", config->membership.enabled)
                  .done());
    log->flush();
    if (!portFile.empty()) {
        // Written to a temporary name and renamed, so readers never see a partial file.
        const std::string tmp = portFile + ".tmp";
        std::ofstream(tmp) << *port << "\n";
        std::rename(tmp.c_str(), portFile.c_str());
    }

    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int sig) {
        if (ec) return;
        log->info(LogLine("shutting down").integer("signal", sig).done());
        server.shutdown(mxrtc::Duration{5'000}, [&io] { io.stop(); });
    });
    std::signal(SIGPIPE, SIG_IGN);
    io.run();
    log->flush();
    return 0;
}
