// The SFU peers without an SFU: an SfuPublisher offers straight to an SfuSubscriber (a generic
// answerer) on 127.0.0.1, in one process. The subscriber maps the offer's mids to a participant
// identity as the LiveKit signal session will. Media is asserted on what was decoded, with and
// without frame E2EE; key-frame requests are timed against a 10 s periodic key frame.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mxrtc/rtc/sfu_peers.hpp"

namespace mxrtc::rtc {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

const ParticipantIdentity kAlice{"@alice:example.org:ALICEDEV"};
const ParticipantIdentity kBob{"@bob:example.org:BOBDEV"};
const std::vector<std::uint8_t> kAliceKey(16, 0xA1);
const std::vector<std::uint8_t> kBobKey(16, 0xB2);

// What livekit-server 1.13.5 (pion v4) offers a subscriber: its data channels first, an Opus+RED
// track, a VP8 track offered with RTX, H.264 and VP9, and a track whose publisher sent H.264 only.
constexpr const char* kSfuOffer =
    "v=0\r\n"
    "o=- 7436297136434410453 1724851230 IN IP4 0.0.0.0\r\n"
    "s=-\r\n"
    "t=0 0\r\n"
    "a=msid-semantic:WMS*\r\n"
    "a=fingerprint:sha-256 "
    "6B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08\r\n"
    "a=extmap-allow-mixed\r\n"
    "a=group:BUNDLE 0 1 2 3\r\n"
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=setup:actpass\r\n"
    "a=mid:0\r\n"
    "a=sendrecv\r\n"
    "a=sctp-port:5000\r\n"
    "a=ice-ufrag:GbTxkzJqWcRuVpmA\r\n"
    "a=ice-pwd:ZtHoNRzJeXqUcSfLyVwKpBmGaDiEbTnO\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111 63\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=setup:actpass\r\n"
    "a=mid:1\r\n"
    "a=ice-ufrag:GbTxkzJqWcRuVpmA\r\n"
    "a=ice-pwd:ZtHoNRzJeXqUcSfLyVwKpBmGaDiEbTnO\r\n"
    "a=rtcp-mux\r\n"
    "a=rtcp-rsize\r\n"
    "a=rtpmap:111 opus/48000/2\r\n"
    "a=fmtp:111 minptime=10;useinbandfec=1\r\n"
    "a=rtcp-fb:111 transport-cc\r\n"
    "a=rtpmap:63 red/48000/2\r\n"
    "a=fmtp:63 111/111\r\n"
    "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n"
    "a=extmap:3 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n"
    "a=ssrc:1907543325 cname:PA_abcDEF123|camera\r\n"
    "a=ssrc:1907543325 msid:PA_abcDEF123|camera TR_AMxyz789\r\n"
    "a=msid:PA_abcDEF123|camera TR_AMxyz789\r\n"
    "a=sendonly\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 98 99\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=setup:actpass\r\n"
    "a=mid:2\r\n"
    "a=ice-ufrag:GbTxkzJqWcRuVpmA\r\n"
    "a=ice-pwd:ZtHoNRzJeXqUcSfLyVwKpBmGaDiEbTnO\r\n"
    "a=rtcp-mux\r\n"
    "a=rtcp-rsize\r\n"
    "a=rtpmap:96 VP8/90000\r\n"
    "a=rtcp-fb:96 goog-remb \r\n"
    "a=rtcp-fb:96 ccm fir\r\n"
    "a=rtcp-fb:96 nack \r\n"
    "a=rtcp-fb:96 nack pli\r\n"
    "a=rtpmap:97 rtx/90000\r\n"
    "a=fmtp:97 apt=96\r\n"
    "a=rtpmap:102 H264/90000\r\n"
    "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f\r\n"
    "a=rtpmap:103 rtx/90000\r\n"
    "a=fmtp:103 apt=102\r\n"
    "a=rtpmap:98 VP9/90000\r\n"
    "a=fmtp:98 profile-id=0\r\n"
    "a=rtpmap:99 rtx/90000\r\n"
    "a=fmtp:99 apt=98\r\n"
    "a=extmap:3 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n"
    "a=ssrc-group:FID 2231627014 632943048\r\n"
    "a=ssrc:2231627014 cname:PA_abcDEF123|camera\r\n"
    "a=ssrc:2231627014 msid:PA_abcDEF123|camera TR_VCdef456\r\n"
    "a=ssrc:632943048 cname:PA_abcDEF123|camera\r\n"
    "a=ssrc:632943048 msid:PA_abcDEF123|camera TR_VCdef456\r\n"
    "a=msid:PA_abcDEF123|camera TR_VCdef456\r\n"
    "a=sendonly\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 102 103\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=setup:actpass\r\n"
    "a=mid:3\r\n"
    "a=ice-ufrag:GbTxkzJqWcRuVpmA\r\n"
    "a=ice-pwd:ZtHoNRzJeXqUcSfLyVwKpBmGaDiEbTnO\r\n"
    "a=rtcp-mux\r\n"
    "a=rtpmap:102 H264/90000\r\n"
    "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f\r\n"
    "a=rtpmap:103 rtx/90000\r\n"
    "a=fmtp:103 apt=102\r\n"
    "a=msid:PA_ghiJKL456|camera TR_VChij012\r\n"
    "a=sendonly\r\n";

bool runUntil(boost::asio::io_context& io, const std::function<bool()>& done,
              std::chrono::milliseconds timeout) {
    const auto deadline = SteadyClock::now() + timeout;
    while (!done()) {
        if (SteadyClock::now() > deadline) return false;
        io.restart();
        io.run_for(2ms);
    }
    return true;
}

long msBetween(std::optional<SteadyClock::time_point> from, std::optional<SteadyClock::time_point> to) {
    if (!from || !to) return -1;
    return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(*to - *from).count());
}

std::vector<std::string> sdpLines(const std::string& sdp) {
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (pos < sdp.size()) {
        std::size_t end = sdp.find('\n', pos);
        if (end == std::string::npos) end = sdp.size();
        std::string line = sdp.substr(pos, end - pos);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        out.push_back(line);
        pos = end + 1;
    }
    return out;
}

// (kind, mid) of every media section, in order.
std::vector<std::pair<std::string, std::string>> sections(const std::string& sdp) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& l : sdpLines(sdp)) {
        if (l.starts_with("m=")) out.emplace_back(l.substr(2, l.find(' ') - 2), "");
        if (l.starts_with("a=mid:") && !out.empty()) out.back().second = l.substr(6);
    }
    return out;
}

std::string midOfKind(const std::string& sdp, const std::string& kind) {
    for (const auto& [k, mid] : sections(sdp))
        if (k == kind) return mid;
    return "";
}

bool contains(const std::string& sdp, const std::string& line) {
    const auto lines = sdpLines(sdp);
    return std::find(lines.begin(), lines.end(), line) != lines.end();
}

class RtcSfuPeers : public ::testing::Test {
  protected:
    void SetUp() override {
        auto engine = MediaEngine::create(io.get_executor());
        if (!engine) GTEST_SKIP() << engine.error().message;
        m_engine = std::move(engine).value();
    }
    void TearDown() override {
        io.restart();
        io.run_for(50ms);
        m_engine.reset();
    }
    MediaEngine& engine() { return *m_engine; }

    boost::asio::io_context io;

  private:
    std::unique_ptr<MediaEngine> m_engine;
};

// Publisher -> subscriber, wired directly. `owner` is who the subscriber maps the offer's audio and
// video mids to; `mungeOffer` lets a test add what an SFU would offer.
struct Link {
    std::unique_ptr<SfuPublisher> pub;
    std::unique_ptr<SfuSubscriber> sub;
    std::string offer;  // as the subscriber got it
    std::string answer;
    std::vector<std::string> errors;
    bool pubConnected = false;
    bool subConnected = false;
    std::optional<SteadyClock::time_point> subConnectedAt;  // ICE and DTLS up
    std::function<std::string(std::string)> mungeOffer;
    std::optional<ParticipantIdentity> owner;

    Link(MediaEngine& engine, SfuPublisherOptions po, SfuSubscriberOptions so) {
        SfuPeerListener lp;
        lp.onLocalDescription = [this](const std::string& sdp) {
            offer = mungeOffer ? mungeOffer(sdp) : sdp;
            if (owner)
                for (const auto& [kind, mid] : sections(offer))
                    if (kind == "audio" || kind == "video") sub->mapMid(TrackMid(mid), *owner);
            sub->setRemoteOffer(offer);
        };
        lp.onLocalCandidate = [this](const core::IceCandidate& c) { sub->addRemoteCandidates({c}); };
        lp.onConnectionState = [this](ConnectionState s) { pubConnected |= s == ConnectionState::Connected; };
        lp.onError = [this](const std::string& e) { errors.push_back("publisher: " + e); };
        SfuPeerListener ls;
        ls.onLocalDescription = [this](const std::string& sdp) {
            answer = sdp;
            pub->setRemoteAnswer(sdp);
        };
        ls.onLocalCandidate = [this](const core::IceCandidate& c) { pub->addRemoteCandidates({c}); };
        ls.onConnectionState = [this](ConnectionState s) {
            if (s == ConnectionState::Connected && !subConnected) subConnectedAt = SteadyClock::now();
            subConnected |= s == ConnectionState::Connected;
        };
        ls.onError = [this](const std::string& e) { errors.push_back("subscriber: " + e); };
        pub = std::make_unique<SfuPublisher>(engine, std::move(po), std::move(lp));
        sub = std::make_unique<SfuSubscriber>(engine, std::move(so), std::move(ls));
    }

    SfuParticipantStats of(const ParticipantIdentity& who) const {
        auto s = sub->stats();
        auto it = s.participants.find(who);
        return it != s.participants.end() ? it->second : SfuParticipantStats{};
    }
};

SfuPublisherOptions publisherOptions(bool e2ee) {
    SfuPublisherOptions o;
    o.media.e2ee = e2ee;
    o.media.toneFrequency = 440;
    o.streamId = "PA_test|camera";
    o.audioTrackId = "TR_audio_cid";
    o.videoTrackId = "TR_video_cid";
    return o;
}

SfuSubscriberOptions subscriberOptions(bool e2ee) {
    SfuSubscriberOptions o;
    o.e2ee = e2ee;
    return o;
}

class RtcSfuMedia : public RtcSfuPeers, public ::testing::WithParamInterface<bool> {};

// Both tracks arrive, decoded and (with E2EE) decrypted with the key of the identity the mids are
// mapped to; the offer carries our track ids, the answer accepts the data-channel section.
TEST_P(RtcSfuMedia, PublisherReachesSubscriberAudioVideoAndDataChannels) {
    const bool e2ee = GetParam();
    Link link(engine(), publisherOptions(e2ee), subscriberOptions(e2ee));
    link.owner = kAlice;
    if (e2ee) {
        link.pub->setSendKey(KeyIndex{0}, kAliceKey);
        link.sub->setParticipantKey(kAlice, KeyIndex{0}, kAliceKey);
    }
    link.pub->createOffer();
    ASSERT_TRUE(runUntil(
        io, [&] { return link.pubConnected && link.subConnected; }, 10s))
        << ::testing::PrintToString(link.errors);
    ASSERT_TRUE(runUntil(
        io,
        [&] {
            auto a = link.of(kAlice);
            return a.audioBuffersDecoded >= 25 && a.videoFramesDecoded >= 10 && a.audioRms > 0.1;
        },
        10s))
        << ::testing::PrintToString(link.errors);
    EXPECT_TRUE(link.errors.empty()) << ::testing::PrintToString(link.errors);
    const auto a = link.of(kAlice);
    const auto subStats = link.sub->stats();
    const auto pubStats = link.pub->stats();
    EXPECT_EQ(subStats.participants.size(), 1U);
    EXPECT_EQ(subStats.tracksStarted, 2U);
    if (e2ee) {
        EXPECT_GT(a.framesDecrypted, 30U);
        EXPECT_EQ(a.decryptFailures, 0U);
        EXPECT_GT(pubStats.framesEncrypted, 30U);
    } else {
        EXPECT_EQ(a.framesDecrypted, 0U);
        EXPECT_EQ(pubStats.framesEncrypted, 0U);
    }
    // The SFU matches tracks by msid: ours, in both forms, in every section.
    const std::string audioMid = midOfKind(link.offer, "audio");
    EXPECT_TRUE(contains(link.offer, "a=msid:PA_test|camera TR_audio_cid")) << link.offer;
    EXPECT_TRUE(contains(link.offer, "a=msid:PA_test|camera TR_video_cid")) << link.offer;
    for (const auto& l : sdpLines(link.offer)) {
        if (l.starts_with("a=ssrc:") && l.find(" msid:") != std::string::npos) {
            EXPECT_TRUE(l.ends_with(" msid:PA_test|camera TR_audio_cid") ||
                        l.ends_with(" msid:PA_test|camera TR_video_cid"))
                << l;
        }
    }
    EXPECT_TRUE(contains(link.offer, "a=sendonly")) << link.offer;
    // The data channels' m=application is answered and the channels open on the subscriber.
    EXPECT_EQ(midOfKind(link.answer, "application"), midOfKind(link.offer, "application"));
    EXPECT_FALSE(midOfKind(link.offer, "application").empty()) << link.offer;
    ASSERT_TRUE(runUntil(
        io, [&] { return link.sub->stats().dataChannels == 2; }, 5s));
    std::printf(
        "[ metrics  ] sfu peers%s: mid %s mapped -> first audio %ld ms, first video %ld ms, first decrypted "
        "%ld "
        "ms; rms %.3f; key frames encoded %llu (requests %llu, forwarded %llu)\n",
        e2ee ? "+e2ee" : "", audioMid.c_str(), msBetween(a.mappedAt, a.firstAudioAt),
        msBetween(a.mappedAt, a.firstVideoAt), msBetween(a.mappedAt, a.firstDecryptedAt), a.audioRms,
        static_cast<unsigned long long>(pubStats.keyFramesEncoded),
        static_cast<unsigned long long>(pubStats.keyFrameRequests),
        static_cast<unsigned long long>(pubStats.keyFrameRequestsForwarded));
}

// A PLI from the subscriber makes the publisher's encoder emit a key frame at once, also when the
// encoded frames take our E2EE path (appsink -> cryptor -> packetizer -> appsrc, where webrtcbin's
// force-key-unit event would stop): the periodic key frame is 10 s away.
TEST_P(RtcSfuMedia, KeyFrameRequestReachesTheEncoderLongBeforeThePeriodicKeyFrame) {
    const bool e2ee = GetParam();
    auto po = publisherOptions(e2ee);
    po.media.keyFrameInterval = 10s;
    Link link(engine(), po, subscriberOptions(e2ee));
    link.owner = kAlice;
    if (e2ee) {
        link.pub->setSendKey(KeyIndex{0}, kAliceKey);
        link.sub->setParticipantKey(kAlice, KeyIndex{0}, kAliceKey);
    }
    // Let the encoder's first (start-up) key frame go by before anyone can receive it.
    runUntil(
        io, [] { return false; }, 500ms);
    link.pub->createOffer();
    ASSERT_TRUE(runUntil(
        io, [&] { return link.of(kAlice).videoFramesDecoded > 0; }, 10s))
        << ::testing::PrintToString(link.errors);
    // A new subscriber does not wait for the periodic key frame: it asks when the stream starts
    // (with E2EE our send chain also restarts at a key frame once webrtcbin takes data).
    const auto first = link.of(kAlice);
    const long dtlsMs = msBetween(link.sub->stats().iceConnectedAt, link.subConnectedAt);
    const long firstVideoMs = msBetween(link.subConnectedAt, first.firstVideoAt);
    // The behaviour: well before the periodic key frame 10 s away (the 0.5 s goal is a figure
    // measured in the metrics line below and by bench/, not a timer assertion that flakes under load).
    EXPECT_LT(firstVideoMs, 5000) << "a new subscriber waited for the periodic key frame";

    // Later, an explicit request (a PLI from the subscriber's rtpsession).
    runUntil(
        io, [] { return false; }, 1500ms);
    const auto keysBefore = link.of(kAlice).videoKeyFrames;
    const auto before = link.pub->stats();
    EXPECT_GE(before.keyFrameRequests, 1U);  // the subscriber's request when the stream started
    const auto t0 = SteadyClock::now();
    link.sub->requestKeyFrame(TrackMid(midOfKind(link.offer, "video")));
    ASSERT_TRUE(runUntil(
        io, [&] { return link.of(kAlice).videoKeyFrames > keysBefore; }, 5s))
        << ::testing::PrintToString(link.errors);
    const long requestToKeyMs = static_cast<long>(
        std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - t0).count());
    EXPECT_LT(requestToKeyMs, 5000) << "the request did not reach the encoder";
    const auto pub = link.pub->stats();
    EXPECT_GT(pub.keyFramesEncoded, before.keyFramesEncoded);
    EXPECT_GT(pub.keyFrameRequests, before.keyFrameRequests);
    if (e2ee) {
        EXPECT_GT(pub.keyFrameRequestsForwarded, before.keyFrameRequestsForwarded);
    } else {
        EXPECT_EQ(pub.keyFrameRequestsForwarded, 0U);  // rtpvp8pay passes the event on by itself
    }
    // Every key frame was asked for: the start-up one, (E2EE) the one our send chain resumes at
    // after webrtcbin held its input, and one per request.
    EXPECT_LE(pub.keyFramesEncoded, 2 + pub.keyFrameRequests);
    EXPECT_TRUE(link.errors.empty()) << ::testing::PrintToString(link.errors);
    std::printf(
        "[ metrics  ] key frames%s (periodic every 10 s): ICE -> DTLS connected %ld ms, -> first video %ld "
        "ms; "
        "request -> key frame decoded %ld ms; encoded %llu, requests %llu, forwarded %llu\n",
        e2ee ? "+e2ee" : "", dtlsMs, firstVideoMs, requestToKeyMs,
        static_cast<unsigned long long>(pub.keyFramesEncoded),
        static_cast<unsigned long long>(pub.keyFrameRequests),
        static_cast<unsigned long long>(pub.keyFrameRequestsForwarded));
}

INSTANTIATE_TEST_SUITE_P(Media, RtcSfuMedia, ::testing::Values(false, true), [](const auto& info) {
    return info.param ? std::string("e2ee") : std::string("clear");
});

// The subscriber holds a wrong key for the identity its mids are mapped to: every frame is dropped
// as undecryptable, nothing reaches a decoder.
TEST_F(RtcSfuPeers, WrongKeyGivesUndecryptableFramesAndNoDecodedMedia) {
    Link link(engine(), publisherOptions(true), subscriberOptions(true));
    link.owner = kAlice;
    link.pub->setSendKey(KeyIndex{0}, kAliceKey);
    link.sub->setParticipantKey(kAlice, KeyIndex{0}, kBobKey);
    link.pub->createOffer();
    ASSERT_TRUE(runUntil(
        io, [&] { return link.of(kAlice).decryptFailures >= 40; }, 10s))
        << ::testing::PrintToString(link.errors);
    runUntil(
        io, [] { return false; }, 500ms);
    const auto a = link.of(kAlice);
    EXPECT_EQ(a.framesDecrypted, 0U);
    EXPECT_EQ(a.audioBuffersDecoded, 0U);
    EXPECT_EQ(a.videoFramesDecoded, 0U);
    EXPECT_TRUE(link.errors.empty()) << ::testing::PrintToString(link.errors);
}

// Transceiver reuse: the same mids carry another participant's media after a new offer. The
// decryptor follows the mapping frame by frame: mapped to bob (whose key does not fit alice's
// frames) nothing decodes; remapped to alice, her key decrypts and video comes back; remapped to bob
// again, alice's counters stop and bob's failures grow.
TEST_F(RtcSfuPeers, RemappingAMidSwitchesTheKeyUsed) {
    Link link(engine(), publisherOptions(true), subscriberOptions(true));
    link.owner = kBob;
    link.pub->setSendKey(KeyIndex{0}, kAliceKey);
    link.sub->setParticipantKey(kAlice, KeyIndex{0}, kAliceKey);
    link.sub->setParticipantKey(kBob, KeyIndex{0}, kBobKey);
    link.pub->createOffer();
    ASSERT_TRUE(runUntil(
        io, [&] { return link.of(kBob).decryptFailures >= 20; }, 10s))
        << ::testing::PrintToString(link.errors);
    EXPECT_EQ(link.of(kBob).videoFramesDecoded, 0U);

    const auto remapAt = SteadyClock::now();
    for (const auto& [kind, mid] : sections(link.offer))
        if (kind == "audio" || kind == "video") link.sub->mapMid(TrackMid(mid), kAlice);
    ASSERT_TRUE(runUntil(
        io,
        [&] {
            auto a = link.of(kAlice);
            return a.videoFramesDecoded >= 5 && a.audioBuffersDecoded >= 10;
        },
        5s))
        << ::testing::PrintToString(link.errors);
    const auto alice = link.of(kAlice);
    EXPECT_EQ(alice.decryptFailures, 0U);
    EXPECT_GT(alice.audioRms, 0.1);
    const long remapToVideoMs = msBetween(remapAt, alice.firstVideoAt);

    for (const auto& [kind, mid] : sections(link.offer))
        if (kind == "audio" || kind == "video") link.sub->mapMid(TrackMid(mid), kBob);
    const auto bobFailures = link.of(kBob).decryptFailures;
    runUntil(
        io, [] { return false; }, 300ms);  // frames already past the probe may still be decoded
    const auto aliceFrozen = link.of(kAlice);
    ASSERT_TRUE(runUntil(
        io, [&] { return link.of(kBob).decryptFailures >= bobFailures + 20; }, 5s));
    EXPECT_EQ(link.of(kAlice).framesDecrypted, aliceFrozen.framesDecrypted);
    EXPECT_EQ(link.of(kAlice).audioBuffersDecoded, aliceFrozen.audioBuffersDecoded);
    EXPECT_EQ(link.of(kBob).videoFramesDecoded, 0U);
    EXPECT_TRUE(link.errors.empty()) << ::testing::PrintToString(link.errors);
    std::printf("[ metrics  ] remap mids bob -> alice: first decoded video after %ld ms\n", remapToVideoMs);
}

// A participant whose publications are unencrypted: the subscriber (E2EE on) passes the frames.
TEST_F(RtcSfuPeers, UnencryptedParticipantPassesThroughAnEncryptingSubscriber) {
    Link link(engine(), publisherOptions(false), subscriberOptions(true));
    link.owner = kAlice;
    link.sub->setParticipantEncrypted(kAlice, false);
    link.pub->createOffer();
    ASSERT_TRUE(runUntil(
        io,
        [&] {
            auto a = link.of(kAlice);
            return a.videoFramesDecoded >= 5 && a.audioBuffersDecoded >= 10;
        },
        10s))
        << ::testing::PrintToString(link.errors);
    const auto a = link.of(kAlice);
    EXPECT_GT(a.framesPassedThrough, 15U);
    EXPECT_EQ(a.framesDecrypted, 0U);
    EXPECT_EQ(a.decryptFailures, 0U);
}

// Frames on a mid nobody is mapped to cannot be decrypted: dropped and counted, never decoded.
TEST_F(RtcSfuPeers, FramesOnAnUnmappedMidAreDropped) {
    Link link(engine(), publisherOptions(true), subscriberOptions(true));
    link.pub->setSendKey(KeyIndex{0}, kAliceKey);
    link.sub->setParticipantKey(kAlice, KeyIndex{0}, kAliceKey);
    link.pub->createOffer();
    ASSERT_TRUE(runUntil(
        io, [&] { return link.sub->stats().unmappedFrames >= 30; }, 10s))
        << ::testing::PrintToString(link.errors);
    EXPECT_EQ(link.of(kAlice).audioBuffersDecoded, 0U);
    EXPECT_EQ(link.of(kAlice).videoFramesDecoded, 0U);
}

// The SFU re-offers on every subscription change: a second offer on a connected pair is answered
// and media keeps flowing on the same tracks.
TEST_F(RtcSfuPeers, RenegotiationOnAConnectedPairKeepsMediaFlowing) {
    Link link(engine(), publisherOptions(true), subscriberOptions(true));
    link.owner = kAlice;
    link.pub->setSendKey(KeyIndex{0}, kAliceKey);
    link.sub->setParticipantKey(kAlice, KeyIndex{0}, kAliceKey);
    link.pub->createOffer();
    ASSERT_TRUE(runUntil(
        io, [&] { return link.of(kAlice).videoFramesDecoded >= 5; }, 10s))
        << ::testing::PrintToString(link.errors);
    const std::string firstAnswer = link.answer;
    link.answer.clear();
    link.pub->createOffer();
    ASSERT_TRUE(runUntil(
        io, [&] { return !link.answer.empty() || !link.errors.empty(); }, 5s));
    const auto before = link.of(kAlice);
    ASSERT_TRUE(runUntil(
        io,
        [&] {
            auto a = link.of(kAlice);
            return a.videoFramesDecoded >= before.videoFramesDecoded + 15 &&
                   a.audioBuffersDecoded >= before.audioBuffersDecoded + 25;
        },
        5s))
        << ::testing::PrintToString(link.errors);
    EXPECT_EQ(sections(link.answer), sections(firstAnswer));
    EXPECT_EQ(link.sub->stats().tracksStarted, 2U);
    EXPECT_EQ(link.of(kAlice).decryptFailures, 0U);
    EXPECT_TRUE(link.errors.empty()) << ::testing::PrintToString(link.errors);
}

// Recording: each incoming track (decrypted) goes to <dir>/<identity>_<mid>.opus.ogg / .vp8.webm.
TEST_F(RtcSfuPeers, RecordsEachTrackUnderItsOwnerAndMid) {
    const auto dir = std::filesystem::temp_directory_path() /
                     ("mxrtc-sfu-rec-" + std::to_string(SteadyClock::now().time_since_epoch().count()));
    std::filesystem::create_directories(dir);
    auto so = subscriberOptions(true);
    so.recordDir = dir.string();
    Link link(engine(), publisherOptions(true), so);
    link.owner = kAlice;
    link.pub->setSendKey(KeyIndex{0}, kAliceKey);
    link.sub->setParticipantKey(kAlice, KeyIndex{0}, kAliceKey);
    link.pub->createOffer();
    ASSERT_TRUE(runUntil(
        io,
        [&] { return link.of(kAlice).videoFramesDecoded >= 15 && link.of(kAlice).audioBuffersDecoded >= 50; },
        10s))
        << ::testing::PrintToString(link.errors);
    link.sub->close();
    link.pub->close();
    runUntil(
        io, [] { return false; }, 200ms);
    // <owner>_<mid>_<n>.<ext>, n a per-process track number: exactly one file per track.
    const std::string stem = "_alice_example.org_ALICEDEV_";
    const auto findOne = [&](const std::string& mid, const std::string& ext) {
        std::vector<std::filesystem::path> found;
        for (const auto& e : std::filesystem::directory_iterator(dir)) {
            const std::string name = e.path().filename().string();
            if (name.starts_with(stem + mid + "_") && name.ends_with(ext)) found.push_back(e.path());
        }
        return found;
    };
    const auto audio = findOne(midOfKind(link.offer, "audio"), ".opus.ogg");
    const auto video = findOne(midOfKind(link.offer, "video"), ".vp8.webm");
    ASSERT_EQ(audio.size(), 1U) << dir;
    ASSERT_EQ(video.size(), 1U) << dir;
    EXPECT_GT(std::filesystem::file_size(audio[0]), 1000U);
    EXPECT_GT(std::filesystem::file_size(video[0]), 1000U);
    std::filesystem::remove_all(dir);
}

// Muting keeps both streams flowing: silence (RMS ~0) and black frames; unmuting brings the tone back.
TEST_F(RtcSfuPeers, MuteSendsSilenceAndBlackAndUnmuteRestoresTheTone) {
    Link link(engine(), publisherOptions(false), subscriberOptions(false));
    link.owner = kAlice;
    link.pub->createOffer();
    ASSERT_TRUE(runUntil(
        io, [&] { return link.of(kAlice).audioRms > 0.1 && link.of(kAlice).videoFramesDecoded > 5; }, 10s))
        << ::testing::PrintToString(link.errors);
    link.pub->setMuted(TrackKind::Audio, true);
    link.pub->setMuted(TrackKind::Video, true);
    ASSERT_TRUE(runUntil(
        io, [&] { return link.of(kAlice).audioRms < 0.01; }, 5s));
    const auto frames = link.of(kAlice).videoFramesDecoded;
    ASSERT_TRUE(runUntil(
        io, [&] { return link.of(kAlice).videoFramesDecoded >= frames + 10; }, 5s));
    link.pub->setMuted(TrackKind::Audio, false);
    ASSERT_TRUE(runUntil(
        io, [&] { return link.of(kAlice).audioRms > 0.1; }, 5s));
    EXPECT_TRUE(link.errors.empty()) << ::testing::PrintToString(link.errors);
}

// An SFU offers more than we decode (RED for audio; H.264, VP9 and RTX for video): the answer names
// Opus and VP8 only, and media still flows on them.
TEST_F(RtcSfuPeers, AnswerToAnOfferWithRedH264Vp9AndRtxNamesOnlyOpusAndVp8) {
    Link link(engine(), publisherOptions(false), subscriberOptions(false));
    link.owner = kAlice;
    link.mungeOffer = [](std::string sdp) {
        std::string out;
        for (const auto& l : sdpLines(sdp)) {
            if (l.empty()) continue;
            if (l.starts_with("m=audio ")) {
                out += l + " 63\r\n";
                continue;
            }
            if (l.starts_with("m=video ")) {
                out += l + " 102 103 98 99 104\r\n";
                continue;
            }
            out += l + "\r\n";
            if (l.starts_with("a=rtpmap:96 OPUS/")) out += "a=rtpmap:63 red/48000/2\r\na=fmtp:63 96/96\r\n";
            if (l.starts_with("a=rtpmap:97 VP8/"))
                out +=
                    "a=rtpmap:102 H264/90000\r\n"
                    "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n"
                    "a=rtcp-fb:102 nack pli\r\na=rtpmap:103 rtx/90000\r\na=fmtp:103 apt=102\r\n"
                    "a=rtpmap:98 VP9/90000\r\na=fmtp:98 profile-id=0\r\na=rtcp-fb:98 nack pli\r\n"
                    "a=rtpmap:99 rtx/90000\r\na=fmtp:99 apt=98\r\n"
                    "a=rtpmap:104 rtx/90000\r\na=fmtp:104 apt=97\r\n";
        }
        return out;
    };
    link.pub->createOffer();
    ASSERT_TRUE(runUntil(
        io, [&] { return !link.answer.empty(); }, 5s))
        << ::testing::PrintToString(link.errors);
    ASSERT_TRUE(contains(link.offer, "a=rtpmap:102 H264/90000")) << link.offer;
    std::vector<std::string> encodings;  // webrtcbin 1.22 writes "OPUS/48000" (no channel count)
    for (const auto& l : sdpLines(link.answer)) {
        if (l.starts_with("m=audio ")) {
            EXPECT_TRUE(l.ends_with(" 96")) << l;
        }
        if (l.starts_with("m=video ")) {
            EXPECT_TRUE(l.ends_with(" 97")) << l;
        }
        if (l.starts_with("a=rtpmap:")) {
            const std::string codec = l.substr(l.find(' ') + 1);
            encodings.push_back(codec.substr(0, codec.find('/')));
        }
    }
    EXPECT_EQ(encodings, (std::vector<std::string>{"OPUS", "VP8"})) << link.answer;
    ASSERT_TRUE(runUntil(
        io, [&] { return link.of(kAlice).audioRms > 0.1 && link.of(kAlice).videoFramesDecoded >= 5; }, 10s))
        << ::testing::PrintToString(link.errors);
    EXPECT_TRUE(link.errors.empty()) << ::testing::PrintToString(link.errors);
}

// The subscriber answers a pion-style SFU offer with Opus and VP8 only: unrestricted, webrtcbin 1.22
// answers the first codec of each m-line (RED or H.264 when the SFU lists them first) and ignores a
// port-0 section that still names a codec. The H.264-only track is rejected and leaves the BUNDLE
// group. A second offer with new ICE credentials (an SFU ICE restart) is answered with our old ones:
// webrtcbin 1.22 never restarts ICE.
TEST_F(RtcSfuPeers, SubscriberAnswersAnSfuOfferWithOpusAndVp8AndRejectsTheRest) {
    std::vector<std::string> answers;
    std::vector<std::string> errors;
    SfuPeerListener l;
    l.onLocalDescription = [&](const std::string& sdp) { answers.push_back(sdp); };
    l.onError = [&](const std::string& e) { errors.push_back(e); };
    SfuSubscriber sub(engine(), subscriberOptions(false), l);
    sub.setRemoteOffer(kSfuOffer);
    ASSERT_TRUE(runUntil(
        io, [&] { return !answers.empty() || !errors.empty(); }, 5s));
    ASSERT_TRUE(errors.empty()) << ::testing::PrintToString(errors);
    const std::string& answer = answers.front();
    EXPECT_TRUE(contains(answer, "a=group:BUNDLE 0 1 2")) << answer;
    EXPECT_EQ(sections(answer), (std::vector<std::pair<std::string, std::string>>{
                                    {"application", "0"}, {"audio", "1"}, {"video", "2"}, {"video", "3"}}));
    std::vector<std::string> mlines;
    std::vector<std::string> rtpmaps;
    for (const auto& line : sdpLines(answer)) {
        if (line.starts_with("m=")) mlines.push_back(line);
        if (line.starts_with("a=rtpmap:")) rtpmaps.push_back(line);
    }
    EXPECT_EQ(mlines,
              (std::vector<std::string>{"m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
                                        "m=audio 9 UDP/TLS/RTP/SAVPF 111", "m=video 9 UDP/TLS/RTP/SAVPF 96",
                                        "m=video 0 UDP/TLS/RTP/SAVPF 102"}));
    EXPECT_EQ(rtpmaps, (std::vector<std::string>{"a=rtpmap:111 OPUS/48000/2", "a=rtpmap:96 VP8/90000"}));

    std::string restart = kSfuOffer;
    for (std::size_t p; (p = restart.find("GbTxkzJqWcRuVpmA")) != std::string::npos;)
        restart.replace(p, 16, "RestartedUfrag01");
    sub.setRemoteOffer(restart);
    ASSERT_TRUE(runUntil(
        io, [&] { return answers.size() >= 2 || !errors.empty(); }, 5s));
    const auto ufrag = [](const std::string& sdp) {
        for (const auto& line : sdpLines(sdp))
            if (line.starts_with("a=ice-ufrag:")) return line;
        return std::string();
    };
    EXPECT_EQ(ufrag(answers[1]), ufrag(answers[0]));
    EXPECT_TRUE(errors.empty()) << ::testing::PrintToString(errors);
}

}  // namespace
}  // namespace mxrtc::rtc
