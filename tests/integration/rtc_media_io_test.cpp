// Media in and out for applications, on real GStreamer peers over 127.0.0.1 (no Synapse): a
// MediaInput (a file played once or looped, frames the application pushes, GStreamer source
// descriptions) feeds an SfuPublisher or a mesh Peer; the receiving side hands decoded frames to
// callbacks and sink pipelines. Media is asserted on what was decoded: the tone's pitch, frame
// counts and sizes, bytes written by a sink. Test files are made with gst-launch-1.0.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mxrtc/rtc/media_io.hpp"
#include "mxrtc/rtc/peer.hpp"
#include "mxrtc/rtc/sfu_peers.hpp"

namespace mxrtc::rtc {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using SteadyClock = std::chrono::steady_clock;

const ParticipantIdentity kAlice{"@alice:example.org:ALICEDEV"};

bool runUntil(boost::asio::io_context& io, const std::function<bool()>& done,
              std::chrono::milliseconds timeout) {
    const auto deadline = SteadyClock::now() + timeout;
    while (!done()) {
        if (SteadyClock::now() > deadline) return false;
        io.restart();
        io.run_for(5ms);
    }
    return true;
}

void runFor(boost::asio::io_context& io, std::chrono::milliseconds d) {
    runUntil(
        io, [] { return false; }, d);
}

bool near(double hz, double want) {
    return std::abs(hz - want) <= want * 0.05;
}

// Pitch of 16-bit PCM by zero crossings (with hysteresis), as the receive stats measure it.
struct PitchMeter {
    int lastSign = 0;
    std::uint64_t crossings = 0;
    std::uint64_t samples = 0;
    void add(std::span<const std::int16_t> pcm) {
        for (std::int16_t x : pcm) {
            const int sign = x > 328 ? 1 : (x < -328 ? -1 : 0);
            if (sign != 0) {
                if (lastSign != 0 && sign != lastSign) ++crossings;
                lastSign = sign;
            }
        }
        samples += pcm.size();
    }
    double hz() const {
        return samples == 0 ? 0.0 : static_cast<double>(crossings) / 2.0 * 48000.0 / samples;
    }
};

// What the frame callbacks saw (media threads write, the test reads).
struct Received {
    std::mutex mutex;
    PitchMeter pitch;
    std::uint64_t audioCalls = 0;
    std::uint64_t videoFrames = 0;
    int width = 0;
    int height = 0;
    bool stridesOk = true;
    std::string identity;
    std::string user;
    std::string device;

    // The callbacks hold `self`: a closing peer's last frames may still arrive after the test
    // is done with it.
    static MediaSinks sinks(const std::shared_ptr<Received>& self) {
        MediaSinks s;
        s.onAudio = [self](const RemoteFrameInfo& who, std::span<const std::int16_t> pcm) {
            std::lock_guard lock(self->mutex);
            ++self->audioCalls;
            if (self->audioCalls > 25) self->pitch.add(pcm);  // past the decoder's start
            self->identity = who.identity;
            self->user = who.user;
            self->device = who.device;
        };
        s.onVideo = [self](const RemoteFrameInfo&, const I420View& v) {
            std::lock_guard lock(self->mutex);
            ++self->videoFrames;
            self->width = v.width;
            self->height = v.height;
            self->stridesOk = self->stridesOk && v.strides[0] >= v.width &&
                              v.strides[1] >= (v.width + 1) / 2 && v.strides[2] >= (v.width + 1) / 2 &&
                              v.planes[0] && v.planes[1] && v.planes[2];
        };
        return s;
    }
};

class RtcMediaIo : public ::testing::Test {
  protected:
    void SetUp() override {
        auto engine = MediaEngine::create(io.get_executor());
        if (!engine) GTEST_SKIP() << engine.error().message;
        m_engine = std::move(engine).value();
        dir = fs::temp_directory_path() / ("mxrtc-media-io-" + std::to_string(::getpid()) + "-" +
                                           ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir);
        fs::create_directories(dir);
    }
    void TearDown() override {
        io.restart();
        io.run_for(100ms);
        m_engine.reset();
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
    MediaEngine& engine() { return *m_engine; }

    // gst-launch-1.0 writes a test file; true on success.
    static bool launch(const std::string& pipeline) {
        const std::string cmd = "gst-launch-1.0 -q " + pipeline + " >/dev/null 2>&1";
        return std::system(cmd.c_str()) == 0;
    }
    // Ogg Opus: a mono sine.
    std::string oggOpus(double hz, int seconds) {
        const std::string path = (dir / "tone.opus.ogg").string();
        EXPECT_TRUE(
            launch("audiotestsrc num-buffers=" + std::to_string(seconds * 50) +
                   " samplesperbuffer=960 wave=sine volume=0.5 freq=" + std::to_string(hz) +
                   " ! audio/x-raw,rate=48000,channels=1 ! opusenc ! oggmux ! filesink location=" + path));
        return path;
    }
    // WebM: VP8 320x240 at 15 fps and a stereo Opus sine.
    std::string webm(double hz, int seconds) {
        const std::string path = (dir / "clip.webm").string();
        EXPECT_TRUE(launch("webmmux name=m ! filesink location=" + path +
                           " audiotestsrc num-buffers=" + std::to_string(seconds * 50) +
                           " samplesperbuffer=960 wave=sine volume=0.5 freq=" + std::to_string(hz) +
                           " ! audio/x-raw,rate=48000,channels=2 ! opusenc ! m. " +
                           "videotestsrc num-buffers=" + std::to_string(seconds * 15) +
                           " pattern=ball ! video/x-raw,width=320,height=240,framerate=15/1 ! vp8enc "
                           "deadline=1 ! m."));
        return path;
    }

    std::shared_ptr<MediaInput> input(MediaInputSpec spec) {
        MediaInputListener l;
        l.onEnded = [this] { ++ended; };
        l.onError = [this](const std::string& e) { errors.push_back("input: " + e); };
        auto made = MediaInput::create(engine(), std::move(spec), std::move(l));
        EXPECT_TRUE(made.ok()) << (made.ok() ? "" : made.error().message);
        return made.ok() ? made.value() : nullptr;
    }

    boost::asio::io_context io;
    fs::path dir;
    int ended = 0;
    std::vector<std::string> errors;

  private:
    std::unique_ptr<MediaEngine> m_engine;
};

// Publisher -> subscriber wired directly; the subscriber maps every media section to kAlice.
struct Link {
    std::unique_ptr<SfuPublisher> pub;
    std::unique_ptr<SfuSubscriber> sub;
    std::vector<std::string>& errors;
    bool connected = false;

    Link(MediaEngine& engine, std::vector<std::string>& errs, MediaOptions media, MediaSinks sinks = {})
        : errors(errs) {
        SfuPublisherOptions po;
        po.media = std::move(media);
        po.dataChannels = false;
        SfuSubscriberOptions so;
        so.sinks = std::move(sinks);
        SfuPeerListener lp;
        lp.onLocalDescription = [this](const std::string& sdp) {
            for (std::size_t at = sdp.find("a=mid:"); at != std::string::npos;
                 at = sdp.find("a=mid:", at + 1))
                sub->mapMid(TrackMid(sdp.substr(at + 6, sdp.find_first_of("\r\n", at) - at - 6)), kAlice);
            sub->setRemoteOffer(sdp);
        };
        lp.onLocalCandidate = [this](const core::IceCandidate& c) { sub->addRemoteCandidates({c}); };
        lp.onError = [this](const std::string& e) { errors.push_back("publisher: " + e); };
        SfuPeerListener ls;
        ls.onLocalDescription = [this](const std::string& sdp) { pub->setRemoteAnswer(sdp); };
        ls.onLocalCandidate = [this](const core::IceCandidate& c) { pub->addRemoteCandidates({c}); };
        ls.onConnectionState = [this](ConnectionState s) { connected |= s == ConnectionState::Connected; };
        ls.onError = [this](const std::string& e) { errors.push_back("subscriber: " + e); };
        pub = std::make_unique<SfuPublisher>(engine, std::move(po), std::move(lp));
        sub = std::make_unique<SfuSubscriber>(engine, std::move(so), std::move(ls));
        pub->createOffer();
    }

    SfuParticipantStats alice() const {
        auto s = sub->stats();
        auto it = s.participants.find(kAlice);
        return it != s.participants.end() ? it->second : SfuParticipantStats{};
    }
};

MediaOptions sending(const std::shared_ptr<MediaInput>& in) {
    MediaOptions o;
    o.input = in;
    o.audio = in->hasAudio();
    o.video = in->hasVideo();
    return o;
}

TEST_F(RtcMediaIo, FilePlayedOnceReachesTheSubscriberAndReportsItsEnd) {
    MediaInputSpec spec;
    spec.kind = MediaInputSpec::Kind::File;
    spec.path = oggOpus(523, 3);
    spec.loop = false;
    auto in = input(spec);
    ASSERT_TRUE(in);
    EXPECT_TRUE(in->hasAudio());
    EXPECT_FALSE(in->hasVideo());
    const auto started = SteadyClock::now();
    Link link(engine(), errors, sending(in));
    ASSERT_TRUE(runUntil(
        io, [&] { return near(link.alice().audioHz, 523); }, 10s))
        << "audio_hz " << link.alice().audioHz << " " << ::testing::PrintToString(errors);
    ASSERT_TRUE(runUntil(
        io, [&] { return ended > 0; }, 10s));
    const auto playedFor = SteadyClock::now() - started;
    // Real time: a 3 s file ends after about 3 s (it starts when the publisher takes its media).
    EXPECT_GT(playedFor, 2500ms);
    EXPECT_LT(playedFor, 6s);
    const auto atEnd = link.alice().audioBuffersDecoded;
    EXPECT_GT(atEnd, 75U);  // well over 1.5 s of it was received
    runFor(io, 1s);
    EXPECT_LT(link.alice().audioBuffersDecoded - atEnd, 15U);  // nothing after the end
    EXPECT_EQ(ended, 1);
    EXPECT_TRUE(errors.empty()) << ::testing::PrintToString(errors);
    std::printf(
        "[ metrics  ] file once: %llu audio buffers, ended after %lld ms\n",
        static_cast<unsigned long long>(atEnd),
        static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(playedFor).count()));
}

TEST_F(RtcMediaIo, LoopedFileKeepsSendingAudioAndScaledVideo) {
    MediaInputSpec spec;
    spec.kind = MediaInputSpec::Kind::File;
    spec.path = webm(660, 1);
    spec.loop = true;
    spec.width = 160;
    spec.height = 120;
    auto in = input(spec);
    ASSERT_TRUE(in);
    EXPECT_TRUE(in->hasAudio());
    EXPECT_TRUE(in->hasVideo());
    auto got = std::make_shared<Received>();
    Link link(engine(), errors, sending(in), Received::sinks(got));
    // Three loops of a 1 s clip.
    ASSERT_TRUE(runUntil(
        io,
        [&] {
            const auto a = link.alice();
            return a.audioBuffersDecoded >= 150 && a.videoFramesDecoded >= 30;
        },
        15s))
        << "audio " << link.alice().audioBuffersDecoded << " video " << link.alice().videoFramesDecoded << " "
        << ::testing::PrintToString(errors);
    EXPECT_TRUE(near(link.alice().audioHz, 660)) << link.alice().audioHz;
    EXPECT_EQ(ended, 0);
    {
        std::lock_guard lock(got->mutex);
        EXPECT_EQ(got->width, 160);  // scaled from 320x240 to what the encoder gets
        EXPECT_EQ(got->height, 120);
    }
    // Muted, a file source sends silence and black frames: the streams keep running.
    link.pub->setMuted(TrackKind::Audio, true);
    link.pub->setMuted(TrackKind::Video, true);
    const auto before = link.alice();
    EXPECT_TRUE(runUntil(
        io, [&] { return link.alice().audioRms < 0.01; }, 5s))
        << link.alice().audioRms;
    EXPECT_TRUE(runUntil(
        io, [&] { return link.alice().videoFramesDecoded >= before.videoFramesDecoded + 15; }, 5s));
    EXPECT_TRUE(errors.empty()) << ::testing::PrintToString(errors);
}

TEST_F(RtcMediaIo, PushedPcmAndI420FramesReachTheOtherSide) {
    MediaInputSpec spec;
    spec.kind = MediaInputSpec::Kind::App;
    spec.width = 160;
    spec.height = 120;
    spec.maxQueued = 300ms;
    auto in = input(spec);
    ASSERT_TRUE(in);

    // Refused: bad frames, and audio queued beyond maxQueued (nothing of it is taken).
    std::vector<std::uint8_t> small(16 * 16 * 3 / 2, 128);
    I420View bad{16, 16, {small.data(), small.data() + 256, small.data() + 320}, {8, 8, 8}};
    EXPECT_EQ(in->pushVideo(bad).error().errcode, errcode::kInvalidParam);
    std::vector<std::int16_t> tooMuch(48000 / 2, 0);  // 500 ms > 300 ms
    EXPECT_EQ(in->pushAudio(tooMuch).error().errcode, kQueueFullErrcode);
    EXPECT_EQ(in->pushAudio(std::vector<std::int16_t>(3, 0), 2).error().errcode, errcode::kInvalidParam);

    auto got = std::make_shared<Received>();
    Link link(engine(), errors, sending(in), Received::sinks(got));
    std::atomic<bool> stop{false};
    std::atomic<int> refused{0};
    const auto t0 = SteadyClock::now();
    std::thread pusher([&] {
        // 700 Hz in 20 ms chunks, 320x240 frames at 15 fps, paced by the clock like a capture.
        double phase = 0;
        std::vector<std::int16_t> pcm(960);
        std::vector<std::uint8_t> frame(320 * 240 * 3 / 2, 0);
        const auto start = SteadyClock::now();
        for (int i = 0; !stop; ++i) {
            for (auto& s : pcm) {
                s = static_cast<std::int16_t>(12000 * std::sin(phase));
                phase += 2 * M_PI * 700 / 48000;
            }
            if (!in->pushAudio(pcm)) ++refused;
            if (i % 3 == 0) {
                std::fill(frame.begin(), frame.begin() + 320 * 240, static_cast<std::uint8_t>(i));
                const auto ts =
                    std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - start);
                const I420View view{
                    320, 240, {frame.data(), frame.data() + 76800, frame.data() + 96000}, {320, 160, 160}};
                if (!in->pushVideo(view, ts)) ++refused;
            }
            std::this_thread::sleep_until(start + (i + 1) * 20ms);
        }
    });
    const bool arrived = runUntil(
        io,
        [&] {
            const auto a = link.alice();
            return near(a.audioHz, 700) && a.videoFramesDecoded >= 20;
        },
        15s);
    stop = true;
    pusher.join();
    std::printf("[ metrics  ] pushed: audio_hz %.1f, video %llu after %lld ms\n", link.alice().audioHz,
                static_cast<unsigned long long>(link.alice().videoFramesDecoded),
                static_cast<long long>(
                    std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - t0).count()));
    ASSERT_TRUE(arrived) << "audio_hz " << link.alice().audioHz << " video "
                         << link.alice().videoFramesDecoded << " " << ::testing::PrintToString(errors);
    EXPECT_EQ(refused, 0);
    {
        std::lock_guard lock(got->mutex);
        EXPECT_EQ(got->width, 160);
        EXPECT_EQ(got->height, 120);
        EXPECT_TRUE(near(got->pitch.hz(), 700)) << got->pitch.hz();
    }
    in->stop();
    EXPECT_FALSE(in->pushAudio(std::vector<std::int16_t>(960, 0)).ok());
    EXPECT_TRUE(errors.empty()) << ::testing::PrintToString(errors);
}

TEST_F(RtcMediaIo, FrameCallbacksDeliverTheSendersToneAndI420FramesWithItsIdentity) {
    MediaOptions media;  // test sources
    media.toneFrequency = 440;
    media.videoWidth = 176;
    media.videoHeight = 144;
    auto got = std::make_shared<Received>();
    Link link(engine(), errors, media, Received::sinks(got));
    ASSERT_TRUE(runUntil(
        io,
        [&] {
            std::lock_guard lock(got->mutex);
            return got->pitch.samples >= 48000 && got->videoFrames >= 15;
        },
        15s))
        << ::testing::PrintToString(errors);
    std::lock_guard lock(got->mutex);
    EXPECT_TRUE(near(got->pitch.hz(), 440)) << got->pitch.hz();
    EXPECT_EQ(got->identity, kAlice.str());
    EXPECT_EQ(got->width, 176);
    EXPECT_EQ(got->height, 144);
    EXPECT_TRUE(got->stridesOk);
    // 20 ms of 48 kHz mono per call.
    EXPECT_NEAR(static_cast<double>(got->pitch.samples) / static_cast<double>(got->audioCalls - 25), 960.0,
                1.0);
    EXPECT_TRUE(errors.empty()) << ::testing::PrintToString(errors);
}

TEST_F(RtcMediaIo, SinkPipelinesReceiveDecodedAudioAndVideo) {
    MediaOptions media;
    MediaSinks sinks;
    const std::string audioFile = (dir / "a.raw").string();
    const std::string videoFile = (dir / "v.raw").string();
    sinks.audioPipeline = "audio/x-raw,format=S16LE,channels=1,rate=48000 ! filesink location=" + audioFile;
    sinks.videoPipeline = "video/x-raw,format=I420 ! filesink location=" + videoFile;
    Link link(engine(), errors, media, sinks);
    ASSERT_TRUE(runUntil(
        io,
        [&] {
            const auto a = link.alice();
            return a.audioBuffersDecoded >= 100 && a.videoFramesDecoded >= 20;
        },
        15s))
        << ::testing::PrintToString(errors);
    link.sub->close();  // flushes the files
    link.pub->close();
    runFor(io, 300ms);
    std::error_code ec;
    EXPECT_GT(fs::file_size(audioFile, ec), 48000U * 2U);  // > 1 s of 48 kHz S16 mono
    const auto videoBytes = fs::file_size(videoFile, ec);
    EXPECT_GE(videoBytes, 10U * 160U * 120U * 3U / 2U);  // > 10 I420 frames of 160x120
    EXPECT_EQ(videoBytes % (160U * 120U * 3U / 2U), 0U);
    EXPECT_TRUE(errors.empty()) << ::testing::PrintToString(errors);
}

// Mesh: a Peer sending a looped file to a Peer whose callbacks name the member it was told about.
TEST_F(RtcMediaIo, MeshPeerSendsAFileAndNamesItsMemberInFrameCallbacks) {
    MediaInputSpec spec;
    spec.kind = MediaInputSpec::Kind::File;
    spec.path = webm(587, 1);
    auto in = input(spec);
    ASSERT_TRUE(in);
    MediaOptions oa;
    oa.input = in;
    MediaOptions ob;
    auto got = std::make_shared<Received>();
    ob.sinks = Received::sinks(got);
    std::unique_ptr<Peer> a;
    std::unique_ptr<Peer> b;
    Peer::Listener la;
    Peer::Listener lb;
    la.onLocalDescription = [&](const core::SessionDescription& d) {
        b->setRemoteDescription(d);
        b->createAnswer();
    };
    lb.onLocalDescription = [&](const core::SessionDescription& d) { a->setRemoteDescription(d); };
    la.onLocalCandidate = [&](const core::IceCandidate& c) { b->addRemoteCandidates({c}); };
    lb.onLocalCandidate = [&](const core::IceCandidate& c) { a->addRemoteCandidates({c}); };
    la.onError = [&](const std::string& e) { errors.push_back("a: " + e); };
    lb.onError = [&](const std::string& e) { errors.push_back("b: " + e); };
    a = std::make_unique<Peer>(engine(), oa, std::move(la));
    b = std::make_unique<Peer>(engine(), ob, std::move(lb));
    b->setRemoteParticipant("@alice:example.org", "ALICEDEV");
    a->createOffer();
    ASSERT_TRUE(runUntil(
        io,
        [&] {
            const auto s = b->stats();
            return near(s.audioHz, 587) && s.videoFramesDecoded >= 20;
        },
        15s))
        << "audio_hz " << b->stats().audioHz << " " << ::testing::PrintToString(errors);
    {
        std::lock_guard lock(got->mutex);
        EXPECT_EQ(got->user, "@alice:example.org");
        EXPECT_EQ(got->device, "ALICEDEV");
        EXPECT_EQ(got->identity, "");
        EXPECT_GT(got->videoFrames, 0U);
    }
    // The other way round the test sources still play.
    EXPECT_TRUE(runUntil(
        io, [&] { return a->stats().audioBuffersDecoded >= 25; }, 5s));
    EXPECT_TRUE(errors.empty()) << ::testing::PrintToString(errors);
}

TEST_F(RtcMediaIo, BadSourcesAndSinksFailInOneLineNamingTheProblem) {
    const auto failure = [&](MediaInputSpec spec) {
        auto made = MediaInput::create(engine(), std::move(spec), {});
        return made.ok() ? std::string("(created)") : made.error().message;
    };
    MediaInputSpec file;
    file.kind = MediaInputSpec::Kind::File;
    file.path = (dir / "missing.ogg").string();
    EXPECT_EQ(failure(file), "file " + file.path + ": no such file");
    file.path = (dir / "notes.txt").string();
    std::ofstream(file.path) << "these are not media\n";
    const std::string notMedia = failure(file);
    std::printf("[ messages ] %s\n", notMedia.c_str());
    EXPECT_TRUE(notMedia.starts_with("file " + file.path + ": ")) << notMedia;
    EXPECT_EQ(notMedia.find('\n'), std::string::npos) << notMedia;

    MediaInputSpec pipe;
    pipe.kind = MediaInputSpec::Kind::Pipeline;
    pipe.audioPipeline = "nosuchsrc";
    EXPECT_NE(failure(pipe).find("audio pipeline 'nosuchsrc': no element \"nosuchsrc\""), std::string::npos)
        << failure(pipe);
    pipe.audioPipeline = "fakesink";
    EXPECT_NE(failure(pipe).find("has no unlinked output"), std::string::npos) << failure(pipe);
    pipe.audioPipeline.clear();
    pipe.videoPipeline = "v4l2src device=/dev/video-mxrtc-none";
    const std::string device = failure(pipe);
    std::printf("[ messages ] %s\n", device.c_str());
    EXPECT_TRUE(device.starts_with("video pipeline 'v4l2src device=/dev/video-mxrtc-none': ")) << device;
    EXPECT_EQ(device.find('\n'), std::string::npos) << device;

    auto sink = checkSinkPipeline(engine(), "autoaudiosnk");
    ASSERT_FALSE(sink.ok());
    EXPECT_NE(sink.error().message.find("no element \"autoaudiosnk\""), std::string::npos)
        << sink.error().message;
    EXPECT_TRUE(checkSinkPipeline(engine(), "audioconvert ! fakesink").ok());

    // A working pipeline source: audiotestsrc through a description.
    pipe.videoPipeline.clear();
    pipe.audioPipeline = "audiotestsrc is-live=true freq=330";
    auto ok = MediaInput::create(engine(), pipe, {});
    ASSERT_TRUE(ok.ok()) << ok.error().message;
    EXPECT_TRUE(ok.value()->hasAudio());
    EXPECT_FALSE(ok.value()->hasVideo());
}

}  // namespace
}  // namespace mxrtc::rtc
