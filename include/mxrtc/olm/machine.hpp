// OlmMachine: one device's Matrix end-to-end encryption state (libolm), without I/O.
//
// It builds request bodies (/keys/upload, /keys/query, /keys/claim), consumes their responses and
// the crypto parts of /sync, and encrypts / decrypts m.room.encrypted (Olm to-device, Megolm room
// events). The caller (matrix::OlmTransport, or a test) performs the HTTP requests. Randomness is
// injected; `now` is an input where a decision depends on time. Every state change is written to
// the PickleStore before the call returns (pickles encrypted with the user's PickleKey).
//
// Trust model (what the machine guarantees about a decrypted to-device event):
//  * the Olm session's sender curve25519 key belongs to a device whose keys we fetched with
//    /keys/query (or that came as sender_device_keys, MSC4147) and whose self-signature verified
//    (ed25519); that device is `senderDevice`;
//  * the plaintext's sender, recipient, recipient_keys.ed25519, keys.ed25519 and sender_device all
//    agree with the to-device envelope, with us and with that device (M_FORBIDDEN otherwise).
// A device whose ed25519 key changes between queries is rejected (the old keys are kept).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "mxrtc/common/ids.hpp"
#include "mxrtc/common/result.hpp"
#include "mxrtc/common/time.hpp"
#include "mxrtc/e2ee/key_messages.hpp"
#include "mxrtc/e2ee/olm_messages.hpp"
#include "mxrtc/olm/pickle_store.hpp"
#include "mxrtc/olm/types.hpp"

namespace mxrtc::olm {

namespace lib {
class Account;
class Session;
class OutboundGroupSession;
class InboundGroupSession;
}  // namespace lib

struct MachineConfig {
    std::size_t oneTimeKeyTarget = 50;           // keep this many signed_curve25519 keys on the server
    Duration unwedgeInterval{60LL * 60 * 1000};  // at most one forced new session per device per hour
    std::uint32_t megolmRotationMessages = 100;  // rotate the outbound Megolm session after this many
    Duration megolmRotationPeriod{7LL * 24 * 60 * 60 * 1000};
};

struct RejectedDevice {
    UserId user;
    DeviceId device;
    std::string reason;
};

struct KeysQueryReport {
    std::vector<e2ee::DeviceKeys> accepted;
    std::vector<RejectedDevice> rejected;
    std::vector<UserId> removed;  // a device of this user disappeared (deleted / logged out)
};

struct KeysClaimReport {
    std::vector<DeviceRef> sessionsCreated;
    std::vector<DeviceRef> unwedged;  // new sessions forced for wedged devices: send them m.dummy
    std::vector<RejectedDevice> failed;
};

struct DecryptedToDevice {
    UserId sender;
    e2ee::Curve25519Key senderKey;
    e2ee::Ed25519Key senderEd25519;                  // keys.ed25519 from the plaintext
    std::optional<DeviceId> claimedDevice;           // sender_device from the plaintext
    std::optional<nlohmann::json> senderDeviceKeys;  // MSC4147 sender_device_keys, as sent
    DeviceId senderDevice;                           // Olm-verified device ("" until verifySender succeeds)
    std::string type;
    nlohmann::json content;

    bool verified() const noexcept { return !senderDevice.empty(); }
    // What e2ee::parseToDeviceKeyMessage needs to know about how the message arrived.
    e2ee::ToDeviceOrigin origin() const { return {sender, true, senderDevice}; }
};

struct RoomKeyShare {
    RoomId room;
    e2ee::MegolmSessionId sessionId;
    nlohmann::json roomKeyContent;      // m.room_key content: encrypt it to each recipient with Olm
    std::vector<DeviceRef> recipients;  // the members that do not have this session yet
    bool rotated = false;               // a new session was started (first use, expiry or a leaver)
};

struct DecryptedRoomEvent {
    UserId sender;
    DeviceId senderDevice;  // the device that shared the Megolm session with us (Olm-verified)
    std::string type;
    nlohmann::json content;
    std::uint32_t messageIndex = 0;
};

class OlmMachine {
  public:
    // Loads the account and sessions from `store`, or creates (and stores) a new account. Fails on
    // a wrong pickle key (MXRTC_OLM_BAD_PICKLE_KEY) or a store that belongs to another device.
    // `store` must outlive the machine.
    static Result<std::unique_ptr<OlmMachine>> open(UserId user, DeviceId device, PickleKey pickleKey,
                                                    PickleStore& store, RandomSource random,
                                                    MachineConfig config = {});
    ~OlmMachine();
    OlmMachine(const OlmMachine&) = delete;
    OlmMachine& operator=(const OlmMachine&) = delete;

    const UserId& userId() const noexcept { return m_user; }
    const DeviceId& deviceId() const noexcept { return m_device; }
    const IdentityKeys& identityKeys() const noexcept { return m_identity; }

    // Our signed device keys (as /keys/upload "device_keys" and as other servers list them).
    nlohmann::json deviceKeys() const;
    // Adds signatures[user]["ed25519:<device>"] over the canonical form of `object`.
    Result<nlohmann::json> signJson(nlohmann::json object) const;

    // ---- /keys/upload ---------------------------------------------------------------------------
    // The body to upload now (device keys until the server acknowledged them, one-time keys to
    // reach the target, a fresh fallback key when needed), or nullopt if nothing is needed.
    // Generated keys are stored before they are returned.
    Result<std::optional<nlohmann::json>> keysUploadBody();
    Result<void> onKeysUploaded(const nlohmann::json& response);
    // /sync: device_one_time_keys_count and device_unused_fallback_key_types.
    void onOneTimeKeyCounts(const nlohmann::json& counts);
    void onUnusedFallbackKeyTypes(const nlohmann::json& types);

    // ---- device lists (/keys/query) ------------------------------------------------------------
    void trackUsers(const std::vector<UserId>& users);
    void onDeviceLists(const nlohmann::json& deviceLists);  // /sync device_lists {changed, left}
    std::vector<UserId> outdatedUsers() const;
    static nlohmann::json keysQueryBody(const std::vector<UserId>& users);
    KeysQueryReport onKeysQuery(const nlohmann::json& response);
    std::vector<e2ee::DeviceKeys> devices(const UserId& user) const;
    std::optional<e2ee::DeviceKeys> device(const DeviceRef& ref) const;

    // ---- Olm sessions (/keys/claim) -------------------------------------------------------------
    // Of `targets`, the known devices that need a one-time key claimed: no session yet, or wedged.
    std::vector<DeviceRef> devicesNeedingSession(const std::vector<DeviceRef>& targets) const;
    static nlohmann::json keysClaimBody(const std::vector<DeviceRef>& devices);
    KeysClaimReport onKeysClaim(const nlohmann::json& response);
    // Devices whose messages we could not decrypt (claim a new key for them, then send m.dummy).
    std::vector<DeviceRef> wedgedDevices() const { return {m_wedged.begin(), m_wedged.end()}; }
    bool hasSession(const DeviceRef& device) const;
    std::size_t sessionCount(const DeviceRef& device) const;

    // ---- Olm to-device ----------------------------------------------------------------------------
    // m.room.encrypted content for one device, with the most recently used session.
    Result<nlohmann::json> encryptToDevice(const DeviceRef& to, std::string_view type,
                                           const nlohmann::json& content);
    // A to-device event {"type": "m.room.encrypted", "sender", "content"}. On a normal message no
    // session can decrypt, the sender device is marked wedged (see devicesNeedingSession) and the
    // error is MXRTC_OLM_DECRYPT_FAILED. The result is verified if the sender device is known.
    Result<DecryptedToDevice> decryptToDevice(const nlohmann::json& event, TimePoint now);
    // Finds the sending device: the queried device whose curve25519 key is the Olm sender key, or
    // else the self-signed sender_device_keys (MSC4147) carrying that key. Fills senderDevice.
    // Call it again on an unverified result after the sender's keys were queried.
    Result<void> verifySender(DecryptedToDevice& decrypted) const;

    // ---- Megolm ---------------------------------------------------------------------------------
    // Ensures an outbound session for `room` shared with exactly `members` (rotating when it is
    // too old / used too much, or when a device it was shared with is no longer a member).
    Result<RoomKeyShare> prepareRoomKey(const RoomId& room, const std::vector<DeviceRef>& members,
                                        TimePoint now);
    Result<void> markRoomKeyShared(const RoomId& room, const e2ee::MegolmSessionId& session,
                                   const std::vector<DeviceRef>& devices);
    void discardOutboundSession(const RoomId& room);
    // m.room.encrypted content (Megolm) for a room event; prepareRoomKey first.
    Result<nlohmann::json> encryptRoomEvent(const RoomId& room, std::string_view type,
                                            const nlohmann::json& content);
    // Imports an m.room_key received over Olm from a verified device.
    Result<void> importRoomKey(const DecryptedToDevice& roomKey);
    // A room event {"type": "m.room.encrypted", "sender", "event_id", "origin_server_ts", "content"}.
    Result<DecryptedRoomEvent> decryptRoomEvent(const RoomId& room, const nlohmann::json& event);

  private:
    struct OlmSessionEntry;
    struct InboundGroupEntry;
    struct OutboundGroupEntry;

    OlmMachine(UserId user, DeviceId device, PickleKey key, PickleStore& store, RandomSource random,
               MachineConfig config);
    Result<void> load();
    Result<void> saveAccount(std::vector<PickleWrite>& batch) const;
    PickleWrite sessionWrite(const OlmSessionEntry& entry) const;
    PickleWrite inboundWrite(const InboundGroupEntry& entry) const;
    PickleWrite outboundWrite(const RoomId& room, const OutboundGroupEntry& entry) const;
    PickleWrite devicesWrite(const UserId& user) const;
    Result<void> commit(std::vector<PickleWrite> batch);
    const e2ee::DeviceKeys* deviceByCurveKey(const UserId& user, const e2ee::Curve25519Key& key) const;
    std::vector<OlmSessionEntry*> sessionsFor(const e2ee::Curve25519Key& key);
    Result<void> addInboundGroupSession(const RoomId& room, const e2ee::Curve25519Key& senderKey,
                                        const e2ee::Ed25519Key& senderEd25519, const DeviceRef& owner,
                                        const std::string& sessionKey,
                                        const e2ee::MegolmSessionId& expectedId);

    UserId m_user;
    DeviceId m_device;
    PickleKey m_pickleKey;
    PickleStore& m_store;
    RandomSource m_random;
    MachineConfig m_config;
    std::unique_ptr<lib::Account> m_account;
    IdentityKeys m_identity;
    mutable nlohmann::json m_signedDeviceKeys;  // built on first use (sent in every Olm message)
    bool m_deviceKeysPublished = false;
    std::optional<std::size_t> m_serverOneTimeKeys;  // unknown until the server told us
    bool m_needFallbackKey = true;

    std::map<UserId, std::map<DeviceId, e2ee::DeviceKeys>> m_devices;
    std::set<UserId> m_tracked;
    std::set<UserId> m_outdated;

    std::vector<std::unique_ptr<OlmSessionEntry>> m_sessions;
    std::uint64_t m_sessionSeq = 0;  // recency: bumped on session creation and each decryption
    std::set<DeviceRef> m_wedged;
    std::map<DeviceRef, TimePoint> m_lastUnwedge;

    std::map<RoomId, std::unique_ptr<OutboundGroupEntry>> m_outbound;
    std::map<std::string, std::unique_ptr<InboundGroupEntry>> m_inbound;  // room|sender_key|session_id
};

}  // namespace mxrtc::olm
