// `mxrtc doctor`: walks the steps a MatrixRTC call depends on and says which one fails, and why
// (the top complaint about today's stacks is "Waiting for media" with no idea which step broke).
//   homeserver reachable -> login valid -> delayed events (MSC4140) -> RTC transports (MSC4143
//   endpoint, else .well-known rtc_foci) -> the LiveKit JWT service answers -> OpenID token
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <iostream>

#include "commands.hpp"
#include "mxrtc/matrix/client.hpp"
#include "mxrtc/matrix/store.hpp"

namespace mxrtc::cli {

namespace {

namespace asio = boost::asio;
using Json = nlohmann::json;
using matrix::Client;
using matrix::MatrixError;

struct Check {
    std::string name;
    bool ok = false;
    std::string detail;
    bool warning = false;  // works, but degraded
};

// (Not a coroutine: GCC 12 mishandles braced aggregate temporaries inside coroutines.)
void add(std::vector<Check>& checks, std::string name, bool ok, std::string detail, bool warning = false) {
    Check c;
    c.name = std::move(name);
    c.ok = ok;
    c.detail = std::move(detail);
    c.warning = warning;
    checks.push_back(std::move(c));
}

net::HttpRequest healthRequest(const std::string& url) {
    net::HttpRequest r;
    r.url = url + "/healthz";
    r.timeout = Duration{5000};
    return r;
}

asio::awaitable<std::vector<Check>> diagnose(asio::io_context& io, const matrix::LoginSession& s) {
    std::vector<Check> checks;
    Client client(io.get_executor(), s.homeserver);
    client.setAccessToken(s.accessToken);

    auto versions = co_await client.versions();
    if (auto* e = std::get_if<MatrixError>(&versions)) {
        add(checks, "homeserver reachable", false, s.homeserver + ": " + e->message);
        co_return checks;
    }
    add(checks, "homeserver reachable", true, s.homeserver);
    const Json features = std::get<Json>(versions).value("unstable_features", Json::object());
    auto feature = [&](const char* name) { return features.value(name, false); };

    auto who = co_await client.whoami();
    if (auto* e = std::get_if<MatrixError>(&who)) {
        add(checks, "login valid", false, e->message + (e->unknownToken ? " (log in again)" : ""));
        co_return checks;
    }
    add(checks, "login valid", true, std::get<UserId>(who).str() + " device " + s.deviceId.str());

    if (feature("org.matrix.msc4140")) {
        add(checks, "delayed events (MSC4140)", true, "a crashed client is removed after its delayed leave");
    } else {
        add(checks, "delayed events (MSC4140)", true,
            "not advertised: calls work, but a crashed client stays listed until its membership "
            "expires (up to 4 h); ask the admin to set max_event_delay_duration",
            true);
    }
    add(checks, "sticky events (MSC4354)", true,
        feature("org.matrix.msc4354") ? "supported" : "not advertised (only needed for rtc.member mode)",
        !feature("org.matrix.msc4354"));

    std::vector<std::string> serviceUrls;
    auto transports = co_await client.rtcTransports();
    if (ok(transports)) {
        const Json list = std::get<Json>(transports).value("rtc_transports", Json::array());
        for (const auto& t : list) {
            if (t.is_object() && t.contains("livekit_service_url") && t["livekit_service_url"].is_string()) {
                serviceUrls.push_back(t["livekit_service_url"].get<std::string>());
            }
        }
        add(checks, "RTC transports (MSC4143 endpoint)", !list.empty(),
            list.empty() ? "the endpoint answers but lists no transport" : list.dump());
    } else {
        const auto& e = std::get<MatrixError>(transports);
        add(checks, "RTC transports (MSC4143 endpoint)", true,
            "not served (" + e.message + "): trying .well-known", true);
    }
    if (serviceUrls.empty()) {
        auto wk = co_await Client::wellKnown(client.http(), s.homeserver);
        if (ok(wk)) {
            for (const auto& t : std::get<Json>(wk).value("org.matrix.msc4143.rtc_foci", Json::array())) {
                if (t.is_object() && t.contains("livekit_service_url") &&
                    t["livekit_service_url"].is_string()) {
                    serviceUrls.push_back(t["livekit_service_url"].get<std::string>());
                }
            }
        }
        add(checks, ".well-known rtc_foci", !serviceUrls.empty(),
            serviceUrls.empty() ? "no LiveKit focus advertised anywhere: SFU calls cannot start "
                                  "(Element Call shows MISSING_MATRIX_RTC_TRANSPORT)"
                                : serviceUrls.front());
    }
    for (const auto& url : serviceUrls) {
        auto r = co_await client.http().request(healthRequest(url));
        if (auto* n = std::get_if<net::NetError>(&r)) {
            add(checks, "JWT service " + url, false, n->message);
        } else {
            const int status = std::get<net::HttpResponse>(r).status;
            add(checks, "JWT service " + url, status == 200,
                "GET /healthz -> HTTP " + std::to_string(status));
        }
    }

    auto token = co_await client.requestOpenIdToken(std::get<UserId>(who));
    if (auto* e = std::get_if<MatrixError>(&token)) {
        add(checks, "OpenID token", false, e->message + ": the JWT service cannot authenticate this user");
    } else {
        add(checks, "OpenID token", true,
            "issued for server " + std::get<matrix::OpenIdToken>(token).matrixServerName + ", valid " +
                std::to_string(std::get<matrix::OpenIdToken>(token).expiresIn) + " s");
    }
    co_return checks;
}

int runDoctor(const GlobalOptions& g) {
    // Do not create a store just to say "not logged in".
    if (!std::filesystem::exists(profileDir(g) + "/session.db")) {
        throw CliError{"not logged in: run `mxrtc login --homeserver URL --user NAME --password PASS` first"};
    }
    auto store = openStore(g);
    const auto session = requireSession(*store);
    asio::io_context io;
    std::vector<Check> checks;
    std::exception_ptr error;
    asio::co_spawn(io, diagnose(io, session), [&](std::exception_ptr e, std::vector<Check> c) {
        error = e;
        checks = std::move(c);
    });
    io.run();
    if (error) std::rethrow_exception(error);
    bool allOk = true;
    Json out = Json::array();
    for (const auto& c : checks) {
        allOk = allOk && c.ok;
        if (g.json) {
            out.push_back(
                Json{{"check", c.name}, {"ok", c.ok}, {"warning", c.warning}, {"detail", c.detail}});
        } else {
            std::cout << (c.ok ? (c.warning ? "[warn] " : "[ ok ] ") : "[FAIL] ") << c.name << ": "
                      << c.detail << "\n";
        }
    }
    if (g.json) std::cout << out.dump() << "\n";
    return allOk ? 0 : 1;
}

}  // namespace

void registerDoctor(CLI::App& app, const GlobalOptions& global, Action& action) {
    auto* cmd = app.add_subcommand("doctor", "Check every step a call depends on and say which one fails");
    cmd->callback([&global, &action] { action = [&global] { return runDoctor(global); }; });
}

}  // namespace mxrtc::cli
