// LiveKit signal messages (livekit-server v1.13.5, protocol 17) as plain C++ values: the subset of
// livekit_rtc.proto / livekit_models.proto that mxrtc reads or writes, with the wire names in the
// comments. The protobuf schema (proto/livekit_signal.proto) and the codec (codec.hpp) translate
// between these and bytes; everything else in mxrtc (the signal session, the shell, tests) uses
// only these types, so no generated protobuf type appears in a public header.
//
// Enums keep the wire numbers; a value this header does not name survives decoding as its number
// (static_cast), so diagnostics can still print it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "mxrtc/common/redacted.hpp"

namespace mxrtc::livekit {

// The protocol version we announce (`protocol=` in the join URL). Behaviour that depends on it:
// subscriber-primary (>2), transceiver reuse (>3), identity-based resume (>11), LeaveRequest.action
// (>12), msid "PA_sid|stream" sync stream ids (>9).
inline constexpr int kProtocolVersion = 17;

enum class TrackType : int { Audio = 0, Video = 1, Data = 2 };
enum class TrackSource : int {
    Unknown = 0,
    Camera = 1,
    Microphone = 2,
    ScreenShare = 3,
    ScreenShareAudio = 4
};
enum class EncryptionType : int { None = 0, Gcm = 1, Custom = 2 };  // Encryption.Type
enum class SignalTarget : int { Publisher = 0, Subscriber = 1 };
enum class VideoQuality : int { Low = 0, Medium = 1, High = 2, Off = 3 };
enum class AudioTrackFeature : int { Stereo = 0, NoDtx = 1, AutoGainControl = 2, EchoCancellation = 3 };
enum class ParticipantState : int { Joining = 0, Joined = 1, Active = 2, Disconnected = 3 };
enum class DisconnectReason : int {
    Unknown = 0,
    ClientInitiated = 1,
    DuplicateIdentity = 2,
    ServerShutdown = 3,
    ParticipantRemoved = 4,
    RoomDeleted = 5,
    StateMismatch = 6,
    JoinFailure = 7,
    Migration = 8,
    SignalClose = 9,
    RoomClosed = 10,
    UserUnavailable = 11,
    UserRejected = 12,
};
enum class LeaveAction : int { Disconnect = 0, Resume = 1, Reconnect = 2 };  // LeaveRequest.Action
enum class RequestReason : int {                                             // RequestResponse.Reason
    Ok = 0,
    NotFound = 1,
    NotAllowed = 2,
    LimitExceeded = 3,
    Queued = 4,
    UnsupportedType = 5,
    UnclassifiedError = 6,
};
enum class StreamState : int { Active = 0, Paused = 1 };

std::string_view toString(DisconnectReason r);  // "client_initiated", …; numbers we do not name: "other"
std::string_view toString(RequestReason r);
std::string_view toString(TrackType t);

// ---- models ----------------------------------------------------------------------------------
struct VideoLayer {  // VideoLayer
    VideoQuality quality = VideoQuality::Low;
    std::uint32_t width = 0;
    std::uint32_t height = 0;
    std::uint32_t bitrate = 0;
    std::uint32_t ssrc = 0;
    friend bool operator==(const VideoLayer&, const VideoLayer&) = default;
};

struct TrackInfo {    // TrackInfo
    std::string sid;  // "TR_…"
    TrackType type = TrackType::Audio;
    std::string name;
    bool muted = false;
    std::uint32_t width = 0;
    std::uint32_t height = 0;
    TrackSource source = TrackSource::Unknown;
    std::string mimeType;  // mime_type, e.g. "audio/opus", "video/VP8"
    std::string mid;
    bool disableRed = false;
    EncryptionType encryption = EncryptionType::None;
    std::string stream;
    friend bool operator==(const TrackInfo&, const TrackInfo&) = default;
};

struct ParticipantInfo {  // ParticipantInfo
    std::string sid;      // "PA_…"
    std::string identity;
    ParticipantState state = ParticipantState::Joining;
    std::vector<TrackInfo> tracks;
    std::string name;
    std::uint32_t version = 0;  // increases with every change; older updates are stale
    bool isPublisher = false;
    DisconnectReason disconnectReason = DisconnectReason::Unknown;
    std::int64_t joinedAtMs = 0;  // joined_at_ms
    friend bool operator==(const ParticipantInfo&, const ParticipantInfo&) = default;
};

struct IceServer {  // ICEServer
    std::vector<std::string> urls;
    std::string username;
    Redacted<std::string> credential;
    friend bool operator==(const IceServer&, const IceServer&) = default;
};

struct ServerInfo {  // ServerInfo
    std::string version;
    std::int32_t protocol = 0;
    std::string region;
    std::string nodeId;  // node_id
    friend bool operator==(const ServerInfo&, const ServerInfo&) = default;
};

struct RoomInfo {  // Room (only what we report)
    std::string sid;
    std::string name;
    friend bool operator==(const RoomInfo&, const RoomInfo&) = default;
};

struct Codec {  // Codec
    std::string mime;
    std::string fmtpLine;
    friend bool operator==(const Codec&, const Codec&) = default;
};

struct SessionDescription {  // SessionDescription
    std::string type;        // "offer" | "answer"
    std::string sdp;
    std::uint32_t id = 0;                             // echo the server's offer id in the answer
    std::map<std::string, std::string> midToTrackId;  // mid_to_track_id
    friend bool operator==(const SessionDescription&, const SessionDescription&) = default;
};

struct Trickle {                // TrickleRequest (both directions)
    std::string candidateInit;  // candidateInit: JSON of RTCIceCandidateInit
    SignalTarget target = SignalTarget::Publisher;
    bool final = false;
    friend bool operator==(const Trickle&, const Trickle&) = default;
};

struct AddTrack {     // AddTrackRequest
    std::string cid;  // = the track id of the a=msid / a=ssrc msid lines of its media section
    std::string name;
    TrackType type = TrackType::Audio;
    std::uint32_t width = 0;
    std::uint32_t height = 0;
    bool muted = false;
    TrackSource source = TrackSource::Unknown;
    std::vector<VideoLayer> layers;
    bool disableRed = false;
    EncryptionType encryption = EncryptionType::None;
    std::string stream;
    std::vector<AudioTrackFeature> audioFeatures;
    friend bool operator==(const AddTrack&, const AddTrack&) = default;
};

struct MuteTrack {  // MuteTrackRequest (client -> server, and server-initiated mute)
    std::string sid;
    bool muted = false;
    friend bool operator==(const MuteTrack&, const MuteTrack&) = default;
};

struct UpdateSubscription {  // UpdateSubscription (track_sids, subscribe)
    std::vector<std::string> trackSids;
    bool subscribe = true;
    friend bool operator==(const UpdateSubscription&, const UpdateSubscription&) = default;
};

struct Leave {  // LeaveRequest
    bool canReconnect = false;
    DisconnectReason reason = DisconnectReason::Unknown;
    LeaveAction action = LeaveAction::Disconnect;
    friend bool operator==(const Leave&, const Leave&) = default;
};

struct Ping {                    // Ping (ping_req)
    std::int64_t timestamp = 0;  // Unix ms
    std::int64_t rtt = 0;        // ms, our last measurement
    friend bool operator==(const Ping&, const Ping&) = default;
};

struct Pong {  // Pong (pong_resp)
    std::int64_t lastPingTimestamp = 0;
    std::int64_t timestamp = 0;
    friend bool operator==(const Pong&, const Pong&) = default;
};

struct TrackPublished {  // TrackPublishedResponse
    std::string cid;
    TrackInfo track;
    friend bool operator==(const TrackPublished&, const TrackPublished&) = default;
};

struct SyncState {                            // SyncState: what we have, sent after a resume
    SessionDescription answer;                // our last subscriber answer
    std::optional<SessionDescription> offer;  // our last publisher offer
    UpdateSubscription subscription;
    std::vector<TrackPublished> publishTracks;
    friend bool operator==(const SyncState&, const SyncState&) = default;
};

// ---- server -> client ---------------------------------------------------------------------------
struct JoinResponse {  // SignalResponse.join
    RoomInfo room;
    ParticipantInfo participant;
    std::vector<ParticipantInfo> otherParticipants;
    std::vector<IceServer> iceServers;
    bool subscriberPrimary = false;
    std::string alternativeUrl;
    std::int32_t pingTimeout = 0;   // s
    std::int32_t pingInterval = 0;  // s
    ServerInfo serverInfo;
    std::vector<std::uint8_t> sifTrailer;  // server-injected frames end in these bytes
    std::vector<Codec> enabledPublishCodecs;
    bool fastPublish = false;
    friend bool operator==(const JoinResponse&, const JoinResponse&) = default;
};

struct ReconnectResponse {  // SignalResponse.reconnect
    std::vector<IceServer> iceServers;
    ServerInfo serverInfo;
    std::uint32_t lastMessageSeq = 0;
    friend bool operator==(const ReconnectResponse&, const ReconnectResponse&) = default;
};

struct PublisherAnswer {  // SignalResponse.answer
    SessionDescription description;
    friend bool operator==(const PublisherAnswer&, const PublisherAnswer&) = default;
};
struct SubscriberOffer {  // SignalResponse.offer
    SessionDescription description;
    friend bool operator==(const SubscriberOffer&, const SubscriberOffer&) = default;
};
struct ParticipantUpdate {  // SignalResponse.update
    std::vector<ParticipantInfo> participants;
    friend bool operator==(const ParticipantUpdate&, const ParticipantUpdate&) = default;
};
struct ServerMute {  // SignalResponse.mute
    MuteTrack mute;
    friend bool operator==(const ServerMute&, const ServerMute&) = default;
};
struct RefreshToken {  // SignalResponse.refresh_token: use it for the next reconnect
    Redacted<std::string> token;
    friend bool operator==(const RefreshToken&, const RefreshToken&) = default;
};
struct TrackUnpublished {  // SignalResponse.track_unpublished
    std::string trackSid;
    friend bool operator==(const TrackUnpublished&, const TrackUnpublished&) = default;
};
struct LegacyPong {  // SignalResponse.pong (int64)
    std::int64_t timestamp = 0;
    friend bool operator==(const LegacyPong&, const LegacyPong&) = default;
};
struct RequestResponse {  // SignalResponse.request_response
    std::uint32_t requestId = 0;
    RequestReason reason = RequestReason::Ok;
    std::string message;
    std::optional<AddTrack> addTrack;  // the request it answers, when it was an AddTrack
    std::optional<MuteTrack> mute;     // … or a mute
    friend bool operator==(const RequestResponse&, const RequestResponse&) = default;
};
struct TrackSubscribed {  // SignalResponse.track_subscribed (one of our tracks got a subscriber)
    std::string trackSid;
    friend bool operator==(const TrackSubscribed&, const TrackSubscribed&) = default;
};
struct StreamStateInfo {
    std::string participantSid;
    std::string trackSid;
    StreamState state = StreamState::Active;
    friend bool operator==(const StreamStateInfo&, const StreamStateInfo&) = default;
};
struct StreamStateUpdate {  // SignalResponse.stream_state_update (paused for congestion, …)
    std::vector<StreamStateInfo> streamStates;
    friend bool operator==(const StreamStateUpdate&, const StreamStateUpdate&) = default;
};
struct SubscriptionResponse {  // SignalResponse.subscription_response (a subscription failed)
    std::string trackSid;
    int err = 0;  // SubscriptionError: 0 unknown, 1 codec unsupported, 2 track not found
    friend bool operator==(const SubscriptionResponse&, const SubscriptionResponse&) = default;
};
// A oneof case we decode but do not act on (speakers, quality, room update, …) or do not know:
// kept with its field number for diagnostics.
struct UnhandledResponse {
    int field = 0;
    friend bool operator==(const UnhandledResponse&, const UnhandledResponse&) = default;
};

using SignalResponse =
    std::variant<JoinResponse, PublisherAnswer, SubscriberOffer, Trickle, ParticipantUpdate, TrackPublished,
                 Leave, ServerMute, RefreshToken, TrackUnpublished, LegacyPong, ReconnectResponse, Pong,
                 RequestResponse, TrackSubscribed, StreamStateUpdate, SubscriptionResponse,
                 UnhandledResponse>;

// ---- client -> server ---------------------------------------------------------------------------
struct PublisherOffer {  // SignalRequest.offer
    SessionDescription description;
    friend bool operator==(const PublisherOffer&, const PublisherOffer&) = default;
};
struct SubscriberAnswer {  // SignalRequest.answer
    SessionDescription description;
    friend bool operator==(const SubscriberAnswer&, const SubscriberAnswer&) = default;
};
struct LegacyPing {  // SignalRequest.ping (int64), sent beside ping_req as livekit-client does
    std::int64_t timestamp = 0;
    friend bool operator==(const LegacyPing&, const LegacyPing&) = default;
};

using SignalRequest = std::variant<PublisherOffer, SubscriberAnswer, Trickle, AddTrack, MuteTrack,
                                   UpdateSubscription, Leave, SyncState, LegacyPing, Ping>;

}  // namespace mxrtc::livekit
