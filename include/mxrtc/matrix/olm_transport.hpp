// OlmTransport: runs an olm::OlmMachine against the homeserver. It performs the key requests the
// machine needs (/keys/upload, /keys/query, /keys/claim), sends Olm-encrypted to-device messages
// (one m.room.encrypted per device, one sendToDevice request), and turns the crypto parts of a
// /sync response into decrypted, sender-verified to-device events.
//
// Only Olm-verified events come out of handleSync() as encrypted: the sender device's keys were
// fetched with /keys/query and its self-signature checked, and the Olm sender key belongs to it.
// Plaintext to-device events come out with origin.encrypted = false (media-key messages among
// them are refused by e2ee::parseToDeviceKeyMessage).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "mxrtc/e2ee/key_manager.hpp"
#include "mxrtc/e2ee/key_messages.hpp"
#include "mxrtc/matrix/client.hpp"
#include "mxrtc/olm/machine.hpp"

namespace mxrtc::matrix {

struct ReceivedToDevice {
    std::string type;
    nlohmann::json content;
    e2ee::ToDeviceOrigin origin;  // encrypted + Olm-verified sender device, or plaintext
};

struct ToDeviceFailure {
    UserId sender;
    std::string type;   // the event type as received (m.room.encrypted for decryption failures)
    std::string error;  // one line
};

struct SyncCryptoResult {
    std::vector<ReceivedToDevice> events;
    std::vector<ToDeviceFailure> failures;
};

struct EncryptedSendReport {
    std::vector<olm::DeviceRef> sent;
    std::vector<olm::RejectedDevice> skipped;  // unknown device, no one-time key, ...
};

class OlmTransport {
  public:
    OlmTransport(Client& client, LoginSession self, olm::OlmMachine& machine);

    // Uploads device keys and one-time keys while the machine wants to.
    boost::asio::awaitable<MxResult<bool>> uploadKeys();
    // /keys/query for `users` plus every tracked user whose device list changed.
    boost::asio::awaitable<MxResult<olm::KeysQueryReport>> queryKeys(std::vector<UserId> users);
    // Queries unknown users, claims one-time keys for devices without a session (or wedged ones)
    // and sends m.dummy over each session created to unwedge.
    boost::asio::awaitable<MxResult<olm::KeysClaimReport>> ensureSessions(
        std::vector<olm::DeviceRef> devices);
    // Encrypts `content` for each device and sends all of them in one request.
    boost::asio::awaitable<MxResult<EncryptedSendReport>> sendEncrypted(std::string type,
                                                                        nlohmann::json content,
                                                                        std::vector<olm::DeviceRef> devices);
    // Sends a KeyManager DistributeKey effect: io.element.call.encryption_keys to every recipient.
    boost::asio::awaitable<MxResult<EncryptedSendReport>> distributeKey(const e2ee::DistributeKey& effect,
                                                                        const RoomId& room,
                                                                        std::string ownMemberId,
                                                                        TimePoint now);
    // Sends a KeyManager DistributeKey effect the legacy way (spec §5.2): one room event
    // io.element.call.encryption_keys, Megolm-encrypted in `room`. The outbound Megolm session is
    // first shared (m.room_key over Olm) with every device in `members` that lacks it; it rotates
    // when a device it was shared with is no longer among `members` (a leaver cannot read on).
    // `sent` lists the devices that got the room key now.
    boost::asio::awaitable<MxResult<EncryptedSendReport>> distributeKeyInRoom(
        const e2ee::DistributeKey& effect, const RoomId& room, std::vector<olm::DeviceRef> members,
        TimePoint now);
    // One m.room.encrypted timeline event of `room`: decrypted with the inbound Megolm session, and,
    // if it is an io.element.call.encryption_keys message, parsed (legacy room-event form). Each key
    // must claim the device that shared the Megolm session with us over Olm (M_FORBIDDEN else).
    // Other event types give an empty list. MXRTC_MEGOLM_UNKNOWN_SESSION: no room key (yet).
    Result<std::vector<e2ee::ReceivedKey>> receiveRoomKeyEvent(const RoomId& room,
                                                               const nlohmann::json& event);
    // device_lists, one-time key counts and to-device events of one /sync response.
    boost::asio::awaitable<SyncCryptoResult> handleSync(const nlohmann::json& sync, TimePoint now);

  private:
    Client& m_client;
    LoginSession m_self;
    olm::OlmMachine& m_machine;
};

}  // namespace mxrtc::matrix
