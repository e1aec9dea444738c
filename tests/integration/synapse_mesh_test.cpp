// Full-mesh calls with real media through a real Synapse (issue #6): three `mxrtc join-call
// --focus mesh --media test --e2ee` processes signal over (Olm-encrypted) to-device messages,
// connect webrtcbin peers on 127.0.0.1, exchange media keys over Olm and decode each other's
// encrypted audio and video. Assertions are on what was decoded (buffers, RMS energy, decrypted
// frames), on the key rotation when one leaves, and on the recordings.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/call_cli.hpp"

namespace {

using Json = nlohmann::json;
using namespace std::chrono;
using mxrtc::test::BackgroundProcess;
using mxrtc::test::cpuPercent;
using mxrtc::test::hasLine;
using mxrtc::test::hears;
using mxrtc::test::latestMedia;
using mxrtc::test::startsWithUser;
using mxrtc::test::waitUntil;

class SynapseMesh : public ::testing::Test {
  protected:
    void SetUp() override {
#ifndef MXRTC_HAVE_RTC
        GTEST_SKIP() << "mxrtc built without GStreamer (module rtc)";
#endif
        m_room = std::make_unique<mxrtc::test::CliRoom>(std::vector<std::string>{"alice", "bob", "carol"},
                                                        "mxrtc-mesh-");
        ASSERT_TRUE(m_room->ok()) << m_room->error();
        users = m_room->users;
        server = m_room->server;
        room = m_room->room;
        dir = m_room->dir;
    }

    std::string command(const std::string& who, const std::string& args) const {
        return m_room->command(who, args);
    }
    mxrtc::test::ProcessResult cli(const std::string& who, const std::string& args) {
        return m_room->cli(who, args);
    }
    std::unique_ptr<BackgroundProcess> join(const std::string& who, const std::string& extra = "") {
        return m_room->joinCall(
            who,
            "--focus mesh --media test --e2ee --low-latency --stats-interval 0.25 --duration 90 " + extra);
    }

    std::unique_ptr<mxrtc::test::CliRoom> m_room;
    std::map<std::string, std::string> users;
    std::string server, room;
    std::filesystem::path dir;
};

TEST_F(SynapseMesh, ThreeParticipantsDecryptEachOtherAndRotateWhenOneLeaves) {
    auto a = join("alice");
    auto b = join("bob");
    auto c = join("carol", "--mute-video --record '" + (dir / "rec-carol").string() + "'");
    const std::string& A = users["alice"];
    const std::string& B = users["bob"];
    const std::string& C = users["carol"];
    ASSERT_TRUE(waitUntil(
        [&] {
            return hears(*a, B, 25) && hears(*a, C, 25) && hears(*b, A, 25) && hears(*b, C, 25) &&
                   hears(*c, A, 100) && hears(*c, B, 100);  // carol records 2 s of each
        },
        seconds(40)))
        << "alice:\n"
        << a->out() << a->err() << "\nbob:\n"
        << b->out() << b->err() << "\ncarol:\n"
        << c->out() << c->err();

    // Stream metadata (MSC3077/MSC3291): carol joined with video muted, bob did not.
    const auto remoteMedia = [](const std::string& user, const std::string& detail) {
        return [user, detail](const Json& j) {
            return j.value("event", "") == "remote_media" && startsWithUser(j, user) &&
                   j.value("detail", "") == detail;
        };
    };
    EXPECT_TRUE(hasLine(*a, remoteMedia(C, "m.usermedia audio on, video muted"))) << a->out();
    EXPECT_TRUE(hasLine(*a, remoteMedia(B, "m.usermedia audio on, video on"))) << a->out();

    // Join -> first decrypted frame, as each participant measured it for each peer.
    std::vector<long> firsts;
    for (auto* p : {a.get(), b.get(), c.get()})
        for (const auto& u : {A, B, C})
            if (auto m = latestMedia(*p, u))
                firsts.push_back((*m)["member_seen_to_first_frame_ms"].get<long>());
    ASSERT_EQ(firsts.size(), 6u);
    std::sort(firsts.begin(), firsts.end());
    EXPECT_GT(firsts.front(), 0);
    std::printf(
        "[ metrics  ] mesh over Synapse: member seen -> first decrypted frame p50 %ld ms, max %ld ms\n",
        firsts[firsts.size() / 2], firsts.back());
    RecordProperty("member_seen_to_first_decrypted_frame_p50_ms", std::to_string(firsts[firsts.size() / 2]));

    const double cpuWithTwoPeers = cpuPercent(a->pid(), seconds(3));

    // carol leaves: alice and bob hang up on her, rotate their keys (index 1) and exchange the new
    // keys; carol never receives them.
    c->signal(SIGINT);
    ASSERT_EQ(c->wait(seconds(15)), 0) << c->err();
    const auto rotatedTo1 = [](const std::string& user) {
        return [user](const Json& j) {
            return j.value("event", "") == "key_received" && startsWithUser(j, user) &&
                   j.value("detail", "") == "1";
        };
    };
    ASSERT_TRUE(
        waitUntil([&] { return hasLine(*a, rotatedTo1(B)) && hasLine(*b, rotatedTo1(A)); }, seconds(20)))
        << a->out() << b->out();
    EXPECT_FALSE(hasLine(*c, rotatedTo1(A)) || hasLine(*c, rotatedTo1(B))) << "the leaver got a new key";
    // Both keep decrypting each other after the rotation (frames now under key 1).
    const auto before = (*latestMedia(*a, B))["frames_decrypted"].get<std::uint64_t>();
    const auto failuresBefore = (*latestMedia(*a, B))["decrypt_failures"].get<std::uint64_t>();
    ASSERT_TRUE(waitUntil(
        [&] {
            auto m = latestMedia(*a, B);
            return m && (*m)["frames_decrypted"].get<std::uint64_t>() >= before + 100;
        },
        seconds(10)));
    EXPECT_LE((*latestMedia(*a, B))["decrypt_failures"].get<std::uint64_t>(), failuresBefore + 10)
        << "frames under the new key did not decrypt";
    EXPECT_TRUE(hears(*b, A, 25));
    const double cpuWithOnePeer = cpuPercent(a->pid(), seconds(3));
    std::printf(
        "[ metrics  ] mesh over Synapse, one participant process (tone + 160x120 VP8, E2EE): %.1f%% of a "
        "core "
        "with 2 peers, %.1f%% with 1 peer -> %.1f%% per added participant\n",
        cpuWithTwoPeers, cpuWithOnePeer, cpuWithTwoPeers - cpuWithOnePeer);
    RecordProperty("cpu_percent_per_added_participant", std::to_string(cpuWithTwoPeers - cpuWithOnePeer));

    // carol's recording: one Ogg Opus and one WebM VP8 file per peer, non-trivial and well formed.
    int ogg = 0;
    int webm = 0;
    for (const auto& f : std::filesystem::directory_iterator(dir / "rec-carol")) {
        std::ifstream in(f.path(), std::ios::binary);
        std::string head(64, '\0');
        in.read(head.data(), 64);
        const auto size = std::filesystem::file_size(f.path());
        if (f.path().string().ends_with(".opus.ogg")) {
            ++ogg;
            EXPECT_EQ(head.substr(0, 4), "OggS");
            EXPECT_NE(head.find("OpusHead"), std::string::npos);
            EXPECT_GT(size, 8'000u) << f.path();
        } else if (f.path().string().ends_with(".vp8.webm")) {
            ++webm;
            EXPECT_EQ(head.substr(0, 4), std::string("\x1a\x45\xdf\xa3", 4));
            EXPECT_GT(size, 8'000u) << f.path();
        }
    }
    EXPECT_EQ(ogg, 2);
    EXPECT_EQ(webm, 2);
    // And they decode (GStreamer's own demuxers and decoders), when gst-launch is installed.
    if (mxrtc::test::runWithInput("command -v gst-launch-1.0", "").exitCode == 0) {
        for (const auto& f : std::filesystem::directory_iterator(dir / "rec-carol")) {
            const std::string path = f.path().string();
            const std::string chain =
                path.ends_with(".ogg") ? "oggdemux ! opusdec" : "matroskademux ! vp8dec";
            auto r = mxrtc::test::runWithInput(
                "timeout 20 gst-launch-1.0 -q filesrc location='" + path + "' ! " + chain + " ! fakesink",
                "");
            EXPECT_EQ(r.exitCode, 0) << path << ": " << r.err;
        }
    }

    a->signal(SIGINT);
    b->signal(SIGINT);
    EXPECT_EQ(a->wait(seconds(15)), 0) << a->err();
    EXPECT_EQ(b->wait(seconds(15)), 0) << b->err();
    for (auto* p : {a.get(), b.get(), c.get()})
        EXPECT_EQ(p->err().find("syt_"), std::string::npos) << "an access token was printed";
}

// A classic 1:1 call (MSC2746 room events) in a private room: bob calls, alice answers, both
// decode each other's audio and video, bob hangs up and alice sees it as the remote's hangup.
TEST_F(SynapseMesh, OneToOneCallWithHangup) {
    auto created = cli("alice", "--json create-room --private --invite @" + users["bob"] + ":" + server);
    ASSERT_EQ(created.exitCode, 0) << created.err;
    const std::string dm = Json::parse(created.out)["room_id"].get<std::string>();
    ASSERT_EQ(cli("bob", "join-room '" + dm + "'").exitCode, 0);

    auto a = std::make_unique<BackgroundProcess>(
        command("alice", "--json answer '" + dm + "' --wait 30 --stats-interval 0.25"), dir / "alice-answer");
    std::this_thread::sleep_for(milliseconds(500));
    auto b = std::make_unique<BackgroundProcess>(
        command("bob", "--json call '" + dm + "' --to @" + users["alice"] + ":" + server +
                           " --duration 3 --stats-interval 0.25"),
        dir / "bob-call");
    const auto heard = [](const BackgroundProcess& p, const std::string& user) {
        auto m = latestMedia(p, user);
        return m && (*m)["audio_buffers"].get<std::uint64_t>() >= 25 &&
               (*m)["audio_rms"].get<double>() > 0.1 && (*m)["video_frames"].get<std::uint64_t>() > 0;
    };
    ASSERT_TRUE(waitUntil([&] { return heard(*a, users["bob"]) && heard(*b, users["alice"]); }, seconds(20)))
        << a->out() << a->err() << b->out() << b->err();
    EXPECT_EQ(b->wait(seconds(15)), 0) << b->err();
    EXPECT_EQ(a->wait(seconds(15)), 0) << a->err();
    EXPECT_TRUE(hasLine(*a, [](const Json& j) {
        return j.value("event", "") == "call_ended" && j.value("detail", "") == "user_hangup (by them)";
    })) << a->out();
    EXPECT_TRUE(hasLine(*b, [](const Json& j) {
        return j.value("event", "") == "call_ended" && j.value("detail", "") == "user_hangup (by us)";
    })) << b->out();

    // Nobody answers: the invite times out after its lifetime and `call` fails with the reason.
    auto unanswered = cli("bob", "call '" + dm + "' --lifetime-ms 1500");
    EXPECT_NE(unanswered.exitCode, 0);
    EXPECT_NE(unanswered.err.find("invite_timeout"), std::string::npos) << unanswered.err;
    // Synapse refuses call invites in public rooms: the call ends at once with the server's reason.
    auto refused = cli("bob", "call '" + room + "' --lifetime-ms 30000");
    EXPECT_NE(refused.exitCode, 0);
    EXPECT_NE(refused.err.find("did not connect"), std::string::npos) << refused.err;
}

TEST_F(SynapseMesh, MediaOptionsAreCheckedWithOneLineErrors) {
    // A LiveKit focus whose JWT service is down: the step that failed, in one line, and exit 1.
    auto r = cli("alice", "-q join-call '" + room + "' --media test --focus http://127.0.0.1:9");
    EXPECT_EQ(r.exitCode, 1);
    EXPECT_NE(r.err.find("mxrtc: JWT service http://127.0.0.1:9 unreachable"), std::string::npos) << r.err;
    r = cli("alice", "join-call '" + room + "' --focus mesh --record /tmp/x");
    EXPECT_NE(r.exitCode, 0);
    EXPECT_NE(r.err.find("--record needs --media"), std::string::npos) << r.err;
    r = cli("alice", "join-call '" + room + "' --focus mesh --media test --ice-address not-an-ip");
    EXPECT_NE(r.exitCode, 0);
    EXPECT_NE(r.err.find("is not an IP address"), std::string::npos) << r.err;
    r = cli("alice", "join-call '" + room + "' --focus mesh --media test --stun turn.example.org");
    EXPECT_NE(r.exitCode, 0);
    EXPECT_NE(r.err.find("stun://"), std::string::npos) << r.err;
    r = cli("alice", "join-call '" + room + "' --focus mesh --media pink-noise");
    EXPECT_NE(r.exitCode, 0);
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

}  // namespace
