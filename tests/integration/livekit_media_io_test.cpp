// Media in and out through a real LiveKit SFU (livekit-server, mxrtc-auth as the JWT service, the
// fixture's Synapse): a CLI playing an audio-only file publishes only an audio track, which the
// other CLI decodes at the file's pitch while playing it (and the video it gets) into sink
// pipelines; the player decodes the other's test tone.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "auth_it_support.hpp"
#include "support/call_cli.hpp"
#include "support/livekit_server.hpp"

namespace {

using Json = nlohmann::json;
using namespace std::chrono;
using mxrtc::test::CliRoom;
using mxrtc::test::hasLine;
using mxrtc::test::latestMedia;
using mxrtc::test::LiveKitServer;
using mxrtc::test::LiveKitServerOptions;
using mxrtc::test::startsWithUser;
using mxrtc::test::waitUntil;

class LiveKitMediaIo : public ::testing::Test {
  protected:
    void SetUp() override {
        room = std::make_unique<CliRoom>(std::vector<std::string>{"alice", "bob"}, "mxrtc-lkmio-");
        ASSERT_TRUE(room->ok()) << room->error();
        LiveKitServerOptions o;
        o.autoCreateRooms = false;
        sfu = std::make_unique<LiveKitServer>(o);
        auth = std::make_unique<mxrtc::auth_it::AuthProcess>(
            std::map<std::string, std::string>{
                {"LIVEKIT_URL", sfu->wsUrl()},
                {"LIVEKIT_KEY", sfu->key()},
                {"LIVEKIT_SECRET", sfu->secret()},
                {"LIVEKIT_FULL_ACCESS_HOMESERVERS", "*"},
                {"LIVEKIT_JWT_BIND", "127.0.0.1:0"},
                {"LIVEKIT_CS_API_URL_OVERRIDES", room->server + "=" + room->url},
                {"MXRTC_AUTH_HOMESERVER_URLS", room->server + "=" + room->url},
                {"MXRTC_AUTH_RATE_LIMIT", "off"}},
            std::vector<std::string>{});
        ASSERT_TRUE(sfu->up() && auth->port() != 0) << sfu->logs() << auth->logs();
    }

    std::unique_ptr<CliRoom> room;
    std::unique_ptr<LiveKitServer> sfu;
    std::unique_ptr<mxrtc::auth_it::AuthProcess> auth;
};

TEST_F(LiveKitMediaIo, AnAudioOnlyFileIsPublishedAsAudioAndDecodedAtItsPitch) {
    const std::string tone = (room->dir / "tone.opus.ogg").string();
    const std::string make =
        "gst-launch-1.0 -q audiotestsrc num-buffers=100 samplesperbuffer=960 freq=523 "
        "volume=0.5 ! audio/x-raw,rate=48000,channels=1 ! opusenc ! oggmux ! filesink "
        "location=" +
        tone + " >/dev/null 2>&1";
    ASSERT_EQ(std::system(make.c_str()), 0);
    const std::string common = "--focus " + auth->url("") + " --e2ee --stats-interval 0.25 --duration 60 ";
    auto bob =
        room->joinCall("bob", common + "--media test --tone 440 --audio-sink fakesink --video-sink fakesink");
    auto alice = room->joinCall("alice", common + "--media file:" + tone);  // looped
    const std::string A = room->users["alice"];
    const std::string B = room->users["bob"];
    const auto dump = [&] {
        return "\n---- bob ----\n" + bob->out() + bob->err() + "\n---- alice ----\n" + alice->out() +
               alice->err();
    };
    // Longer than the 2 s file: it loops.
    ASSERT_TRUE(waitUntil(
        [&] {
            auto m = latestMedia(*bob, A);
            return m && std::abs((*m)["audio_hz"].get<double>() - 523) < 26 &&
                   (*m)["audio_buffers"].get<std::uint64_t>() >= 200;
        },
        seconds(40)))
        << dump();
    EXPECT_EQ((*latestMedia(*bob, A))["video_frames"].get<std::uint64_t>(), 0U);
    EXPECT_TRUE(waitUntil(
        [&] {
            auto m = latestMedia(*alice, B);
            return m && std::abs((*m)["audio_hz"].get<double>() - 440) < 22 &&
                   (*m)["video_frames"].get<std::uint64_t>() >= 10;
        },
        seconds(15)))
        << dump();
    // What the SFU announced for alice: an audio track and no video track.
    const auto published = [&](const std::string& kind) {
        return hasLine(*bob, [&](const Json& j) {
            return j.value("event", "") == "remote_media" && startsWithUser(j, A) &&
                   j.value("detail", "").starts_with(kind + " published");
        });
    };
    EXPECT_TRUE(published("audio")) << dump();
    EXPECT_FALSE(published("video")) << dump();
    EXPECT_FALSE(hasLine(*alice, [](const Json& j) { return j.value("event", "") == "media_ended"; }));
    alice->signal(SIGINT);
    bob->signal(SIGINT);
    EXPECT_EQ(alice->wait(seconds(15)), 0) << dump();
    EXPECT_EQ(bob->wait(seconds(15)), 0) << dump();
}

}  // namespace
