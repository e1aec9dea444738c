// Shared by the mxrtc-auth integration tests (auth_*_test.cpp): the real mxrtc-auth binary as a
// child process, blocking HTTP through mxrtc's own client, the fixture's Synapse and its users,
// and the AuthWithSynapse fixture.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "mxrtc/auth/jwt.hpp"
#include "mxrtc/core/identity.hpp"
#include "mxrtc/net/http_client.hpp"
#include "support/subprocess.hpp"
#include "support/synapse_env.hpp"

extern char** environ;

#ifndef MXRTC_SYNAPSE_ENV_FILE
#error "MXRTC_SYNAPSE_ENV_FILE must be defined (cmake/Synapse.cmake: mxrtc_use_synapse)"
#endif

namespace mxrtc::auth_it {

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kKey = "devkey";
constexpr const char* kSecret = "integration-secret-integration-secret";

using mxrtc::test::readEnvFile;
using mxrtc::test::readWholeFile;
using mxrtc::test::shellQuote;

struct Http {
    int status = 0;
    std::string body;
    mxrtc::net::Headers headers;
    std::string error;
    json js() const { return json::parse(body, nullptr, false); }
    std::optional<std::string> header(std::string_view name) const {
        for (const auto& [k, v] : headers)
            if (k.size() == name.size() && std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
                    return std::tolower(static_cast<unsigned char>(a)) ==
                           std::tolower(static_cast<unsigned char>(b));
                }))
                return v;
        return std::nullopt;
    }
};

// One blocking HTTP exchange through mxrtc's own client.
inline Http call(const std::string& method, const std::string& url, const std::string& body = {},
                 mxrtc::net::Headers headers = {}) {
    boost::asio::io_context io;
    mxrtc::net::HttpClient client(io.get_executor());
    Http out;
    mxrtc::net::HttpRequest req;
    req.method = method;
    req.url = url;
    req.body = body;
    req.headers = std::move(headers);
    if (!body.empty()) req.headers.emplace_back("Content-Type", "application/json");
    req.timeout = mxrtc::Duration{20'000};
    boost::asio::co_spawn(
        io,
        [&]() -> boost::asio::awaitable<void> {
            auto r = co_await client.request(req);
            if (auto* resp = std::get_if<mxrtc::net::HttpResponse>(&r)) {
                out.status = resp->status;
                out.body = resp->body;
                out.headers = resp->headers;
            } else {
                out.error = std::get<mxrtc::net::NetError>(r).message;
            }
        },
        boost::asio::detached);
    io.run();
    return out;
}

// A running mxrtc-auth process.
class AuthProcess {
  public:
    AuthProcess(std::map<std::string, std::string> env, std::vector<std::string> args) {
        static int counter = 0;
        m_dir = fs::temp_directory_path() /
                ("mxrtc-auth-it-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
        fs::create_directories(m_dir);
        const auto portFile = (m_dir / "port").string();
        std::vector<std::string> argv{MXRTC_AUTH_BIN, "--port-file", portFile};
        argv.insert(argv.end(), args.begin(), args.end());
        // Environment: inherit PATH etc., drop any LIVEKIT_*/MXRTC_AUTH_* of the caller, add ours.
        std::vector<std::string> envStrings;
        for (char** e = environ; *e != nullptr; ++e) {
            std::string kv(*e);
            if (kv.starts_with("LIVEKIT_") || kv.starts_with("MXRTC_AUTH_")) continue;
            envStrings.push_back(kv);
        }
        for (const auto& [k, v] : env)
            envStrings.push_back(k + "=" + v);
        std::vector<char*> cargv, cenv;
        for (auto& a : argv)
            cargv.push_back(a.data());
        cargv.push_back(nullptr);
        for (auto& e : envStrings)
            cenv.push_back(e.data());
        cenv.push_back(nullptr);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 1, (m_dir / "stdout").c_str(),
                                         O_WRONLY | O_CREAT | O_TRUNC, 0644);
        posix_spawn_file_actions_addopen(&actions, 2, (m_dir / "stderr").c_str(),
                                         O_WRONLY | O_CREAT | O_TRUNC, 0644);
        const int rc = posix_spawn(&m_pid, cargv[0], &actions, nullptr, cargv.data(), cenv.data());
        posix_spawn_file_actions_destroy(&actions);
        if (rc != 0) {
            m_pid = -1;
            return;
        }
        for (int i = 0; i < 200 && m_port == 0; ++i) {
            if (fs::exists(portFile)) {
                m_port = std::stoi(readWholeFile(portFile));
                break;
            }
            int status = 0;
            if (waitpid(m_pid, &status, WNOHANG) == m_pid) {
                m_exitStatus = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
                m_pid = -1;
                return;
            }
            std::this_thread::sleep_for(25ms);
        }
    }
    ~AuthProcess() {
        stop();
        fs::remove_all(m_dir);
    }
    AuthProcess(const AuthProcess&) = delete;
    AuthProcess& operator=(const AuthProcess&) = delete;

    int port() const { return m_port; }
    std::string url(const std::string& path) const {
        return "http://127.0.0.1:" + std::to_string(m_port) + path;
    }
    std::string logs() const { return readWholeFile(m_dir / "stderr"); }

    // SIGTERM, then wait (bounded). Returns the exit status (-1 if it had to be killed).
    int stop(std::chrono::milliseconds timeout = 8000ms) {
        if (m_pid <= 0) return m_exitStatus;
        ::kill(m_pid, SIGTERM);
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        int status = 0;
        while (std::chrono::steady_clock::now() < deadline) {
            if (waitpid(m_pid, &status, WNOHANG) == m_pid) {
                m_pid = -1;
                m_exitStatus = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
                return m_exitStatus;
            }
            std::this_thread::sleep_for(20ms);
        }
        ::kill(m_pid, SIGKILL);
        waitpid(m_pid, &status, 0);
        m_pid = -1;
        return m_exitStatus = -1;
    }

  private:
    fs::path m_dir;
    pid_t m_pid = -1;
    int m_port = 0;
    int m_exitStatus = -1;
};

// Process-wide: the Synapse from the fixture and its users.
struct Synapse {
    std::map<std::string, std::string> env;
    std::string url, serverName;
    bool ok = false;
};

inline const Synapse& synapse() {
    static Synapse s = [] {
        Synapse r;
        if (!fs::exists(MXRTC_SYNAPSE_ENV_FILE)) return r;
        r.env = readEnvFile(MXRTC_SYNAPSE_ENV_FILE);
        r.url = r.env["MXRTC_SYNAPSE_URL"];
        r.serverName = r.env["MXRTC_SYNAPSE_SERVER_NAME"];
        r.ok = !r.url.empty() && !r.serverName.empty();
        return r;
    }();
    return s;
}

struct User {
    std::string userId, accessToken, deviceId;
};

inline User registerUser(const std::string& name) {
    const auto& s = synapse();
    const auto r = mxrtc::test::runWithInput(
        shellQuote(s.env.at("MXRTC_SYNAPSE_PYTHON")) + " " + shellQuote(s.env.at("MXRTC_SYNAPSE_REGISTER")) +
            " " + shellQuote(s.env.at("MXRTC_SYNAPSE_STATE_DIR")) + " " + name + " pw-" + name,
        "");
    const auto j = json::parse(r.out, nullptr, false);
    if (!j.is_object()) return {};
    return User{j.value("user_id", ""), j.value("access_token", ""), j.value("device_id", "")};
}

// A fresh OpenID token: exactly what clients send as "openid_token".
inline json openIdToken(const User& u) {
    const auto r = call("POST",
                        synapse().url + "/_matrix/client/v3/user/" + mxrtc::net::urlEncode(u.userId) +
                            "/openid/request_token",
                        "{}", {{"Authorization", "Bearer " + u.accessToken}});
    return r.js();
}

inline json verifyWithNode(const std::string& jwt, const std::string& secret = kSecret) {
    const json in{{"jwt", jwt}, {"key", kKey}, {"secret", secret}};
    const auto r = mxrtc::test::runWithInput(
        std::string(MXRTC_NODE) + " " + MXRTC_INTEROP_DIR "/verify_jwt.mjs", in.dump());
    return json::parse(r.out, nullptr, false);
}

inline std::string legacyBody(const std::string& room, const json& token, const std::string& device) {
    return json{{"room", room}, {"openid_token", token}, {"device_id", device}}.dump();
}

inline std::string getTokenBody(const std::string& roomId, const json& token, const std::string& claimedUser,
                                const std::string& device, const std::string& memberId) {
    return json{
        {"room_id", roomId},
        {"slot_id", "m.call#ROOM"},
        {"openid_token", token},
        {"member", {{"id", memberId}, {"claimed_user_id", claimedUser}, {"claimed_device_id", device}}}}
        .dump();
}

class AuthWithSynapse : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!synapse().ok) GTEST_SKIP() << "no Synapse fixture (" << MXRTC_SYNAPSE_ENV_FILE << ")";
    }
    void TearDown() override {
        if (HasFailure() && m_auth)
            std::cerr << "---- mxrtc-auth log ----\n" << m_auth->logs() << "------------------------\n";
    }

    // Default: this Synapse is reachable through an explicit override (its federation API is plain
    // HTTP on the client port); it is not a full-access homeserver unless asked.
    std::map<std::string, std::string> baseEnv(const std::string& fullAccess = "full.example.org") const {
        return {{"LIVEKIT_URL", "ws://127.0.0.1:7880"},
                {"LIVEKIT_KEY", kKey},
                {"LIVEKIT_SECRET", kSecret},
                {"LIVEKIT_FULL_ACCESS_HOMESERVERS", fullAccess},
                {"LIVEKIT_JWT_BIND", "127.0.0.1:0"},
                {"MXRTC_AUTH_HOMESERVER_URLS", synapse().serverName + "=" + synapse().url},
                {"MXRTC_AUTH_RATE_LIMIT", "off"}};
    }
    AuthProcess& start(std::map<std::string, std::string> env, std::vector<std::string> args = {}) {
        m_auth = std::make_unique<AuthProcess>(std::move(env), std::move(args));
        EXPECT_NE(m_auth->port(), 0) << "mxrtc-auth did not start:\n" << m_auth->logs();
        return *m_auth;
    }

    std::unique_ptr<AuthProcess> m_auth;
};

inline void expectUnauthorised(const Http& r, const std::string& reason) {
    EXPECT_EQ(r.status, 401) << r.body;
    const auto j = r.js();
    EXPECT_EQ(j.value("errcode", ""), "M_UNAUTHORIZED") << r.body;
    EXPECT_EQ(j.value("error", ""), "The request could not be authorised.") << r.body;
    EXPECT_EQ(j.value("mxrtc_reason", ""), reason) << r.body;
}

}  // namespace mxrtc::auth_it
