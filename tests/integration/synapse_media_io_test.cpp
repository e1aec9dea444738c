// Media in and out through the real CLI on a full-mesh call over the fixture's Synapse: a file
// played once (`--media file:PATH --once`) reaches the other participant (its tone's pitch and its
// video are decoded there), the player reports `media_ended` and leaves on its own; the listener
// plays what it receives into sink pipelines. A bad pipeline fails in one line before joining.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "support/call_cli.hpp"

namespace {

using Json = nlohmann::json;
using namespace std::chrono;
using mxrtc::test::hasLine;
using mxrtc::test::latestMedia;
using mxrtc::test::waitUntil;

class SynapseMediaIo : public ::testing::Test {
  protected:
    void SetUp() override {
#ifndef MXRTC_HAVE_RTC
        GTEST_SKIP() << "mxrtc built without GStreamer (module rtc)";
#endif
        m_room =
            std::make_unique<mxrtc::test::CliRoom>(std::vector<std::string>{"alice", "bob"}, "mxrtc-mio-");
        ASSERT_TRUE(m_room->ok()) << m_room->error();
    }

    std::unique_ptr<mxrtc::test::CliRoom> m_room;
};

TEST_F(SynapseMediaIo, FilePlayedOnceReachesTheOtherSideThenThePlayerLeaves) {
    // 6 s of a 523 Hz tone with a moving ball (WebM: Opus + VP8).
    const std::string clip = (m_room->dir / "clip.webm").string();
    const std::string make =
        "gst-launch-1.0 -q webmmux name=m ! filesink location=" + clip +
        " audiotestsrc num-buffers=300 samplesperbuffer=960 freq=523 volume=0.5 ! "
        "audio/x-raw,rate=48000,channels=1 ! opusenc ! m. videotestsrc num-buffers=90 "
        "pattern=ball ! video/x-raw,width=320,height=240,framerate=15/1 ! vp8enc deadline=1 "
        "! m. >/dev/null 2>&1";
    ASSERT_EQ(std::system(make.c_str()), 0);
    const std::string common = "--focus mesh --e2ee --low-latency --stats-interval 0.25 --duration 60 ";
    auto bob = m_room->joinCall(
        "bob", common + "--media test --tone 440 --audio-sink fakesink --video-sink fakesink");
    // The player joins once bob is in (a file starts when the call's media is set up).
    ASSERT_TRUE(waitUntil(
        [&] {
            return hasLine(*bob, [](const Json& j) {
                return j.value("event", "") == "status" && j.value("detail", "") == "connected";
            });
        },
        seconds(20)))
        << bob->out() << bob->err();
    auto alice = m_room->joinCall("alice", common + "--media file:" + clip + " --once");
    const std::string& A = m_room->users["alice"];
    const std::string& B = m_room->users["bob"];
    ASSERT_TRUE(waitUntil(
        [&] {
            auto m = latestMedia(*bob, A);
            return m && std::abs((*m)["audio_hz"].get<double>() - 523) < 26 &&
                   (*m)["video_frames"].get<std::uint64_t>() >= 15;
        },
        seconds(30)))
        << "bob:\n"
        << bob->out() << bob->err() << "\nalice:\n"
        << alice->out() << alice->err();
    // The player hears bob's test tone too.
    EXPECT_TRUE(waitUntil(
        [&] {
            auto m = latestMedia(*alice, B);
            return m && std::abs((*m)["audio_hz"].get<double>() - 440) < 22;
        },
        seconds(10)))
        << alice->out();
    // The file ends: media_ended, and --once leaves the call cleanly.
    EXPECT_EQ(alice->wait(seconds(20)), 0) << alice->out() << alice->err();
    EXPECT_TRUE(hasLine(*alice, [&](const Json& j) {
        return j.value("event", "") == "media_ended" && j.value("detail", "") == "file " + clip;
    })) << alice->out();
    bob->signal(SIGINT);
    EXPECT_EQ(bob->wait(seconds(15)), 0) << bob->err();
}

TEST_F(SynapseMediaIo, UnusableSourcesAndSinksFailInOneLineBeforeJoining) {
    const auto notes = m_room->dir / "notes.txt";
    std::ofstream(notes) << "not media\n";
    for (const std::string& args : {
             std::string("--media 'pipeline:audio=nosuchsrc'"),
             std::string("--media 'pipeline:video=v4l2src device=/dev/video-mxrtc-none'"),
             std::string("--media test --audio-sink autoaudiosnk"),
             "--media file:" + notes.string(),
         }) {
        auto r = m_room->cli("alice", "-q join-call '" + m_room->room + "' --focus mesh " + args);
        EXPECT_EQ(r.exitCode, 1) << args;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << ": " << r.err;
        EXPECT_TRUE(r.err.starts_with("mxrtc: ")) << args << ": " << r.err;
        std::printf("[ messages ] %s", r.err.c_str());
    }
    // Nothing was joined: no membership of alice's in the room.
    auto sessions = m_room->cli("bob", "--json sessions '" + m_room->room + "'");
    EXPECT_EQ(sessions.out.find(m_room->users["alice"]), std::string::npos) << sessions.out;
}

}  // namespace
