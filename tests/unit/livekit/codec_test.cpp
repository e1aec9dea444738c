// LiveKit signal codec (messages.hpp <-> protobuf bytes): round trips of every SignalResponse and
// SignalRequest alternative, golden bytes from an independent encoder (tests/vectors/livekit/
// signal_golden.json, made by interop/livekit_signal_vectors.mjs with @livekit/protocol), and
// untrusted input: garbage, truncation, wrong wire types, bad UTF-8, unknown cases and enum values.
#include "mxrtc/livekit/codec.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "mxrtc/common/encoding.hpp"
#include "mxrtc/common/result.hpp"
#include "mxrtc/livekit/messages.hpp"
#include "support/vectors.hpp"

namespace mxrtc::livekit {
namespace {

Bytes hx(std::string_view text) {
    auto b = hexDecode(text);
    EXPECT_TRUE(b.has_value()) << "bad hex in test: " << text;
    return b.value_or(Bytes{});
}

Bytes bytesOf(std::string_view text) {
    auto span = asBytes(text);
    return {span.begin(), span.end()};
}

// ---- realistic values (the same as interop/livekit_signal_vectors.mjs builds) ---------------------

constexpr std::string_view kSubscriberAnswerSdp =
    "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=recvonly\r\na=rtpmap:111 "
    "opus/48000/2\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\na=recvonly\r\na=rtpmap:96 "
    "VP8/90000\r\n";

TrackInfo bobMicrophone() {
    TrackInfo t;
    t.sid = "TR_AMkGrVh2Q8pM4k";
    t.type = TrackType::Audio;
    t.name = "microphone";
    t.source = TrackSource::Microphone;
    t.mimeType = "audio/opus";
    t.mid = "0";
    t.disableRed = true;
    t.encryption = EncryptionType::Gcm;
    t.stream = "camera";
    return t;
}

TrackInfo bobCamera() {
    TrackInfo t;
    t.sid = "TR_VCpTj8zuG6wmKb";
    t.type = TrackType::Video;
    t.name = "camera";
    t.muted = true;
    t.width = 1280;
    t.height = 720;
    t.source = TrackSource::Camera;
    t.mimeType = "video/VP8";
    t.mid = "1";
    t.encryption = EncryptionType::Gcm;
    t.stream = "camera";
    return t;
}

ParticipantInfo alice() {
    ParticipantInfo p;
    p.sid = "PA_8sJpqLbJ6wzA";
    p.identity = "@alice:example.org:ALICEDEVICE";
    p.state = ParticipantState::Joining;
    p.name = "Alice";
    p.version = 1;
    p.joinedAtMs = 1754500000123;
    return p;
}

ParticipantInfo bob() {
    ParticipantInfo p;
    p.sid = "PA_Vu2cSnd4mfh7";
    p.identity = "@bob:example.org:BOBDEVICE";
    p.state = ParticipantState::Active;
    p.tracks = {bobMicrophone(), bobCamera()};
    p.name = "Bob";
    p.version = 7;
    p.isPublisher = true;
    p.joinedAtMs = 1754499990456;
    return p;
}

IceServer turnServer() {
    IceServer s;
    s.urls = {"turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349?transport=tcp"};
    s.username = "1754586400:PA_8sJpqLbJ6wzA";
    s.credential = Redacted<std::string>("dGhpcy1pcy1hLXR1cm4tY3JlZGVudGlhbA==");
    return s;
}

ServerInfo serverInfo() {
    return ServerInfo{.version = "1.13.5", .protocol = 17, .region = "local", .nodeId = "ND_ZhkQ8g4DUxyB"};
}

Codec codec(std::string mime, std::string fmtpLine = "") {
    return Codec{.mime = std::move(mime), .fmtpLine = std::move(fmtpLine)};
}

JoinResponse joinResponse() {
    JoinResponse j;
    j.room = {.sid = "RM_kq3VvXbS9tYc", .name = "o9ZCbv4n1qbnvmJCzOBhUSLxeJwFjzgI7jpU5Rfjp3E"};
    j.participant = alice();
    j.otherParticipants = {bob()};
    j.iceServers = {turnServer()};
    j.subscriberPrimary = true;
    j.pingTimeout = 15;
    j.pingInterval = 5;
    j.serverInfo = serverInfo();
    j.sifTrailer = {0xc8, 0x4e, 0x0d, 0x6a, 0xd2, 0xa1, 0xf3, 0xb7};
    j.enabledPublishCodecs = {
        codec("audio/opus"), codec("video/VP8"),
        codec("video/H264", "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f")};
    j.fastPublish = true;
    return j;
}

AddTrack videoAddTrack() {
    AddTrack a;
    a.cid = "mxrtc-video-3f9c2a";
    a.name = "camera";
    a.type = TrackType::Video;
    a.width = 640;
    a.height = 480;
    a.source = TrackSource::Camera;
    a.layers = {{.quality = VideoQuality::High, .width = 640, .height = 480, .bitrate = 700000, .ssrc = 0}};
    a.encryption = EncryptionType::Gcm;
    a.stream = "camera";
    return a;
}

AddTrack audioAddTrack() {
    AddTrack a;
    a.cid = "mxrtc-audio-7d41e0";
    a.name = "microphone";
    a.type = TrackType::Audio;
    a.muted = true;
    a.source = TrackSource::Microphone;
    a.disableRed = true;
    a.encryption = EncryptionType::Gcm;
    a.audioFeatures = {AudioTrackFeature::NoDtx, AudioTrackFeature::EchoCancellation};
    return a;
}

SessionDescription description(std::string type, std::string sdp, std::uint32_t id = 0,
                               std::map<std::string, std::string> midToTrackId = {}) {
    return SessionDescription{
        .type = std::move(type), .sdp = std::move(sdp), .id = id, .midToTrackId = std::move(midToTrackId)};
}

SessionDescription subscriberAnswer() {
    return description("answer", std::string(kSubscriberAnswerSdp), 3,
                       {{"0", "TR_AMkGrVh2Q8pM4k"}, {"1", "TR_VCpTj8zuG6wmKb"}});
}

Trickle subscriberCandidate() {
    return Trickle{.candidateInit =
                       R"({"candidate":"candidate:2130706431 1 udp 2130706431 127.0.0.1 50123 typ host",)"
                       R"("sdpMid":"0","sdpMLineIndex":0,"usernameFragment":null})",
                   .target = SignalTarget::Subscriber,
                   .final = false};
}

Leave leave(DisconnectReason reason, LeaveAction action, bool canReconnect = false) {
    return Leave{.canReconnect = canReconnect, .reason = reason, .action = action};
}

SyncState syncState(std::optional<SessionDescription> offer) {
    SyncState s;
    s.answer = subscriberAnswer();
    s.offer = std::move(offer);
    s.subscription = {.trackSids = {"TR_AMkGrVh2Q8pM4k", "TR_VCpTj8zuG6wmKb"}, .subscribe = true};
    s.publishTracks = {{.cid = "mxrtc-audio-7d41e0", .track = bobMicrophone()}};
    return s;
}

ReconnectResponse reconnect() {
    ReconnectResponse r;
    r.iceServers = {turnServer()};
    r.serverInfo = serverInfo();
    r.lastMessageSeq = 12;
    return r;
}

// ---- round trips: one case per alternative, with realistic values ----------------------------------

template <typename Message>
struct Case {
    std::string name;
    Message value;
};
template <typename Message>
void PrintTo(const Case<Message>& c, std::ostream* os) {
    *os << c.name;
}
using ResponseCase = Case<SignalResponse>;
using RequestCase = Case<SignalRequest>;

std::vector<ResponseCase> responseCases() {
    return {
        {"Join", joinResponse()},
        {"PublisherAnswer",
         PublisherAnswer{description("answer", "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n")}},
        {"SubscriberOffer",
         SubscriberOffer{description("offer",
                                     "v=0\r\no=- 7 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
                                     "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:0\r\n",
                                     4, {{"1", "TR_VCpTj8zuG6wmKb"}, {"0", "TR_AMkGrVh2Q8pM4k"}})}},
        {"Trickle",
         Trickle{.candidateInit = R"({"candidate":"candidate:1 1 udp 2130706431 10.0.0.2 7882 typ host",)"
                                  R"("sdpMid":"0","sdpMLineIndex":0})",
                 .target = SignalTarget::Publisher,
                 .final = false}},
        {"ParticipantUpdate", ParticipantUpdate{{bob(), alice()}}},
        {"TrackPublished", TrackPublished{.cid = "mxrtc-video-3f9c2a", .track = bobCamera()}},
        {"Leave", leave(DisconnectReason::StateMismatch, LeaveAction::Reconnect, true)},
        {"ServerMute", ServerMute{{.sid = "TR_AMkGrVh2Q8pM4k", .muted = true}}},
        {"RefreshToken",
         RefreshToken{Redacted<std::string>("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl")}},
        {"TrackUnpublished", TrackUnpublished{"TR_VCpTj8zuG6wmKb"}},
        {"LegacyPong", LegacyPong{1754500012345}},
        {"Reconnect", reconnect()},
        {"Pong", Pong{.lastPingTimestamp = 1754500012345, .timestamp = 1754500012351}},
        {"RequestResponseAddTrack", RequestResponse{.requestId = 2,
                                                    .reason = RequestReason::NotAllowed,
                                                    .message = "does not have permission to publish",
                                                    .addTrack = videoAddTrack(),
                                                    .mute = std::nullopt}},
        {"RequestResponseMute", RequestResponse{.requestId = 3,
                                                .reason = RequestReason::NotFound,
                                                .message = "track not found",
                                                .addTrack = std::nullopt,
                                                .mute = MuteTrack{.sid = "TR_nope", .muted = true}}},
        {"TrackSubscribed", TrackSubscribed{"TR_AMkGrVh2Q8pM4k"}},
        {"StreamStateUpdate", StreamStateUpdate{{{.participantSid = "PA_Vu2cSnd4mfh7",
                                                  .trackSid = "TR_VCpTj8zuG6wmKb",
                                                  .state = StreamState::Paused},
                                                 {.participantSid = "PA_Vu2cSnd4mfh7",
                                                  .trackSid = "TR_AMkGrVh2Q8pM4k",
                                                  .state = StreamState::Active}}}},
        {"SubscriptionResponse", SubscriptionResponse{.trackSid = "TR_gone", .err = 2}},
        {"Unhandled", UnhandledResponse{10}},
    };
}

std::vector<RequestCase> requestCases() {
    return {
        {"PublisherOffer", PublisherOffer{description(
                               "offer",
                               "v=0\r\no=- 9 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
                               "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=msid:mxrtc mxrtc-audio-7d41e0\r\n")}},
        {"SubscriberAnswer", SubscriberAnswer{subscriberAnswer()}},
        {"Trickle", subscriberCandidate()},
        {"AddTrackVideo", videoAddTrack()},
        {"AddTrackAudio", audioAddTrack()},
        {"MuteTrack", MuteTrack{.sid = "TR_AMkGrVh2Q8pM4k", .muted = true}},
        {"UpdateSubscription", UpdateSubscription{.trackSids = {"TR_AMkGrVh2Q8pM4k"}, .subscribe = false}},
        {"Leave", leave(DisconnectReason::ClientInitiated, LeaveAction::Disconnect)},
        {"SyncState", syncState(description("offer", "v=0\r\n"))},
        {"SyncStateEmptyOffer", syncState(SessionDescription{})},
        {"LegacyPing", LegacyPing{1754500012345}},
        {"Ping", Ping{.timestamp = 1754500012345, .rtt = 42}},
    };
}

class ResponseRoundTrip : public ::testing::TestWithParam<ResponseCase> {};

TEST_P(ResponseRoundTrip, DecodesToTheValueItEncoded) {
    const auto& value = GetParam().value;
    const auto bytes = encodeResponse(value);
    ASSERT_FALSE(bytes.empty());
    auto decoded = decodeResponse(bytes);
    ASSERT_TRUE(decoded.ok()) << decoded.error().message;
    EXPECT_EQ(decoded->index(), value.index());
    EXPECT_TRUE(*decoded == value) << "bytes: " << hexEncode(bytes);
    EXPECT_EQ(encodeResponse(*decoded), bytes);
}

INSTANTIATE_TEST_SUITE_P(Codec, ResponseRoundTrip, ::testing::ValuesIn(responseCases()),
                         [](const auto& info) { return info.param.name; });

class RequestRoundTrip : public ::testing::TestWithParam<RequestCase> {};

TEST_P(RequestRoundTrip, DecodesToTheValueItEncoded) {
    const auto& value = GetParam().value;
    const auto bytes = encodeRequest(value);
    ASSERT_FALSE(bytes.empty());
    auto decoded = decodeRequest(bytes);
    ASSERT_TRUE(decoded.ok()) << decoded.error().message;
    EXPECT_EQ(decoded->index(), value.index());
    EXPECT_TRUE(*decoded == value) << "bytes: " << hexEncode(bytes);
    EXPECT_EQ(encodeRequest(*decoded), bytes);
}

INSTANTIATE_TEST_SUITE_P(Codec, RequestRoundTrip, ::testing::ValuesIn(requestCases()),
                         [](const auto& info) { return info.param.name; });

TEST(Codec, RoundTripCasesCoverEveryAlternative) {
    std::set<std::size_t> responses;
    for (const auto& c : responseCases())
        responses.insert(c.value.index());
    EXPECT_EQ(responses.size(), std::variant_size_v<SignalResponse>);
    std::set<std::size_t> requests;
    for (const auto& c : requestCases())
        requests.insert(c.value.index());
    EXPECT_EQ(requests.size(), std::variant_size_v<SignalRequest>);
}

// A message whose fields all hold their defaults is just the oneof case with an empty body: it must
// still decode as that alternative.
template <typename Variant, typename Encode, typename Decode, std::size_t... I>
void expectDefaultsRoundTrip(Encode encode, Decode decode, std::index_sequence<I...>) {
    (
        [&] {
            const Variant value{std::in_place_index<I>};
            if constexpr (std::is_same_v<std::variant_alternative_t<I, Variant>, UnhandledResponse>) return;
            auto decoded = decode(encode(value));
            ASSERT_TRUE(decoded.ok()) << "alternative " << I << ": " << decoded.error().message;
            EXPECT_EQ(decoded->index(), I);
            EXPECT_TRUE(*decoded == value) << "alternative " << I;
        }(),
        ...);
}

TEST(Codec, DefaultValuedAlternativesKeepTheirCase) {
    expectDefaultsRoundTrip<SignalResponse>([](const SignalResponse& v) { return encodeResponse(v); },
                                            [](const Bytes& b) { return decodeResponse(b); },
                                            std::make_index_sequence<std::variant_size_v<SignalResponse>>{});
    expectDefaultsRoundTrip<SignalRequest>([](const SignalRequest& v) { return encodeRequest(v); },
                                           [](const Bytes& b) { return decodeRequest(b); },
                                           std::make_index_sequence<std::variant_size_v<SignalRequest>>{});
}

// ---- golden bytes from @livekit/protocol ----------------------------------------------------------

using Expected = std::variant<SignalResponse, SignalRequest>;

std::map<std::string, Expected> goldenValues() {
    return {
        {"join_response", SignalResponse{joinResponse()}},
        {"trickle_request", SignalRequest{subscriberCandidate()}},
        {"trickle_final_request",
         SignalRequest{Trickle{.candidateInit = "", .target = SignalTarget::Publisher, .final = true}}},
        {"add_track_video_request", SignalRequest{videoAddTrack()}},
        {"add_track_audio_request", SignalRequest{audioAddTrack()}},
        {"answer_request", SignalRequest{SubscriberAnswer{subscriberAnswer()}}},
        {"ping_req_request", SignalRequest{Ping{.timestamp = 1754500012345, .rtt = 42}}},
        {"ping_request", SignalRequest{LegacyPing{1754500012345}}},
        {"leave_request", SignalRequest{leave(DisconnectReason::ClientInitiated, LeaveAction::Disconnect)}},
        {"sync_state_request", SignalRequest{[] {
             SyncState s = syncState(std::nullopt);
             s.answer.midToTrackId.clear();
             return s;
         }()}},
        {"mute_request", SignalRequest{MuteTrack{.sid = "TR_AMkGrVh2Q8pM4k", .muted = true}}},
        {"track_published_response",
         SignalResponse{TrackPublished{.cid = "mxrtc-video-3f9c2a", .track = bobCamera()}}},
        {"request_response", SignalResponse{RequestResponse{.requestId = 0,
                                                            .reason = RequestReason::NotAllowed,
                                                            .message = "does not have permission to publish",
                                                            .addTrack = videoAddTrack(),
                                                            .mute = std::nullopt}}},
        {"leave_response",
         SignalResponse{leave(DisconnectReason::StateMismatch, LeaveAction::Reconnect, true)}},
        {"refresh_token_response", SignalResponse{RefreshToken{Redacted<std::string>(
                                       "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl")}}},
        {"join_response_full", SignalResponse{joinResponse()}},
        {"speakers_changed_response", SignalResponse{UnhandledResponse{10}}},
        {"connection_quality_response", SignalResponse{UnhandledResponse{12}}},
    };
}

struct GoldenVector {
    std::string name;
    std::string type;
    bool exact = true;
    Bytes bytes;
};
void PrintTo(const GoldenVector& v, std::ostream* os) {
    *os << v.name;
}

std::vector<GoldenVector> goldenVectors() {
    std::vector<GoldenVector> out;
    const auto json = test::loadVector("livekit/signal_golden.json");  // outlives the loop
    for (const auto& v : json.at("vectors")) {
        out.push_back({.name = v.at("name").get<std::string>(),
                       .type = v.at("type").get<std::string>(),
                       .exact = v.at("mode").get<std::string>() == "exact",
                       .bytes = hx(v.at("hex").get<std::string>())});
    }
    return out;
}

class GoldenBytes : public ::testing::TestWithParam<GoldenVector> {};

TEST_P(GoldenBytes, MatchLiveKitsOwnEncoder) {
    const auto& vector = GetParam();
    const auto values = goldenValues();
    const auto it = values.find(vector.name);
    ASSERT_NE(it, values.end()) << "no expected value for vector " << vector.name;
    if (const auto* response = std::get_if<SignalResponse>(&it->second)) {
        ASSERT_EQ(vector.type, "livekit.SignalResponse");
        auto decoded = decodeResponse(vector.bytes);
        ASSERT_TRUE(decoded.ok()) << decoded.error().message;
        EXPECT_TRUE(*decoded == *response);
        if (vector.exact) {
            EXPECT_EQ(hexEncode(encodeResponse(*response)), hexEncode(vector.bytes));
        }
    } else {
        const auto& request = std::get<SignalRequest>(it->second);
        ASSERT_EQ(vector.type, "livekit.SignalRequest");
        auto decoded = decodeRequest(vector.bytes);
        ASSERT_TRUE(decoded.ok()) << decoded.error().message;
        EXPECT_TRUE(*decoded == request);
        if (vector.exact) {
            EXPECT_EQ(hexEncode(encodeRequest(request)), hexEncode(vector.bytes));
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Codec, GoldenBytes, ::testing::ValuesIn(goldenVectors()),
                         [](const auto& info) { return info.param.name; });

TEST(Codec, EveryGoldenValueHasAVector) {
    std::set<std::string> names;
    for (const auto& v : goldenVectors())
        names.insert(v.name);
    for (const auto& [name, value] : goldenValues())
        EXPECT_TRUE(names.contains(name)) << name;
    // The three the issue asks for are exact (byte-for-byte) vectors.
    for (const auto& v : goldenVectors()) {
        if (v.name == "join_response" || v.name == "trickle_request" || v.name == "add_track_video_request") {
            EXPECT_TRUE(v.exact) << v.name;
        }
    }
}

// ---- untrusted input -------------------------------------------------------------------------

TEST(Codec, GarbageIsAnErrorNamingItsSize) {
    const Bytes garbage{0xff, 0xff, 0xff, 0xff, 0x0f};
    auto response = decodeResponse(garbage);
    ASSERT_FALSE(response.ok());
    EXPECT_EQ(response.error().errcode, errcode::kNotJson);
    EXPECT_EQ(response.error().message, "LiveKit signal message does not parse (5 bytes)");
    auto request = decodeRequest(garbage);
    ASSERT_FALSE(request.ok());
    EXPECT_EQ(request.error().errcode, errcode::kNotJson);
}

TEST(Codec, EveryTruncationOfAJoinResponseIsAnError) {
    const auto bytes = encodeResponse(joinResponse());
    for (std::size_t n = 0; n < bytes.size(); ++n) {
        auto decoded = decodeResponse(std::span(bytes).first(n));
        EXPECT_FALSE(decoded.ok()) << "prefix of " << n << " bytes decoded";
    }
}

TEST(Codec, AnEmptyMessageHasNoCase) {
    auto response = decodeResponse({});
    ASSERT_FALSE(response.ok());
    EXPECT_EQ(response.error().errcode, errcode::kBadJson);
    EXPECT_EQ(response.error().message, "LiveKit signal response has no message case (0 bytes)");
    auto request = decodeRequest({});
    ASSERT_FALSE(request.ok());
    EXPECT_EQ(request.error().errcode, errcode::kBadJson);
}

TEST(Codec, UnknownResponseCasesDecodeAsUnhandledWithTheirFieldNumber) {
    // A future case 40 holding a message with a string field, and one with a varint (field 41).
    auto future = decodeResponse(hx("c2020412026869"));
    ASSERT_TRUE(future.ok()) << future.error().message;
    EXPECT_TRUE(*future == SignalResponse{UnhandledResponse{40}});
    auto varint = decodeResponse(hx("c80201"));
    ASSERT_TRUE(varint.ok()) << varint.error().message;
    EXPECT_TRUE(*varint == SignalResponse{UnhandledResponse{41}});
    // room_update (11): a case upstream has and we leave out.
    auto roomUpdate = decodeResponse(hx("5a050a03524d5f"));
    ASSERT_TRUE(roomUpdate.ok());
    EXPECT_TRUE(*roomUpdate == SignalResponse{UnhandledResponse{11}});
}

TEST(Codec, UnhandledResponseEncodesAsAnEmptyCaseOfItsNumber) {
    EXPECT_EQ(hexEncode(encodeResponse(UnhandledResponse{10})), "5200");
    // A number a handled case uses, or no valid field number, cannot be written: nothing is.
    EXPECT_TRUE(encodeResponse(UnhandledResponse{1}).empty());
    EXPECT_TRUE(encodeResponse(UnhandledResponse{0}).empty());
    EXPECT_TRUE(encodeResponse(UnhandledResponse{1 << 29}).empty());
}

TEST(Codec, AHandledCaseWithTheWrongWireTypeIsAnError) {
    auto decoded = decodeResponse(hx("0801"));  // join (1) as a varint
    ASSERT_FALSE(decoded.ok());
    EXPECT_EQ(decoded.error().errcode, errcode::kBadJson);
    EXPECT_EQ(decoded.error().message, "LiveKit signal response field 1 has the wrong wire type");
    auto request = decodeRequest(hx("7200"));  // ping (14) as length-delimited
    ASSERT_FALSE(request.ok());
    EXPECT_EQ(request.error().message, "LiveKit signal request field 14 has the wrong wire type");
}

TEST(Codec, AnUnknownRequestCaseIsUnsupported) {
    auto decoded = decodeRequest(hx("3a00"));  // track_setting (7)
    ASSERT_FALSE(decoded.ok());
    EXPECT_EQ(decoded.error().errcode, errcode::kUnsupported);
    EXPECT_EQ(decoded.error().message, "LiveKit signal request case 7 is not supported");
}

TEST(Codec, UnknownFieldsInsideKnownMessagesAreSkipped) {
    // mute (9) {sid "TR_x", muted true, field 15: "later"}
    auto decoded = decodeResponse(hx("4a0f0a0454525f7810017a056c61746572"));
    ASSERT_TRUE(decoded.ok()) << decoded.error().message;
    EXPECT_TRUE((*decoded == SignalResponse{ServerMute{{.sid = "TR_x", .muted = true}}}));
}

TEST(Codec, EnumNumbersWeDoNotNameSurviveAsNumbers) {
    TrackInfo track = bobCamera();
    track.type = static_cast<TrackType>(7);
    track.encryption = static_cast<EncryptionType>(9);
    ParticipantInfo participant = bob();
    participant.tracks = {track};
    participant.disconnectReason = static_cast<DisconnectReason>(16);  // AGENT_ERROR upstream
    const SignalResponse value = ParticipantUpdate{{participant}};
    auto decoded = decodeResponse(encodeResponse(value));
    ASSERT_TRUE(decoded.ok()) << decoded.error().message;
    EXPECT_TRUE(*decoded == value);
    const auto& p = std::get<ParticipantUpdate>(*decoded).participants.at(0);
    EXPECT_EQ(static_cast<int>(p.disconnectReason), 16);
    EXPECT_EQ(static_cast<int>(p.tracks.at(0).type), 7);

    // RequestResponse.Reason INVALID_HANDLE (7) from a newer server, and a negative number.
    auto invalidHandle = decodeResponse(hx("b201021007"));
    ASSERT_TRUE(invalidHandle.ok()) << invalidHandle.error().message;
    EXPECT_EQ(static_cast<int>(std::get<RequestResponse>(*invalidHandle).reason), 7);
    const SignalResponse negative = leave(static_cast<DisconnectReason>(-3), LeaveAction::Disconnect);
    auto negativeDecoded = decodeResponse(encodeResponse(negative));
    ASSERT_TRUE(negativeDecoded.ok());
    EXPECT_TRUE(*negativeDecoded == negative);
}

TEST(Codec, StringsThatAreNotUtf8AreRejectedSilently) {
    ::testing::internal::CaptureStderr();
    // mute (9) {sid "\xff\xfe"}
    auto decoded = decodeResponse(hx("4a040a02fffe"));
    const std::string logged = ::testing::internal::GetCapturedStderr();
    ASSERT_FALSE(decoded.ok());
    EXPECT_EQ(decoded.error().errcode, errcode::kNotJson);
    EXPECT_EQ(logged, "");
    // bytes fields hold anything.
    JoinResponse join;
    join.sifTrailer = {0xff, 0xfe, 0x00, 0x80};
    auto trailer = decodeResponse(encodeResponse(join));
    ASSERT_TRUE(trailer.ok());
    EXPECT_EQ(std::get<JoinResponse>(*trailer).sifTrailer, join.sifTrailer);
}

TEST(Codec, SecretsTravelInFull) {
    auto decoded = decodeResponse(encodeResponse(reconnect()));
    ASSERT_TRUE(decoded.ok());
    const auto& server = std::get<ReconnectResponse>(*decoded).iceServers.at(0);
    EXPECT_EQ(server.credential.exposeSecret(), "dGhpcy1pcy1hLXR1cm4tY3JlZGVudGlhbA==");
    const auto token = bytesOf("eyJhbGciOiJIUzI1NiJ9");
    Bytes encoded{0x82, 0x01, static_cast<std::uint8_t>(token.size())};  // refresh_token (16)
    encoded.insert(encoded.end(), token.begin(), token.end());
    auto refresh = decodeResponse(encoded);
    ASSERT_TRUE(refresh.ok());
    EXPECT_EQ(std::get<RefreshToken>(*refresh).token.exposeSecret(), "eyJhbGciOiJIUzI1NiJ9");
}

TEST(Codec, TheLastOfTwoCasesWins) {
    // pong (18) then pong_resp (20): as protobuf's oneof rule says, the later one.
    auto decoded =
        decodeResponse(hx("900105"
                          "a20102"
                          "0807"));
    ASSERT_TRUE(decoded.ok()) << decoded.error().message;
    EXPECT_TRUE(*decoded == SignalResponse{Pong{.lastPingTimestamp = 7}});
}

}  // namespace
}  // namespace mxrtc::livekit
