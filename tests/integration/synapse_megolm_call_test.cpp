// Legacy media-key transport (spec §5.2) between `mxrtc join-call --e2ee --key-transport room` CLIs on
// a real Synapse (CTest fixture): io.element.call.encryption_keys as Megolm-encrypted room events,
// the Megolm session shared over Olm (m.room_key) with the call's member devices only and rotated
// when a member leaves.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "support/process.hpp"
#include "support/subprocess.hpp"
#include "support/synapse_env.hpp"

namespace {

using Json = nlohmann::json;
using namespace std::chrono;
using mxrtc::test::BackgroundProcess;

using mxrtc::test::synapseEnv;

class SynapseMegolmCall : public ::testing::Test {
  protected:
    void SetUp() override {
        env = synapseEnv();
        if (env.find("MXRTC_SYNAPSE_URL") == env.end()) GTEST_SKIP() << "no Synapse (fixture skipped)";
        url = env["MXRTC_SYNAPSE_URL"];
        static std::atomic<int> counter{0};
        tag = std::to_string(::getpid()) + "x" + std::to_string(++counter);
        dir = std::filesystem::temp_directory_path() / ("mxrtc-megolm-" + tag);
        std::filesystem::create_directories(dir);
        for (const char* who : {"a", "b", "c", "d"}) {
            auto r = cli(who, "--json login --register --homeserver " + url + " --user " + who + tag +
                                  " --password pw");
            ASSERT_EQ(r.exitCode, 0) << r.err;
            users[who] = Json::parse(r.out)["user_id"].get<std::string>();
        }
        auto created = cli("a", "--json create-room");
        ASSERT_EQ(created.exitCode, 0) << created.err;
        room = Json::parse(created.out)["room_id"].get<std::string>();
        for (const char* who : {"b", "c", "d"})
            ASSERT_EQ(cli(who, "join-room '" + room + "'").exitCode, 0);
    }
    void TearDown() override {
        for (auto& [name, p] : procs) {
            if (p->running()) p->signal(SIGKILL);
            if (HasFailure())
                std::cerr << "--- " << name << " ---\n" << p->out() << "--- stderr ---\n" << p->err();
        }
        procs.clear();
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }

    std::string command(const std::string& who, const std::string& args) const {
        return std::string(MXRTC_CLI_PATH) + " --profile '" + (dir / who).string() + "' " + args;
    }
    mxrtc::test::ProcessResult cli(const std::string& who, const std::string& args) {
        return mxrtc::test::runWithInput("timeout 60 " + command(who, args), "");
    }
    BackgroundProcess& start(const std::string& name, const std::string& who, const std::string& args) {
        auto& p = procs[name];
        p = std::make_unique<BackgroundProcess>(command(who, args), dir / name);
        return *p;
    }
    std::string joinArgs(bool watch) const {
        return "--json join-call '" + room + "' --e2ee --key-transport room --duration 90" +
               (watch ? " --watch" : "");
    }
    // A key_received line from `who` with at least `index`.
    std::function<bool(const std::string&)> keyFrom(const std::string& who, int index) {
        const std::string user = users[who];
        return [user, index](const std::string& line) {
            auto j = Json::parse(line, nullptr, false);
            return j.is_object() && j.value("event", "") == "key_received" &&
                   j.value("user_id", "") == user && std::stoi(j.value("detail", "-1")) >= index;
        };
    }
    static std::function<bool(const std::string&)> ownKey(int index) {
        return [index](const std::string& line) {
            auto j = Json::parse(line, nullptr, false);
            return j.is_object() && j.value("event", "") == "own_key" &&
                   std::stoi(j.value("detail", "-1")) >= index;
        };
    }
    // A warning that an encrypted room event from `who` could not be decrypted (no room key).
    std::function<bool(const std::string&)> undecryptableFrom(const std::string& who) {
        const std::string user = users[who];
        return [user](const std::string& line) {
            auto j = Json::parse(line, nullptr, false);
            return j.is_object() && j.value("event", "") == "warning" && j.value("user_id", "") == user &&
                   j.value("detail", "").find("no room key") != std::string::npos;
        };
    }
    static std::string sha(const std::string& line) { return Json::parse(line).value("key_sha256", ""); }
    static int index(const std::string& line) { return std::stoi(Json::parse(line).value("detail", "-1")); }

    std::map<std::string, std::string> env;
    std::map<std::string, std::string> users;
    std::string url, tag, room;
    std::filesystem::path dir;
    std::map<std::string, std::unique_ptr<BackgroundProcess>> procs;
};

TEST_F(SynapseMegolmCall, MembersExchangeKeysInRoomEventsOutsidersCannotDecryptLeaverIsRotatedOut) {
    auto& a = start("a", "a", joinArgs(false));
    ASSERT_FALSE(a.waitForLine(ownKey(0), seconds(20)).empty()) << a.err();
    auto& b = start("b", "b", joinArgs(false));
    auto& c = start("c", "c", joinArgs(false));
    // An outsider in the room (not in the call), also E2EE-capable: it sees the encrypted key
    // events in the timeline but nobody shares the Megolm session with it.
    auto& d = start("d", "d", joinArgs(true));

    for (auto [p, from] : {std::pair{&a, "b"}, {&a, "c"}, {&b, "a"}, {&b, "c"}, {&c, "a"}, {&c, "b"}}) {
        const auto got = p->waitForLine(keyFrom(from, 0), seconds(20));
        ASSERT_FALSE(got.empty()) << "no key from " << from << "\n" << p->out() << p->err();
        // Identical on both sides.
        auto& sender = *procs.at(from);
        const auto own = sender.waitForLine(
            [&](const std::string& l) { return ownKey(0)(l) && index(l) == index(got); }, seconds(1));
        ASSERT_FALSE(own.empty());
        EXPECT_EQ(sha(got), sha(own));
        EXPECT_EQ(Json::parse(got)["identity"], Json::parse(own)["identity"]);
    }
    // The outsider saw the key events of all three, encrypted, and could decrypt none.
    for (const char* from : {"a", "b", "c"})
        EXPECT_FALSE(d.waitForLine(undecryptableFrom(from), seconds(10)).empty())
            << "d saw no event from " << from;
    EXPECT_EQ(d.out().find("\"key_received\""), std::string::npos) << "a non-member decrypted a media key";

    // c leaves: a and b rotate their media keys and their Megolm sessions.
    c.signal(SIGINT);
    EXPECT_EQ(c.wait(seconds(15)), 0) << c.err();
    const auto aNew = a.waitForLine(ownKey(1), seconds(20));
    const auto bNew = b.waitForLine(ownKey(1), seconds(20));
    ASSERT_FALSE(aNew.empty() || bNew.empty()) << "no rotation after c left";
    const auto bGotA = b.waitForLine(keyFrom("a", index(aNew)), seconds(20));
    const auto aGotB = a.waitForLine(keyFrom("b", index(bNew)), seconds(20));
    ASSERT_FALSE(bGotA.empty() || aGotB.empty());
    EXPECT_EQ(sha(bGotA), sha(aNew));
    EXPECT_EQ(sha(aGotB), sha(bNew));

    // The leaver, back as an outsider on the same device (same Olm store, old Megolm sessions),
    // finds the rotated key events in the timeline and cannot decrypt them.
    auto& c2 = start("c2", "c", joinArgs(true));
    EXPECT_FALSE(c2.waitForLine(undecryptableFrom("a"), seconds(15)).empty()) << c2.out() << c2.err();
    EXPECT_FALSE(c2.waitForLine(undecryptableFrom("b"), seconds(5)).empty());
    std::this_thread::sleep_for(seconds(2));
    EXPECT_TRUE(c2.waitForLine(keyFrom("a", index(aNew)), milliseconds(0)).empty())
        << "the leaver decrypted the rotated key";
    EXPECT_TRUE(c2.waitForLine(keyFrom("b", index(bNew)), milliseconds(0)).empty());
    for (auto* p : {&a, &b})
        EXPECT_EQ(p->err().find("refused"), std::string::npos) << p->err();
}

}  // namespace
