// KeyManager: who gets which media key when (spec §5.6), as a deterministic state machine.
//
// Our key: created on join (index 0, used at once). When someone leaves, or joins after the
// current key is older than the grace period, a new key (index + 1 mod 256) is sent to everyone
// and used after `useKeyDelay` (so receivers have it before the first frame). A member who joins
// within the grace period just gets the current key. One distribution at a time; changes during
// one coalesce into a single follow-up round (js-sdk RTCEncryptionManager semantics).
//
// Their keys: accepted only from current member devices (keys that arrive before the membership
// are parked for a while and applied when it appears); per (member, index) only the newest by
// timestamp is kept. Sans-I/O: inputs carry `now`, random bytes come from an injected source.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

#include "mxrtc/common/ids.hpp"
#include "mxrtc/common/time.hpp"
#include "mxrtc/core/effects.hpp"
#include "mxrtc/e2ee/key_messages.hpp"

namespace mxrtc::e2ee {

struct KeyMember {
    UserId user;
    DeviceId device;
    std::string memberId;             // js-sdk member id; "<user>:<device>" for session memberships
    TimePoint createdTs{};            // a changed createdTs counts as a new join
    std::string participantIdentity;  // the LiveKit identity frames from this member carry
};

struct KeyManagerConfig {
    Duration useKeyDelay{1'000};
    Duration rotationGracePeriod{10'000};
    Duration distributionRetryDelay{1'000};
    int maxDistributionRetries = 5;
    Duration parkedKeyLifetime{60'000};
    std::size_t maxParkedKeys = 256;
};

using KeyRequestId = std::uint64_t;

// ---- effects ------------------------------------------------------------------------------------
struct DistributeKey {  // send our key to these devices (Olm-encrypted to-device); report back with id
    KeyRequestId id;
    std::vector<KeyMember> recipients;
    MediaKey key;
};
struct UseOwnKey {  // encrypt our frames with this key from now on
    MediaKey key;
};
struct RemoteKeyReceived {  // feed the member's decryptor key ring
    KeyMember member;
    MediaKey key;
};
struct RemoteMemberGone {  // drop the member's keys and decryptor
    KeyMember member;
};
struct KeyDropped {  // diagnostics: a received key or request that was not used, and why
    UserId sender;
    DeviceId device;
    std::string reason;
};
struct DistributionFailed {  // gave up sending a key after the retries; peers may not decrypt us
    std::vector<KeyMember> recipients;
    std::uint8_t keyIndex;
};

using KeyEffect = std::variant<DistributeKey, UseOwnKey, RemoteKeyReceived, RemoteMemberGone, KeyDropped,
                               DistributionFailed, core::ScheduleWakeup>;

class KeyManager {
  public:
    using RandomSource = std::function<void(std::span<std::uint8_t>)>;
    using Effects = std::vector<KeyEffect>;

    KeyManager(KeyMember self, RandomSource random, KeyManagerConfig config = {});

    // `members`: the session's current members (our own entry is ignored).
    Effects join(const std::vector<KeyMember>& members, TimePoint now);
    Effects leave();
    Effects onMembersChanged(const std::vector<KeyMember>& members, TimePoint now);
    Effects onDistributed(KeyRequestId id, bool delivered, TimePoint now);
    Effects onKeyReceived(const ReceivedKey& key, TimePoint now);
    Effects onKeyRequest(const KeyRequest& request, TimePoint now);
    Effects onWakeup(TimePoint now);

    bool active() const noexcept { return m_active; }
    std::optional<MediaKey> currentKey() const;
    std::optional<TimePoint> nextWakeup() const;
    std::size_t parkedKeys() const noexcept { return m_parked.size(); }

  private:
    using DeviceKey = std::pair<std::string, std::string>;  // (user, device)
    static DeviceKey keyOf(const KeyMember& m) { return {m.user.str(), m.device.str()}; }

    void evaluate(TimePoint now, Effects& out);
    void rotate(TimePoint now, Effects& out);
    void distribute(std::vector<KeyMember> to, const MediaKey& key, bool tracked, Effects& out);
    MediaKey newKey(std::uint8_t index);
    void deliver(const KeyMember& member, const ReceivedKey& key, Effects& out);
    void applyParked(TimePoint now, Effects& out);
    void emitWakeup(Effects& out);

    KeyMember m_self;
    RandomSource m_random;
    KeyManagerConfig m_config;
    bool m_active = false;

    std::map<DeviceKey, KeyMember> m_members;     // current members (not us)
    std::map<DeviceKey, KeyMember> m_sharedWith;  // who has our current key
    std::optional<MediaKey> m_current;            // the key our frames use
    TimePoint m_currentCreatedAt{};
    std::optional<MediaKey> m_pending;  // distributed, used at m_useAt
    TimePoint m_useAt{};
    KeyRequestId m_lastId = 0;

    struct InFlight {
        KeyRequestId id;
        std::vector<KeyMember> recipients;
        MediaKey key;
        int retries = 0;
        std::optional<TimePoint> retryAt;
    };
    std::optional<InFlight> m_inFlight;
    bool m_followUp = false;

    // Newest accepted timestamp per (user, device, member id, index).
    std::map<std::tuple<std::string, std::string, std::string, int>, std::pair<TimePoint, Bytes>> m_received;
    struct Parked {
        ReceivedKey key;
        TimePoint expiresAt;
    };
    std::vector<Parked> m_parked;
    std::optional<TimePoint> m_announcedWakeup;
};

}  // namespace mxrtc::e2ee
