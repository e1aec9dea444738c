#include "mxrtc/core/membership.hpp"

#include <algorithm>

#include "json_fields.hpp"
#include "mxrtc/core/identity.hpp"
#include "mxrtc/core/membership_wire.hpp"

namespace mxrtc::core {

namespace w = membership_wire;

using detail::asInt;
using detail::fieldError;
using detail::find;

namespace {

using Json = nlohmann::json;

std::string k(std::string_view s) {
    return std::string(s);
}

Result<std::string> requiredString(const Json& obj, std::string_view key, std::string_view path) {
    const Json* v = find(obj, key);
    if (!v) return fieldError(path, "is required");
    if (!v->is_string()) return fieldError(path, "must be a string");
    return v->get<std::string>();
}

Result<std::optional<std::string>> optionalString(const Json& obj, std::string_view key,
                                                  std::string_view path) {
    const Json* v = find(obj, key);
    if (!v || v->is_null()) return std::optional<std::string>{};
    if (!v->is_string()) return fieldError(path, "must be a string");
    return std::optional<std::string>{v->get<std::string>()};
}

Result<std::optional<std::int64_t>> optionalInt(const Json& obj, std::string_view key,
                                                std::string_view path) {
    const Json* v = find(obj, key);
    if (!v || v->is_null()) return std::optional<std::int64_t>{};
    auto n = asInt(*v);
    if (!n) return fieldError(path, "must be an integer");
    return std::optional<std::int64_t>{*n};
}

Result<Transport> parseTransport(const Json& v, const std::string& path) {
    if (!v.is_object()) return fieldError(path, "must be an object");
    const Json* type = find(v, w::kType);
    if (!type || !type->is_string()) return fieldError(path + ".type", "must be a string");
    return Transport{type->get<std::string>(), v};
}

Result<std::vector<Transport>> parseTransports(const Json& arr, const std::string& path) {
    if (!arr.is_array()) return fieldError(path, "must be an array");
    std::vector<Transport> out;
    out.reserve(arr.size());
    for (std::size_t i = 0; i < arr.size(); ++i) {
        auto t = parseTransport(arr[i], path + "[" + std::to_string(i) + "]");
        if (!t) return t.error();
        out.push_back(std::move(t).value());
    }
    return out;
}

// Content keys other than the sticky key(s).
std::size_t meaningfulKeyCount(const Json& content) {
    std::size_t n = 0;
    for (auto it = content.begin(); it != content.end(); ++it) {
        if (it.key() == w::kStickyKeyUnstable || it.key() == w::kStickyKey) continue;
        ++n;
    }
    return n;
}

// ---- gen 2 ---------------------------------------------------------------------------------

Result<CallMembership> parseSessionMembership(const RoomEvent& ev) {
    const Json& c = ev.content;
    CallMembership m;
    m.kind = MembershipKind::SessionState;
    m.user = ev.sender;
    m.stateKey = ev.stateKey.value_or("");
    m.eventId = ev.eventId;
    m.originServerTs = ev.originServerTs;

    auto app = requiredString(c, w::kApplication, "application");
    if (!app) return app.error();
    m.application = std::move(app).value();
    auto callId = requiredString(c, w::kCallId, "call_id");
    if (!callId) return callId.error();
    m.callId = std::move(callId).value();
    auto device = requiredString(c, w::kDeviceId, "device_id");
    if (!device) return device.error();
    m.device = DeviceId(std::move(device).value());

    const Json* focus = find(c, w::kFocusActive);
    if (!focus) return fieldError("focus_active", "is required");
    if (!focus->is_object()) return fieldError("focus_active", "must be an object");
    const Json* focusType = find(*focus, w::kType);
    if (!focusType || !focusType->is_string()) return fieldError("focus_active.type", "must be a string");
    FocusActive fa;
    fa.type = focusType->get<std::string>();
    fa.raw = *focus;
    if (const Json* sel = find(*focus, w::kFocusSelection); sel && sel->is_string()) {
        const auto s = sel->get<std::string>();
        fa.selection = s == w::kOldestMembership ? FocusSelection::OldestMembership
                       : s == w::kMultiSfu       ? FocusSelection::MultiSfu
                                                 : FocusSelection::Unknown;
    }
    m.focusActive = std::move(fa);

    if (const Json* prefs = find(c, w::kFociPreferred); prefs && !prefs->is_null()) {
        auto t = parseTransports(*prefs, "foci_preferred");
        if (!t) return t.error();
        m.transports = std::move(t).value();
    }
    auto scope = optionalString(c, w::kScope, "scope");
    if (!scope) return scope.error();
    m.scope = std::move(scope).value();
    auto created = optionalInt(c, w::kCreatedTs, "created_ts");
    if (!created) return created.error();
    auto expires = optionalInt(c, w::kExpires, "expires");
    if (!expires) return expires.error();
    auto membershipId = optionalString(c, w::kMembershipId, "membershipID");
    if (!membershipId) return membershipId.error();
    if (membershipId.value()) m.memberId = MemberId(*membershipId.value());
    auto intent = optionalString(c, w::kCallIntent, "m.call.intent");
    if (!intent) return intent.error();
    m.callIntent = std::move(intent).value();

    m.createdTs = created.value() ? fromUnixMs(*created.value()) : ev.originServerTs;
    m.expiresAt = m.createdTs + (expires.value() ? Duration{*expires.value()} : kDefaultMembershipExpiry);
    m.slot = slotIdFor(m.application, m.callId);
    return m;
}

// ---- gen 1 ---------------------------------------------------------------------------------

Result<CallMembership> parseArrayEntry(const RoomEvent& ev, const Json& e, const std::string& path) {
    if (!e.is_object()) return fieldError(path, "must be an object");
    CallMembership m;
    m.kind = MembershipKind::MembershipArray;
    m.user = ev.sender;
    m.stateKey = ev.stateKey.value_or("");
    m.eventId = ev.eventId;
    m.originServerTs = ev.originServerTs;
    auto app = requiredString(e, w::kApplication, path + ".application");
    if (!app) return app.error();
    m.application = std::move(app).value();
    auto callId = requiredString(e, w::kCallId, path + ".call_id");
    if (!callId) return callId.error();
    m.callId = std::move(callId).value();
    auto device = requiredString(e, w::kDeviceId, path + ".device_id");
    if (!device) return device.error();
    m.device = DeviceId(std::move(device).value());
    auto scope = optionalString(e, w::kScope, path + ".scope");
    if (!scope) return scope.error();
    m.scope = std::move(scope).value();
    auto created = optionalInt(e, w::kCreatedTs, path + ".created_ts");
    if (!created) return created.error();
    auto expires = optionalInt(e, w::kExpires, path + ".expires");
    if (!expires) return expires.error();
    auto expiresTs = optionalInt(e, w::kExpiresTs, path + ".expires_ts");
    if (!expiresTs) return expiresTs.error();
    if (!expires.value() && !expiresTs.value())
        return fieldError(path + ".expires", "or 'expires_ts' is required");
    if (const Json* foci = find(e, w::kFociActive); foci && !foci->is_null()) {
        auto t = parseTransports(*foci, path + ".foci_active");
        if (!t) return t.error();
        m.transports = std::move(t).value();
    }
    auto membershipId = optionalString(e, w::kMembershipId, path + ".membershipID");
    if (!membershipId) return membershipId.error();
    if (membershipId.value()) m.memberId = MemberId(*membershipId.value());
    m.createdTs = created.value() ? fromUnixMs(*created.value()) : ev.originServerTs;
    m.expiresAt = expires.value() ? m.createdTs + Duration{*expires.value()} : fromUnixMs(*expiresTs.value());
    m.slot = slotIdFor(m.application, m.callId);
    return m;
}

Result<MemberEventContent> parseMembershipArray(const RoomEvent& ev) {
    MemberEventContent out;
    out.kind = MembershipKind::MembershipArray;
    const Json* arr = find(ev.content, w::kMemberships);
    if (!arr->is_array()) return fieldError("memberships", "must be an array");
    std::optional<Error> firstError;
    for (std::size_t i = 0; i < arr->size(); ++i) {
        auto m = parseArrayEntry(ev, (*arr)[i], "memberships[" + std::to_string(i) + "]");
        if (!m) {
            if (!firstError) firstError = m.error();
            continue;  // one bad device entry does not hide the user's other devices
        }
        out.memberships.push_back(std::move(m).value());
    }
    if (out.memberships.empty() && firstError) return *firstError;
    out.left = out.memberships.empty();
    return out;
}

// ---- gen 0 ---------------------------------------------------------------------------------

Result<MemberEventContent> parseMsc3401(const RoomEvent& ev) {
    MemberEventContent out;
    out.kind = MembershipKind::Msc3401Devices;
    const Json* calls = find(ev.content, w::kCalls);
    if (!calls->is_array()) return fieldError("m.calls", "must be an array");
    std::optional<Error> firstError;
    for (std::size_t i = 0; i < calls->size(); ++i) {
        const Json& call = (*calls)[i];
        const std::string path = "m.calls[" + std::to_string(i) + "]";
        if (!call.is_object()) return fieldError(path, "must be an object");
        auto callId = requiredString(call, w::kCallIdGen0, path + ".m.call_id");
        if (!callId) return callId.error();
        std::vector<Transport> foci;
        if (const Json* f = find(call, w::kFociGen0); f && !f->is_null()) {
            auto t = parseTransports(*f, path + ".m.foci");
            if (!t) return t.error();
            foci = std::move(t).value();
        }
        const Json* devices = find(call, w::kDevices);
        if (!devices || !devices->is_array()) return fieldError(path + ".m.devices", "must be an array");
        for (std::size_t j = 0; j < devices->size(); ++j) {
            const Json& d = (*devices)[j];
            const std::string dpath = path + ".m.devices[" + std::to_string(j) + "]";
            auto device = requiredString(d, w::kDeviceId, dpath + ".device_id");
            auto session = requiredString(d, w::kSessionId, dpath + ".session_id");
            auto expiresTs = optionalInt(d, w::kExpiresTs, dpath + ".expires_ts");
            const Json* feeds = find(d, w::kFeeds);
            std::optional<Error> err;
            if (!device)
                err = device.error();
            else if (!session)
                err = session.error();
            else if (!expiresTs)
                err = expiresTs.error();
            else if (!expiresTs.value())
                err = fieldError(dpath + ".expires_ts", "is required");
            else if (!feeds || !feeds->is_array())
                err = fieldError(dpath + ".feeds", "must be an array");
            if (err) {
                if (!firstError) firstError = std::move(err);
                continue;
            }
            CallMembership m;
            m.kind = MembershipKind::Msc3401Devices;
            m.user = ev.sender;
            m.device = DeviceId(device.value());
            m.application = std::string(w::kApplicationCall);
            m.callId = callId.value();
            m.slot = slotIdFor(m.application, m.callId);
            m.sessionId = session.value();
            m.transports = foci;
            m.createdTs = ev.originServerTs;
            m.expiresAt = fromUnixMs(*expiresTs.value());
            m.stateKey = ev.stateKey.value_or("");
            m.eventId = ev.eventId;
            m.originServerTs = ev.originServerTs;
            out.memberships.push_back(std::move(m));
        }
    }
    if (out.memberships.empty() && firstError) return *firstError;
    out.left = out.memberships.empty();
    return out;
}

// ---- gen 3 ---------------------------------------------------------------------------------

Result<std::optional<std::string>> parseStickyKey(const Json& c) {
    auto stable = optionalString(c, w::kStickyKey, "sticky_key");
    if (!stable) return stable.error();
    auto unstable = optionalString(c, w::kStickyKeyUnstable, "msc4354_sticky_key");
    if (!unstable) return unstable.error();
    if (stable.value() && unstable.value() && *stable.value() != *unstable.value())
        return fieldError("sticky_key", "and 'msc4354_sticky_key' must be equal when both are present");
    return stable.value() ? stable.value() : unstable.value();
}

Duration stickyDuration(const RoomEvent& ev) {
    for (auto key : {w::kStickyUnstable, w::kSticky}) {
        if (const Json* s = find(ev.raw, key); s && s->is_object()) {
            if (const Json* d = find(*s, w::kDurationMs)) {
                if (auto n = asInt(*d)) return std::clamp(Duration{*n}, Duration{0}, kMaxStickyDuration);
            }
        }
    }
    return kMaxStickyDuration;
}

Result<MemberEventContent> parseSticky(const RoomEvent& ev, TimePoint receivedAt) {
    const Json& c = ev.content;
    MemberEventContent out;
    out.kind = MembershipKind::StickyRtc;
    auto stickyKey = parseStickyKey(c);
    if (!stickyKey) return stickyKey.error();
    out.stickyKey = stickyKey.value();
    if (meaningfulKeyCount(c) == 0) {
        if (!out.stickyKey) return fieldError("sticky_key", "is required");
        out.left = true;
        return out;
    }
    if (!out.stickyKey) return fieldError("sticky_key", "is required (or 'msc4354_sticky_key')");

    CallMembership m;
    m.kind = MembershipKind::StickyRtc;
    m.stickyKey = out.stickyKey;
    m.eventId = ev.eventId;
    m.originServerTs = ev.originServerTs;

    const Json* app = find(c, w::kApplication);
    if (!app || !app->is_object()) return fieldError("application", "must be an object");
    auto appType = requiredString(*app, w::kType, "application.type");
    if (!appType) return appType.error();
    m.application = std::move(appType).value();
    if (m.application.find(w::kSlotSeparator) != std::string::npos)
        return fieldError("application.type", "must not contain '#'");
    if (const Json* intent = find(*app, w::kCallIntent); intent && !intent->is_null()) {
        if (!intent->is_string()) return fieldError("application.m.call.intent", "must be a string");
        m.callIntent = intent->get<std::string>();
    }

    auto slot = requiredString(c, w::kSlotId, "slot_id");
    if (!slot) return slot.error();
    const std::string& slotStr = slot.value();
    const std::string prefix = m.application + w::kSlotSeparator;
    if (slotStr.rfind(prefix, 0) != 0 || std::count(slotStr.begin(), slotStr.end(), w::kSlotSeparator) != 1)
        return fieldError("slot_id", "must be '<application.type>#<id>' with exactly one '#'");
    m.slot = SlotId(slotStr);
    m.callId = slotStr.substr(prefix.size());
    if (m.application == w::kApplicationCall && m.callId == w::kRoomSlotSuffix) m.callId.clear();

    const Json* member = find(c, w::kMember);
    if (!member || !member->is_object()) return fieldError("member", "must be an object");
    auto userId = requiredString(*member, w::kUserId, "member.user_id");
    if (!userId) return userId.error();
    if (userId.value().empty() || userId.value()[0] != '@' || userId.value().find(':') == std::string::npos)
        return fieldError("member.user_id", "must be a Matrix user id");
    if (UserId(userId.value()) != ev.sender)
        return fieldError("member.user_id", "must equal the event sender");
    m.user = ev.sender;
    auto deviceId = requiredString(*member, w::kDeviceId, "member.device_id");
    if (!deviceId) return deviceId.error();
    m.device = DeviceId(std::move(deviceId).value());
    auto memberId = requiredString(*member, w::kId, "member.id");
    if (!memberId) return memberId.error();
    m.memberId = MemberId(std::move(memberId).value());

    const Json* transports = find(c, w::kRtcTransports);
    if (!transports) return fieldError("rtc_transports", "is required");
    auto t = parseTransports(*transports, "rtc_transports");
    if (!t) return t.error();
    m.transports = std::move(t).value();

    const Json* versions = find(c, w::kVersions);
    if (!versions || !versions->is_array()) return fieldError("versions", "must be an array");
    for (const auto& v : *versions)
        if (!v.is_string()) return fieldError("versions", "must contain only strings");

    if (const Json* rel = find(c, w::kRelatesTo); rel && !rel->is_null()) {
        if (!rel->is_object()) return fieldError("m.relates_to", "must be an object");
        const Json* relType = find(*rel, w::kRelType);
        const Json* eventId = find(*rel, w::kEventId);
        if (!relType || !relType->is_string() || relType->get<std::string>() != w::kReference)
            return fieldError("m.relates_to.rel_type", "must be 'm.reference'");
        if (!eventId || !eventId->is_string()) return fieldError("m.relates_to.event_id", "must be a string");
    }

    // MSC4354: start = min(received, origin); end = start + min(duration, 1 h); js-sdk prefers the
    // server's remaining TTL when present.
    m.createdTs = ev.originServerTs;
    std::optional<std::int64_t> ttl;
    for (auto key : {w::kStickyTtl, w::kStickyTtlStable}) {
        if (const Json* v = find(ev.unsignedData, key)) {
            ttl = asInt(*v);
            if (ttl) break;
        }
    }
    if (ttl) {
        m.expiresAt = receivedAt + std::min(Duration{std::max<std::int64_t>(*ttl, 0)}, kMaxStickyDuration);
    } else {
        m.expiresAt = std::min(receivedAt, ev.originServerTs) + stickyDuration(ev);
    }
    out.memberships.push_back(std::move(m));
    return out;
}

}  // namespace

std::string_view toString(MembershipKind kind) {
    switch (kind) {
        case MembershipKind::Msc3401Devices:
            return "msc3401";
        case MembershipKind::MembershipArray:
            return "memberships-array";
        case MembershipKind::SessionState:
            return "session";
        case MembershipKind::StickyRtc:
            return "rtc";
    }
    return "unknown";
}

std::optional<std::string> Transport::liveKitServiceUrl() const {
    const Json* url = find(raw, w::kLiveKitServiceUrl);
    if (url && url->is_string()) return url->get<std::string>();
    return std::nullopt;
}

std::string CallMembership::liveKitIdentity() const {
    if (kind == MembershipKind::StickyRtc && memberId) return hashedMemberIdentity(user, device, *memberId);
    return sessionMemberIdentity(user, device);
}

bool isCallMemberEventType(std::string_view type) {
    return type == w::kCallMemberType || type == w::kCallMemberStableType || isStickyMemberEventType(type);
}

bool isStickyMemberEventType(std::string_view type) {
    return type == w::kRtcMemberType || type == w::kRtcMemberStableType;
}

Result<MemberEventContent> parseMemberEvent(const RoomEvent& event, TimePoint receivedAt) {
    if (isStickyMemberEventType(event.type)) return parseSticky(event, receivedAt);
    if (event.type != w::kCallMemberType && event.type != w::kCallMemberStableType)
        return makeError(errcode::kBadJson, "'type' is not a call member event type: " + event.type);
    if (!event.isState()) return fieldError("state_key", "is required for " + event.type);

    const Json& c = event.content;
    MemberEventContent out;
    if (find(c, w::kCalls)) return parseMsc3401(event);
    if (find(c, w::kMemberships) && !find(c, w::kApplication)) return parseMembershipArray(event);
    if (meaningfulKeyCount(c) == 0 || !find(c, w::kApplication)) {
        out.left = true;
        return out;
    }
    auto m = parseSessionMembership(event);
    if (!m) return m.error();
    out.memberships.push_back(std::move(m).value());
    return out;
}

SlotId slotIdFor(std::string_view application, std::string_view callId) {
    std::string id(application);
    id.push_back(w::kSlotSeparator);
    if (application == w::kApplicationCall && callId.empty()) {
        id.append(w::kRoomSlotSuffix);
    } else {
        id.append(callId);
    }
    return SlotId(std::move(id));
}

Result<std::string> legacyCallIdOf(const SlotId& slot) {
    const auto& s = slot.str();
    const auto hash = s.find(w::kSlotSeparator);
    if (hash == std::string::npos || s.find(w::kSlotSeparator, hash + 1) != std::string::npos)
        return fieldError("slot_id", "must contain exactly one '#'");
    const std::string app = s.substr(0, hash);
    std::string id = s.substr(hash + 1);
    if (app == w::kApplicationCall && id == w::kRoomSlotSuffix) id.clear();
    return id;
}

// ---- serialisation -----------------------------------------------------------------------------

nlohmann::json serializeSessionMembership(const SessionMembershipData& d) {
    Json focus = Json::object();
    focus[k(w::kType)] = d.focusType;
    focus[k(w::kFocusSelection)] =
        d.focusSelection == FocusSelection::MultiSfu ? k(w::kMultiSfu) : k(w::kOldestMembership);
    Json foci = Json::array();
    for (const auto& t : d.fociPreferred)
        foci.push_back(t.raw);

    Json c = Json::object();
    c[k(w::kApplication)] = d.application;
    c[k(w::kCallId)] = d.callId;
    c[k(w::kScope)] = k(w::kScopeRoom);
    c[k(w::kDeviceId)] = d.device.str();
    c[k(w::kExpires)] = d.expires.count();
    c[k(w::kFocusActive)] = std::move(focus);
    c[k(w::kFociPreferred)] = std::move(foci);
    c[k(w::kMembershipId)] = d.user.str() + ":" + d.device.str();
    if (d.createdTs) c[k(w::kCreatedTs)] = toUnixMs(*d.createdTs);
    if (d.callIntent) c[k(w::kCallIntent)] = *d.callIntent;
    return c;
}

nlohmann::json sessionLeaveContent() {
    return Json::object();
}

std::string sessionStateKey(const UserId& user, const DeviceId& device, std::string_view application,
                            std::string_view callId, std::string_view roomVersion) {
    std::string base = user.str() + "_" + device.str() + "_" + std::string(application);
    if (!(application == w::kApplicationCall && callId.empty())) base.append(callId);
    const bool ownedState =
        roomVersion.rfind("org.matrix.msc3757", 0) == 0 || roomVersion.rfind("org.matrix.msc3779", 0) == 0;
    return ownedState ? base : "_" + base;
}

nlohmann::json serializeStickyMembership(const StickyMembershipData& d) {
    Json app = Json::object();
    app[k(w::kType)] = d.applicationType;
    if (d.callIntent) app[k(w::kCallIntent)] = *d.callIntent;
    Json transports = Json::array();
    for (const auto& t : d.rtcTransports) {
        Json copy = t.raw;
        if (copy.is_object()) copy.erase(k(w::kLiveKitAlias));  // js-sdk strips the legacy alias
        transports.push_back(std::move(copy));
    }
    Json member = Json::object();
    member[k(w::kDeviceId)] = d.device.str();
    member[k(w::kUserId)] = d.user.str();
    member[k(w::kId)] = d.memberId.str();

    Json c = Json::object();
    c[k(w::kApplication)] = std::move(app);
    c[k(w::kSlotId)] = d.slot.str();
    c[k(w::kRtcTransports)] = std::move(transports);
    c[k(w::kMember)] = std::move(member);
    c[k(w::kVersions)] = Json::array();
    c[k(w::kStickyKeyUnstable)] = d.memberId.str();
    return c;
}

nlohmann::json stickyLeaveContent(const MemberId& memberId) {
    Json c = Json::object();
    c[k(w::kStickyKeyUnstable)] = memberId.str();
    return c;
}

}  // namespace mxrtc::core
