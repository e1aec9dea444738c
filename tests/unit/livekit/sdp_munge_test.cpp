// sdp::restrictCodecs and sdp::setMsid on realistic offers: a livekit-server 1.13.5 (pion v4)
// subscriber offer and a GStreamer 1.22 webrtcbin publisher offer.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "mxrtc/livekit/sdp.hpp"
#include "support/vectors.hpp"

namespace mxrtc::livekit::sdp {
namespace {

// What livekit-server 1.13.5 offers a subscriber (pion v4 attribute order): the data channel
// section first, then one audio track (Opus + RED) and one video track offered with every enabled
// video codec and its RTX, then a section for a track whose publisher sent H.264 only.
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
    "a=ssrc:1907543325 mslabel:PA_abcDEF123|camera\r\n"
    "a=ssrc:1907543325 label:TR_AMxyz789\r\n"
    "a=msid:PA_abcDEF123|camera TR_AMxyz789\r\n"
    "a=sendonly\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 104 105 108 109 127 125 98 99 35 36 116 117\r\n"
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
    "a=rtcp-fb:102 goog-remb \r\n"
    "a=rtcp-fb:102 ccm fir\r\n"
    "a=rtcp-fb:102 nack \r\n"
    "a=rtcp-fb:102 nack pli\r\n"
    "a=rtpmap:103 rtx/90000\r\n"
    "a=fmtp:103 apt=102\r\n"
    "a=rtpmap:104 H264/90000\r\n"
    "a=fmtp:104 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n"
    "a=rtcp-fb:104 nack pli\r\n"
    "a=rtpmap:105 rtx/90000\r\n"
    "a=fmtp:105 apt=104\r\n"
    "a=rtpmap:108 H264/90000\r\n"
    "a=fmtp:108 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f\r\n"
    "a=rtpmap:109 rtx/90000\r\n"
    "a=fmtp:109 apt=108\r\n"
    "a=rtpmap:127 H264/90000\r\n"
    "a=fmtp:127 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=640032\r\n"
    "a=rtpmap:125 rtx/90000\r\n"
    "a=fmtp:125 apt=127\r\n"
    "a=rtpmap:98 VP9/90000\r\n"
    "a=fmtp:98 profile-id=0\r\n"
    "a=rtcp-fb:98 nack pli\r\n"
    "a=rtpmap:99 rtx/90000\r\n"
    "a=fmtp:99 apt=98\r\n"
    "a=rtpmap:35 AV1/90000\r\n"
    "a=rtpmap:36 rtx/90000\r\n"
    "a=fmtp:36 apt=35\r\n"
    "a=rtpmap:116 H265/90000\r\n"
    "a=rtpmap:117 rtx/90000\r\n"
    "a=fmtp:117 apt=116\r\n"
    "a=extmap:3 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n"
    "a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
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
    "a=rtcp-mux\r\n"
    "a=rtpmap:102 H264/90000\r\n"
    "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f\r\n"
    "a=rtcp-fb:102 nack pli\r\n"
    "a=rtpmap:103 rtx/90000\r\n"
    "a=fmtp:103 apt=102\r\n"
    "a=msid:PA_ghiJKL456|camera TR_VChij012\r\n"
    "a=sendonly\r\n";

// What GStreamer 1.22 webrtcbin offers as our publisher: no a=msid, an "a=ssrc:<n> msid:" line
// naming its cname and transceiver instead.
constexpr const char* kWebrtcbinOffer =
    "v=0\r\n"
    "o=- 3010212325577393186 0 IN IP4 0.0.0.0\r\n"
    "s=-\r\n"
    "t=0 0\r\n"
    "a=ice-options:trickle\r\n"
    "a=group:BUNDLE audio0 video1\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 96\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=setup:actpass\r\n"
    "a=ice-ufrag:HqmKgU0ZMynIpcvi0Nl5aXDDFgPE5zRb\r\n"
    "a=ice-pwd:Pc3W4cpBLSxkyIL0TB5cUuFBNgZ7Ym2v\r\n"
    "a=rtcp-mux\r\n"
    "a=rtcp-rsize\r\n"
    "a=sendonly\r\n"
    "a=rtpmap:96 OPUS/48000/2\r\n"
    "a=rtcp-fb:96 transport-cc\r\n"
    "a=fmtp:96 sprop-maxcapturerate=48000;sprop-stereo=0\r\n"
    "a=ssrc:3484078950 msid:user3397185553@host-6b9d9a3f webrtctransceiver0\r\n"
    "a=ssrc:3484078950 cname:user3397185553@host-6b9d9a3f\r\n"
    "a=mid:audio0\r\n"
    "a=fingerprint:sha-256 "
    "0A:92:5C:0E:7C:8A:E8:0F:0B:AE:64:2A:D2:BF:74:19:9D:2E:5C:4C:74:3C:A9:B2:A5:7E:F1:C5:33:1A:92:39\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 97\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=setup:actpass\r\n"
    "a=ice-ufrag:HqmKgU0ZMynIpcvi0Nl5aXDDFgPE5zRb\r\n"
    "a=ice-pwd:Pc3W4cpBLSxkyIL0TB5cUuFBNgZ7Ym2v\r\n"
    "a=rtcp-mux\r\n"
    "a=rtcp-rsize\r\n"
    "a=sendonly\r\n"
    "a=rtpmap:97 VP8/90000\r\n"
    "a=rtcp-fb:97 nack pli\r\n"
    "a=rtcp-fb:97 ccm fir\r\n"
    "a=rtcp-fb:97 transport-cc\r\n"
    "a=ssrc:1116566302 msid:user3397185553@host-6b9d9a3f webrtctransceiver1\r\n"
    "a=ssrc:1116566302 cname:user3397185553@host-6b9d9a3f\r\n"
    "a=mid:video1\r\n"
    "a=fingerprint:sha-256 "
    "0A:92:5C:0E:7C:8A:E8:0F:0B:AE:64:2A:D2:BF:74:19:9D:2E:5C:4C:74:3C:A9:B2:A5:7E:F1:C5:33:1A:92:39\r\n";

std::vector<std::string> linesOf(const std::string& sdp) {
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (pos < sdp.size()) {
        const std::size_t end = sdp.find("\r\n", pos);
        if (end == std::string::npos) {
            out.push_back(sdp.substr(pos));
            break;
        }
        out.push_back(sdp.substr(pos, end - pos));
        pos = end + 2;
    }
    return out;
}

// Lines of the index-th media section (0-based); the session part is index -1.
std::vector<std::string> section(const std::string& sdp, int index) {
    std::vector<std::string> out;
    int current = -1;
    for (auto& l : linesOf(sdp)) {
        if (l.starts_with("m=")) ++current;
        if (current == index) out.push_back(l);
    }
    return out;
}

bool has(const std::vector<std::string>& lines, const std::string& line) {
    return std::find(lines.begin(), lines.end(), line) != lines.end();
}

std::size_t countPrefix(const std::vector<std::string>& lines, const std::string& prefix) {
    return static_cast<std::size_t>(std::count_if(
        lines.begin(), lines.end(), [&](const std::string& l) { return l.starts_with(prefix); }));
}

std::string withLf(std::string sdp) {
    std::string out;
    for (char c : sdp)
        if (c != '\r') out += c;
    return out;
}

TEST(SdpRestrictCodecs, SfuAudioKeepsOpusAndDropsRed) {
    const std::string out = restrictCodecs(kSfuOffer);
    const auto audio = section(out, 1);
    EXPECT_EQ(audio.front(), "m=audio 9 UDP/TLS/RTP/SAVPF 111");
    EXPECT_TRUE(has(audio, "a=rtpmap:111 opus/48000/2"));
    EXPECT_TRUE(has(audio, "a=fmtp:111 minptime=10;useinbandfec=1"));
    EXPECT_TRUE(has(audio, "a=rtcp-fb:111 transport-cc"));
    EXPECT_EQ(countPrefix(audio, "a=rtpmap:63"), 0U);
    EXPECT_EQ(countPrefix(audio, "a=fmtp:63"), 0U);
    // Everything not about a removed codec stays, in order.
    EXPECT_TRUE(has(audio, "a=msid:PA_abcDEF123|camera TR_AMxyz789"));
    EXPECT_TRUE(has(audio, "a=ssrc:1907543325 msid:PA_abcDEF123|camera TR_AMxyz789"));
    EXPECT_TRUE(has(audio, "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level"));
    EXPECT_TRUE(has(audio, "a=sendonly"));
    EXPECT_EQ(audio.size(), section(kSfuOffer, 1).size() - 2);
}

TEST(SdpRestrictCodecs, SfuVideoKeepsVp8AndDropsOtherCodecsAndAllRtx) {
    const std::string out = restrictCodecs(kSfuOffer);
    const auto video = section(out, 2);
    EXPECT_EQ(video.front(), "m=video 9 UDP/TLS/RTP/SAVPF 96");
    EXPECT_TRUE(has(video, "a=rtpmap:96 VP8/90000"));
    EXPECT_TRUE(has(video, "a=rtcp-fb:96 nack pli"));
    EXPECT_TRUE(has(video, "a=rtcp-fb:96 ccm fir"));
    for (const char* pt : {"97", "102", "103", "104", "105", "108", "109", "127", "125", "98", "99", "35",
                           "36", "116", "117"}) {
        for (const char* attr : {"a=rtpmap:", "a=fmtp:", "a=rtcp-fb:"})
            EXPECT_EQ(countPrefix(video, std::string(attr) + pt + " "), 0U) << attr << pt;
    }
    // The retransmission SSRC has no stream left: its group and lines go, the media SSRC stays.
    EXPECT_EQ(countPrefix(video, "a=ssrc-group:"), 0U);
    EXPECT_EQ(countPrefix(video, "a=ssrc:632943048 "), 0U);
    EXPECT_TRUE(has(video, "a=ssrc:2231627014 msid:PA_abcDEF123|camera TR_VCdef456"));
    EXPECT_TRUE(has(video, "a=msid:PA_abcDEF123|camera TR_VCdef456"));
    EXPECT_TRUE(has(video, "a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:mid"));
}

// A subscriber offer as livekit-server 1.13.5 really sent it (captured from its debug log in a
// call where one participant published Opus and VP8): PCMU/PCMA and RED for audio, every enabled
// video codec with RTX, msid "<PA>|<TR> <TR>", candidates inline.
TEST(SdpRestrictCodecs, ARealLiveKitOfferKeepsOpusAndVp8AndTheTrackIds) {
    const std::string offer = mxrtc::test::readVectorText("livekit/sfu_subscriber_offer_livekit_1.13.5.sdp");
    const std::string out = restrictCodecs(offer);
    const auto audio = section(out, 1);
    EXPECT_EQ(audio.front(), "m=audio 9 UDP/TLS/RTP/SAVPF 111");
    for (const char* pt : {"63", "0", "8"})
        EXPECT_EQ(countPrefix(audio, std::string("a=rtpmap:") + pt + " "), 0U);
    const auto video = section(out, 2);
    EXPECT_EQ(video.front(), "m=video 9 UDP/TLS/RTP/SAVPF 96");
    EXPECT_TRUE(has(video, "a=rtpmap:96 VP8/90000"));
    EXPECT_EQ(countPrefix(video, "a=rtpmap:97 "), 0U) << "VP8's RTX goes: webrtcbin does not negotiate it";
    auto summary = summarize(out);
    ASSERT_TRUE(summary.ok());
    ASSERT_EQ(summary->media.size(), 3U);
    EXPECT_EQ(participantSidOfStream(summary->media[1].msidStream), "PA_j7AtZQzVwZLq");
    EXPECT_EQ(summary->media[1].msidTrack, "TR_AMKYdJ9QYr5CHn");
    EXPECT_EQ(summary->media[2].encodings, (std::vector<std::string>{"VP8"}));
    EXPECT_EQ(restrictCodecs(out), out) << "idempotent on real input too";
}

TEST(SdpRestrictCodecs, SectionWithoutAnyKeptCodecIsRejectedAndLeavesTheBundle) {
    const std::string out = restrictCodecs(kSfuOffer);
    const auto h264Only = section(out, 3);
    // One format stays (an m-line needs one) but no codec lines: webrtcbin 1.22 ignores port 0 and
    // would answer a codec it still finds; without an rtpmap it rejects the section too.
    EXPECT_EQ(h264Only.front(), "m=video 0 UDP/TLS/RTP/SAVPF 102");
    EXPECT_TRUE(has(h264Only, "a=mid:3"));
    EXPECT_TRUE(has(h264Only, "a=msid:PA_ghiJKL456|camera TR_VChij012"));
    EXPECT_EQ(countPrefix(h264Only, "a=rtpmap:"), 0U);
    EXPECT_EQ(countPrefix(h264Only, "a=fmtp:"), 0U);
    EXPECT_EQ(countPrefix(h264Only, "a=rtcp-fb:"), 0U);
    EXPECT_TRUE(has(section(out, -1), "a=group:BUNDLE 0 1 2"));
}

TEST(SdpRestrictCodecs, DataChannelAndSessionLinesAreUntouched) {
    const std::string out = restrictCodecs(kSfuOffer);
    EXPECT_EQ(section(out, 0), section(kSfuOffer, 0));
    auto sessionIn = section(kSfuOffer, -1);
    auto sessionOut = section(out, -1);
    ASSERT_EQ(sessionIn.size(), sessionOut.size());
    for (std::size_t i = 0; i < sessionIn.size(); ++i) {
        if (!sessionIn[i].starts_with("a=group:")) {
            EXPECT_EQ(sessionOut[i], sessionIn[i]);
        }
    }
}

TEST(SdpRestrictCodecs, KeptRtxStaysOnlyForAKeptCodec) {
    const std::string out = restrictCodecs(kSfuOffer, {"opus", "vp8", "rtx"});
    const auto video = section(out, 2);
    EXPECT_EQ(video.front(), "m=video 9 UDP/TLS/RTP/SAVPF 96 97");
    EXPECT_TRUE(has(video, "a=fmtp:97 apt=96"));
    EXPECT_EQ(countPrefix(video, "a=fmtp:103 "), 0U);
    EXPECT_TRUE(has(video, "a=ssrc-group:FID 2231627014 632943048"));
    EXPECT_TRUE(has(video, "a=ssrc:632943048 cname:PA_abcDEF123|camera"));
}

TEST(SdpRestrictCodecs, RedIsKeptWhenAsked) {
    const auto audio = section(restrictCodecs(kSfuOffer, {"opus", "red"}), 1);
    EXPECT_EQ(audio.front(), "m=audio 9 UDP/TLS/RTP/SAVPF 111 63");
    EXPECT_TRUE(has(audio, "a=fmtp:63 111/111"));
}

TEST(SdpRestrictCodecs, WebrtcbinOfferWithUppercaseEncodingsIsUnchanged) {
    EXPECT_EQ(restrictCodecs(kWebrtcbinOffer), kWebrtcbinOffer);
}

TEST(SdpRestrictCodecs, LfInputGivesTheSameCrlfOutput) {
    EXPECT_EQ(restrictCodecs(withLf(kSfuOffer)), restrictCodecs(kSfuOffer));
}

TEST(SdpRestrictCodecs, IsIdempotent) {
    const std::string once = restrictCodecs(kSfuOffer);
    EXPECT_EQ(restrictCodecs(once), once);
}

TEST(SdpRestrictCodecs, AlreadyRejectedSectionIsLeftAlone) {
    const std::string offer =
        "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
        "m=video 0 UDP/TLS/RTP/SAVPF 102 103\r\na=mid:0\r\na=rtpmap:102 H264/90000\r\n"
        "a=rtpmap:103 rtx/90000\r\na=fmtp:103 apt=102\r\n";
    EXPECT_EQ(restrictCodecs(offer), offer);
}

TEST(SdpRestrictCodecs, StaticPayloadTypesWithoutRtpmapAreNamed) {
    const std::string offer =
        "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
        "m=audio 9 UDP/TLS/RTP/SAVPF 111 0 8\r\na=mid:0\r\na=rtpmap:111 opus/48000/2\r\n";
    EXPECT_EQ(section(restrictCodecs(offer), 0).front(), "m=audio 9 UDP/TLS/RTP/SAVPF 111");
    EXPECT_EQ(section(restrictCodecs(offer, {"opus", "PCMA"}), 0).front(),
              "m=audio 9 UDP/TLS/RTP/SAVPF 111 8");
}

TEST(SdpRestrictCodecs, NotAnSdpComesBackAsLines) {
    EXPECT_EQ(restrictCodecs(""), "");
    EXPECT_EQ(restrictCodecs("garbage"), "garbage\r\n");
    EXPECT_EQ(restrictCodecs("m=\r\nm=audio\r\n"), "m=\r\nm=audio\r\n");
}

const std::map<std::string, StreamTrack> kTracks{{"audio", {"mxrtc-stream", "TR_audio_cid"}},
                                                 {"video", {"mxrtc-stream", "TR_video_cid"}}};

TEST(SdpSetMsid, WebrtcbinOfferGetsOneMsidPerSectionAndMatchingSsrcMsid) {
    const std::string out = setMsid(kWebrtcbinOffer, kTracks);
    const auto audio = section(out, 0);
    const auto video = section(out, 1);
    EXPECT_EQ(countPrefix(audio, "a=msid:"), 1U);
    EXPECT_TRUE(has(audio, "a=msid:mxrtc-stream TR_audio_cid"));
    EXPECT_TRUE(has(audio, "a=ssrc:3484078950 msid:mxrtc-stream TR_audio_cid"));
    EXPECT_TRUE(has(audio, "a=ssrc:3484078950 cname:user3397185553@host-6b9d9a3f"));
    EXPECT_EQ(countPrefix(video, "a=msid:"), 1U);
    EXPECT_TRUE(has(video, "a=msid:mxrtc-stream TR_video_cid"));
    EXPECT_TRUE(has(video, "a=ssrc:1116566302 msid:mxrtc-stream TR_video_cid"));
    // Placed right after a=mid, nothing else changed.
    const auto mid = std::find(video.begin(), video.end(), "a=mid:video1");
    ASSERT_NE(mid, video.end());
    EXPECT_EQ(*(mid + 1), "a=msid:mxrtc-stream TR_video_cid");
    EXPECT_EQ(video.size(), section(kWebrtcbinOffer, 1).size() + 1);
    EXPECT_EQ(section(out, -1), section(kWebrtcbinOffer, -1));
}

TEST(SdpSetMsid, ExistingMsidLinesAreReplacedByExactlyOne) {
    const std::string offer =
        "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
        "m=audio 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\na=msid:old-stream old-track\r\n"
        "a=msid:other-stream other-track\r\na=rtpmap:96 OPUS/48000/2\r\n";
    const auto audio = section(setMsid(offer, kTracks), 0);
    EXPECT_EQ(audio,
              (std::vector<std::string>{"m=audio 9 UDP/TLS/RTP/SAVPF 96", "a=mid:0",
                                        "a=msid:mxrtc-stream TR_audio_cid", "a=rtpmap:96 OPUS/48000/2"}));
}

TEST(SdpSetMsid, KindsNotNamedAndDataChannelsAreUntouched) {
    const std::map<std::string, StreamTrack> audioOnly{{"audio", {"s", "a"}}};
    const std::string out = setMsid(kSfuOffer, audioOnly);
    EXPECT_EQ(section(out, 0), section(kSfuOffer, 0));
    EXPECT_EQ(section(out, 2), section(kSfuOffer, 2));
    const auto audio = section(out, 1);
    EXPECT_TRUE(has(audio, "a=msid:s a"));
    EXPECT_TRUE(has(audio, "a=ssrc:1907543325 msid:s a"));
    EXPECT_TRUE(has(audio, "a=ssrc:1907543325 label:TR_AMxyz789"));  // not an msid line
}

TEST(SdpSetMsid, SectionWithoutMidGetsMsidAtItsEnd) {
    const std::string offer = "v=0\nm=video 9 UDP/TLS/RTP/SAVPF 97\na=rtpmap:97 VP8/90000\n";
    EXPECT_EQ(setMsid(offer, kTracks),
              "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 97\r\na=rtpmap:97 VP8/90000\r\na=msid:mxrtc-stream "
              "TR_video_cid\r\n");
}

}  // namespace
}  // namespace mxrtc::livekit::sdp
