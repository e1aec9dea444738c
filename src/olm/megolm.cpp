// OlmMachine: Megolm group sessions (room events) and m.room_key sharing.
#include <algorithm>

#include "machine_state.hpp"

namespace mxrtc::olm {

namespace {

using Json = nlohmann::json;

Error forbidden(std::string message) {
    return makeError(mxrtc::errcode::kForbidden, std::move(message));
}

Result<std::string> serialise(const Json& j) {
    try {
        return j.dump();
    } catch (const Json::exception& e) {
        return makeError(mxrtc::errcode::kBadJson, std::string("cannot serialise: ") + e.what());
    }
}

}  // namespace

Result<RoomKeyShare> OlmMachine::prepareRoomKey(const RoomId& room, const std::vector<DeviceRef>& members,
                                                TimePoint now) {
    const DeviceRef self{m_user, m_device};
    std::set<DeviceRef> wanted(members.begin(), members.end());
    wanted.erase(self);

    auto it = m_outbound.find(room);
    bool rotate = it == m_outbound.end();
    if (!rotate) {
        const OutboundGroupEntry& e = *it->second;
        if (e.session.messageIndex() >= m_config.megolmRotationMessages ||
            now - e.createdAt >= m_config.megolmRotationPeriod) {
            rotate = true;
        }
        for (const auto& d : e.sharedWith) {
            if (wanted.count(d) == 0) rotate = true;  // someone left: they must not read what follows
        }
    }
    std::vector<PickleWrite> batch;
    if (rotate) {
        auto session = lib::OutboundGroupSession::create(m_random);
        auto id = session.id();
        const std::string key = session.sessionKey();
        auto entry =
            std::unique_ptr<OutboundGroupEntry>(new OutboundGroupEntry{id, std::move(session), now, {}});
        // Our own copy, so that we can read our own events.
        if (auto r = addInboundGroupSession(room, m_identity.curve25519, m_identity.ed25519, self, key, id);
            !r)
            return r.error();
        batch.push_back(outboundWrite(room, *entry));
        m_outbound[room] = std::move(entry);
        it = m_outbound.find(room);
    }
    OutboundGroupEntry& e = *it->second;
    if (auto r = m_store.write(batch); !r) return r.error();

    RoomKeyShare share;
    share.room = room;
    share.sessionId = e.id;
    share.rotated = rotate;
    share.roomKeyContent = e2ee::buildRoomKey({room, e.id, e.session.sessionKey()});
    for (const auto& d : wanted) {
        if (e.sharedWith.count(d) == 0) share.recipients.push_back(d);
    }
    return share;
}

Result<void> OlmMachine::markRoomKeyShared(const RoomId& room, const e2ee::MegolmSessionId& session,
                                           const std::vector<DeviceRef>& devices) {
    auto it = m_outbound.find(room);
    if (it == m_outbound.end() || it->second->id != session) return {};  // rotated meanwhile
    it->second->sharedWith.insert(devices.begin(), devices.end());
    return m_store.write({outboundWrite(room, *it->second)});
}

void OlmMachine::discardOutboundSession(const RoomId& room) {
    if (m_outbound.erase(room) > 0)
        (void)m_store.write({{PickleKind::OutboundGroupSession, room.str(), std::nullopt}});
}

Result<Json> OlmMachine::encryptRoomEvent(const RoomId& room, std::string_view type, const Json& content) {
    auto it = m_outbound.find(room);
    if (it == m_outbound.end())
        return makeError(errcode::kNoSession,
                         "no outbound Megolm session for " + room.str() + " (prepareRoomKey)");
    OutboundGroupEntry& e = *it->second;
    MXRTC_TRY_ASSIGN(plaintext, serialise(e2ee::buildMegolmPayload(type, content, room)));
    const std::string ciphertext = e.session.encrypt(plaintext);
    if (auto r = m_store.write({outboundWrite(room, e)}); !r) return r.error();
    return e2ee::buildMegolmEnvelope({m_identity.curve25519, e.id, ciphertext, m_device});
}

Result<void> OlmMachine::addInboundGroupSession(const RoomId& room, const e2ee::Curve25519Key& senderKey,
                                                const e2ee::Ed25519Key& senderEd25519, const DeviceRef& owner,
                                                const std::string& sessionKey,
                                                const e2ee::MegolmSessionId& expectedId) {
    MXRTC_TRY_ASSIGN(session, lib::InboundGroupSession::create(sessionKey));
    if (session.id() != expectedId)
        return forbidden("m.room_key session_id " + expectedId.str() + " does not match its session_key");
    const std::string key = detail::inboundKey(room, senderKey, expectedId);
    auto existing = m_inbound.find(key);
    if (existing != m_inbound.end()) {
        if (existing->second->owner != owner)
            return forbidden("Megolm session " + expectedId.str() + " is another device's");
        // Keep whichever copy reaches further back.
        if (existing->second->session.firstKnownIndex() <= session.firstKnownIndex()) return {};
        existing->second->session = std::move(session);
        return m_store.write({inboundWrite(*existing->second)});
    }
    auto entry = std::unique_ptr<InboundGroupEntry>(
        new InboundGroupEntry{room, senderKey, senderEd25519, owner, expectedId, std::move(session), {}});
    auto write = inboundWrite(*entry);
    m_inbound[key] = std::move(entry);
    return m_store.write({write});
}

Result<void> OlmMachine::importRoomKey(const DecryptedToDevice& d) {
    if (d.type != e2ee::kRoomKeyType)
        return makeError(mxrtc::errcode::kBadJson, "not an m.room_key: " + d.type);
    if (!d.verified()) return forbidden("m.room_key from an unverified device is not imported");
    MXRTC_TRY_ASSIGN(key, e2ee::parseRoomKey(d.content));
    return addInboundGroupSession(key.roomId, d.senderKey, d.senderEd25519, {d.sender, d.senderDevice},
                                  key.sessionKey, key.sessionId);
}

Result<DecryptedRoomEvent> OlmMachine::decryptRoomEvent(const RoomId& room, const Json& event) {
    if (!event.is_object()) return makeError(mxrtc::errcode::kBadJson, "'event' must be an object");
    const auto type = event.find("type");
    if (type == event.end() || !type->is_string() ||
        type->get_ref<const std::string&>() != e2ee::kRoomEncryptedType)
        return makeError(mxrtc::errcode::kBadJson, "'type' must be m.room.encrypted");
    const auto senderIt = event.find("sender");
    if (senderIt == event.end() || !senderIt->is_string())
        return makeError(mxrtc::errcode::kBadJson, "'sender' must be a string");
    const UserId sender(senderIt->get<std::string>());
    const auto contentIt = event.find("content");
    if (contentIt == event.end()) return makeError(mxrtc::errcode::kBadJson, "'content' is missing");
    MXRTC_TRY_ASSIGN(envelope, e2ee::parseMegolmEnvelope(*contentIt));

    auto it = m_inbound.find(detail::inboundKey(room, envelope.senderKey, envelope.sessionId));
    if (it == m_inbound.end())
        return makeError(errcode::kUnknownGroupSession,
                         "no room key for Megolm session " + envelope.sessionId.str() + " (yet)");
    InboundGroupEntry& e = *it->second;
    if (e.owner.user != sender)
        return forbidden("Megolm session " + e.id.str() + " belongs to " + e.owner.user.str() + ", not " +
                         sender.str());
    MXRTC_TRY_ASSIGN(decrypted, e.session.decrypt(envelope.ciphertext));

    // Replay: one message index, one event. The same event decrypted twice is fine.
    std::string tag = event.value("event_id", std::string()) + "|";
    if (auto ts = event.find("origin_server_ts"); ts != event.end() && ts->is_number_integer())
        tag += std::to_string(ts->get<std::int64_t>());
    auto seen = e.seen.find(decrypted.messageIndex);
    if (seen != e.seen.end() && seen->second != tag) {
        return makeError(errcode::kReplay, "Megolm message index " + std::to_string(decrypted.messageIndex) +
                                               " of session " + e.id.str() +
                                               " was already used by another event");
    }
    if (seen == e.seen.end()) {
        e.seen[decrypted.messageIndex] = tag;
        if (auto r = m_store.write({inboundWrite(e)}); !r) return r.error();
    }
    MXRTC_TRY_ASSIGN(payload, e2ee::parseMegolmPayload(decrypted.plaintext, room));
    return DecryptedRoomEvent{sender, e.owner.device, std::move(payload.type), std::move(payload.content),
                              decrypted.messageIndex};
}

}  // namespace mxrtc::olm
