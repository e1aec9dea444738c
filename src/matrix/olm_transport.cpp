#include "mxrtc/matrix/olm_transport.hpp"

#include <set>

#include "mxrtc/matrix/client_keys.hpp"

namespace mxrtc::matrix {

namespace asio = boost::asio;
using Json = nlohmann::json;
using olm::DeviceRef;

namespace {

MatrixError transportError(std::string message) {
    MatrixError e;
    e.message = std::move(message);
    return e;
}

}  // namespace

OlmTransport::OlmTransport(Client& client, LoginSession self, olm::OlmMachine& machine)
    : m_client(client), m_self(std::move(self)), m_machine(machine) {}

asio::awaitable<MxResult<bool>> OlmTransport::uploadKeys() {
    for (int round = 0; round < 4; ++round) {  // a round per fallback/top-up the server asks for
        auto body = m_machine.keysUploadBody();
        if (!body) {
            MatrixError e;
            e.message = "cannot prepare the key upload: " + body.error().message;
            co_return e;
        }
        if (!body->has_value()) co_return true;
        Json b = std::move(**body);
        auto r = co_await keysUpload(m_client, m_self, std::move(b));
        if (auto* e = std::get_if<MatrixError>(&r)) co_return *e;
        if (auto ok = m_machine.onKeysUploaded(std::get<Json>(r)); !ok) {
            MatrixError e;
            e.message = "cannot store the uploaded keys: " + ok.error().message;
            co_return e;
        }
    }
    co_return true;
}

asio::awaitable<MxResult<olm::KeysQueryReport>> OlmTransport::queryKeys(std::vector<UserId> users) {
    std::set<UserId> all(users.begin(), users.end());
    for (auto& u : m_machine.outdatedUsers())
        all.insert(u);
    if (all.empty()) co_return olm::KeysQueryReport{};
    const std::vector<UserId> list(all.begin(), all.end());
    m_machine.trackUsers(list);  // from now on their device_lists changes mark them outdated
    Json body = olm::OlmMachine::keysQueryBody(list);
    auto r = co_await keysQuery(m_client, m_self, std::move(body));
    if (auto* e = std::get_if<MatrixError>(&r)) co_return *e;
    co_return m_machine.onKeysQuery(std::get<Json>(r));
}

asio::awaitable<MxResult<olm::KeysClaimReport>> OlmTransport::ensureSessions(std::vector<DeviceRef> devices) {
    std::vector<UserId> unknown;
    for (const auto& d : devices) {
        if (!m_machine.device(d)) unknown.push_back(d.user);
    }
    if (!unknown.empty() || !m_machine.outdatedUsers().empty()) {
        auto q = co_await queryKeys(unknown);
        if (auto* e = std::get_if<MatrixError>(&q)) co_return *e;
    }
    const auto needed = m_machine.devicesNeedingSession(devices);
    if (needed.empty()) co_return olm::KeysClaimReport{};
    Json body = olm::OlmMachine::keysClaimBody(needed);
    auto r = co_await keysClaim(m_client, m_self, std::move(body));
    if (auto* e = std::get_if<MatrixError>(&r)) co_return *e;
    auto report = m_machine.onKeysClaim(std::get<Json>(r));
    if (!report.unwedged.empty()) {
        // Tell the wedged devices about the new session so that they switch to it.
        std::string dummyType(e2ee::kDummyType);  // (locals: GCC 12 and temporaries in co_await)
        Json empty = Json::object();
        auto sent = co_await sendEncrypted(std::move(dummyType), std::move(empty), report.unwedged);
        if (auto* e = std::get_if<MatrixError>(&sent)) co_return *e;
    }
    co_return report;
}

asio::awaitable<MxResult<EncryptedSendReport>> OlmTransport::sendEncrypted(std::string type, Json content,
                                                                           std::vector<DeviceRef> devices) {
    EncryptedSendReport report;
    if (devices.empty()) co_return report;
    if (type != e2ee::kDummyType) {
        auto claimed = co_await ensureSessions(devices);
        if (auto* e = std::get_if<MatrixError>(&claimed)) co_return *e;
    }
    Json messages = Json::object();
    for (const auto& d : devices) {
        auto encrypted = m_machine.encryptToDevice(d, type, content);
        if (!encrypted) {
            report.skipped.push_back({d.user, d.device, encrypted.error().message});
            continue;
        }
        messages[d.user.str()][d.device.str()] = std::move(encrypted.value());
        report.sent.push_back(d);
    }
    if (report.sent.empty()) co_return report;
    const std::string encryptedType(e2ee::kRoomEncryptedType);
    auto r = co_await m_client.sendToDevice(encryptedType, messages);
    if (auto* e = std::get_if<MatrixError>(&r)) co_return *e;
    co_return report;
}

asio::awaitable<MxResult<EncryptedSendReport>> OlmTransport::distributeKey(const e2ee::DistributeKey& effect,
                                                                           const RoomId& room,
                                                                           std::string ownMemberId,
                                                                           TimePoint now) {
    const Json content = e2ee::buildToDeviceKeyMessage(effect.key, ownMemberId, m_self.deviceId, room,
                                                       e2ee::KeyMessageSession{}, now);
    std::vector<DeviceRef> to;
    for (const auto& m : effect.recipients)
        to.push_back({m.user, m.device});
    std::string type(e2ee::kEncryptionKeysType);
    co_return co_await sendEncrypted(std::move(type), content, std::move(to));
}

asio::awaitable<MxResult<EncryptedSendReport>> OlmTransport::distributeKeyInRoom(
    const e2ee::DistributeKey& effect, const RoomId& room, std::vector<DeviceRef> members, TimePoint now) {
    auto share = m_machine.prepareRoomKey(room, members, now);
    if (!share) co_return transportError("cannot prepare the Megolm session: " + share.error().message);
    EncryptedSendReport report;
    if (!share->recipients.empty()) {
        std::string roomKeyType(e2ee::kRoomKeyType);
        auto sent = co_await sendEncrypted(std::move(roomKeyType), share->roomKeyContent, share->recipients);
        if (auto* e = std::get_if<MatrixError>(&sent)) co_return *e;
        report = std::move(std::get<EncryptedSendReport>(sent));
        if (auto r = m_machine.markRoomKeyShared(room, share->sessionId, report.sent); !r)
            co_return transportError("cannot store the Megolm session: " + r.error().message);
    }
    const Json content = e2ee::buildRoomKeyEvent(effect.key, m_self.deviceId, now);
    auto encrypted = m_machine.encryptRoomEvent(room, e2ee::kEncryptionKeysType, content);
    if (!encrypted) co_return transportError("cannot encrypt the key event: " + encrypted.error().message);
    const std::string encryptedType(e2ee::kRoomEncryptedType);
    auto r = co_await m_client.sendEvent(room, encryptedType, encrypted.value());
    if (auto* e = std::get_if<MatrixError>(&r)) co_return *e;
    co_return report;
}

Result<std::vector<e2ee::ReceivedKey>> OlmTransport::receiveRoomKeyEvent(const RoomId& room,
                                                                         const Json& event) {
    MXRTC_TRY_ASSIGN(decrypted, m_machine.decryptRoomEvent(room, event));
    if (decrypted.type != e2ee::kEncryptionKeysType) return std::vector<e2ee::ReceivedKey>{};
    TimePoint ts{};
    if (auto it = event.find("origin_server_ts"); it != event.end() && it->is_number_integer())
        ts = fromUnixMs(it->get<std::int64_t>());
    MXRTC_TRY_ASSIGN(keys, e2ee::parseRoomKeyEvent(decrypted.content, decrypted.sender, ts));
    for (const auto& k : keys) {
        // The Megolm session was shared with us over Olm by decrypted.senderDevice (verified there).
        if (k.device != decrypted.senderDevice) {
            return makeError(mxrtc::errcode::kForbidden, "key event claims device " + k.device.str() +
                                                             " but its Megolm session is from device " +
                                                             decrypted.senderDevice.str());
        }
    }
    return keys;
}

asio::awaitable<SyncCryptoResult> OlmTransport::handleSync(const Json& sync, TimePoint now) {
    SyncCryptoResult out;
    if (!sync.is_object()) co_return out;
    if (auto it = sync.find("device_lists"); it != sync.end()) m_machine.onDeviceLists(*it);
    if (auto it = sync.find("device_one_time_keys_count"); it != sync.end())
        m_machine.onOneTimeKeyCounts(*it);
    if (auto it = sync.find("device_unused_fallback_key_types"); it != sync.end())
        m_machine.onUnusedFallbackKeyTypes(*it);

    std::vector<olm::DecryptedToDevice> unverified;
    const Json* events = nullptr;
    if (auto td = sync.find("to_device"); td != sync.end() && td->is_object()) {
        if (auto ev = td->find("events"); ev != td->end() && ev->is_array()) events = &*ev;
    }
    static const Json kNone = Json::array();
    for (const Json& ev : events != nullptr ? *events : kNone) {
        if (!ev.is_object()) continue;
        const std::string type = ev.value("type", std::string());
        const UserId sender(ev.value("sender", std::string()));
        if (type != e2ee::kRoomEncryptedType) {
            out.events.push_back({type, ev.value("content", Json::object()), {sender, false, DeviceId()}});
            continue;
        }
        auto d = m_machine.decryptToDevice(ev, now);
        if (!d) {
            out.failures.push_back({sender, type, d.error().errcode + ": " + d.error().message});
            continue;
        }
        if (d->verified()) {
            if (d->type == e2ee::kRoomKeyType) (void)m_machine.importRoomKey(*d);
            if (d->type != e2ee::kDummyType) out.events.push_back({d->type, d->content, d->origin()});
        } else {
            unverified.push_back(std::move(d.value()));
        }
    }
    if (!unverified.empty()) {  // senders we have not queried yet: query once, then verify
        std::vector<UserId> users;
        for (const auto& d : unverified)
            users.push_back(d.sender);
        auto q = co_await queryKeys(users);
        const bool queried = q.index() == 0;
        for (auto& d : unverified) {
            auto v = m_machine.verifySender(d);
            if (!v) {
                out.failures.push_back(
                    {d.sender, d.type, queried ? v.error().message : "sender keys could not be queried"});
                continue;
            }
            if (d.type == e2ee::kRoomKeyType) (void)m_machine.importRoomKey(d);
            if (d.type != e2ee::kDummyType) out.events.push_back({d.type, d.content, d.origin()});
        }
    }
    if (!m_machine.wedgedDevices().empty()) {
        auto wedged = m_machine.wedgedDevices();
        auto r = co_await ensureSessions(std::move(wedged));
        if (auto* e = std::get_if<MatrixError>(&r))
            out.failures.push_back({m_self.userId, std::string(e2ee::kDummyType), "unwedge: " + e->message});
    }
    auto up = co_await uploadKeys();
    if (auto* e = std::get_if<MatrixError>(&up))
        out.failures.push_back({m_self.userId, "keys/upload", e->message});
    co_return out;
}

}  // namespace mxrtc::matrix
