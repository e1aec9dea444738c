// Proves the real-Synapse harness works (cmake/Synapse.cmake, scripts/synapse/*): the fixture's
// env file is there, register.py makes users, and the MatrixRTC-relevant features mxrtc relies on
// (MSC4143 transports, rtc_foci well-known, MSC4140 delayed events, OpenID userinfo on the same
// listener) are switched on. HTTP goes through the Synapse venv's python (urllib) so this binary
// needs no HTTP client library.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#ifndef MXRTC_SYNAPSE_ENV_FILE
#error "MXRTC_SYNAPSE_ENV_FILE must be defined (cmake/Synapse.cmake: mxrtc_use_synapse)"
#endif

namespace {

using json = nlohmann::json;

std::map<std::string, std::string> read_env_file(const std::string& path) {
    std::map<std::string, std::string> env;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        auto eq = line.find('=');
        if (eq != std::string::npos && !line.starts_with('#')) env[line.substr(0, eq)] = line.substr(eq + 1);
    }
    return env;
}

std::string shell_quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) {
        if (c == '\'')
            out += "'\\''";
        else
            out += c;
    }
    return out + "'";
}

struct CommandResult {
    int exit_code = -1;
    std::string out;
};

// Runs a shell command (stderr goes to the test log), bounded by `timeout` via coreutils timeout.
CommandResult run(const std::string& cmd, int timeout_s = 60) {
    CommandResult r;
    std::string full = "timeout " + std::to_string(timeout_s) + " " + cmd;
    FILE* p = popen(full.c_str(), "r");
    if (p == nullptr) return r;
    std::array<char, 4096> buf{};
    size_t n = 0;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0)
        r.out.append(buf.data(), n);
    int status = pclose(p);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

// One HTTP request through the venv python; prints "<status>\n<body>".
constexpr const char* kHttpPy = R"(import sys, urllib.request, urllib.error
method, url, token, body = sys.argv[1:5]
req = urllib.request.Request(url, data=body.encode() if body else None, method=method)
if body: req.add_header("Content-Type", "application/json")
if token: req.add_header("Authorization", "Bearer " + token)
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy
try:
    resp = opener.open(req, timeout=30); status = resp.status; data = resp.read()
except urllib.error.HTTPError as e:
    status = e.code; data = e.read()
sys.stdout.write(str(status) + "\n" + data.decode("utf-8", "replace"))
)";

struct HttpResponse {
    int status = 0;
    std::string body;
    json js() const { return json::parse(body, nullptr, /*allow_exceptions=*/false); }
};

struct User {
    std::string user_id, access_token, device_id, home_server;
};

std::string url_encode(const std::string& s) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

class SynapseHarness : public ::testing::Test {
  protected:
    void SetUp() override {
        env_ = read_env_file(MXRTC_SYNAPSE_ENV_FILE);
        if (env_.empty()) {
            GTEST_SKIP() << "no Synapse env file at " << MXRTC_SYNAPSE_ENV_FILE
                         << " (run via ctest, which starts the 'synapse' fixture, or run "
                            "scripts/synapse/start.sh on its directory; needs scripts/setup-peers.sh)";
        }
        for (const char* key : {"MXRTC_SYNAPSE_URL", "MXRTC_SYNAPSE_SERVER_NAME",
                                "MXRTC_SYNAPSE_SHARED_SECRET", "MXRTC_SYNAPSE_PID", "MXRTC_SYNAPSE_PYTHON",
                                "MXRTC_SYNAPSE_REGISTER", "MXRTC_SYNAPSE_STATE_DIR"}) {
            ASSERT_FALSE(env_[key].empty()) << key << " missing in " << MXRTC_SYNAPSE_ENV_FILE;
        }
        base_ = env_["MXRTC_SYNAPSE_URL"];
    }

    // A user name unique per process and call, so tests can share one server and be repeated.
    static std::string unique_name(const std::string& stem) {
        static int counter = 0;
        auto now = std::chrono::steady_clock::now().time_since_epoch().count();
        return stem + "_" + std::to_string(getpid()) + "_" + std::to_string(now % 1000000000) + "_" +
               std::to_string(++counter);
    }

    User register_user(const std::string& name, const std::string& password = "pw") {
        auto r = run(shell_quote(env_["MXRTC_SYNAPSE_PYTHON"]) + " " +
                     shell_quote(env_["MXRTC_SYNAPSE_REGISTER"]) + " " +
                     shell_quote(env_["MXRTC_SYNAPSE_STATE_DIR"]) + " " + shell_quote(name) + " " +
                     shell_quote(password));
        EXPECT_EQ(r.exit_code, 0) << r.out;
        auto j = json::parse(r.out, nullptr, false);
        EXPECT_TRUE(j.is_object()) << r.out;
        if (!j.is_object()) return {};
        return {j.value("user_id", ""), j.value("access_token", ""), j.value("device_id", ""),
                j.value("home_server", "")};
    }

    HttpResponse http(const std::string& method, const std::string& path, const std::string& token = "",
                      const json& body = nullptr) {
        std::string body_text = body.is_null() ? "" : body.dump();
        auto r = run(shell_quote(env_["MXRTC_SYNAPSE_PYTHON"]) + " -c " + shell_quote(kHttpPy) + " " +
                     shell_quote(method) + " " + shell_quote(base_ + path) + " " + shell_quote(token) + " " +
                     shell_quote(body_text));
        HttpResponse resp;
        auto nl = r.out.find('\n');
        if (r.exit_code != 0 || nl == std::string::npos) {
            ADD_FAILURE() << method << " " << path << " failed: exit " << r.exit_code << ": " << r.out;
            return resp;
        }
        resp.status = std::stoi(r.out.substr(0, nl));
        resp.body = r.out.substr(nl + 1);
        return resp;
    }

    std::map<std::string, std::string> env_;
    std::string base_;
};

TEST_F(SynapseHarness, EnvFileDescribesARunningServer) {
    EXPECT_EQ(base_.rfind("http://127.0.0.1:", 0), 0u) << base_;
    EXPECT_EQ(env_["MXRTC_SYNAPSE_SERVER_NAME"], "localhost:" + env_["MXRTC_SYNAPSE_PORT"]);
    EXPECT_EQ(kill(std::stoi(env_["MXRTC_SYNAPSE_PID"]), 0), 0) << "Synapse pid not alive";
    auto r = http("GET", "/health");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "OK");
}

TEST_F(SynapseHarness, RegistersTwoDistinctUsers) {
    User a = register_user(unique_name("alice"));
    User b = register_user(unique_name("bob"));
    ASSERT_FALSE(a.access_token.empty());
    ASSERT_FALSE(b.access_token.empty());
    EXPECT_NE(a.access_token, b.access_token);
    EXPECT_NE(a.user_id, b.user_id);
    EXPECT_EQ(a.home_server, env_["MXRTC_SYNAPSE_SERVER_NAME"]);
    EXPECT_TRUE(a.user_id.ends_with(":" + env_["MXRTC_SYNAPSE_SERVER_NAME"])) << a.user_id;

    auto who = http("GET", "/_matrix/client/v3/account/whoami", a.access_token);
    ASSERT_EQ(who.status, 200) << who.body;
    EXPECT_EQ(who.js().value("user_id", ""), a.user_id);
    EXPECT_EQ(who.js().value("device_id", ""), a.device_id);
}

TEST_F(SynapseHarness, RegisteringAnExistingUserLogsIn) {
    std::string name = unique_name("carol");
    User first = register_user(name, "secret");
    User again = register_user(name, "secret");
    ASSERT_FALSE(again.access_token.empty());
    EXPECT_EQ(first.user_id, again.user_id);
    EXPECT_NE(first.access_token, again.access_token);
    EXPECT_NE(first.device_id, again.device_id);
}

TEST_F(SynapseHarness, ClientVersionsAdvertiseRtcFeatures) {
    auto r = http("GET", "/_matrix/client/versions");
    ASSERT_EQ(r.status, 200) << r.body;
    auto j = r.js();
    ASSERT_TRUE(j.contains("versions")) << r.body;
    auto features = j.value("unstable_features", json::object());
    EXPECT_EQ(features.value("org.matrix.msc4140", false), true) << "delayed events off";
    EXPECT_EQ(features.value("org.matrix.msc4143", false), true) << "rtc transports off";
    EXPECT_EQ(features.value("org.matrix.msc4354", false), true) << "sticky events off";
}

TEST_F(SynapseHarness, WellKnownHasRtcFoci) {
    auto r = http("GET", "/.well-known/matrix/client");
    ASSERT_EQ(r.status, 200) << r.body;
    auto foci = r.js().value("org.matrix.msc4143.rtc_foci", json::array());
    ASSERT_EQ(foci.size(), 1u) << r.body;
    EXPECT_EQ(foci[0].value("type", ""), "livekit");
    EXPECT_EQ(foci[0].value("livekit_service_url", ""), "http://127.0.0.1:8090");
}

TEST_F(SynapseHarness, RtcTransportsNeedAuthAndListLivekit) {
    const std::string path = "/_matrix/client/unstable/org.matrix.msc4143/rtc/transports";
    auto anon = http("GET", path);
    EXPECT_EQ(anon.status, 401) << anon.body;
    EXPECT_EQ(anon.js().value("errcode", ""), "M_MISSING_TOKEN");

    User u = register_user(unique_name("dave"));
    auto r = http("GET", path, u.access_token);
    ASSERT_EQ(r.status, 200) << r.body;
    auto transports = r.js().value("rtc_transports", json::array());
    ASSERT_EQ(transports.size(), 1u) << r.body;
    EXPECT_EQ(transports[0].value("type", ""), "livekit");
    EXPECT_EQ(transports[0].value("livekit_service_url", ""), "http://127.0.0.1:8090");
}

TEST_F(SynapseHarness, OpenIdUserInfoOnTheSameListener) {
    User u = register_user(unique_name("erin"));
    auto tok = http("POST", "/_matrix/client/v3/user/" + url_encode(u.user_id) + "/openid/request_token",
                    u.access_token, json::object());
    ASSERT_EQ(tok.status, 200) << tok.body;
    auto t = tok.js();
    EXPECT_EQ(t.value("matrix_server_name", ""), env_["MXRTC_SYNAPSE_SERVER_NAME"]);
    EXPECT_EQ(t.value("token_type", ""), "Bearer");
    auto info = http("GET", "/_matrix/federation/v1/openid/userinfo?access_token=" +
                                url_encode(t.value("access_token", "")));
    ASSERT_EQ(info.status, 200) << info.body;
    EXPECT_EQ(info.js().value("sub", ""), u.user_id);

    auto bad = http("GET", "/_matrix/federation/v1/openid/userinfo?access_token=bogus");
    EXPECT_EQ(bad.status, 401);
    EXPECT_EQ(bad.js().value("errcode", ""), "M_UNKNOWN_TOKEN");
}

// MSC4140: a delayed state event with an owned MatrixRTC state key, restarted, then fired.
TEST_F(SynapseHarness, DelayedStateEventRestartsAndFires) {
    User u = register_user(unique_name("frank"));
    auto room = http("POST", "/_matrix/client/v3/createRoom", u.access_token,
                     {{"room_version", "org.matrix.msc3757.11"}, {"preset", "private_chat"}});
    ASSERT_EQ(room.status, 200) << room.body;
    std::string room_id = room.js().value("room_id", "");

    const std::string state_key = "_" + u.user_id + "_" + u.device_id + "_m.call";
    const std::string state_path = "/_matrix/client/v3/rooms/" + url_encode(room_id) +
                                   "/state/org.matrix.msc3401.call.member/" + url_encode(state_key);
    auto join =
        http("PUT", state_path, u.access_token, {{"application", "m.call"}, {"device_id", u.device_id}});
    ASSERT_EQ(join.status, 200) << join.body;

    auto delayed = http("PUT", state_path + "?org.matrix.msc4140.delay=1500", u.access_token, json::object());
    ASSERT_EQ(delayed.status, 200) << delayed.body;
    std::string delay_id = delayed.js().value("delay_id", "");
    ASSERT_FALSE(delay_id.empty()) << delayed.body;

    const std::string mgmt = "/_matrix/client/unstable/org.matrix.msc4140/delayed_events/" + delay_id;
    auto restart = http("POST", mgmt + "/restart", u.access_token, json::object());
    EXPECT_EQ(restart.status, 200) << restart.body;
    auto restart_action = http("POST", mgmt, u.access_token, {{"action", "restart"}});
    EXPECT_EQ(restart_action.status, 200) << restart_action.body;

    auto unknown = http("POST", "/_matrix/client/unstable/org.matrix.msc4140/delayed_events/syd_nope/restart",
                        u.access_token, json::object());
    EXPECT_EQ(unknown.status, 404);
    EXPECT_EQ(unknown.js().value("errcode", ""), "M_NOT_FOUND");

    // Fires ~1.5 s after the last restart: the membership content becomes {}.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    json content;
    while (std::chrono::steady_clock::now() < deadline) {
        auto st = http("GET", state_path, u.access_token);
        ASSERT_EQ(st.status, 200) << st.body;
        content = st.js();
        if (content.empty()) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    EXPECT_TRUE(content.is_object() && content.empty()) << "delayed event did not fire: " << content.dump();
    auto gone = http("POST", mgmt + "/restart", u.access_token, json::object());
    EXPECT_EQ(gone.status, 404) << gone.body;
}

}  // namespace
