// Internal: the media backend a Call drives. The Call feeds it every call update (members, keys)
// and every to-device message the shell does not consume; the backend reports CallEvents and
// per-participant media. One implementation per focus type (mesh, LiveKit).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mxrtc/call/call.hpp"
#include "mxrtc/matrix/call.hpp"
#include "mxrtc/matrix/olm_transport.hpp"

#ifdef MXRTC_HAVE_RTC
#include <map>
#include <mutex>

#include "mxrtc/rtc/media_io.hpp"
#include "mxrtc/rtc/peer.hpp"
#endif

namespace mxrtc::call::detail {

using Emit = std::function<void(CallEvent)>;

class MediaBackend {
  public:
    virtual ~MediaBackend() = default;
    virtual void onCallUpdate(const matrix::CallUpdate& update, const core::RoomCalls& calls) = 0;
    virtual void onToDevice(const matrix::ReceivedToDevice& /*message*/) {}
    // Hang up / disconnect. Called once, before our membership is removed.
    virtual void leave() = 0;
    virtual std::vector<ParticipantMedia> media() const = 0;
    virtual Result<void> setMuted(Call::Track track, bool muted) = 0;
};

#ifdef MXRTC_HAVE_RTC
struct BackendContext {
    matrix::Client& client;
    matrix::LoginSession self;
    const CallConfig& config;
    SlotId slot;
    core::Transport ownFocus;
    rtc::MediaEngine& engine;
    matrix::OlmTransport* olm;  // null without E2EE
    Emit emit;
    std::function<std::optional<DelayId>()> delayId;  // our delayed leave (MSC4140), once scheduled
    std::function<void(const std::string&)> fail;     // the media cannot go on: the call ends (1)
    std::shared_ptr<rtc::MediaInput> input;           // File/Pipeline/App sources (null: test)
};

// LiveKit identity -> member, for frame callbacks (written on the executor, read on media threads).
class MemberDirectory {
  public:
    void set(const std::string& identity, const UserId& user, const DeviceId& device) {
        std::lock_guard lock(m_mutex);
        m_members[identity] = {user, device};
    }
    std::pair<UserId, DeviceId> find(const std::string& identity) const {
        std::lock_guard lock(m_mutex);
        auto it = m_members.find(identity);
        return it != m_members.end() ? it->second : std::pair{UserId(identity), DeviceId()};
    }

  private:
    mutable std::mutex m_mutex;
    std::map<std::string, std::pair<UserId, DeviceId>> m_members;
};

// The media options every backend starts from (sources, resolution, ICE addresses, E2EE, tuning,
// frame callbacks: SFU frames name their sender through `members`).
rtc::MediaOptions mediaOptions(const CallConfig& config, const DeviceId& device,
                               const std::shared_ptr<rtc::MediaInput>& input,
                               std::shared_ptr<const MemberDirectory> members = nullptr);

std::unique_ptr<MediaBackend> makeMeshBackend(BackendContext context);
std::unique_ptr<MediaBackend> makeLiveKitBackend(BackendContext context);
#endif

}  // namespace mxrtc::call::detail
