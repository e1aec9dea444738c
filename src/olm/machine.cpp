#include "mxrtc/olm/machine.hpp"

#include <algorithm>

#include "machine_state.hpp"
#include "mxrtc/common/canonical_json.hpp"
#include "mxrtc/olm/signing.hpp"

namespace mxrtc::olm {

namespace {

using Json = nlohmann::json;

Error forbidden(std::string message) {
    return makeError(mxrtc::errcode::kForbidden, std::move(message));
}

std::string keyId(std::string_view algorithm, const DeviceId& device) {
    return std::string(algorithm) + ":" + device.str();
}

Json deviceToJson(const e2ee::DeviceKeys& d) {
    return Json{{"user_id", d.user.str()},    {"device_id", d.device.str()},
                {"algorithms", d.algorithms}, {"curve25519", d.curve25519.str()},
                {"ed25519", d.ed25519.str()}, {"display_name", d.displayName}};
}

std::optional<e2ee::DeviceKeys> deviceFromJson(const Json& j) {
    if (!j.is_object()) return std::nullopt;
    e2ee::DeviceKeys d;
    d.user = UserId(j.value("user_id", std::string()));
    d.device = DeviceId(j.value("device_id", std::string()));
    if (auto it = j.find("algorithms"); it != j.end() && it->is_array()) {
        for (const auto& a : *it)
            if (a.is_string()) d.algorithms.push_back(a.get<std::string>());
    }
    d.curve25519 = e2ee::Curve25519Key(j.value("curve25519", std::string()));
    d.ed25519 = e2ee::Ed25519Key(j.value("ed25519", std::string()));
    d.displayName = j.value("display_name", std::string());
    if (d.user.empty() || d.device.empty() || d.curve25519.empty() || d.ed25519.empty()) return std::nullopt;
    return d;
}

Result<Json> parseRecord(const PickleRecord& r, PickleKind kind) {
    Json j = Json::parse(r.value, nullptr, false);
    if (!j.is_object() || !j.contains("pickle") || !j["pickle"].is_string()) {
        if (kind != PickleKind::Devices || !j.is_object())
            return makeError(mxrtc::errcode::kBadJson,
                             "crypto store: corrupt " + std::string(toString(kind)) + " record " + r.id);
    }
    return j;
}

// dump() throws on invalid UTF-8: report it as a value instead.
Result<std::string> serialise(const Json& j) {
    try {
        return j.dump();
    } catch (const Json::exception& e) {
        return makeError(mxrtc::errcode::kBadJson, std::string("cannot serialise: ") + e.what());
    }
}

}  // namespace

// ---- construction and persistence --------------------------------------------------------------
OlmMachine::OlmMachine(UserId user, DeviceId device, PickleKey key, PickleStore& store, RandomSource random,
                       MachineConfig config)
    : m_user(std::move(user)),
      m_device(std::move(device)),
      m_pickleKey(std::move(key)),
      m_store(store),
      m_random(std::move(random)),
      m_config(config) {}

OlmMachine::~OlmMachine() = default;

Result<std::unique_ptr<OlmMachine>> OlmMachine::open(UserId user, DeviceId device, PickleKey pickleKey,
                                                     PickleStore& store, RandomSource random,
                                                     MachineConfig config) {
    if (pickleKey.empty())
        return makeError(mxrtc::errcode::kInvalidParam, "the pickle key must not be empty");
    if (!random) random = systemRandom();
    std::unique_ptr<OlmMachine> m(new OlmMachine(std::move(user), std::move(device), std::move(pickleKey),
                                                 store, std::move(random), config));
    if (auto r = m->load(); !r) return r.error();
    return m;
}

Result<void> OlmMachine::load() {
    MXRTC_TRY_ASSIGN(accounts, m_store.load(PickleKind::Account));
    if (accounts.empty()) {
        m_account = std::make_unique<lib::Account>(lib::Account::create(m_random));
        m_identity = m_account->identityKeys();
        std::vector<PickleWrite> batch;
        if (auto r = saveAccount(batch); !r) return r;
        return commit(std::move(batch));
    }
    MXRTC_TRY_ASSIGN(a, parseRecord(accounts.front(), PickleKind::Account));
    if (a.value("user_id", std::string()) != m_user.str() ||
        a.value("device_id", std::string()) != m_device.str()) {
        return forbidden("the crypto store belongs to " + a.value("user_id", std::string()) + " device " +
                         a.value("device_id", std::string()) + ", not " + m_user.str() + " device " +
                         m_device.str());
    }
    MXRTC_TRY_ASSIGN(account, lib::Account::unpickle(a["pickle"].get<std::string>(), m_pickleKey));
    m_account = std::make_unique<lib::Account>(std::move(account));
    m_identity = m_account->identityKeys();
    m_deviceKeysPublished = a.value("device_keys_published", false);
    m_needFallbackKey = a.value("need_fallback_key", true);

    MXRTC_TRY_ASSIGN(sessions, m_store.load(PickleKind::OlmSession));
    for (const auto& rec : sessions) {
        MXRTC_TRY_ASSIGN(j, parseRecord(rec, PickleKind::OlmSession));
        MXRTC_TRY_ASSIGN(s, lib::Session::unpickle(j["pickle"].get<std::string>(), m_pickleKey));
        auto e = std::unique_ptr<OlmSessionEntry>(
            new OlmSessionEntry{e2ee::Curve25519Key(j.value("their_key", std::string())), s.id(),
                                std::move(s), j.value("seq", 0ULL)});
        m_sessionSeq = std::max(m_sessionSeq, e->seq);
        m_sessions.push_back(std::move(e));
    }
    MXRTC_TRY_ASSIGN(inbound, m_store.load(PickleKind::InboundGroupSession));
    for (const auto& rec : inbound) {
        MXRTC_TRY_ASSIGN(j, parseRecord(rec, PickleKind::InboundGroupSession));
        MXRTC_TRY_ASSIGN(s, lib::InboundGroupSession::unpickle(j["pickle"].get<std::string>(), m_pickleKey));
        auto e = std::unique_ptr<InboundGroupEntry>(
            new InboundGroupEntry{RoomId(j.value("room_id", std::string())),
                                  e2ee::Curve25519Key(j.value("sender_key", std::string())),
                                  e2ee::Ed25519Key(j.value("sender_ed25519", std::string())),
                                  DeviceRef{UserId(j.value("user_id", std::string())),
                                            DeviceId(j.value("device_id", std::string()))},
                                  s.id(),
                                  std::move(s),
                                  {}});
        if (auto it = j.find("seen"); it != j.end() && it->is_object()) {
            for (auto s2 = it->begin(); s2 != it->end(); ++s2) {
                if (s2.value().is_string())
                    e->seen[static_cast<std::uint32_t>(std::stoul(s2.key()))] = s2.value().get<std::string>();
            }
        }
        const auto key = detail::inboundKey(e->room, e->senderKey, e->id);
        m_inbound[key] = std::move(e);
    }
    MXRTC_TRY_ASSIGN(outbound, m_store.load(PickleKind::OutboundGroupSession));
    for (const auto& rec : outbound) {
        MXRTC_TRY_ASSIGN(j, parseRecord(rec, PickleKind::OutboundGroupSession));
        MXRTC_TRY_ASSIGN(s, lib::OutboundGroupSession::unpickle(j["pickle"].get<std::string>(), m_pickleKey));
        auto e = std::unique_ptr<OutboundGroupEntry>(new OutboundGroupEntry{
            s.id(), std::move(s), fromUnixMs(j.value("created_at", std::int64_t{0})), {}});
        if (auto it = j.find("shared_with"); it != j.end() && it->is_array()) {
            for (const auto& d : *it) {
                if (d.is_array() && d.size() == 2 && d[0].is_string() && d[1].is_string())
                    e->sharedWith.insert(
                        {UserId(d[0].get<std::string>()), DeviceId(d[1].get<std::string>())});
            }
        }
        m_outbound[RoomId(rec.id)] = std::move(e);
    }
    MXRTC_TRY_ASSIGN(devices, m_store.load(PickleKind::Devices));
    for (const auto& rec : devices) {
        MXRTC_TRY_ASSIGN(j, parseRecord(rec, PickleKind::Devices));
        const UserId user(rec.id);
        if (j.value("tracked", false)) m_tracked.insert(user);
        if (j.value("outdated", false)) m_outdated.insert(user);
        auto& map = m_devices[user];
        if (auto it = j.find("devices"); it != j.end() && it->is_array()) {
            for (const auto& dj : *it) {
                if (auto d = deviceFromJson(dj); d && d->user == user) map[d->device] = *d;
            }
        }
    }
    return {};
}

Result<void> OlmMachine::saveAccount(std::vector<PickleWrite>& batch) const {
    Json a{{"user_id", m_user.str()},
           {"device_id", m_device.str()},
           {"pickle", m_account->pickle(m_pickleKey)},
           {"device_keys_published", m_deviceKeysPublished},
           {"need_fallback_key", m_needFallbackKey}};
    batch.push_back({PickleKind::Account, "account", a.dump()});
    return {};
}

PickleWrite OlmMachine::sessionWrite(const OlmSessionEntry& e) const {
    Json j{{"their_key", e.theirKey.str()}, {"pickle", e.session.pickle(m_pickleKey)}, {"seq", e.seq}};
    return {PickleKind::OlmSession, e.theirKey.str() + "|" + e.id.str(), j.dump()};
}

PickleWrite OlmMachine::inboundWrite(const InboundGroupEntry& e) const {
    Json seen = Json::object();
    for (const auto& [index, tag] : e.seen)
        seen[std::to_string(index)] = tag;
    Json j{{"room_id", e.room.str()},
           {"sender_key", e.senderKey.str()},
           {"sender_ed25519", e.senderEd25519.str()},
           {"user_id", e.owner.user.str()},
           {"device_id", e.owner.device.str()},
           {"pickle", e.session.pickle(m_pickleKey)},
           {"seen", std::move(seen)}};
    return {PickleKind::InboundGroupSession, detail::inboundKey(e.room, e.senderKey, e.id), j.dump()};
}

PickleWrite OlmMachine::outboundWrite(const RoomId& room, const OutboundGroupEntry& e) const {
    Json shared = Json::array();
    for (const auto& d : e.sharedWith)
        shared.push_back(Json::array({d.user.str(), d.device.str()}));
    Json j{{"pickle", e.session.pickle(m_pickleKey)},
           {"created_at", toUnixMs(e.createdAt)},
           {"shared_with", std::move(shared)}};
    return {PickleKind::OutboundGroupSession, room.str(), j.dump()};
}

PickleWrite OlmMachine::devicesWrite(const UserId& user) const {
    Json list = Json::array();
    if (auto it = m_devices.find(user); it != m_devices.end()) {
        for (const auto& [id, d] : it->second)
            list.push_back(deviceToJson(d));
    }
    Json j{
        {"tracked", m_tracked.count(user) > 0}, {"outdated", m_outdated.count(user) > 0}, {"devices", list}};
    return {PickleKind::Devices, user.str(), j.dump()};
}

Result<void> OlmMachine::commit(std::vector<PickleWrite> batch) {
    return m_store.write(batch);
}

// ---- identity and signing ------------------------------------------------------------------------
Result<Json> OlmMachine::signJson(Json object) const {
    MXRTC_TRY_ASSIGN(canonical, canonicalJsonForSigning(object));
    const std::string signature = m_account->sign(canonical);
    object["signatures"][m_user.str()][keyId(e2ee::kEd25519, m_device)] = signature;
    return object;
}

Json OlmMachine::deviceKeys() const {
    if (!m_signedDeviceKeys.is_null()) return m_signedDeviceKeys;  // ed25519 signatures are deterministic
    Json keys = Json::object();
    keys[keyId(e2ee::kCurve25519, m_device)] = m_identity.curve25519.str();
    keys[keyId(e2ee::kEd25519, m_device)] = m_identity.ed25519.str();
    Json d{{"user_id", m_user.str()},
           {"device_id", m_device.str()},
           {"algorithms", Json::array({e2ee::kOlmAlgorithm, e2ee::kMegolmAlgorithm})},
           {"keys", std::move(keys)}};
    m_signedDeviceKeys = std::move(signJson(std::move(d))).value();  // our own ASCII object: cannot fail
    return m_signedDeviceKeys;
}

// ---- /keys/upload --------------------------------------------------------------------------------
Result<std::optional<Json>> OlmMachine::keysUploadBody() {
    Json body = Json::object();
    if (!m_deviceKeysPublished) body["device_keys"] = deviceKeys();

    bool changed = false;
    const Json unpublished = m_account->unpublishedOneTimeKeys().value("curve25519", Json::object());
    std::optional<std::size_t> onServer = m_serverOneTimeKeys;
    if (!onServer && !m_deviceKeysPublished) onServer = 0;  // a brand-new device has none
    if (onServer) {
        const std::size_t target = std::min(m_config.oneTimeKeyTarget, m_account->maxOneTimeKeys() / 2);
        const std::size_t have = *onServer + unpublished.size();
        if (have < target) {
            m_account->generateOneTimeKeys(target - have, m_random);
            changed = true;
        }
    }
    if (m_needFallbackKey &&
        m_account->unpublishedFallbackKey().value("curve25519", Json::object()).empty()) {
        m_account->generateFallbackKey(m_random);
        changed = true;
    }
    if (changed) {  // store the keys before anyone can see them
        std::vector<PickleWrite> batch;
        if (auto r = saveAccount(batch); !r) return r.error();
        if (auto r = commit(std::move(batch)); !r) return r.error();
    }

    Json otks = Json::object();
    const Json toPublish = m_account->unpublishedOneTimeKeys().value("curve25519", Json::object());
    for (const auto& [id, key] : toPublish.items()) {
        MXRTC_TRY_ASSIGN(signed_, signJson(Json{{"key", key}}));
        otks[std::string(e2ee::kSignedCurve25519) + ":" + id] = std::move(signed_);
    }
    if (!otks.empty()) body["one_time_keys"] = std::move(otks);
    if (m_needFallbackKey) {
        Json fallback = Json::object();
        const Json fallbackKey = m_account->unpublishedFallbackKey().value("curve25519", Json::object());
        for (const auto& [id, key] : fallbackKey.items()) {
            MXRTC_TRY_ASSIGN(signed_, signJson(Json{{"key", key}, {"fallback", true}}));
            fallback[std::string(e2ee::kSignedCurve25519) + ":" + id] = std::move(signed_);
        }
        if (!fallback.empty()) body["fallback_keys"] = std::move(fallback);
    }
    if (body.empty()) return std::optional<Json>{};
    return std::optional<Json>{std::move(body)};
}

Result<void> OlmMachine::onKeysUploaded(const Json& response) {
    m_account->markKeysAsPublished();
    m_deviceKeysPublished = true;
    m_needFallbackKey = false;
    onOneTimeKeyCounts(response.is_object() ? response.value("one_time_key_counts", Json::object()) : Json());
    if (!m_serverOneTimeKeys) m_serverOneTimeKeys = 0;
    std::vector<PickleWrite> batch;
    if (auto r = saveAccount(batch); !r) return r;
    return commit(std::move(batch));
}

void OlmMachine::onOneTimeKeyCounts(const Json& counts) {
    if (!counts.is_object()) return;
    const auto it = counts.find(e2ee::kSignedCurve25519);
    if (it != counts.end() && it->is_number_unsigned()) {
        m_serverOneTimeKeys = it->get<std::size_t>();
    } else if (it != counts.end() && it->is_number_integer() && it->get<std::int64_t>() >= 0) {
        m_serverOneTimeKeys = static_cast<std::size_t>(it->get<std::int64_t>());
    } else {
        m_serverOneTimeKeys = 0;  // Synapse omits algorithms with no keys left
    }
}

void OlmMachine::onUnusedFallbackKeyTypes(const Json& types) {
    if (!types.is_array() || !m_deviceKeysPublished) return;
    const bool present = std::any_of(types.begin(), types.end(), [](const Json& t) {
        return t.is_string() && t.get_ref<const std::string&>() == e2ee::kSignedCurve25519;
    });
    if (!present) m_needFallbackKey = true;
}

// ---- device lists --------------------------------------------------------------------------------
void OlmMachine::trackUsers(const std::vector<UserId>& users) {
    std::vector<PickleWrite> batch;
    for (const auto& u : users) {
        if (m_tracked.insert(u).second) {
            m_outdated.insert(u);
            batch.push_back(devicesWrite(u));
        }
    }
    (void)commit(std::move(batch));  // tracking is re-derived from room membership if lost
}

void OlmMachine::onDeviceLists(const Json& deviceLists) {
    if (!deviceLists.is_object()) return;
    std::vector<PickleWrite> batch;
    if (auto it = deviceLists.find("changed"); it != deviceLists.end() && it->is_array()) {
        for (const auto& u : *it) {
            if (!u.is_string()) continue;
            const UserId user(u.get<std::string>());
            if (m_tracked.count(user) > 0 && m_outdated.insert(user).second)
                batch.push_back(devicesWrite(user));
        }
    }
    if (auto it = deviceLists.find("left"); it != deviceLists.end() && it->is_array()) {
        for (const auto& u : *it) {
            if (!u.is_string()) continue;
            const UserId user(u.get<std::string>());
            if (m_tracked.erase(user) > 0) {
                m_outdated.erase(user);
                batch.push_back(devicesWrite(user));
            }
        }
    }
    (void)commit(std::move(batch));
}

std::vector<UserId> OlmMachine::outdatedUsers() const {
    return {m_outdated.begin(), m_outdated.end()};
}

Json OlmMachine::keysQueryBody(const std::vector<UserId>& users) {
    Json deviceKeys = Json::object();
    for (const auto& u : users)
        deviceKeys[u.str()] = Json::array();
    return Json{{"device_keys", std::move(deviceKeys)}, {"timeout", 10'000}};
}

KeysQueryReport OlmMachine::onKeysQuery(const Json& response) {
    KeysQueryReport report;
    const Json* all =
        response.is_object() && response.contains("device_keys") ? &response["device_keys"] : nullptr;
    if (all == nullptr || !all->is_object()) return report;
    std::vector<PickleWrite> batch;
    for (auto u = all->begin(); u != all->end(); ++u) {
        const UserId user(u.key());
        if (!u.value().is_object()) continue;
        auto& known = m_devices[user];
        std::map<DeviceId, e2ee::DeviceKeys> fresh;
        for (auto d = u.value().begin(); d != u.value().end(); ++d) {
            const DeviceId device(d.key());
            if (user == m_user && device == m_device) continue;  // ourselves
            auto reject = [&](std::string reason) {
                report.rejected.push_back({user, device, std::move(reason)});
            };
            auto parsed = e2ee::parseDeviceKeys(d.value(), user, device);
            if (!parsed) {
                reject(parsed.error().message);
                continue;
            }
            if (auto v = verifySignedJson(d.value(), user, device, parsed->ed25519); !v) {
                reject("device keys: " + v.error().message);
                continue;
            }
            if (auto old = known.find(device); old != known.end() && old->second.ed25519 != parsed->ed25519) {
                reject("ed25519 key changed from " + old->second.ed25519.str() + "; keeping the old keys");
                fresh[device] = old->second;
                continue;
            }
            if (std::find(parsed->algorithms.begin(), parsed->algorithms.end(), e2ee::kOlmAlgorithm) ==
                parsed->algorithms.end()) {
                reject("device does not support " + std::string(e2ee::kOlmAlgorithm));
                continue;
            }
            report.accepted.push_back(*parsed);
            fresh[device] = std::move(parsed.value());
        }
        for (const auto& [id, _] : known) {
            if (fresh.count(id) == 0) {
                report.removed.push_back(user);
                break;
            }
        }
        known = std::move(fresh);
        m_outdated.erase(user);
        batch.push_back(devicesWrite(user));
    }
    (void)commit(std::move(batch));  // the device list can always be queried again
    return report;
}

std::vector<e2ee::DeviceKeys> OlmMachine::devices(const UserId& user) const {
    std::vector<e2ee::DeviceKeys> out;
    if (auto it = m_devices.find(user); it != m_devices.end()) {
        for (const auto& [_, d] : it->second)
            out.push_back(d);
    }
    return out;
}

std::optional<e2ee::DeviceKeys> OlmMachine::device(const DeviceRef& ref) const {
    auto it = m_devices.find(ref.user);
    if (it == m_devices.end()) return std::nullopt;
    auto d = it->second.find(ref.device);
    if (d == it->second.end()) return std::nullopt;
    return d->second;
}

const e2ee::DeviceKeys* OlmMachine::deviceByCurveKey(const UserId& user,
                                                     const e2ee::Curve25519Key& key) const {
    auto it = m_devices.find(user);
    if (it == m_devices.end()) return nullptr;
    for (const auto& [_, d] : it->second) {
        if (d.curve25519 == key) return &d;
    }
    return nullptr;
}

// ---- Olm sessions --------------------------------------------------------------------------------
std::vector<OlmMachine::OlmSessionEntry*> OlmMachine::sessionsFor(const e2ee::Curve25519Key& key) {
    std::vector<OlmSessionEntry*> out;
    for (auto& s : m_sessions) {
        if (s->theirKey == key) out.push_back(s.get());
    }
    std::sort(out.begin(), out.end(), [](const auto* a, const auto* b) { return a->seq > b->seq; });
    return out;
}

bool OlmMachine::hasSession(const DeviceRef& ref) const {
    return sessionCount(ref) > 0;
}

std::size_t OlmMachine::sessionCount(const DeviceRef& ref) const {
    const auto d = device(ref);
    if (!d) return 0;
    return static_cast<std::size_t>(std::count_if(
        m_sessions.begin(), m_sessions.end(), [&](const auto& s) { return s->theirKey == d->curve25519; }));
}

std::vector<DeviceRef> OlmMachine::devicesNeedingSession(const std::vector<DeviceRef>& targets) const {
    std::vector<DeviceRef> out;
    for (const auto& t : targets) {
        if (t.user == m_user && t.device == m_device) continue;
        if (!device(t)) continue;
        if (!hasSession(t) || m_wedged.count(t) > 0) out.push_back(t);
    }
    return out;
}

Json OlmMachine::keysClaimBody(const std::vector<DeviceRef>& devices) {
    Json otks = Json::object();
    for (const auto& d : devices)
        otks[d.user.str()][d.device.str()] = e2ee::kSignedCurve25519;
    return Json{{"one_time_keys", std::move(otks)}, {"timeout", 10'000}};
}

KeysClaimReport OlmMachine::onKeysClaim(const Json& response) {
    KeysClaimReport report;
    const Json* all =
        response.is_object() && response.contains("one_time_keys") ? &response["one_time_keys"] : nullptr;
    if (all == nullptr || !all->is_object()) return report;
    std::vector<PickleWrite> batch;
    for (auto u = all->begin(); u != all->end(); ++u) {
        if (!u.value().is_object()) continue;
        const UserId user(u.key());
        for (auto d = u.value().begin(); d != u.value().end(); ++d) {
            const DeviceRef ref{user, DeviceId(d.key())};
            auto fail = [&](std::string reason) {
                report.failed.push_back({ref.user, ref.device, std::move(reason)});
            };
            const auto known = device(ref);
            if (!known) {
                fail("one-time key for a device we have not queried");
                continue;
            }
            auto claimed = e2ee::parseClaimedKey(d.value());
            if (!claimed) {
                fail(claimed.error().message);
                continue;
            }
            const Json& keyObject = d.value()[claimed->keyId];
            if (auto v = verifySignedJson(keyObject, user, ref.device, known->ed25519); !v) {
                fail("one-time key: " + v.error().message);
                continue;
            }
            auto session =
                lib::Session::createOutbound(*m_account, known->curve25519, claimed->key, m_random);
            if (!session) {
                fail(session.error().message);
                continue;
            }
            auto id = session->id();
            auto entry = std::unique_ptr<OlmSessionEntry>(new OlmSessionEntry{
                known->curve25519, std::move(id), std::move(session.value()), ++m_sessionSeq});
            batch.push_back(sessionWrite(*entry));
            m_sessions.push_back(std::move(entry));
            report.sessionsCreated.push_back(ref);
            if (m_wedged.erase(ref) > 0) report.unwedged.push_back(ref);
        }
    }
    if (auto r = commit(std::move(batch)); !r) {
        for (const auto& ref : report.sessionsCreated)
            report.failed.push_back({ref.user, ref.device, "cannot store the session: " + r.error().message});
    }
    return report;
}

// ---- Olm to-device -------------------------------------------------------------------------------
Result<Json> OlmMachine::encryptToDevice(const DeviceRef& to, std::string_view type, const Json& content) {
    const auto d = device(to);
    if (!d)
        return makeError(errcode::kUnknownDevice,
                         "no verified keys for " + to.user.str() + " " + to.device.str());
    auto sessions = sessionsFor(d->curve25519);
    if (sessions.empty())
        return makeError(errcode::kNoSession, "no Olm session with " + to.user.str() + " " + to.device.str());
    const Json payload = e2ee::buildOlmPayload(
        type, content, {m_user, m_device, m_identity.ed25519, to.user, d->ed25519, deviceKeys()});
    MXRTC_TRY_ASSIGN(plaintext, serialise(payload));
    OlmSessionEntry& s = *sessions.front();
    const auto encrypted = s.session.encrypt(plaintext, m_random);
    if (auto r = commit({sessionWrite(s)}); !r) return r.error();
    return e2ee::buildOlmEnvelope(
        m_identity.curve25519, d->curve25519,
        encrypted.type == 0 ? e2ee::OlmMessageType::PreKey : e2ee::OlmMessageType::Normal, encrypted.body);
}

Result<DecryptedToDevice> OlmMachine::decryptToDevice(const Json& event, TimePoint now) {
    if (!event.is_object()) return makeError(mxrtc::errcode::kBadJson, "'event' must be an object");
    const auto type = event.find("type");
    if (type == event.end() || !type->is_string() ||
        type->get_ref<const std::string&>() != e2ee::kRoomEncryptedType)
        return makeError(mxrtc::errcode::kBadJson, "'type' must be m.room.encrypted");
    const auto senderIt = event.find("sender");
    if (senderIt == event.end() || !senderIt->is_string() || senderIt->get_ref<const std::string&>().empty())
        return makeError(mxrtc::errcode::kBadJson, "'sender' must be a non-empty string");
    const UserId sender(senderIt->get<std::string>());
    const auto contentIt = event.find("content");
    if (contentIt == event.end()) return makeError(mxrtc::errcode::kBadJson, "'content' is missing");
    MXRTC_TRY_ASSIGN(envelope, e2ee::parseOlmEnvelope(*contentIt, m_identity.curve25519));

    std::vector<PickleWrite> batch;
    std::optional<std::string> plaintext;
    OlmSessionEntry* used = nullptr;
    auto candidates = sessionsFor(envelope.senderKey);
    if (envelope.type == e2ee::OlmMessageType::PreKey) {
        for (auto* s : candidates) {
            if (!s->session.matchesInbound(envelope.senderKey, envelope.body)) continue;
            auto r = s->session.decrypt(0, envelope.body);
            if (!r) return makeError(errcode::kDecryptFailed, r.error().message);
            plaintext = std::move(r.value());
            used = s;
            break;
        }
        if (used == nullptr) {
            auto created = lib::Session::createInbound(*m_account, envelope.senderKey, envelope.body);
            if (!created) return makeError(errcode::kDecryptFailed, created.error().message);
            auto r = created->decrypt(0, envelope.body);
            if (!r) return makeError(errcode::kDecryptFailed, r.error().message);
            (void)created->removeOneTimeKeysFrom(*m_account);  // a fallback key stays until rotated
            plaintext = std::move(r.value());
            auto id = created->id();
            m_sessions.push_back(std::unique_ptr<OlmSessionEntry>(
                new OlmSessionEntry{envelope.senderKey, std::move(id), std::move(created.value()), 0}));
            used = m_sessions.back().get();
            if (auto r2 = saveAccount(batch); !r2) return r2.error();
        }
    } else {
        for (auto* s : candidates) {
            auto r = s->session.decrypt(1, envelope.body);
            if (!r) continue;
            plaintext = std::move(r.value());
            used = s;
            break;
        }
        if (used == nullptr) {
            if (const auto* d = deviceByCurveKey(sender, envelope.senderKey)) {
                const DeviceRef ref{d->user, d->device};
                auto last = m_lastUnwedge.find(ref);
                if (last == m_lastUnwedge.end() || now - last->second >= m_config.unwedgeInterval) {
                    m_wedged.insert(ref);
                    m_lastUnwedge[ref] = now;
                }
            }
            return makeError(errcode::kDecryptFailed, "none of our " + std::to_string(candidates.size()) +
                                                          " Olm sessions with " + envelope.senderKey.str() +
                                                          " decrypts this message (wedged session)");
        }
    }
    used->seq = ++m_sessionSeq;
    batch.push_back(sessionWrite(*used));
    if (auto r = commit(std::move(batch)); !r) return r.error();

    MXRTC_TRY_ASSIGN(payload, e2ee::parseOlmPayload(*plaintext, sender, {m_user, m_identity.ed25519}));
    DecryptedToDevice out;
    out.sender = sender;
    out.senderKey = envelope.senderKey;
    out.senderEd25519 = payload.senderEd25519;
    out.claimedDevice = payload.senderDevice;
    out.senderDeviceKeys = std::move(payload.senderDeviceKeys);
    out.type = std::move(payload.type);
    out.content = std::move(payload.content);
    if (auto v = verifySender(out); !v && v.error().errcode != errcode::kUnknownDevice) return v.error();
    return out;
}

Result<void> OlmMachine::verifySender(DecryptedToDevice& d) const {
    const auto* dev = deviceByCurveKey(d.sender, d.senderKey);
    std::optional<e2ee::DeviceKeys> included;
    if (dev == nullptr) {
        if (d.claimedDevice) {
            if (auto claimed = device({d.sender, *d.claimedDevice}); claimed) {
                return forbidden("sender_device " + d.claimedDevice->str() + " has curve25519 key " +
                                 claimed->curve25519.str() + ", not the Olm sender key " + d.senderKey.str());
            }
        }
        if (!d.senderDeviceKeys) {
            return makeError(errcode::kUnknownDevice, "no known device of " + d.sender.str() +
                                                          " has curve25519 key " + d.senderKey.str());
        }
        // MSC4147: the sender included its self-signed device keys.
        const Json& k = *d.senderDeviceKeys;
        const DeviceId listed(k.is_object() && k.contains("device_id") && k["device_id"].is_string()
                                  ? k["device_id"].get<std::string>()
                                  : std::string());
        auto parsed = e2ee::parseDeviceKeys(k, d.sender, listed);
        if (!parsed) return forbidden("sender_device_keys: " + parsed.error().message);
        if (auto v = verifySignedJson(k, d.sender, listed, parsed->ed25519); !v)
            return forbidden("sender_device_keys: " + v.error().message);
        if (parsed->curve25519 != d.senderKey)
            return forbidden("sender_device_keys do not carry the Olm sender key " + d.senderKey.str());
        if (auto known = device({d.sender, listed}); known && known->ed25519 != parsed->ed25519)
            return forbidden("sender_device_keys of " + listed.str() + " differ from its published keys");
        included = std::move(parsed.value());
        dev = &*included;
    }
    if (dev->ed25519 != d.senderEd25519)
        return forbidden("keys.ed25519 is not the ed25519 key device " + dev->device.str() + " published");
    if (d.claimedDevice && *d.claimedDevice != dev->device)
        return forbidden("sender_device " + d.claimedDevice->str() + " is not the Olm sender device " +
                         dev->device.str());
    d.senderDevice = dev->device;
    return {};
}

}  // namespace mxrtc::olm
