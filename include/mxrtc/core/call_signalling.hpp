// MSC2746 call signalling (spec §9): the `m.call.*` events of 1:1 VoIP, and the MSC3401 to-device
// fields that carry the same events between the devices of a full-mesh group call (spec §9.2).
// Parse + serialise side by side, byte-compatible field names with matrix-js-sdk. Untrusted input
// never throws; every validation error names the offending field.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "mxrtc/common/ids.hpp"
#include "mxrtc/common/result.hpp"
#include "mxrtc/common/time.hpp"

namespace mxrtc {
struct CallIdTag {};
struct PartyIdTag {};
using CallId = StrongId<CallIdTag>;    // MSC2746 call_id (one WebRTC session between two parties)
using PartyId = StrongId<PartyIdTag>;  // MSC2746 party_id (one client of a user; js-sdk: device id)
}  // namespace mxrtc

namespace mxrtc::core {

namespace call_wire {
// Event types (room events for 1:1 calls, to-device messages for mesh group calls).
inline constexpr std::string_view kInvite = "m.call.invite";
inline constexpr std::string_view kCandidates = "m.call.candidates";
inline constexpr std::string_view kAnswer = "m.call.answer";
inline constexpr std::string_view kSelectAnswer = "m.call.select_answer";
inline constexpr std::string_view kNegotiate = "m.call.negotiate";
inline constexpr std::string_view kReject = "m.call.reject";
inline constexpr std::string_view kHangup = "m.call.hangup";
inline constexpr std::string_view kSdpStreamMetadataChanged = "m.call.sdp_stream_metadata_changed";
inline constexpr std::string_view kSdpStreamMetadataChangedUnstable =
    "org.matrix.call.sdp_stream_metadata_changed";

// Common content.
inline constexpr std::string_view kCallId = "call_id";
inline constexpr std::string_view kPartyId = "party_id";
inline constexpr std::string_view kVersion = "version";
inline constexpr std::string_view kLifetime = "lifetime";
inline constexpr std::string_view kInvitee = "invitee";
inline constexpr std::string_view kOffer = "offer";
inline constexpr std::string_view kAnswerField = "answer";
inline constexpr std::string_view kDescription = "description";
inline constexpr std::string_view kType = "type";
inline constexpr std::string_view kSdp = "sdp";
inline constexpr std::string_view kCandidatesField = "candidates";
inline constexpr std::string_view kCandidate = "candidate";
inline constexpr std::string_view kSdpMid = "sdpMid";
inline constexpr std::string_view kSdpMLineIndex = "sdpMLineIndex";
inline constexpr std::string_view kSelectedPartyId = "selected_party_id";
inline constexpr std::string_view kReason = "reason";
inline constexpr std::string_view kCapabilities = "capabilities";
inline constexpr std::string_view kCapTransferee = "m.call.transferee";
inline constexpr std::string_view kCapDtmf = "m.call.dtmf";
// MSC3077 / MSC3291 stream metadata (read both keys, write both).
inline constexpr std::string_view kSdpStreamMetadata = "sdp_stream_metadata";
inline constexpr std::string_view kSdpStreamMetadataUnstable = "org.matrix.msc3077.sdp_stream_metadata";
inline constexpr std::string_view kPurpose = "purpose";
inline constexpr std::string_view kAudioMuted = "audio_muted";
inline constexpr std::string_view kVideoMuted = "video_muted";
inline constexpr std::string_view kUserMedia = "m.usermedia";
inline constexpr std::string_view kScreenshare = "m.screenshare";
// MSC3401 to-device group-call fields.
inline constexpr std::string_view kConfId = "conf_id";
inline constexpr std::string_view kDeviceId = "device_id";
inline constexpr std::string_view kSenderSessionId = "sender_session_id";
inline constexpr std::string_view kDestSessionId = "dest_session_id";
inline constexpr std::string_view kSeq = "seq";
inline constexpr std::string_view kMsgId = "org.matrix.msgid";
// SDP types.
inline constexpr std::string_view kSdpOffer = "offer";
inline constexpr std::string_view kSdpAnswer = "answer";
inline constexpr std::string_view kVersionOne = "1";
}  // namespace call_wire

enum class CallEventType {
    Invite,
    Candidates,
    Answer,
    SelectAnswer,
    Negotiate,
    Reject,
    Hangup,
    SdpStreamMetadataChanged
};
std::string_view toString(CallEventType t);  // the wire event type (stable name)
// The type we send: the stable name, except sdp_stream_metadata_changed, which js-sdk sends and
// listens for under its unstable name.
std::string_view sendEventType(CallEventType t);
std::optional<CallEventType> callEventTypeFromString(std::string_view type);  // accepts unstable names too
bool isCallEventType(std::string_view type);

enum class SdpType { Offer, Answer };
struct SessionDescription {
    SdpType type = SdpType::Offer;
    std::string sdp;
    friend bool operator==(const SessionDescription&, const SessionDescription&) = default;
};

// One trickled ICE candidate. An empty `candidate` is the end-of-candidates marker (MSC2746:
// mandatory to send once gathering completes).
struct IceCandidate {
    std::string candidate;
    std::optional<std::string> sdpMid;
    std::optional<std::uint32_t> sdpMLineIndex;
    bool endOfCandidates() const noexcept { return candidate.empty(); }
    friend bool operator==(const IceCandidate&, const IceCandidate&) = default;
};

enum class StreamPurpose { UserMedia, Screenshare };
std::string_view toString(StreamPurpose p);

// MSC3077 purpose + MSC3291 mute state of one MediaStream.
struct StreamMetadata {
    StreamPurpose purpose = StreamPurpose::UserMedia;
    std::optional<bool> audioMuted;
    std::optional<bool> videoMuted;
    friend bool operator==(const StreamMetadata&, const StreamMetadata&) = default;
};
// Keyed by MediaStream id (the msid in the SDP). Streams with an unknown purpose are dropped when
// parsing (spec: ignored), so what remains is always understood.
using SdpStreamMetadata = std::map<std::string, StreamMetadata>;

struct CallCapabilities {
    std::optional<bool> transferee;
    std::optional<bool> dtmf;
    friend bool operator==(const CallCapabilities&, const CallCapabilities&) = default;
};

enum class HangupReason {
    UserHangup,  // also the meaning of a missing reason
    IceFailed,
    IceTimeout,
    InviteTimeout,
    UserMediaFailed,
    UserBusy,
    UnknownError,
    // js-sdk extensions
    Replaced,
    AnsweredElsewhere,
    SignallingTimeout,
    Other,  // any other string: kept verbatim in Hangup::otherReason
};
std::string_view toString(HangupReason r);
HangupReason hangupReasonFromString(std::string_view s);

// ---- bodies ------------------------------------------------------------------------------------
struct Invite {
    SessionDescription offer;  // type Offer
    Duration lifetime{90'000};
    std::optional<UserId> invitee;
    std::optional<SdpStreamMetadata> metadata;
    std::optional<CallCapabilities> capabilities;
    friend bool operator==(const Invite&, const Invite&) = default;
};
struct Candidates {
    std::vector<IceCandidate> candidates;  // never empty
    friend bool operator==(const Candidates&, const Candidates&) = default;
};
struct Answer {
    SessionDescription answer;  // type Answer
    std::optional<SdpStreamMetadata> metadata;
    std::optional<CallCapabilities> capabilities;
    friend bool operator==(const Answer&, const Answer&) = default;
};
struct SelectAnswer {
    PartyId selectedPartyId;
    friend bool operator==(const SelectAnswer&, const SelectAnswer&) = default;
};
struct Negotiate {
    SessionDescription description;  // offer or answer
    std::optional<Duration> lifetime;
    std::optional<SdpStreamMetadata> metadata;
    friend bool operator==(const Negotiate&, const Negotiate&) = default;
};
struct Reject {
    friend bool operator==(const Reject&, const Reject&) = default;
};
struct Hangup {
    HangupReason reason = HangupReason::UserHangup;
    std::string otherReason;    // the verbatim string when reason == Other
    bool reasonPresent = true;  // false: the field was absent (still means user_hangup)
    friend bool operator==(const Hangup&, const Hangup&) = default;
};
struct SdpStreamMetadataChanged {
    SdpStreamMetadata metadata;
    friend bool operator==(const SdpStreamMetadataChanged&, const SdpStreamMetadataChanged&) = default;
};

using CallBody = std::variant<Invite, Candidates, Answer, SelectAnswer, Negotiate, Reject, Hangup,
                              SdpStreamMetadataChanged>;

// MSC3401 fields every to-device call message carries (spec §9.2).
struct GroupCallFields {
    std::string confId;                // the group call id
    DeviceId deviceId;                 // the sender's device
    std::string senderSessionId;       // the sender's current session id
    std::string destSessionId;         // must equal the receiver's current session id, else drop
    std::uint64_t seq = 0;             // per call, from 0, +1 per message
    std::optional<std::string> msgId;  // js-sdk's org.matrix.msgid
    friend bool operator==(const GroupCallFields&, const GroupCallFields&) = default;
};

// Which transport the message arrived on / is for. ToDevice requires the group-call fields.
enum class CallTransport { Room, ToDevice };

struct CallMessage {
    CallId callId;
    PartyId partyId;
    int version = 1;  // "1" on the wire; integer 0 = legacy v0 (anything else is treated as 1)
    CallBody body;
    std::optional<GroupCallFields> group;

    CallEventType type() const noexcept { return static_cast<CallEventType>(body.index()); }
    friend bool operator==(const CallMessage&, const CallMessage&) = default;
};

// call_id / party_id grammar: 1-255 chars of [0-9a-zA-Z._~-] (spec §9.1).
bool isValidCallIdentifier(std::string_view id);

Result<CallMessage> parseCallMessage(std::string_view eventType, const nlohmann::json& content,
                                     CallTransport transport = CallTransport::Room);
nlohmann::json serializeCallMessage(const CallMessage& message);

Result<SdpStreamMetadata> parseSdpStreamMetadata(const nlohmann::json& value, std::string_view field);
nlohmann::json serializeSdpStreamMetadata(const SdpStreamMetadata& metadata);

}  // namespace mxrtc::core
