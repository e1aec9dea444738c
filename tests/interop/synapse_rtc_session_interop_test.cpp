// MatrixRTC interop with the reference implementation, end to end through a real Synapse (CTest
// fixture `synapse`): matrix-js-sdk's own MatrixRTCSession (interop/rtc_session_peer.mjs: its
// MembershipManager, RTCEncryptionManager, ToDeviceKeyTransport and rust crypto) in the same call as
// `mxrtc join-call --e2ee` CLI processes. Nothing is faked: both sides only see each other through
// the homeserver.
//
// Checked: each lists the other as a member with the right focus and LiveKit identity; media keys
// flow both ways Olm-encrypted and are identical on both sides (SHA-256 fingerprints, never the
// keys); a ring from either side is seen by the other; a leave on one side makes the other rotate.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "mxrtc/matrix/client.hpp"
#include "support/json_lines.hpp"
#include "support/olm_device.hpp"
#include "support/process.hpp"
#include "support/subprocess.hpp"

namespace {

namespace asio = boost::asio;
using Json = nlohmann::json;
using namespace mxrtc;
using namespace std::chrono;
using mxrtc::test::BackgroundProcess;
using mxrtc::test::take;

constexpr const char* kJsFocusUrl = "https://js-sfu.example.org/livekit/jwt";
constexpr const char* kCppFocusUrl = "https://cpp-sfu.example.org/livekit/jwt";

using mxrtc::test::jsonLines;

using Pred = std::function<bool(const Json&)>;

// Polls a process's stdout for a JSON line matching `pred`.
std::optional<Json> waitJson(BackgroundProcess& p, const Pred& pred, milliseconds timeout) {
    const auto until = steady_clock::now() + timeout;
    do {
        for (auto& j : jsonLines(p.out())) {
            if (pred(j)) return j;
        }
        if (!p.running()) break;
        std::this_thread::sleep_for(milliseconds(50));
    } while (steady_clock::now() < until);
    for (auto& j : jsonLines(p.out())) {
        if (pred(j)) return j;
    }
    return std::nullopt;
}

std::vector<Json> allJson(const BackgroundProcess& p, const Pred& pred) {
    std::vector<Json> out;
    for (auto& j : jsonLines(p.out())) {
        if (pred(j)) out.push_back(std::move(j));
    }
    return out;
}

struct Participant {
    std::string who;  // profile name
    std::string userId;
    std::string deviceId;
    std::string identity() const { return userId + ":" + deviceId; }
};

// ---- predicates on CLI lines (mxrtc --json join-call) ----------------------------------------
Pred cliEvent(const std::string& kind, const Participant& from) {
    return [kind, from](const Json& j) {
        return j.value("event", "") == kind && j.value("user_id", "") == from.userId &&
               j.value("device_id", "") == from.deviceId;
    };
}
Pred cliKeyFrom(const Participant& from, int minIndex = 0) {
    return [from, minIndex](const Json& j) {
        return cliEvent("key_received", from)(j) && std::stoi(j.value("detail", "-1")) >= minIndex;
    };
}
Pred cliOwnKey(int minIndex = 0) {
    return [minIndex](const Json& j) {
        return j.value("event", "") == "own_key" && std::stoi(j.value("detail", "-1")) >= minIndex;
    };
}
int keyIndex(const Json& cliLine) {
    return std::stoi(cliLine.value("detail", "-1"));
}

// ---- predicates on rtc_session_peer.mjs lines --------------------------------------------------
Pred jsEvent(const std::string& kind) {
    return [kind](const Json& j) { return j.value("event", "") == kind; };
}
Pred jsKeyFrom(const Participant& from, int minIndex = 0) {
    return [from, minIndex](const Json& j) {
        return j.value("event", "") == "key" && j.value("userId", "") == from.userId &&
               j.value("deviceId", "") == from.deviceId && j.value("index", -1) >= minIndex;
    };
}
Pred jsOwnKey(int minIndex = 0) {
    return [minIndex](const Json& j) {
        return j.value("event", "") == "key" && j.value("own", false) && j.value("index", -1) >= minIndex;
    };
}
Pred jsMembersInclude(std::vector<Participant> ps, bool present = true) {
    return [ps, present](const Json& j) {
        if (j.value("event", "") != "memberships") return false;
        for (const auto& p : ps) {
            bool found = false;
            for (const auto& m : j["members"]) {
                found = found || (m.value("userId", "") == p.userId && m.value("deviceId", "") == p.deviceId);
            }
            if (found != present) return false;
        }
        return true;
    };
}

class RtcSessionInterop : public ::testing::Test {
  protected:
    template <typename F>
    auto runIo(F body) {
        io.restart();
        auto future = asio::co_spawn(io, body(), asio::use_future);
        io.run();
        return future.get();
    }

    void SetUp() override {
        env = mxrtc::test::readEnvFile(MXRTC_SYNAPSE_ENV_FILE);
        if (env.find("MXRTC_SYNAPSE_URL") == env.end()) GTEST_SKIP() << "no Synapse (fixture skipped)";
        if (!std::filesystem::exists(std::string(MXRTC_INTEROP_DIR) + "/node_modules/matrix-js-sdk"))
            GTEST_SKIP() << "matrix-js-sdk not installed (scripts/setup-peers.sh)";
        url = env["MXRTC_SYNAPSE_URL"];
        static std::atomic<int> counter{0};
        tag = std::to_string(::getpid()) + "x" + std::to_string(++counter);
        dir = std::filesystem::temp_directory_path() / ("mxrtc-rtc-interop-" + tag);
        std::filesystem::create_directories(dir);
        jsClient = std::make_unique<matrix::Client>(io.get_executor(), url);
        js = runIo([&]() -> asio::awaitable<matrix::LoginSession> {
            co_return take(co_await jsClient->registerUser("js" + tag, "pw"), "register js");
        });
        jsClient->setAccessToken(js.accessToken);
        jsP = {"js", js.userId.str(), js.deviceId.str()};
    }
    void TearDown() override {
        // Stop everything we started: the js peer leaves on SIGTERM, anything still running is killed.
        if (node && node->running()) {
            node->signal(SIGTERM);
            if (node->wait(seconds(8)) < 0) node->signal(SIGKILL);
        }
        for (auto& [name, p] : procs) {
            if (p->running()) p->signal(SIGKILL);
        }
        if (HasFailure()) {
            for (auto& [name, p] : procs)
                std::cerr << "--- " << name << " stdout ---\n"
                          << p->out() << "--- stderr ---\n"
                          << tail(p->err());
            if (node) {
                std::cerr << "--- rtc_session_peer.mjs stdout ---\n"
                          << node->out() << "--- stderr (tail) ---\n"
                          << tail(node->err());
            }
        }
        procs.clear();
        node.reset();
        jsClient.reset();
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
    static std::string tail(const std::string& s) { return s.size() > 6000 ? s.substr(s.size() - 6000) : s; }

    std::string cliCommand(const std::string& who, const std::string& args) const {
        return std::string(MXRTC_CLI_PATH) + " --profile '" + (dir / who).string() + "' " + args;
    }
    mxrtc::test::ProcessResult cli(const std::string& who, const std::string& args) {
        return mxrtc::test::runWithInput("timeout 60 " + cliCommand(who, args), "");
    }
    BackgroundProcess& start(const std::string& name, const std::string& who, const std::string& args) {
        auto& p = procs[name];
        p = std::make_unique<BackgroundProcess>(cliCommand(who, args), dir / name);
        return *p;
    }
    Participant registerCli(const std::string& who) {
        auto r = cli(
            who, "--json login --register --homeserver " + url + " --user " + who + tag + " --password pw");
        EXPECT_EQ(r.exitCode, 0) << r.err;
        auto j = Json::parse(r.out, nullptr, false);
        return {who, j.value("user_id", ""), j.value("device_id", "")};
    }

    // The js-sdk user creates the room, as an Element Call user would: members may write their
    // call memberships and rings, the call's slot is open (js-sdk 43 only accepts rings for an open
    // slot), and the room is encrypted when `encrypted` (js-sdk then tracks the members' devices).
    std::string createRoom(bool encrypted, const std::vector<Participant>& invite) {
        Json body{{"preset", "private_chat"}, {"name", "interop " + tag}};
        body["invite"] = Json::array();
        for (const auto& p : invite)
            body["invite"].push_back(p.userId);
        body["power_level_content_override"] = {{"events",
                                                 {{"org.matrix.msc3401.call.member", 0},
                                                  {"org.matrix.msc4075.rtc.notification", 0},
                                                  {"org.matrix.msc4310.rtc.decline", 0}}}};
        body["initial_state"] = Json::array();
        body["initial_state"].push_back(
            {{"type", "org.matrix.msc4143.rtc.slot"},
             {"state_key", "m.call#ROOM"},
             {"content", {{"status", "open"}, {"application", {{"type", "m.call"}}}}}});
        if (encrypted) {
            body["initial_state"].push_back({{"type", "m.room.encryption"},
                                             {"state_key", ""},
                                             {"content", {{"algorithm", "m.megolm.v1.aes-sha2"}}}});
        }
        const RoomId room = runIo([&]() -> asio::awaitable<RoomId> {
            co_return take(co_await jsClient->createRoom(body), "createRoom");
        });
        for (const auto& p : invite) {
            auto r = cli(p.who, "join-room '" + room.str() + "'");
            EXPECT_EQ(r.exitCode, 0) << r.err;
        }
        return room.str();
    }

    Json jsFocus(const std::string& room) const {
        return {{"type", "livekit"}, {"livekit_service_url", kJsFocusUrl}, {"livekit_alias", room}};
    }

    // Starts the js-sdk peer; its config (with the access token) goes through a 0600 file, not argv.
    void startNode(const std::string& room, Json extra) {
        Json cfg = {{"baseUrl", url},
                    {"userId", js.userId.str()},
                    {"deviceId", js.deviceId.str()},
                    {"accessToken", js.accessToken},
                    {"roomId", room},
                    {"focus", jsFocus(room)},
                    {"timeoutMs", 150'000}};
        cfg.update(extra);
        const auto path = dir / "node-config.json";
        {
            std::ofstream f(path);
            f << cfg.dump();
        }
        ::chmod(path.c_str(), 0600);
        node = std::make_unique<BackgroundProcess>(std::string(MXRTC_NODE) + " " + MXRTC_INTEROP_DIR +
                                                       "/rtc_session_peer.mjs '" + path.string() + "'",
                                                   dir / "node");
    }
    std::optional<Json> waitNode(const Pred& pred, milliseconds timeout) {
        auto r = waitJson(*node, pred, timeout);
        if (!r) {
            if (auto err = waitJson(*node, jsEvent("error"), milliseconds(0)))
                ADD_FAILURE() << "js peer failed: " << err->dump();
        }
        return r;
    }
    std::string joinCallArgs(const std::string& room, int seconds) const {
        return "--json join-call '" + room + "' --e2ee --focus " + kCppFocusUrl + " --duration " +
               std::to_string(seconds);
    }

    // Everything both sides must agree on once js + the CLIs in `clis` are all in the call and have
    // each other's keys: member lists, focus, identity and identical key fingerprints.
    void expectAgreement(const std::string& room, const std::vector<Participant>& clis) {
        // js-sdk's member list: every CLI, under its LiveKit identity, with its own advertised focus,
        // meeting on the oldest membership's focus (ours: js joined first).
        auto members = waitNode(jsMembersInclude(clis), seconds(5));
        ASSERT_TRUE(members.has_value());
        for (const auto& p : clis) {
            for (const auto& m : (*members)["members"]) {
                if (m["userId"] != p.userId || m["deviceId"] != p.deviceId) continue;
                EXPECT_EQ(m["rtcBackendIdentity"], p.identity());
                EXPECT_EQ(m["memberId"], p.identity());
                ASSERT_FALSE(m["transports"].empty());
                EXPECT_EQ(m["transports"][0]["type"], "livekit");
                EXPECT_EQ(m["transports"][0]["livekit_service_url"], kCppFocusUrl);
                EXPECT_EQ(m["transports"][0]["livekit_alias"], room);
                EXPECT_EQ(m["transport"], jsFocus(room)) << "oldest membership (js) decides the focus";
            }
        }
        EXPECT_EQ((*members)["oldest"], jsP.identity());

        // Our member list (same parser as join-call), read by each CLI's profile.
        for (const auto& p : clis) {
            auto s = cli(p.who, "--json sessions '" + room + "'");
            ASSERT_EQ(s.exitCode, 0) << s.err;
            auto report = Json::parse(s.out, nullptr, false);
            ASSERT_EQ(report["sessions"].size(), 1u) << s.out;
            const auto& session = report["sessions"][0];
            EXPECT_EQ(session["slot_id"], "m.call#ROOM");
            EXPECT_EQ(session["focus"], jsFocus(room)) << "focus for joiners = the oldest (js) membership's";
            bool sawJs = false;
            for (const auto& m : session["members"]) {
                if (m["user_id"] != jsP.userId) continue;
                sawJs = true;
                EXPECT_EQ(m["device_id"], jsP.deviceId);
                EXPECT_EQ(m["livekit_identity"], jsP.identity());
                EXPECT_EQ(m["focus_selection"], "oldest_membership");
                EXPECT_EQ(m["transport"]["livekit_service_url"], kJsFocusUrl);
                EXPECT_EQ(m["intent"], "video");
            }
            EXPECT_TRUE(sawJs) << s.out;
        }

        // Keys: what each side reports receiving is what the other reports using (SHA-256).
        for (const auto& p : clis) {
            auto& proc = *procs.at(p.who);
            for (const auto& got : allJson(proc, cliKeyFrom(jsP))) {
                auto own = allJson(*node, jsOwnKey(keyIndex(got)));
                auto match = std::find_if(own.begin(), own.end(),
                                          [&](const Json& o) { return o["index"] == keyIndex(got); });
                ASSERT_NE(match, own.end()) << "js never used index " << keyIndex(got);
                EXPECT_EQ(got["key_sha256"], (*match)["sha256"]) << p.who << " got js key " << keyIndex(got);
                EXPECT_EQ(got["identity"], jsP.identity());
                EXPECT_EQ(got["identity"], (*match)["identity"])
                    << "both map the key to one LiveKit identity";
            }
            for (const auto& got : allJson(*node, jsKeyFrom(p))) {
                auto own = allJson(proc, cliOwnKey());
                auto match = std::find_if(own.begin(), own.end(),
                                          [&](const Json& o) { return keyIndex(o) == got["index"]; });
                ASSERT_NE(match, own.end()) << p.who << " never used index " << got["index"];
                EXPECT_EQ(got["sha256"], (*match)["key_sha256"])
                    << "js got " << p.who << " key " << got["index"];
                EXPECT_EQ(got["identity"], p.identity());
                EXPECT_EQ((*match)["identity"], p.identity());
            }
            EXPECT_EQ(proc.err().find("refused"), std::string::npos) << proc.err();
        }
    }

    // js + the CLIs in the call, every pair holding the other's first key.
    void joinAll(const std::string& room, const std::vector<Participant>& clis) {
        startNode(room, {{"join", true}});
        ASSERT_TRUE(waitNode(jsEvent("ready"), seconds(45)).has_value());
        ASSERT_TRUE(waitNode(jsMembersInclude({jsP}), seconds(15)).has_value()) << "js membership";
        ASSERT_TRUE(waitNode(jsOwnKey(0), seconds(10)).has_value());
        for (const auto& p : clis) {
            auto& proc = start(p.who, p.who, joinCallArgs(room, 120));
            ASSERT_TRUE(waitJson(proc, cliEvent("member_joined", p), seconds(20)).has_value()) << proc.err();
        }
        for (const auto& p : clis) {
            auto& proc = *procs.at(p.who);
            auto fromJs = waitJson(proc, cliKeyFrom(jsP), seconds(30));
            ASSERT_TRUE(fromJs.has_value()) << p.who << " got no key from js-sdk";
            auto jsGot = waitNode(jsKeyFrom(p), seconds(30));
            ASSERT_TRUE(jsGot.has_value()) << "js-sdk got no key from " << p.who;
            for (const auto& q : clis) {
                if (q.who == p.who) continue;
                ASSERT_TRUE(waitJson(proc, cliKeyFrom(q), seconds(30)).has_value())
                    << p.who << " <- " << q.who;
            }
        }
    }

    asio::io_context io;
    std::map<std::string, std::string> env;
    std::string url, tag;
    std::filesystem::path dir;
    std::unique_ptr<matrix::Client> jsClient;
    matrix::LoginSession js;
    Participant jsP;
    std::unique_ptr<BackgroundProcess> node;
    std::map<std::string, std::unique_ptr<BackgroundProcess>> procs;
};

// (1) members, focus and identity; (2) keys both ways, identical; (4) a CLI leaves: js-sdk rotates
// and the remaining CLI gets js-sdk's new key (and js-sdk the CLI's).
TEST_F(RtcSessionInterop, MembersKeysAgreeAndJsSdkRotatesWhenACliLeaves) {
    const Participant a = registerCli("a");
    const Participant b = registerCli("b");
    ASSERT_FALSE(a.deviceId.empty());
    const std::string room = createRoom(true, {a, b});
    joinAll(room, {a, b});
    if (HasFatalFailure()) return;
    expectAgreement(room, {a, b});

    // Latency across Synapse: from a seeing its own membership to a holding js-sdk's key, and to
    // js-sdk holding a's key (wall clocks of one machine).
    auto& pa = *procs.at("a");
    const auto aJoined = waitJson(
        pa, [&](const Json& j) { return cliEvent("member_joined", a)(j); }, seconds(1));
    const auto aGotJs = waitJson(pa, cliKeyFrom(jsP), seconds(1));
    const auto jsGotA = waitNode(jsKeyFrom(a), seconds(1));
    ASSERT_TRUE(aJoined && aGotJs && jsGotA);
    const auto joinTs = (*aJoined)["ts"].get<std::int64_t>();
    const auto cppGotJsMs = (*aGotJs)["ts"].get<std::int64_t>() - joinTs;
    const auto jsGotCppMs = (*jsGotA)["ts"].get<std::int64_t>() - joinTs;
    RecordProperty("cpp_join_to_key_from_js_ms", std::to_string(cppGotJsMs));
    RecordProperty("cpp_join_to_js_has_cpp_key_ms", std::to_string(jsGotCppMs));
    std::cerr << "join -> key from js-sdk: " << cppGotJsMs
              << " ms; join -> js-sdk has our key: " << jsGotCppMs << " ms\n";

    // b leaves. js-sdk rotates (a leaver) and sends its new key to a only.
    const int jsBefore = [&] {
        int m = 0;
        for (const auto& k : allJson(*node, jsOwnKey()))
            m = std::max(m, k["index"].get<int>());
        return m;
    }();
    const int aBefore = [&] {
        int m = 0;
        for (const auto& k : allJson(pa, cliOwnKey()))
            m = std::max(m, keyIndex(k));
        return m;
    }();
    const auto oldJsSha = allJson(*node, jsOwnKey(jsBefore)).back()["sha256"];
    auto& pb = *procs.at("b");
    const auto leftAt = steady_clock::now();
    pb.signal(SIGINT);
    EXPECT_EQ(pb.wait(seconds(15)), 0) << pb.err();
    ASSERT_TRUE(waitNode(jsMembersInclude({b}, false), seconds(10)).has_value())
        << "js-sdk did not see b leave";
    auto jsNew = waitNode(jsOwnKey(jsBefore + 1), seconds(20));
    ASSERT_TRUE(jsNew.has_value()) << "js-sdk did not rotate after b left";
    auto aGotNew = waitJson(pa, cliKeyFrom(jsP, jsBefore + 1), seconds(20));
    ASSERT_TRUE(aGotNew.has_value()) << "a did not get js-sdk's rotated key";
    RecordProperty("leave_to_rotated_js_key_at_cpp_ms",
                   std::to_string(duration_cast<milliseconds>(steady_clock::now() - leftAt).count()));
    EXPECT_EQ(keyIndex(*aGotNew), (*jsNew)["index"].get<int>());
    EXPECT_EQ((*aGotNew)["key_sha256"], (*jsNew)["sha256"]);
    EXPECT_NE((*aGotNew)["key_sha256"], oldJsSha) << "a new key, not the old one re-sent";
    // ... and a rotated too: js-sdk holds a's new key.
    auto aNew = waitJson(pa, cliOwnKey(aBefore + 1), seconds(20));
    ASSERT_TRUE(aNew.has_value()) << "a did not rotate after b left";
    auto jsGotANew = waitNode(jsKeyFrom(a, keyIndex(*aNew)), seconds(20));
    ASSERT_TRUE(jsGotANew.has_value());
    EXPECT_EQ((*jsGotANew)["sha256"], (*aNew)["key_sha256"]);
    // The leaver got neither new key.
    EXPECT_FALSE(waitJson(pb, cliKeyFrom(jsP, jsBefore + 1), milliseconds(0)).has_value());
    EXPECT_FALSE(waitJson(pb, cliKeyFrom(a, aBefore + 1), milliseconds(0)).has_value());
    expectAgreement(room, {a});
}

// (4) js-sdk leaves: the CLIs that stay rotate and exchange their new keys.
TEST_F(RtcSessionInterop, CliParticipantsRotateWhenJsSdkLeaves) {
    const Participant a = registerCli("a");
    const Participant b = registerCli("b");
    const std::string room = createRoom(true, {a, b});
    joinAll(room, {a, b});
    if (HasFatalFailure()) return;
    auto& pa = *procs.at("a");
    auto& pb = *procs.at("b");
    auto maxOwn = [](BackgroundProcess& p) {
        int m = 0;
        for (const auto& k : allJson(p, cliOwnKey()))
            m = std::max(m, keyIndex(k));
        return m;
    };
    const int aBefore = maxOwn(pa);
    const int bBefore = maxOwn(pb);

    node->signal(SIGUSR2);  // js-sdk: leaveRoomSession()
    ASSERT_TRUE(waitNode(jsEvent("left"), seconds(15)).has_value());
    EXPECT_TRUE(waitJson(pa, cliEvent("member_left", jsP), seconds(10)).has_value());
    EXPECT_TRUE(waitJson(pb, cliEvent("member_left", jsP), seconds(10)).has_value());
    auto aNew = waitJson(pa, cliOwnKey(aBefore + 1), seconds(20));
    auto bNew = waitJson(pb, cliOwnKey(bBefore + 1), seconds(20));
    ASSERT_TRUE(aNew && bNew) << "the CLIs did not rotate after js-sdk left";
    auto bGotA = waitJson(pb, cliKeyFrom(a, keyIndex(*aNew)), seconds(20));
    auto aGotB = waitJson(pa, cliKeyFrom(b, keyIndex(*bNew)), seconds(20));
    ASSERT_TRUE(bGotA && aGotB);
    EXPECT_EQ((*bGotA)["key_sha256"], (*aNew)["key_sha256"]);
    EXPECT_EQ((*aGotB)["key_sha256"], (*bNew)["key_sha256"]);
    // js-sdk stopped its key transport when it left: no key of the new generation reached it.
    EXPECT_FALSE(waitNode(jsKeyFrom(a, keyIndex(*aNew)), milliseconds(0)).has_value());
    EXPECT_FALSE(waitNode(jsKeyFrom(b, keyIndex(*bNew)), milliseconds(0)).has_value());

    node->signal(SIGTERM);
    EXPECT_EQ(node->wait(seconds(10)), 0) << node->out();
}

// (3) js-sdk rings when it starts the call (MatrixRTCSession notificationType "ring"); the CLI's
// wait-ring sees it.
TEST_F(RtcSessionInterop, JsSdkRingIsSeenByWaitRing) {
    const Participant b = registerCli("b");
    const std::string room = createRoom(false, {b});  // js-sdk encrypts rings in encrypted rooms
    auto& wait = start("wait", "b", "--json wait-ring '" + room + "' --timeout 60");
    startNode(room, {{"join", true}, {"notificationType", "ring"}, {"manageMediaKeys", false}});
    auto sent = waitNode(jsEvent("notification_sent"), seconds(45));
    ASSERT_TRUE(sent.has_value()) << "js-sdk sent no notification when it started the call";
    auto ringing = waitJson(wait, jsEvent("ringing"), seconds(15));
    ASSERT_TRUE(ringing.has_value()) << wait.err();
    EXPECT_EQ((*ringing)["from"], jsP.userId);
    EXPECT_EQ((*ringing)["notification"], (*sent)["event_id"]);
    EXPECT_EQ((*sent)["content"]["notification_type"], "ring");
}

// (3) the CLI rings (`mxrtc ring`) from inside the call; js-sdk sees the rtc.notification through its
// client events and its own parseCallNotificationContent accepts it for the open slot.
TEST_F(RtcSessionInterop, CliRingIsSeenByJsSdk) {
    const Participant a = registerCli("a");
    const std::string room = createRoom(false, {a});
    startNode(room, {{"join", false}});
    ASSERT_TRUE(waitNode(jsEvent("ready"), seconds(45)).has_value());
    auto& pa = start("a", "a", "--json join-call '" + room + "' --focus " + kCppFocusUrl + " --duration 60");
    ASSERT_TRUE(waitJson(pa, cliEvent("member_joined", a), seconds(20)).has_value()) << pa.err();
    ASSERT_TRUE(waitNode(jsMembersInclude({a}), seconds(10)).has_value());
    auto r = cli("a", "--json ring '" + room + "' --to " + jsP.userId + " --lifetime 30000 --intent video");
    ASSERT_EQ(r.exitCode, 0) << r.err;
    const auto id = Json::parse(r.out)["event_id"];
    auto seen = waitNode([&](const Json& j) { return jsEvent("notification")(j) && j["event_id"] == id; },
                         seconds(15));
    ASSERT_TRUE(seen.has_value());
    EXPECT_EQ((*seen)["type"], "org.matrix.msc4075.rtc.notification");
    EXPECT_EQ((*seen)["sender"], a.userId);
    EXPECT_EQ((*seen)["content"]["notification_type"], "ring");
    EXPECT_EQ((*seen)["content"]["m.call.intent"], "video");
    EXPECT_TRUE((*seen).value("valid", false)) << "js-sdk refused our ring: " << seen->dump();
}

}  // namespace
