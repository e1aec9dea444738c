#include "mxrtc/core/call_signalling.hpp"

#include <array>

#include "core/json_fields.hpp"

namespace mxrtc::core {

namespace w = call_wire;
using Json = nlohmann::json;
using detail::fieldError;
using detail::find;

namespace {

constexpr std::array<std::string_view, 8> kTypeNames = {
    w::kInvite,    w::kCandidates, w::kAnswer, w::kSelectAnswer,
    w::kNegotiate, w::kReject,     w::kHangup, w::kSdpStreamMetadataChanged,
};

struct ReasonName {
    HangupReason reason;
    std::string_view name;
};
constexpr std::array<ReasonName, 10> kReasons = {{
    {HangupReason::UserHangup, "user_hangup"},
    {HangupReason::IceFailed, "ice_failed"},
    {HangupReason::IceTimeout, "ice_timeout"},
    {HangupReason::InviteTimeout, "invite_timeout"},
    {HangupReason::UserMediaFailed, "user_media_failed"},
    {HangupReason::UserBusy, "user_busy"},
    {HangupReason::UnknownError, "unknown_error"},
    {HangupReason::Replaced, "replaced"},
    {HangupReason::AnsweredElsewhere, "answered_elsewhere"},
    {HangupReason::SignallingTimeout, "signalling_timeout"},
}};

bool isIdChar(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' ||
           c == '_' || c == '~' || c == '-';
}

Result<std::string> requireString(const Json& content, std::string_view field) {
    const Json* v = find(content, field);
    if (v == nullptr || v->is_null()) return fieldError(field, "is required");
    if (!v->is_string()) return fieldError(field, "must be a string");
    return v->get<std::string>();
}

Result<std::string> requireIdentifier(const Json& content, std::string_view field) {
    MXRTC_TRY_ASSIGN(s, requireString(content, field));
    if (!isValidCallIdentifier(s)) return fieldError(field, "must be 1-255 characters of [0-9a-zA-Z._~-]");
    return s;
}

// Optional boolean: absent/null -> nullopt; anything else but a bool is an error.
Result<std::optional<bool>> optionalBool(const Json& obj, std::string_view key, std::string_view field) {
    const Json* v = find(obj, key);
    if (v == nullptr || v->is_null()) return std::optional<bool>{};
    if (!v->is_boolean()) return fieldError(field, "must be a boolean");
    return std::optional<bool>{v->get<bool>()};
}

Result<Duration> parseLifetime(const Json& v, std::string_view field) {
    auto n = detail::asInt(v);
    if (!n) return fieldError(field, "must be an integer (milliseconds)");
    if (*n < 0) return fieldError(field, "must not be negative");
    return Duration{*n};
}

Result<SessionDescription> parseDescription(const Json& content, std::string_view key,
                                            std::optional<SdpType> expected) {
    const Json* d = find(content, key);
    if (d == nullptr || d->is_null()) return fieldError(key, "is required");
    if (!d->is_object()) return fieldError(key, "must be an object");
    const std::string typeField = std::string(key) + ".type";
    const std::string sdpField = std::string(key) + ".sdp";
    const Json* t = find(*d, w::kType);
    if (t == nullptr || !t->is_string()) return fieldError(typeField, "must be \"offer\" or \"answer\"");
    SessionDescription out;
    const auto& ts = t->get_ref<const std::string&>();
    if (ts == w::kSdpOffer) {
        out.type = SdpType::Offer;
    } else if (ts == w::kSdpAnswer) {
        out.type = SdpType::Answer;
    } else {
        return fieldError(typeField, "must be \"offer\" or \"answer\"");
    }
    if (expected && out.type != *expected)
        return fieldError(typeField,
                          *expected == SdpType::Offer ? "must be \"offer\"" : "must be \"answer\"");
    const Json* s = find(*d, w::kSdp);
    if (s == nullptr || !s->is_string()) return fieldError(sdpField, "must be a string");
    out.sdp = s->get<std::string>();
    if (out.sdp.empty()) return fieldError(sdpField, "must not be empty");
    return out;
}

Json serializeDescription(const SessionDescription& d) {
    return Json{{w::kType, d.type == SdpType::Offer ? w::kSdpOffer : w::kSdpAnswer}, {w::kSdp, d.sdp}};
}

// Reads sdp_stream_metadata (stable key preferred, else the MSC3077 unstable key).
Result<std::optional<SdpStreamMetadata>> optionalMetadata(const Json& content) {
    for (std::string_view key : {w::kSdpStreamMetadata, w::kSdpStreamMetadataUnstable}) {
        const Json* v = find(content, key);
        if (v == nullptr || v->is_null()) continue;
        MXRTC_TRY_ASSIGN(m, parseSdpStreamMetadata(*v, key));
        return std::optional<SdpStreamMetadata>{std::move(m)};
    }
    return std::optional<SdpStreamMetadata>{};
}

void putMetadata(Json& content, const std::optional<SdpStreamMetadata>& m) {
    if (!m) return;
    // js-sdk writes the unstable key; newer clients read the stable one. Write both.
    Json j = serializeSdpStreamMetadata(*m);
    content[std::string(w::kSdpStreamMetadata)] = j;
    content[std::string(w::kSdpStreamMetadataUnstable)] = std::move(j);
}

Result<std::optional<CallCapabilities>> optionalCapabilities(const Json& content) {
    const Json* v = find(content, w::kCapabilities);
    if (v == nullptr || v->is_null()) return std::optional<CallCapabilities>{};
    if (!v->is_object()) return fieldError(w::kCapabilities, "must be an object");
    CallCapabilities caps;
    MXRTC_TRY_ASSIGN(t, optionalBool(*v, w::kCapTransferee, "capabilities.m.call.transferee"));
    MXRTC_TRY_ASSIGN(d, optionalBool(*v, w::kCapDtmf, "capabilities.m.call.dtmf"));
    caps.transferee = t;
    caps.dtmf = d;
    return std::optional<CallCapabilities>{caps};
}

void putCapabilities(Json& content, const std::optional<CallCapabilities>& caps) {
    if (!caps) return;
    Json j = Json::object();
    if (caps->transferee) j[std::string(w::kCapTransferee)] = *caps->transferee;
    if (caps->dtmf) j[std::string(w::kCapDtmf)] = *caps->dtmf;
    content[std::string(w::kCapabilities)] = std::move(j);
}

Result<IceCandidate> parseCandidate(const Json& c, std::size_t i) {
    const std::string base = "candidates[" + std::to_string(i) + "]";
    if (!c.is_object()) return fieldError(base, "must be an object");
    IceCandidate out;
    const Json* cand = find(c, w::kCandidate);
    if (cand == nullptr || !cand->is_string()) return fieldError(base + ".candidate", "must be a string");
    out.candidate = cand->get<std::string>();
    if (const Json* mid = find(c, w::kSdpMid); mid != nullptr && !mid->is_null()) {
        if (!mid->is_string()) return fieldError(base + ".sdpMid", "must be a string or null");
        out.sdpMid = mid->get<std::string>();
    }
    if (const Json* idx = find(c, w::kSdpMLineIndex); idx != nullptr && !idx->is_null()) {
        auto n = detail::asInt(*idx);
        if (!n || *n < 0 || *n > 65535)
            return fieldError(base + ".sdpMLineIndex", "must be an integer 0-65535 or null");
        out.sdpMLineIndex = static_cast<std::uint32_t>(*n);
    }
    return out;
}

Result<GroupCallFields> parseGroupFields(const Json& content) {
    GroupCallFields g;
    MXRTC_TRY_ASSIGN(conf, requireString(content, w::kConfId));
    if (conf.empty()) return fieldError(w::kConfId, "must not be empty");
    MXRTC_TRY_ASSIGN(dev, requireString(content, w::kDeviceId));
    if (dev.empty()) return fieldError(w::kDeviceId, "must not be empty");
    MXRTC_TRY_ASSIGN(sender, requireString(content, w::kSenderSessionId));
    MXRTC_TRY_ASSIGN(dest, requireString(content, w::kDestSessionId));
    const Json* seq = find(content, w::kSeq);
    if (seq == nullptr || seq->is_null()) return fieldError(w::kSeq, "is required");
    auto n = detail::asInt(*seq);
    if (!n || *n < 0) return fieldError(w::kSeq, "must be a non-negative integer");
    if (const Json* id = find(content, w::kMsgId); id != nullptr && !id->is_null()) {
        if (!id->is_string()) return fieldError(w::kMsgId, "must be a string");
        g.msgId = id->get<std::string>();
    }
    g.confId = std::move(conf);
    g.deviceId = DeviceId(std::move(dev));
    g.senderSessionId = std::move(sender);
    g.destSessionId = std::move(dest);
    g.seq = static_cast<std::uint64_t>(*n);
    return g;
}

Result<CallBody> parseBody(CallEventType type, const Json& content) {
    switch (type) {
        case CallEventType::Invite: {
            Invite inv;
            MXRTC_TRY_ASSIGN(offer, parseDescription(content, w::kOffer, SdpType::Offer));
            inv.offer = std::move(offer);
            const Json* lt = find(content, w::kLifetime);
            if (lt == nullptr || lt->is_null()) return fieldError(w::kLifetime, "is required");
            MXRTC_TRY_ASSIGN(lifetime, parseLifetime(*lt, w::kLifetime));
            inv.lifetime = lifetime;
            if (const Json* who = find(content, w::kInvitee); who != nullptr && !who->is_null()) {
                if (!who->is_string() || who->get_ref<const std::string&>().empty() ||
                    who->get_ref<const std::string&>()[0] != '@')
                    return fieldError(w::kInvitee, "must be a user id");
                inv.invitee = UserId(who->get<std::string>());
            }
            MXRTC_TRY_ASSIGN(meta, optionalMetadata(content));
            inv.metadata = std::move(meta);
            MXRTC_TRY_ASSIGN(caps, optionalCapabilities(content));
            inv.capabilities = caps;
            return CallBody{std::move(inv)};
        }
        case CallEventType::Candidates: {
            const Json* arr = find(content, w::kCandidatesField);
            if (arr == nullptr || arr->is_null()) return fieldError(w::kCandidatesField, "is required");
            if (!arr->is_array()) return fieldError(w::kCandidatesField, "must be an array");
            if (arr->empty()) return fieldError(w::kCandidatesField, "must not be empty");
            Candidates out;
            out.candidates.reserve(arr->size());
            for (std::size_t i = 0; i < arr->size(); ++i) {
                MXRTC_TRY_ASSIGN(c, parseCandidate((*arr)[i], i));
                out.candidates.push_back(std::move(c));
            }
            return CallBody{std::move(out)};
        }
        case CallEventType::Answer: {
            Answer a;
            MXRTC_TRY_ASSIGN(desc, parseDescription(content, w::kAnswerField, SdpType::Answer));
            a.answer = std::move(desc);
            MXRTC_TRY_ASSIGN(meta, optionalMetadata(content));
            a.metadata = std::move(meta);
            MXRTC_TRY_ASSIGN(caps, optionalCapabilities(content));
            a.capabilities = caps;
            return CallBody{std::move(a)};
        }
        case CallEventType::SelectAnswer: {
            MXRTC_TRY_ASSIGN(sel, requireIdentifier(content, w::kSelectedPartyId));
            return CallBody{SelectAnswer{PartyId(std::move(sel))}};
        }
        case CallEventType::Negotiate: {
            Negotiate n;
            MXRTC_TRY_ASSIGN(desc, parseDescription(content, w::kDescription, std::nullopt));
            n.description = std::move(desc);
            if (const Json* lt = find(content, w::kLifetime); lt != nullptr && !lt->is_null()) {
                MXRTC_TRY_ASSIGN(lifetime, parseLifetime(*lt, w::kLifetime));
                n.lifetime = lifetime;
            }
            MXRTC_TRY_ASSIGN(meta, optionalMetadata(content));
            n.metadata = std::move(meta);
            return CallBody{std::move(n)};
        }
        case CallEventType::Reject:
            return CallBody{Reject{}};
        case CallEventType::Hangup: {
            Hangup h;
            const Json* r = find(content, w::kReason);
            if (r == nullptr || r->is_null()) {
                h.reasonPresent = false;
                return CallBody{h};
            }
            if (!r->is_string()) return fieldError(w::kReason, "must be a string");
            const auto& s = r->get_ref<const std::string&>();
            if (s.empty()) return fieldError(w::kReason, "must not be empty");
            h.reason = hangupReasonFromString(s);
            if (h.reason == HangupReason::Other) h.otherReason = s;
            return CallBody{std::move(h)};
        }
        case CallEventType::SdpStreamMetadataChanged: {
            MXRTC_TRY_ASSIGN(meta, optionalMetadata(content));
            if (!meta) return fieldError(w::kSdpStreamMetadata, "is required");
            return CallBody{SdpStreamMetadataChanged{std::move(*meta)}};
        }
    }
    return fieldError("type", "is not a call event type");
}

struct BodySerializer {
    Json& content;
    void operator()(const Invite& inv) const {
        content[std::string(w::kOffer)] = serializeDescription(inv.offer);
        content[std::string(w::kLifetime)] = inv.lifetime.count();
        if (inv.invitee) content[std::string(w::kInvitee)] = inv.invitee->str();
        putMetadata(content, inv.metadata);
        putCapabilities(content, inv.capabilities);
    }
    void operator()(const Candidates& c) const {
        Json arr = Json::array();
        for (const auto& cand : c.candidates) {
            Json j{{w::kCandidate, cand.candidate}};
            // js-sdk/browsers always send both keys; null when unknown.
            j[std::string(w::kSdpMid)] = cand.sdpMid ? Json(*cand.sdpMid) : Json(nullptr);
            j[std::string(w::kSdpMLineIndex)] =
                cand.sdpMLineIndex ? Json(*cand.sdpMLineIndex) : Json(nullptr);
            arr.push_back(std::move(j));
        }
        content[std::string(w::kCandidatesField)] = std::move(arr);
    }
    void operator()(const Answer& a) const {
        content[std::string(w::kAnswerField)] = serializeDescription(a.answer);
        putMetadata(content, a.metadata);
        putCapabilities(content, a.capabilities);
    }
    void operator()(const SelectAnswer& s) const {
        content[std::string(w::kSelectedPartyId)] = s.selectedPartyId.str();
    }
    void operator()(const Negotiate& n) const {
        content[std::string(w::kDescription)] = serializeDescription(n.description);
        if (n.lifetime) content[std::string(w::kLifetime)] = n.lifetime->count();
        putMetadata(content, n.metadata);
    }
    void operator()(const Reject&) const {}
    void operator()(const Hangup& h) const {
        if (!h.reasonPresent) return;
        content[std::string(w::kReason)] =
            h.reason == HangupReason::Other ? h.otherReason : std::string(toString(h.reason));
    }
    void operator()(const SdpStreamMetadataChanged& m) const { putMetadata(content, m.metadata); }
};

}  // namespace

std::string_view toString(CallEventType t) {
    return kTypeNames[static_cast<std::size_t>(t)];
}

std::optional<CallEventType> callEventTypeFromString(std::string_view type) {
    for (std::size_t i = 0; i < kTypeNames.size(); ++i)
        if (kTypeNames[i] == type) return static_cast<CallEventType>(i);
    if (type == w::kSdpStreamMetadataChangedUnstable) return CallEventType::SdpStreamMetadataChanged;
    return std::nullopt;
}

std::string_view sendEventType(CallEventType t) {
    return t == CallEventType::SdpStreamMetadataChanged ? w::kSdpStreamMetadataChangedUnstable : toString(t);
}

bool isCallEventType(std::string_view type) {
    return callEventTypeFromString(type).has_value();
}

std::string_view toString(StreamPurpose p) {
    return p == StreamPurpose::UserMedia ? w::kUserMedia : w::kScreenshare;
}

std::string_view toString(HangupReason r) {
    for (const auto& rn : kReasons)
        if (rn.reason == r) return rn.name;
    return "other";
}

HangupReason hangupReasonFromString(std::string_view s) {
    for (const auto& rn : kReasons)
        if (rn.name == s) return rn.reason;
    return HangupReason::Other;
}

bool isValidCallIdentifier(std::string_view id) {
    if (id.empty() || id.size() > 255) return false;
    for (char c : id)
        if (!isIdChar(c)) return false;
    return true;
}

Result<SdpStreamMetadata> parseSdpStreamMetadata(const Json& value, std::string_view field) {
    if (!value.is_object()) return fieldError(field, "must be an object");
    SdpStreamMetadata out;
    for (const auto& [streamId, entry] : value.items()) {
        const std::string base = std::string(field) + "." + streamId;
        if (!entry.is_object()) return fieldError(base, "must be an object");
        const Json* p = find(entry, w::kPurpose);
        if (p == nullptr || !p->is_string()) return fieldError(base + ".purpose", "must be a string");
        StreamMetadata m;
        const auto& ps = p->get_ref<const std::string&>();
        if (ps == w::kUserMedia) {
            m.purpose = StreamPurpose::UserMedia;
        } else if (ps == w::kScreenshare) {
            m.purpose = StreamPurpose::Screenshare;
        } else {
            continue;  // unknown purposes are ignored (spec §9.1)
        }
        MXRTC_TRY_ASSIGN(am, optionalBool(entry, w::kAudioMuted, base + ".audio_muted"));
        MXRTC_TRY_ASSIGN(vm, optionalBool(entry, w::kVideoMuted, base + ".video_muted"));
        m.audioMuted = am;
        m.videoMuted = vm;
        out.emplace(streamId, m);
    }
    return out;
}

Json serializeSdpStreamMetadata(const SdpStreamMetadata& metadata) {
    Json out = Json::object();
    for (const auto& [id, m] : metadata) {
        Json j{{w::kPurpose, toString(m.purpose)}};
        if (m.audioMuted) j[std::string(w::kAudioMuted)] = *m.audioMuted;
        if (m.videoMuted) j[std::string(w::kVideoMuted)] = *m.videoMuted;
        out[id] = std::move(j);
    }
    return out;
}

Result<CallMessage> parseCallMessage(std::string_view eventType, const Json& content,
                                     CallTransport transport) {
    auto type = callEventTypeFromString(eventType);
    if (!type) return fieldError("type", "is not an m.call.* event type");
    if (!content.is_object()) return fieldError("content", "must be an object");
    CallMessage msg;
    MXRTC_TRY_ASSIGN(callId, requireIdentifier(content, w::kCallId));
    msg.callId = CallId(std::move(callId));
    // version: "1" (string) today; integer 0 is legacy v0; any other value is treated as "1".
    const Json* v = find(content, w::kVersion);
    if (v == nullptr || v->is_null()) return fieldError(w::kVersion, "is required");
    if (auto n = detail::asInt(*v); n && *n == 0) {
        msg.version = 0;
    } else if (v->is_string() || v->is_number()) {
        msg.version = 1;
    } else {
        return fieldError(w::kVersion, "must be a string or a number");
    }
    // party_id: required from v1 on; v0 clients did not send one.
    if (msg.version == 0 &&
        (find(content, w::kPartyId) == nullptr || find(content, w::kPartyId)->is_null())) {
        msg.partyId = PartyId();
    } else {
        MXRTC_TRY_ASSIGN(party, requireIdentifier(content, w::kPartyId));
        msg.partyId = PartyId(std::move(party));
    }
    MXRTC_TRY_ASSIGN(body, parseBody(*type, content));
    msg.body = std::move(body);
    if (transport == CallTransport::ToDevice) {
        MXRTC_TRY_ASSIGN(group, parseGroupFields(content));
        msg.group = std::move(group);
    }
    return msg;
}

Json serializeCallMessage(const CallMessage& message) {
    Json content = Json::object();
    content[std::string(w::kCallId)] = message.callId.str();
    if (!message.partyId.empty()) content[std::string(w::kPartyId)] = message.partyId.str();
    if (message.version == 0) {
        content[std::string(w::kVersion)] = 0;
    } else {
        content[std::string(w::kVersion)] = w::kVersionOne;
    }
    std::visit(BodySerializer{content}, message.body);
    if (message.group) {
        const auto& g = *message.group;
        content[std::string(w::kConfId)] = g.confId;
        content[std::string(w::kDeviceId)] = g.deviceId.str();
        content[std::string(w::kSenderSessionId)] = g.senderSessionId;
        content[std::string(w::kDestSessionId)] = g.destSessionId;
        content[std::string(w::kSeq)] = g.seq;
        if (g.msgId) content[std::string(w::kMsgId)] = *g.msgId;
    }
    return content;
}

}  // namespace mxrtc::core
