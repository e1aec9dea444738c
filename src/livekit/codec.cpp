// messages.hpp values <-> LiveKit signal protobuf bytes, via the classes protoc generates from
// proto/livekit_signal.proto (lite runtime). The generated types stay in this file.
//
// Encoding follows proto3: fields holding their protobuf default are not written, and a nested
// message with nothing to write is left out too (decoding gives the same defaults back). Maps are written in
// key order (deterministic serialisation), so equal values always give equal bytes.
//
// Decoding never throws on bad input. protobuf rejects strings that are not UTF-8 (proto3; the Go
// server does the same); its log line about that is silenced here, since this codec logs nothing.
#include "mxrtc/livekit/codec.hpp"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/wire_format_lite.h>

#include <climits>
#include <cstddef>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "livekit_signal.pb.h"

namespace mxrtc::livekit {
namespace {

namespace pb = ::livekit;
using google::protobuf::internal::WireFormatLite;

// ---- enums: wire numbers straight through ------------------------------------------------------

template <typename To, typename From>
To mapEnum(From value) {
    return static_cast<To>(static_cast<int>(value));
}

// ---- messages.hpp -> protobuf ------------------------------------------------------------------

void toPb(const VideoLayer& in, pb::VideoLayer& out) {
    out.set_quality(mapEnum<pb::VideoQuality>(in.quality));
    out.set_width(in.width);
    out.set_height(in.height);
    out.set_bitrate(in.bitrate);
    out.set_ssrc(in.ssrc);
}

void toPb(const TrackInfo& in, pb::TrackInfo& out) {
    out.set_sid(in.sid);
    out.set_type(mapEnum<pb::TrackType>(in.type));
    out.set_name(in.name);
    out.set_muted(in.muted);
    out.set_width(in.width);
    out.set_height(in.height);
    out.set_source(mapEnum<pb::TrackSource>(in.source));
    out.set_mime_type(in.mimeType);
    out.set_mid(in.mid);
    out.set_disable_red(in.disableRed);
    out.set_encryption(mapEnum<pb::Encryption_Type>(in.encryption));
    out.set_stream(in.stream);
}

void toPb(const ParticipantInfo& in, pb::ParticipantInfo& out) {
    out.set_sid(in.sid);
    out.set_identity(in.identity);
    out.set_state(mapEnum<pb::ParticipantInfo_State>(in.state));
    for (const auto& track : in.tracks)
        toPb(track, *out.add_tracks());
    out.set_name(in.name);
    out.set_version(in.version);
    out.set_is_publisher(in.isPublisher);
    out.set_disconnect_reason(mapEnum<pb::DisconnectReason>(in.disconnectReason));
    out.set_joined_at_ms(in.joinedAtMs);
}

void toPb(const IceServer& in, pb::ICEServer& out) {
    for (const auto& url : in.urls)
        out.add_urls(url);
    out.set_username(in.username);
    out.set_credential(in.credential.exposeSecret());
}

void toPb(const ServerInfo& in, pb::ServerInfo& out) {
    out.set_version(in.version);
    out.set_protocol(in.protocol);
    out.set_region(in.region);
    out.set_node_id(in.nodeId);
}

void toPb(const RoomInfo& in, pb::Room& out) {
    out.set_sid(in.sid);
    out.set_name(in.name);
}

void toPb(const Codec& in, pb::Codec& out) {
    out.set_mime(in.mime);
    out.set_fmtp_line(in.fmtpLine);
}

void toPb(const SessionDescription& in, pb::SessionDescription& out) {
    out.set_type(in.type);
    out.set_sdp(in.sdp);
    out.set_id(in.id);
    auto& map = *out.mutable_mid_to_track_id();
    for (const auto& [mid, trackId] : in.midToTrackId)
        map[mid] = trackId;
}

void toPb(const Trickle& in, pb::TrickleRequest& out) {
    out.set_candidateinit(in.candidateInit);
    out.set_target(mapEnum<pb::SignalTarget>(in.target));
    out.set_final(in.final);
}

void toPb(const AddTrack& in, pb::AddTrackRequest& out) {
    out.set_cid(in.cid);
    out.set_name(in.name);
    out.set_type(mapEnum<pb::TrackType>(in.type));
    out.set_width(in.width);
    out.set_height(in.height);
    out.set_muted(in.muted);
    out.set_source(mapEnum<pb::TrackSource>(in.source));
    for (const auto& layer : in.layers)
        toPb(layer, *out.add_layers());
    out.set_disable_red(in.disableRed);
    out.set_encryption(mapEnum<pb::Encryption_Type>(in.encryption));
    out.set_stream(in.stream);
    for (auto feature : in.audioFeatures)
        out.add_audio_features(mapEnum<pb::AudioTrackFeature>(feature));
}

void toPb(const MuteTrack& in, pb::MuteTrackRequest& out) {
    out.set_sid(in.sid);
    out.set_muted(in.muted);
}

void toPb(const UpdateSubscription& in, pb::UpdateSubscription& out) {
    for (const auto& sid : in.trackSids)
        out.add_track_sids(sid);
    out.set_subscribe(in.subscribe);
}

void toPb(const Leave& in, pb::LeaveRequest& out) {
    out.set_can_reconnect(in.canReconnect);
    out.set_reason(mapEnum<pb::DisconnectReason>(in.reason));
    out.set_action(mapEnum<pb::LeaveRequest_Action>(in.action));
}

void toPb(const Ping& in, pb::Ping& out) {
    out.set_timestamp(in.timestamp);
    out.set_rtt(in.rtt);
}

void toPb(const Pong& in, pb::Pong& out) {
    out.set_last_ping_timestamp(in.lastPingTimestamp);
    out.set_timestamp(in.timestamp);
}

// proto3 writes no field holding its default, and other encoders leave out a nested message whose
// fields all do. So do we: `if (auto m = encoded<…>(v); m.ByteSizeLong() > 0) *out.mutable_…() = m`.
// (Comparing with the C++ default instead would be wrong where it differs from protobuf's, e.g.
// UpdateSubscription::subscribe = true.)
template <typename Message, typename Value>
Message encoded(const Value& value) {
    Message message;
    toPb(value, message);
    return message;
}

void toPb(const TrackPublished& in, pb::TrackPublishedResponse& out) {
    out.set_cid(in.cid);
    if (auto m = encoded<pb::TrackInfo>(in.track); m.ByteSizeLong() > 0) *out.mutable_track() = std::move(m);
}

void toPb(const SyncState& in, pb::SyncState& out) {
    if (auto m = encoded<pb::SessionDescription>(in.answer); m.ByteSizeLong() > 0)
        *out.mutable_answer() = std::move(m);
    if (auto m = encoded<pb::UpdateSubscription>(in.subscription); m.ByteSizeLong() > 0)
        *out.mutable_subscription() = std::move(m);
    for (const auto& track : in.publishTracks)
        toPb(track, *out.add_publish_tracks());
    if (in.offer) toPb(*in.offer, *out.mutable_offer());  // present even when empty: optional
}

void toPb(const JoinResponse& in, pb::JoinResponse& out) {
    if (auto m = encoded<pb::Room>(in.room); m.ByteSizeLong() > 0) *out.mutable_room() = std::move(m);
    if (auto m = encoded<pb::ParticipantInfo>(in.participant); m.ByteSizeLong() > 0)
        *out.mutable_participant() = std::move(m);
    for (const auto& p : in.otherParticipants)
        toPb(p, *out.add_other_participants());
    for (const auto& server : in.iceServers)
        toPb(server, *out.add_ice_servers());
    out.set_subscriber_primary(in.subscriberPrimary);
    out.set_alternative_url(in.alternativeUrl);
    out.set_ping_timeout(in.pingTimeout);
    out.set_ping_interval(in.pingInterval);
    if (auto m = encoded<pb::ServerInfo>(in.serverInfo); m.ByteSizeLong() > 0)
        *out.mutable_server_info() = std::move(m);
    out.set_sif_trailer(std::string(in.sifTrailer.begin(), in.sifTrailer.end()));
    for (const auto& codec : in.enabledPublishCodecs)
        toPb(codec, *out.add_enabled_publish_codecs());
    out.set_fast_publish(in.fastPublish);
}

void toPb(const ReconnectResponse& in, pb::ReconnectResponse& out) {
    for (const auto& server : in.iceServers)
        toPb(server, *out.add_ice_servers());
    if (auto m = encoded<pb::ServerInfo>(in.serverInfo); m.ByteSizeLong() > 0)
        *out.mutable_server_info() = std::move(m);
    out.set_last_message_seq(in.lastMessageSeq);
}

void toPb(const RequestResponse& in, pb::RequestResponse& out) {
    out.set_request_id(in.requestId);
    out.set_reason(mapEnum<pb::RequestResponse_Reason>(in.reason));
    out.set_message(in.message);
    // `request` is a oneof: a value with both set (never decoded so) keeps the AddTrack.
    if (in.addTrack) {
        toPb(*in.addTrack, *out.mutable_add_track());
    } else if (in.mute) {
        toPb(*in.mute, *out.mutable_mute());
    }
}

void toPb(const StreamStateUpdate& in, pb::StreamStateUpdate& out) {
    for (const auto& s : in.streamStates) {
        auto& info = *out.add_stream_states();
        info.set_participant_sid(s.participantSid);
        info.set_track_sid(s.trackSid);
        info.set_state(mapEnum<pb::StreamState>(s.state));
    }
}

// ---- protobuf -> messages.hpp ------------------------------------------------------------------

VideoLayer fromPb(const pb::VideoLayer& in) {
    return VideoLayer{
        .quality = mapEnum<VideoQuality>(in.quality()),
        .width = in.width(),
        .height = in.height(),
        .bitrate = in.bitrate(),
        .ssrc = in.ssrc(),
    };
}

TrackInfo fromPb(const pb::TrackInfo& in) {
    return TrackInfo{
        .sid = in.sid(),
        .type = mapEnum<TrackType>(in.type()),
        .name = in.name(),
        .muted = in.muted(),
        .width = in.width(),
        .height = in.height(),
        .source = mapEnum<TrackSource>(in.source()),
        .mimeType = in.mime_type(),
        .mid = in.mid(),
        .disableRed = in.disable_red(),
        .encryption = mapEnum<EncryptionType>(in.encryption()),
        .stream = in.stream(),
    };
}

ParticipantInfo fromPb(const pb::ParticipantInfo& in) {
    ParticipantInfo out{
        .sid = in.sid(),
        .identity = in.identity(),
        .state = mapEnum<ParticipantState>(in.state()),
        .tracks = {},
        .name = in.name(),
        .version = in.version(),
        .isPublisher = in.is_publisher(),
        .disconnectReason = mapEnum<DisconnectReason>(in.disconnect_reason()),
        .joinedAtMs = in.joined_at_ms(),
    };
    out.tracks.reserve(static_cast<std::size_t>(in.tracks_size()));
    for (const auto& track : in.tracks())
        out.tracks.push_back(fromPb(track));
    return out;
}

IceServer fromPb(const pb::ICEServer& in) {
    return IceServer{
        .urls = {in.urls().begin(), in.urls().end()},
        .username = in.username(),
        .credential = Redacted<std::string>(in.credential()),
    };
}

ServerInfo fromPb(const pb::ServerInfo& in) {
    return ServerInfo{
        .version = in.version(), .protocol = in.protocol(), .region = in.region(), .nodeId = in.node_id()};
}

RoomInfo fromPb(const pb::Room& in) {
    return RoomInfo{.sid = in.sid(), .name = in.name()};
}

Codec fromPb(const pb::Codec& in) {
    return Codec{.mime = in.mime(), .fmtpLine = in.fmtp_line()};
}

SessionDescription fromPb(const pb::SessionDescription& in) {
    return SessionDescription{
        .type = in.type(),
        .sdp = in.sdp(),
        .id = in.id(),
        .midToTrackId = {in.mid_to_track_id().begin(), in.mid_to_track_id().end()},
    };
}

Trickle fromPb(const pb::TrickleRequest& in) {
    return Trickle{
        .candidateInit = in.candidateinit(),
        .target = mapEnum<SignalTarget>(in.target()),
        .final = in.final(),
    };
}

AddTrack fromPb(const pb::AddTrackRequest& in) {
    AddTrack out{
        .cid = in.cid(),
        .name = in.name(),
        .type = mapEnum<TrackType>(in.type()),
        .width = in.width(),
        .height = in.height(),
        .muted = in.muted(),
        .source = mapEnum<TrackSource>(in.source()),
        .layers = {},
        .disableRed = in.disable_red(),
        .encryption = mapEnum<EncryptionType>(in.encryption()),
        .stream = in.stream(),
        .audioFeatures = {},
    };
    for (const auto& layer : in.layers())
        out.layers.push_back(fromPb(layer));
    // Repeated enums are stored as plain ints.
    for (int feature : in.audio_features())
        out.audioFeatures.push_back(static_cast<AudioTrackFeature>(feature));
    return out;
}

MuteTrack fromPb(const pb::MuteTrackRequest& in) {
    return MuteTrack{.sid = in.sid(), .muted = in.muted()};
}

UpdateSubscription fromPb(const pb::UpdateSubscription& in) {
    return UpdateSubscription{
        .trackSids = {in.track_sids().begin(), in.track_sids().end()},
        .subscribe = in.subscribe(),
    };
}

Leave fromPb(const pb::LeaveRequest& in) {
    return Leave{
        .canReconnect = in.can_reconnect(),
        .reason = mapEnum<DisconnectReason>(in.reason()),
        .action = mapEnum<LeaveAction>(in.action()),
    };
}

Ping fromPb(const pb::Ping& in) {
    return Ping{.timestamp = in.timestamp(), .rtt = in.rtt()};
}

Pong fromPb(const pb::Pong& in) {
    return Pong{.lastPingTimestamp = in.last_ping_timestamp(), .timestamp = in.timestamp()};
}

TrackPublished fromPb(const pb::TrackPublishedResponse& in) {
    return TrackPublished{.cid = in.cid(), .track = fromPb(in.track())};
}

SyncState fromPb(const pb::SyncState& in) {
    SyncState out{
        .answer = fromPb(in.answer()),
        .offer = in.has_offer() ? std::optional(fromPb(in.offer())) : std::nullopt,
        .subscription = fromPb(in.subscription()),
        .publishTracks = {},
    };
    for (const auto& track : in.publish_tracks())
        out.publishTracks.push_back(fromPb(track));
    return out;
}

JoinResponse fromPb(const pb::JoinResponse& in) {
    JoinResponse out{
        .room = fromPb(in.room()),
        .participant = fromPb(in.participant()),
        .otherParticipants = {},
        .iceServers = {},
        .subscriberPrimary = in.subscriber_primary(),
        .alternativeUrl = in.alternative_url(),
        .pingTimeout = in.ping_timeout(),
        .pingInterval = in.ping_interval(),
        .serverInfo = fromPb(in.server_info()),
        .sifTrailer = {in.sif_trailer().begin(), in.sif_trailer().end()},
        .enabledPublishCodecs = {},
        .fastPublish = in.fast_publish(),
    };
    for (const auto& p : in.other_participants())
        out.otherParticipants.push_back(fromPb(p));
    for (const auto& server : in.ice_servers())
        out.iceServers.push_back(fromPb(server));
    for (const auto& codec : in.enabled_publish_codecs())
        out.enabledPublishCodecs.push_back(fromPb(codec));
    return out;
}

ReconnectResponse fromPb(const pb::ReconnectResponse& in) {
    ReconnectResponse out{
        .iceServers = {}, .serverInfo = fromPb(in.server_info()), .lastMessageSeq = in.last_message_seq()};
    for (const auto& server : in.ice_servers())
        out.iceServers.push_back(fromPb(server));
    return out;
}

RequestResponse fromPb(const pb::RequestResponse& in) {
    return RequestResponse{
        .requestId = in.request_id(),
        .reason = mapEnum<RequestReason>(in.reason()),
        .message = in.message(),
        .addTrack = in.has_add_track() ? std::optional(fromPb(in.add_track())) : std::nullopt,
        .mute = in.has_mute() ? std::optional(fromPb(in.mute())) : std::nullopt,
    };
}

StreamStateUpdate fromPb(const pb::StreamStateUpdate& in) {
    StreamStateUpdate out;
    for (const auto& s : in.stream_states()) {
        out.streamStates.push_back(StreamStateInfo{
            .participantSid = s.participant_sid(),
            .trackSid = s.track_sid(),
            .state = mapEnum<StreamState>(s.state()),
        });
    }
    return out;
}

// ---- bytes -------------------------------------------------------------------------------------

std::vector<std::uint8_t> serialize(const google::protobuf::MessageLite& message) {
    // protobuf logs (and still writes) strings that are not UTF-8: stay silent, the bytes say it.
    google::protobuf::LogSilencer silence;
    std::string bytes;
    {
        google::protobuf::io::StringOutputStream stream(&bytes);
        google::protobuf::io::CodedOutputStream out(&stream);
        out.SetSerializationDeterministic(true);
        message.SerializeToCodedStream(&out);
    }
    return {bytes.begin(), bytes.end()};
}

Error doesNotParse(std::size_t size) {
    return makeError(errcode::kNotJson,
                     "LiveKit signal message does not parse (" + std::to_string(size) + " bytes)");
}

bool parse(google::protobuf::MessageLite& message, std::span<const std::uint8_t> bytes) {
    if (bytes.size() > static_cast<std::size_t>(INT_MAX)) return false;
    google::protobuf::LogSilencer silence;  // its UTF-8 complaint; the caller gets an Error instead
    return message.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
}

// The number of the last top-level field in bytes that already parsed; 0 if there is none.
int lastTopLevelField(std::span<const std::uint8_t> bytes) {
    google::protobuf::io::CodedInputStream in(bytes.data(), static_cast<int>(bytes.size()));
    int last = 0;
    while (std::uint32_t tag = in.ReadTag()) {
        last = WireFormatLite::GetTagFieldNumber(tag);
        if (!WireFormatLite::SkipField(&in, tag)) return 0;
    }
    return last;
}

Error noCase(std::string_view what, std::size_t size) {
    return makeError(errcode::kBadJson, "LiveKit " + std::string(what) + " has no message case (" +
                                            std::to_string(size) + " bytes)");
}

Error wrongWireType(std::string_view what, int field) {
    return makeError(errcode::kBadJson, "LiveKit " + std::string(what) + " field " + std::to_string(field) +
                                            " has the wrong wire type");
}

// A SignalResponse oneof case this file maps to its own alternative (not UnhandledResponse).
bool isHandledResponseCase(int field) {
    switch (static_cast<pb::SignalResponse::MessageCase>(field)) {
        case pb::SignalResponse::kJoin:
        case pb::SignalResponse::kAnswer:
        case pb::SignalResponse::kOffer:
        case pb::SignalResponse::kTrickle:
        case pb::SignalResponse::kUpdate:
        case pb::SignalResponse::kTrackPublished:
        case pb::SignalResponse::kLeave:
        case pb::SignalResponse::kMute:
        case pb::SignalResponse::kStreamStateUpdate:
        case pb::SignalResponse::kRefreshToken:
        case pb::SignalResponse::kTrackUnpublished:
        case pb::SignalResponse::kPong:
        case pb::SignalResponse::kReconnect:
        case pb::SignalResponse::kPongResp:
        case pb::SignalResponse::kSubscriptionResponse:
        case pb::SignalResponse::kRequestResponse:
        case pb::SignalResponse::kTrackSubscribed:
            return true;
        case pb::SignalResponse::MESSAGE_NOT_SET:
            return false;
    }
    return false;
}

bool isRequestCase(int field) {
    switch (static_cast<pb::SignalRequest::MessageCase>(field)) {
        case pb::SignalRequest::kOffer:
        case pb::SignalRequest::kAnswer:
        case pb::SignalRequest::kTrickle:
        case pb::SignalRequest::kAddTrack:
        case pb::SignalRequest::kMute:
        case pb::SignalRequest::kSubscription:
        case pb::SignalRequest::kLeave:
        case pb::SignalRequest::kSyncState:
        case pb::SignalRequest::kPing:
        case pb::SignalRequest::kPingReq:
            return true;
        case pb::SignalRequest::MESSAGE_NOT_SET:
            return false;
    }
    return false;
}

template <typename>
[[maybe_unused]] inline constexpr bool kAlwaysFalse = false;  // for static_assert in if-constexpr chains

constexpr int kMaxFieldNumber = (1 << 29) - 1;  // protobuf's limit

}  // namespace

std::vector<std::uint8_t> encodeRequest(const SignalRequest& request) {
    pb::SignalRequest out;
    std::visit(
        [&out](const auto& m) {
            using T = std::decay_t<decltype(m)>;
            if constexpr (std::is_same_v<T, PublisherOffer>) {
                toPb(m.description, *out.mutable_offer());
            } else if constexpr (std::is_same_v<T, SubscriberAnswer>) {
                toPb(m.description, *out.mutable_answer());
            } else if constexpr (std::is_same_v<T, Trickle>) {
                toPb(m, *out.mutable_trickle());
            } else if constexpr (std::is_same_v<T, AddTrack>) {
                toPb(m, *out.mutable_add_track());
            } else if constexpr (std::is_same_v<T, MuteTrack>) {
                toPb(m, *out.mutable_mute());
            } else if constexpr (std::is_same_v<T, UpdateSubscription>) {
                toPb(m, *out.mutable_subscription());
            } else if constexpr (std::is_same_v<T, Leave>) {
                toPb(m, *out.mutable_leave());
            } else if constexpr (std::is_same_v<T, SyncState>) {
                toPb(m, *out.mutable_sync_state());
            } else if constexpr (std::is_same_v<T, LegacyPing>) {
                out.set_ping(m.timestamp);
            } else if constexpr (std::is_same_v<T, Ping>) {
                toPb(m, *out.mutable_ping_req());
            } else {
                static_assert(kAlwaysFalse<T>, "SignalRequest alternative without an encoding");
            }
        },
        request);
    return serialize(out);
}

std::vector<std::uint8_t> encodeResponse(const SignalResponse& response) {
    pb::SignalResponse out;
    std::vector<std::uint8_t> unhandled;
    std::visit(
        [&out, &unhandled](const auto& m) {
            using T = std::decay_t<decltype(m)>;
            if constexpr (std::is_same_v<T, JoinResponse>) {
                toPb(m, *out.mutable_join());
            } else if constexpr (std::is_same_v<T, PublisherAnswer>) {
                toPb(m.description, *out.mutable_answer());
            } else if constexpr (std::is_same_v<T, SubscriberOffer>) {
                toPb(m.description, *out.mutable_offer());
            } else if constexpr (std::is_same_v<T, Trickle>) {
                toPb(m, *out.mutable_trickle());
            } else if constexpr (std::is_same_v<T, ParticipantUpdate>) {
                auto& update = *out.mutable_update();  // the case is set even with no participants
                for (const auto& p : m.participants)
                    toPb(p, *update.add_participants());
            } else if constexpr (std::is_same_v<T, TrackPublished>) {
                toPb(m, *out.mutable_track_published());
            } else if constexpr (std::is_same_v<T, Leave>) {
                toPb(m, *out.mutable_leave());
            } else if constexpr (std::is_same_v<T, ServerMute>) {
                toPb(m.mute, *out.mutable_mute());
            } else if constexpr (std::is_same_v<T, RefreshToken>) {
                out.set_refresh_token(m.token.exposeSecret());
            } else if constexpr (std::is_same_v<T, TrackUnpublished>) {
                out.mutable_track_unpublished()->set_track_sid(m.trackSid);
            } else if constexpr (std::is_same_v<T, LegacyPong>) {
                out.set_pong(m.timestamp);
            } else if constexpr (std::is_same_v<T, ReconnectResponse>) {
                toPb(m, *out.mutable_reconnect());
            } else if constexpr (std::is_same_v<T, Pong>) {
                toPb(m, *out.mutable_pong_resp());
            } else if constexpr (std::is_same_v<T, RequestResponse>) {
                toPb(m, *out.mutable_request_response());
            } else if constexpr (std::is_same_v<T, TrackSubscribed>) {
                out.mutable_track_subscribed()->set_track_sid(m.trackSid);
            } else if constexpr (std::is_same_v<T, StreamStateUpdate>) {
                toPb(m, *out.mutable_stream_state_update());
            } else if constexpr (std::is_same_v<T, SubscriptionResponse>) {
                auto& r = *out.mutable_subscription_response();
                r.set_track_sid(m.trackSid);
                r.set_err(static_cast<pb::SubscriptionError>(m.err));
            } else if constexpr (std::is_same_v<T, UnhandledResponse>) {
                // An empty length-delimited field with that number, which decodes back to the same
                // UnhandledResponse. A number that is not a valid field or that a handled case uses
                // gives an empty message (decoding it is an error).
                if (m.field >= 1 && m.field <= kMaxFieldNumber && !isHandledResponseCase(m.field)) {
                    std::string bytes;
                    {
                        google::protobuf::io::StringOutputStream s(&bytes);
                        google::protobuf::io::CodedOutputStream coded(&s);
                        WireFormatLite::WriteTag(m.field, WireFormatLite::WIRETYPE_LENGTH_DELIMITED, &coded);
                        coded.WriteVarint32(0);
                    }
                    unhandled.assign(bytes.begin(), bytes.end());
                }
            } else {
                static_assert(kAlwaysFalse<T>, "SignalResponse alternative without an encoding");
            }
        },
        response);
    if (std::holds_alternative<UnhandledResponse>(response)) return unhandled;
    return serialize(out);
}

Result<SignalResponse> decodeResponse(std::span<const std::uint8_t> bytes) {
    pb::SignalResponse in;
    if (!parse(in, bytes)) return doesNotParse(bytes.size());
    switch (in.message_case()) {
        case pb::SignalResponse::kJoin:
            return SignalResponse{fromPb(in.join())};
        case pb::SignalResponse::kAnswer:
            return SignalResponse{PublisherAnswer{fromPb(in.answer())}};
        case pb::SignalResponse::kOffer:
            return SignalResponse{SubscriberOffer{fromPb(in.offer())}};
        case pb::SignalResponse::kTrickle:
            return SignalResponse{fromPb(in.trickle())};
        case pb::SignalResponse::kUpdate: {
            ParticipantUpdate update;
            for (const auto& p : in.update().participants())
                update.participants.push_back(fromPb(p));
            return SignalResponse{std::move(update)};
        }
        case pb::SignalResponse::kTrackPublished:
            return SignalResponse{fromPb(in.track_published())};
        case pb::SignalResponse::kLeave:
            return SignalResponse{fromPb(in.leave())};
        case pb::SignalResponse::kMute:
            return SignalResponse{ServerMute{fromPb(in.mute())}};
        case pb::SignalResponse::kStreamStateUpdate:
            return SignalResponse{fromPb(in.stream_state_update())};
        case pb::SignalResponse::kRefreshToken:
            return SignalResponse{RefreshToken{Redacted<std::string>(in.refresh_token())}};
        case pb::SignalResponse::kTrackUnpublished:
            return SignalResponse{TrackUnpublished{in.track_unpublished().track_sid()}};
        case pb::SignalResponse::kPong:
            return SignalResponse{LegacyPong{in.pong()}};
        case pb::SignalResponse::kReconnect:
            return SignalResponse{fromPb(in.reconnect())};
        case pb::SignalResponse::kPongResp:
            return SignalResponse{fromPb(in.pong_resp())};
        case pb::SignalResponse::kSubscriptionResponse:
            return SignalResponse{SubscriptionResponse{
                .trackSid = in.subscription_response().track_sid(),
                .err = static_cast<int>(in.subscription_response().err()),
            }};
        case pb::SignalResponse::kRequestResponse:
            return SignalResponse{fromPb(in.request_response())};
        case pb::SignalResponse::kTrackSubscribed:
            return SignalResponse{TrackSubscribed{in.track_subscribed().track_sid()}};
        case pb::SignalResponse::MESSAGE_NOT_SET:
            break;
    }
    // Every top-level field here is unknown to our schema: a oneof case of a newer server, or one we
    // leave out (speakers_changed, room_update, …). As for any oneof, the last one counts. A
    // number we do handle can only be unknown if its wire type was wrong.
    const int field = lastTopLevelField(bytes);
    if (field == 0) return noCase("signal response", bytes.size());
    if (isHandledResponseCase(field)) return wrongWireType("signal response", field);
    return SignalResponse{UnhandledResponse{field}};
}

Result<SignalRequest> decodeRequest(std::span<const std::uint8_t> bytes) {
    pb::SignalRequest in;
    if (!parse(in, bytes)) return doesNotParse(bytes.size());
    switch (in.message_case()) {
        case pb::SignalRequest::kOffer:
            return SignalRequest{PublisherOffer{fromPb(in.offer())}};
        case pb::SignalRequest::kAnswer:
            return SignalRequest{SubscriberAnswer{fromPb(in.answer())}};
        case pb::SignalRequest::kTrickle:
            return SignalRequest{fromPb(in.trickle())};
        case pb::SignalRequest::kAddTrack:
            return SignalRequest{fromPb(in.add_track())};
        case pb::SignalRequest::kMute:
            return SignalRequest{fromPb(in.mute())};
        case pb::SignalRequest::kSubscription:
            return SignalRequest{fromPb(in.subscription())};
        case pb::SignalRequest::kLeave:
            return SignalRequest{fromPb(in.leave())};
        case pb::SignalRequest::kSyncState:
            return SignalRequest{fromPb(in.sync_state())};
        case pb::SignalRequest::kPing:
            return SignalRequest{LegacyPing{in.ping()}};
        case pb::SignalRequest::kPingReq:
            return SignalRequest{fromPb(in.ping_req())};
        case pb::SignalRequest::MESSAGE_NOT_SET:
            break;
    }
    const int field = lastTopLevelField(bytes);
    if (field == 0) return noCase("signal request", bytes.size());
    if (isRequestCase(field)) return wrongWireType("signal request", field);
    return makeError(errcode::kUnsupported,
                     "LiveKit signal request case " + std::to_string(field) + " is not supported");
}

}  // namespace mxrtc::livekit
