// The `mxrtc` CLI against a real Synapse (CTest fixture): calls, leaves, crash recovery through
// the delayed leave (MSC4140), call history, ringing, and clear errors.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "support/process.hpp"
#include "support/subprocess.hpp"
#include "support/synapse_env.hpp"

namespace {

using Json = nlohmann::json;
using namespace std::chrono;
using mxrtc::test::BackgroundProcess;

using mxrtc::test::synapseEnv;

struct Cli {
    int rc;
    std::string out;
    std::string err;
};

class SynapseCall : public ::testing::Test {
  protected:
    void SetUp() override {
        env = synapseEnv();
        if (env.find("MXRTC_SYNAPSE_URL") == env.end()) GTEST_SKIP() << "no Synapse (fixture skipped)";
        url = env["MXRTC_SYNAPSE_URL"];
        server = env["MXRTC_SYNAPSE_SERVER_NAME"];
        static std::atomic<int> counter{0};
        const std::string tag = std::to_string(::getpid()) + "x" + std::to_string(++counter);
        dir = std::filesystem::temp_directory_path() / ("mxrtc-call-" + tag);
        std::filesystem::create_directories(dir);
        alice = "alice" + tag;
        bob = "bob" + tag;
        ASSERT_EQ(cli("a", "login --register --homeserver " + url + " --user " + alice + " --password pw").rc,
                  0);
        ASSERT_EQ(cli("b", "login --register --homeserver " + url + " --user " + bob + " --password pw").rc,
                  0);
        auto created = cli("a", "--json create-room --invite @" + bob + ":" + server);
        ASSERT_EQ(created.rc, 0) << created.err;
        room = Json::parse(created.out)["room_id"].get<std::string>();
        ASSERT_EQ(cli("b", "join-room '" + room + "'").rc, 0);
    }
    void TearDown() override {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }

    std::string profile(const std::string& who) const { return (dir / who).string(); }
    std::string command(const std::string& who, const std::string& args) const {
        return std::string(MXRTC_CLI_PATH) + " --profile '" + profile(who) + "' " + args;
    }
    Cli cli(const std::string& who, const std::string& args) {
        auto r = mxrtc::test::runWithInput("timeout 60 " + command(who, args), "");
        return {r.exitCode, r.out, r.err};
    }
    std::unique_ptr<BackgroundProcess> start(const std::string& who, const std::string& args) {
        static std::atomic<int> n{0};
        return std::make_unique<BackgroundProcess>(command(who, args), dir / (who + std::to_string(++n)));
    }
    static std::function<bool(const std::string&)> event(const std::string& kind, const std::string& user) {
        return [kind, user](const std::string& line) {
            auto j = Json::parse(line, nullptr, false);
            return j.is_object() && j.value("event", "") == kind &&
                   j.value("user_id", "").rfind("@" + user + ":", 0) == 0;
        };
    }

    std::map<std::string, std::string> env;
    std::string url, server, room, alice, bob;
    std::filesystem::path dir;
};

TEST_F(SynapseCall, TwoMembersSeeEachOtherAndTheLeave) {
    auto a = start("a", "--json join-call '" + room + "' --duration 30");
    ASSERT_FALSE(a->waitForLine(event("member_joined", alice), seconds(15)).empty()) << a->err();
    auto b = start("b", "--json join-call '" + room + "' --duration 30");
    const auto bJoinedLine = b->waitForLine(event("member_joined", bob), seconds(15));
    ASSERT_FALSE(bJoinedLine.empty()) << b->err();
    const auto bJoinedSeen = steady_clock::now();
    // Each sees the other: B got A from the room state, A gets B from /sync.
    EXPECT_FALSE(b->waitForLine(event("member_joined", alice), seconds(2)).empty());
    EXPECT_FALSE(a->waitForLine(event("member_joined", bob), seconds(2)).empty())
        << "A did not see B within 2 s of B's membership";
    const auto seenBy = duration_cast<milliseconds>(steady_clock::now() - bJoinedSeen).count();
    RecordProperty("a_sees_b_ms_after_b_sees_itself", std::to_string(seenBy));

    b->signal(SIGINT);  // Ctrl-C: leave cleanly
    EXPECT_EQ(b->wait(seconds(10)), 0) << b->err();
    const auto left = a->waitForLine(event("member_left", bob), seconds(3));
    ASSERT_FALSE(left.empty()) << "A did not see B leave";
    EXPECT_EQ(Json::parse(left)["detail"], "left");
    a->signal(SIGTERM);
    EXPECT_EQ(a->wait(seconds(10)), 0) << a->err();

    // History: both devices' sessions, with durations.
    auto h = cli("a", "--json history '" + room + "'");
    ASSERT_EQ(h.rc, 0) << h.err;
    auto report = Json::parse(h.out);
    ASSERT_EQ(report["history"].size(), 1u) << h.out;
    const auto& call = report["history"][0];
    EXPECT_EQ(call["participants"].size(), 2u);
    ASSERT_EQ(call["devices"].size(), 2u);
    for (const auto& d : call["devices"]) {
        EXPECT_FALSE(d["end"].is_null()) << "both sessions have ended";
        EXPECT_GT(d["end"].get<std::int64_t>(), d["start"].get<std::int64_t>());
    }
    EXPECT_GT(call["duration_ms"].get<std::int64_t>(), 0);
    EXPECT_TRUE(report["sessions"].empty()) << "nobody is in the call any more";
}

TEST_F(SynapseCall, CrashedClientIsRemovedByItsDelayedLeave) {
    auto a = start("a", "--json join-call '" + room + "' --duration 40");
    ASSERT_FALSE(a->waitForLine(event("member_joined", alice), seconds(15)).empty()) << a->err();
    constexpr int kDelayMs = 4000;
    auto b = start("b", "--json join-call '" + room + "' --delayed-leave-ms " + std::to_string(kDelayMs));
    ASSERT_FALSE(a->waitForLine(event("member_joined", bob), seconds(15)).empty()) << b->err();
    std::this_thread::sleep_for(seconds(2));  // a couple of restarts
    b->signal(SIGKILL);
    const auto killedAt = steady_clock::now();
    const auto left = a->waitForLine(event("member_left", bob), milliseconds(kDelayMs + 2000));
    const auto ms = duration_cast<milliseconds>(steady_clock::now() - killedAt).count();
    ASSERT_FALSE(left.empty()) << "the delayed leave did not fire within delay + 2 s";
    RecordProperty("kill9_to_leave_seen_ms", std::to_string(ms));
    std::cerr << "kill -9 -> leave seen after " << ms << " ms (delay " << kDelayMs << " ms)\n";
}

TEST_F(SynapseCall, LeaveCallRemovesAStaleMembershipAtOnce) {
    auto a = start("a", "--json join-call '" + room + "' --duration 40");
    ASSERT_FALSE(a->waitForLine(event("member_joined", alice), seconds(15)).empty()) << a->err();
    auto b = start("b", "--json join-call '" + room + "' --delayed-leave-ms 60000");
    ASSERT_FALSE(a->waitForLine(event("member_joined", bob), seconds(15)).empty()) << b->err();
    b->signal(SIGKILL);
    auto r = cli("b", "leave-call '" + room + "'");
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_FALSE(a->waitForLine(event("member_left", bob), seconds(3)).empty())
        << "leave-call must not wait for the 60 s delayed leave";
}

TEST_F(SynapseCall, SessionsListsTheMembersAndFocus) {
    auto a = start("a", "--json join-call '" + room + "' --duration 30 --focus https://sfu.example.org/jwt");
    ASSERT_FALSE(a->waitForLine(event("member_joined", alice), seconds(15)).empty()) << a->err();
    auto s = cli("b", "--json sessions '" + room + "'");
    ASSERT_EQ(s.rc, 0) << s.err;
    auto report = Json::parse(s.out);
    ASSERT_EQ(report["sessions"].size(), 1u) << s.out;
    EXPECT_EQ(report["sessions"][0]["slot_id"], "m.call#ROOM");
    EXPECT_EQ(report["sessions"][0]["focus"]["livekit_service_url"], "https://sfu.example.org/jwt");
    ASSERT_EQ(report["sessions"][0]["members"].size(), 1u);
}

TEST_F(SynapseCall, RingIsSeenAndStopsAfterItsLifetime) {
    auto b = start("b", "--json wait-ring '" + room + "' --timeout 30");
    std::this_thread::sleep_for(milliseconds(1500));  // b's initial sync
    auto r = cli("a", "--json ring '" + room + "' --to @" + bob + ":" + server + " --lifetime 3000");
    ASSERT_EQ(r.rc, 0) << r.err;
    const auto sent = steady_clock::now();
    auto isEvent = [](const std::string& kind) {
        return [kind](const std::string& line) {
            auto j = Json::parse(line, nullptr, false);
            return j.is_object() && j.value("event", "") == kind;
        };
    };
    const auto ringing = b->waitForLine(isEvent("ringing"), seconds(5));
    ASSERT_FALSE(ringing.empty()) << b->err();
    EXPECT_EQ(Json::parse(ringing)["from"].get<std::string>().rfind("@" + alice + ":", 0), 0u);
    const auto stopped = b->waitForLine(isEvent("ring_stopped"), seconds(8));
    ASSERT_FALSE(stopped.empty()) << b->err();
    EXPECT_EQ(Json::parse(stopped)["reason"], "timed_out");
    EXPECT_GE(duration_cast<milliseconds>(steady_clock::now() - sent).count(), 2000)
        << "stopped long before 3 s";
    EXPECT_EQ(b->wait(seconds(5)), 0);
}

TEST_F(SynapseCall, BadInputGivesOneLineErrors) {
    auto badRoom = cli("a", "-q join-call not-a-room");
    EXPECT_EQ(badRoom.rc, 1);
    EXPECT_NE(badRoom.err.find("is not a room id"), std::string::npos) << badRoom.err;

    auto unknownRoom = cli("a", "-q sessions '!doesnotexist:" + server + "'");
    EXPECT_EQ(unknownRoom.rc, 1);
    EXPECT_NE(unknownRoom.err.find("M_FORBIDDEN"), std::string::npos) << unknownRoom.err;

    auto wrongPassword = cli("c", "-q login --homeserver " + url + " --user " + alice + " --password wrong");
    EXPECT_EQ(wrongPassword.rc, 1);
    EXPECT_NE(wrongPassword.err.find("login failed: HTTP 403 M_FORBIDDEN"), std::string::npos)
        << wrongPassword.err;

    auto notLoggedIn = cli("nobody", "rooms");
    EXPECT_EQ(notLoggedIn.rc, 1);
    EXPECT_NE(notLoggedIn.err.find("not logged in"), std::string::npos);

    auto down = cli("c", "-q login --homeserver http://127.0.0.1:9 --user x --password y");
    EXPECT_EQ(down.rc, 1);
    EXPECT_NE(down.err.find("is the homeserver running"), std::string::npos) << down.err;
    for (const auto* r : {&badRoom, &unknownRoom, &wrongPassword, &down}) {
        EXPECT_EQ(std::count(r->err.begin(), r->err.end(), '\n'), r->err.empty() ? 0 : 1) << r->err;
        EXPECT_EQ(r->err.find("access_token"), std::string::npos);
    }
}

}  // namespace

namespace {
TEST_F(SynapseCall, DeclineStopsTheRingOnThisDevice) {
    auto b = start("b", "--json decline '" + room + "' --timeout 30");
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    auto r = cli("a", "--json ring '" + room + "' --lifetime 20000");
    ASSERT_EQ(r.rc, 0) << r.err;
    const auto stopped = b->waitForLine(
        [](const std::string& line) {
            auto j = Json::parse(line, nullptr, false);
            return j.is_object() && j.value("event", "") == "ring_stopped";
        },
        std::chrono::seconds(8));
    ASSERT_FALSE(stopped.empty()) << b->out() << b->err();
    EXPECT_EQ(Json::parse(stopped)["reason"], "declined");
    EXPECT_EQ(b->wait(std::chrono::seconds(5)), 0) << b->err();
}
}  // namespace

namespace {
// The caller follows its ring (mxrtc::call::ring): bob declines -> "declined" (exit 3); bob joins
// the call -> "answered" (exit 0); nobody reacts -> "timed_out" (exit 4) after the lifetime.
TEST_F(SynapseCall, RingWaitReportsAnsweredDeclinedAndTimedOut) {
    const std::string toBob = " --to @" + bob + ":" + server;
    auto declining = start("b", "--json decline '" + room + "' --timeout 30");
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // bob's initial sync
    auto r = cli("a", "--json ring '" + room + "'" + toBob + " --lifetime 20000 --wait");
    EXPECT_EQ(r.rc, 3) << r.out << r.err;
    EXPECT_EQ(Json::parse(r.out, nullptr, false).value("outcome", ""), "declined") << r.out;
    EXPECT_EQ(Json::parse(r.out, nullptr, false).value("by", "").rfind("@" + bob + ":", 0), 0u) << r.out;
    EXPECT_EQ(declining->wait(std::chrono::seconds(5)), 0) << declining->out() << declining->err();

    auto ringing = start("a", "--json ring '" + room + "'" + toBob + " --lifetime 20000 --wait");
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    auto joined = start("b", "--json join-call '" + room + "' --duration 8");
    EXPECT_EQ(ringing->wait(std::chrono::seconds(15)), 0) << ringing->out() << ringing->err();
    EXPECT_EQ(Json::parse(ringing->out(), nullptr, false).value("outcome", ""), "answered") << ringing->out();
    joined->signal(SIGINT);
    EXPECT_EQ(joined->wait(std::chrono::seconds(15)), 0);

    const auto t0 = std::chrono::steady_clock::now();
    r = cli("a", "--json ring '" + room + "'" + toBob + " --lifetime 1500 --wait");
    EXPECT_EQ(r.rc, 4) << r.out << r.err;
    EXPECT_EQ(Json::parse(r.out, nullptr, false).value("outcome", ""), "timed_out") << r.out;
    EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(1400));
}
}  // namespace

namespace {
TEST_F(SynapseCall, DoctorNamesTheFailingStep) {
    auto r = cli("a", "--json doctor");
    auto checks = Json::parse(r.out, nullptr, false);
    ASSERT_TRUE(checks.is_array()) << r.out << r.err;
    std::map<std::string, bool> byName;
    for (const auto& c : checks)
        byName[c["check"].get<std::string>()] = c["ok"].get<bool>();
    EXPECT_TRUE(byName["homeserver reachable"]);
    EXPECT_TRUE(byName["login valid"]);
    EXPECT_TRUE(byName["delayed events (MSC4140)"]);
    EXPECT_TRUE(byName["RTC transports (MSC4143 endpoint)"]);
    EXPECT_TRUE(byName["OpenID token"]);
    // The test homeserver advertises a JWT service on 127.0.0.1:8090 that is not running here.
    ASSERT_TRUE(byName.count("JWT service http://127.0.0.1:8090")) << r.out;
    EXPECT_FALSE(byName["JWT service http://127.0.0.1:8090"]);
    EXPECT_EQ(r.rc, 1);
}
}  // namespace

namespace {
// Media keys over Olm between three CLIs; a leave rotates the key of those who stay.
TEST_F(SynapseCall, E2eeKeysFlowOlmEncryptedAndRotateOnLeave) {
    const std::string carol = "carol" + alice.substr(5);
    ASSERT_EQ(cli("c", "login --register --homeserver " + url + " --user " + carol + " --password pw").rc, 0);
    ASSERT_EQ(cli("c", "join-room '" + room + "'").rc, 0);
    auto key = [](const std::string& from, const std::string& index) {
        return [from, index](const std::string& line) {
            auto j = Json::parse(line, nullptr, false);
            return j.is_object() && j.value("event", "") == "key_received" &&
                   j.value("user_id", "").rfind("@" + from + ":", 0) == 0 && j.value("detail", "") == index;
        };
    };
    auto a = start("a", "--json join-call '" + room + "' --e2ee --duration 60");
    ASSERT_FALSE(a->waitForLine(event("member_joined", alice), seconds(15)).empty()) << a->err();
    auto b = start("b", "--json join-call '" + room + "' --e2ee --duration 60");
    auto c = start("c", "--json join-call '" + room + "' --e2ee --duration 60");
    EXPECT_FALSE(a->waitForLine(key(bob, "0"), seconds(15)).empty()) << a->out() << a->err();
    EXPECT_FALSE(a->waitForLine(key(carol, "0"), seconds(15)).empty()) << a->out();
    EXPECT_FALSE(b->waitForLine(key(alice, "0"), seconds(15)).empty()) << b->out() << b->err();
    EXPECT_FALSE(b->waitForLine(key(carol, "0"), seconds(15)).empty()) << b->out();
    EXPECT_FALSE(c->waitForLine(key(alice, "0"), seconds(15)).empty()) << c->out() << c->err();
    EXPECT_FALSE(c->waitForLine(key(bob, "0"), seconds(15)).empty()) << c->out();

    c->signal(SIGINT);
    EXPECT_EQ(c->wait(seconds(10)), 0) << c->err();
    // Those who stay rotate: each gets the other's next key; the leaver is gone before it is sent.
    EXPECT_FALSE(a->waitForLine(key(bob, "1"), seconds(15)).empty()) << a->out() << a->err();
    EXPECT_FALSE(b->waitForLine(key(alice, "1"), seconds(15)).empty()) << b->out() << b->err();
    EXPECT_EQ(c->out().find("\"detail\":\"1\",\"device_id\""), std::string::npos)
        << "the leaver got a new key";
    for (auto* p : {a.get(), b.get(), c.get()}) {
        EXPECT_EQ(p->err().find("refused"), std::string::npos) << p->err();
    }
}
}  // namespace
