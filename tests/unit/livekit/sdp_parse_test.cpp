// sdp::summarize and sdp::participantSidOfStream on the SFU's (pion's) subscriber offers and on
// the shapes webrtcbin writes.
#include <gtest/gtest.h>

#include "mxrtc/livekit/sdp.hpp"
#include "support/vectors.hpp"

namespace mxrtc::livekit::sdp {
namespace {

using Encodings = std::vector<std::string>;

std::string vector(const std::string& name) {
    return mxrtc::test::readVectorText("livekit/sdp_subscriber_offer_" + name + ".sdp");
}
std::string toCrlf(const std::string& lf) {
    std::string out;
    for (char c : lf) {
        if (c == '\n') out += '\r';
        out += c;
    }
    return out;
}

TEST(SdpSummarize, ReadsThePionSubscriberOfferTrackByTrack) {
    auto s = summarize(toCrlf(vector("2_bob")));
    ASSERT_TRUE(s.ok()) << s.error().message;
    EXPECT_EQ(s->iceUfrag, "kPzQwVbLmNcXrTsa") << "pion puts the ufrag into every media section";
    ASSERT_EQ(s->media.size(), 3u);

    const MediaSection& app = s->media[0];
    EXPECT_EQ(app.kind, "application");
    EXPECT_EQ(app.mid, "0");
    EXPECT_EQ(app.direction, "sendrecv");
    EXPECT_TRUE(app.encodings.empty()) << "webrtc-datachannel is no RTP payload type";
    EXPECT_FALSE(app.rejected);

    const MediaSection& audio = s->media[1];
    EXPECT_EQ(audio.kind, "audio");
    EXPECT_EQ(audio.mid, "1");
    EXPECT_EQ(audio.direction, "sendonly");
    EXPECT_EQ(audio.msidStream, "PA_h3K9sWq2LmNx|camera");
    EXPECT_EQ(audio.msidTrack, "TR_AMf5tGq8wJzR");
    EXPECT_EQ(audio.encodings, (Encodings{"red", "opus"}));

    const MediaSection& video = s->media[2];
    EXPECT_EQ(video.kind, "video");
    EXPECT_EQ(video.mid, "2");
    EXPECT_EQ(video.msidTrack, "TR_VCp2Xr7NkYbd");
    EXPECT_EQ(video.encodings,
              (Encodings{"VP8", "rtx", "VP9", "rtx", "H264", "rtx", "H264", "rtx", "AV1", "rtx"}));
}

TEST(SdpSummarize, LineEndingsDoNotMatter) {
    auto lf = summarize(vector("4_carol_reuses"));
    auto crlf = summarize(toCrlf(vector("4_carol_reuses")));
    ASSERT_TRUE(lf.ok());
    ASSERT_TRUE(crlf.ok());
    ASSERT_EQ(lf->media.size(), crlf->media.size());
    for (std::size_t i = 0; i < lf->media.size(); ++i) {
        EXPECT_EQ(lf->media[i].msidTrack, crlf->media[i].msidTrack);
        EXPECT_EQ(lf->media[i].encodings, crlf->media[i].encodings);
        EXPECT_EQ(lf->media[i].direction, crlf->media[i].direction);
    }
    EXPECT_EQ(crlf->media[1].msidTrack, "TR_AMc7Vb2Nm4Lk") << "mid 1 reused for another participant";
}

TEST(SdpSummarize, InactiveSectionsCarryNoMsid) {
    auto s = summarize(toCrlf(vector("3_bob_left")));
    ASSERT_TRUE(s.ok());
    ASSERT_EQ(s->media.size(), 3u);
    EXPECT_EQ(s->media[1].direction, "inactive");
    EXPECT_EQ(s->media[1].msidStream, "");
    EXPECT_EQ(s->media[1].msidTrack, "");
    EXPECT_EQ(s->media[2].direction, "inactive");
}

TEST(SdpSummarize, SeesTheNewUfragOfAnIceRestart) {
    auto before = summarize(vector("4_carol_reuses"));
    auto after = summarize(vector("5_ice_restart"));
    ASSERT_TRUE(before.ok());
    ASSERT_TRUE(after.ok());
    EXPECT_EQ(after->iceUfrag, "GyTrEwQaSdFgHjKl");
    EXPECT_NE(before->iceUfrag, after->iceUfrag);
}

TEST(SdpSummarize, PrefersASessionLevelUfrag) {
    auto s = summarize(
        "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=ice-ufrag:session\r\n"
        "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=ice-ufrag:media\r\na=rtpmap:111 opus/48000/2\r\n");
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->iceUfrag, "session");
    EXPECT_EQ(s->media[0].direction, "") << "none given: sendrecv by default";
}

TEST(SdpSummarize, TakesTheMsidOfAnSsrcLineWhenThereIsNoMsidLine) {
    // webrtcbin 1.22 writes no a=msid, only a=ssrc:<n> msid:<stream> <track>.
    auto s = summarize(
        "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96 97\r\na=mid:video0\r\na=sendonly\r\n"
        "a=rtpmap:96 VP8/90000\r\na=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n"
        "a=ssrc-group:FID 1111 2222\r\na=ssrc:1111 msid:mxrtc-stream mxrtc-cam\r\na=ssrc:1111 cname:x\r\n"
        "a=ssrc:2222 msid:mxrtc-stream mxrtc-cam\r\n");
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->media[0].msidStream, "mxrtc-stream");
    EXPECT_EQ(s->media[0].msidTrack, "mxrtc-cam");
    EXPECT_EQ(s->media[0].encodings, (Encodings{"VP8", "rtx"}));
}

TEST(SdpSummarize, PrefersTheMsidLineOverAnSsrcLine) {
    auto s = summarize(
        "v=0\nm=audio 9 UDP/TLS/RTP/SAVPF 111\na=mid:0\na=ssrc:5 msid:old-stream old-track\n"
        "a=msid:new-stream new-track\na=rtpmap:111 opus/48000/2\n");
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->media[0].msidStream, "new-stream");
    EXPECT_EQ(s->media[0].msidTrack, "new-track");
}

TEST(SdpSummarize, MarksPortZeroSectionsRejectedAndNamesStaticPayloadTypes) {
    auto s =
        summarize("v=0\nm=video 0 UDP/TLS/RTP/SAVPF 0\nc=IN IP4 0.0.0.0\nm=audio 9 RTP/AVP 0 8 9 13 101\n");
    ASSERT_TRUE(s.ok());
    ASSERT_EQ(s->media.size(), 2u);
    EXPECT_TRUE(s->media[0].rejected);
    EXPECT_FALSE(s->media[1].rejected);
    EXPECT_EQ(s->media[1].encodings, (Encodings{"PCMU", "PCMA", "G722", "CN", "101"}));
}

TEST(SdpSummarize, TextWithoutMediaIsAnEmptySummary) {
    auto empty = summarize("");
    ASSERT_TRUE(empty.ok());
    EXPECT_TRUE(empty->media.empty());
    EXPECT_EQ(empty->iceUfrag, "");
    auto sessionOnly = summarize("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n\r\n");
    ASSERT_TRUE(sessionOnly.ok());
    EXPECT_TRUE(sessionOnly->media.empty());
}

TEST(SdpSummarize, RejectsTextThatIsNoSdp) {
    auto s = summarize("v=0\r\nhello world\r\n");
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().errcode, "M_BAD_JSON");
    EXPECT_EQ(s.error().message, "sdp line 2: expected <type>=<value>");

    auto m = summarize("v=0\nm=audio 9\n");
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.error().message, "sdp line 2: m= needs <media> <port> <proto>");
}

struct StreamCase {
    const char* stream;
    const char* sid;
};
class ParticipantSidOfStream : public ::testing::TestWithParam<StreamCase> {};

TEST_P(ParticipantSidOfStream, TakesThePartBeforeTheBar) {
    EXPECT_EQ(participantSidOfStream(GetParam().stream), GetParam().sid);
}

INSTANTIATE_TEST_SUITE_P(
    SdpMsid, ParticipantSidOfStream,
    ::testing::Values(StreamCase{"PA_h3K9sWq2LmNx|camera", "PA_h3K9sWq2LmNx"},  // protocol > 9
                      StreamCase{"PA_h3K9sWq2LmNx|TR_VCp2Xr7NkYbd", "PA_h3K9sWq2LmNx"},
                      StreamCase{"PA_h3K9sWq2LmNx", "PA_h3K9sWq2LmNx"},  // sid only
                      StreamCase{"PA_h3K9sWq2LmNx|screen|x", "PA_h3K9sWq2LmNx"},
                      StreamCase{"mxrtc-stream", ""},  // not the SFU's
                      StreamCase{"PA_", ""}, StreamCase{"|camera", ""}, StreamCase{"", ""}));

}  // namespace
}  // namespace mxrtc::livekit::sdp
