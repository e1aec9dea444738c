// Strong identifier types: never two bare std::strings side by side in a signature.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

namespace mxrtc {

template <typename Tag>
class StrongId {
  public:
    StrongId() = default;
    explicit StrongId(std::string value) : m_value(std::move(value)) {}
    explicit StrongId(std::string_view value) : m_value(value) {}
    explicit StrongId(const char* value) : m_value(value) {}

    const std::string& str() const noexcept { return m_value; }
    bool empty() const noexcept { return m_value.empty(); }

    friend auto operator<=>(const StrongId&, const StrongId&) = default;
    friend bool operator==(const StrongId&, const StrongId&) = default;
    friend std::ostream& operator<<(std::ostream& os, const StrongId& id) { return os << id.m_value; }

  private:
    std::string m_value;
};

struct UserIdTag {};
struct DeviceIdTag {};
struct RoomIdTag {};
struct EventIdTag {};
struct MemberIdTag {};
struct SlotIdTag {};
struct DelayIdTag {};

using UserId = StrongId<UserIdTag>;      // "@alice:example.org"
using DeviceId = StrongId<DeviceIdTag>;  // "ALICEDEV"
using RoomId = StrongId<RoomIdTag>;      // "!room:example.org"
using EventId = StrongId<EventIdTag>;    // "$abc"
using MemberId = StrongId<MemberIdTag>;  // membership id / LiveKit member id
using SlotId = StrongId<SlotIdTag>;      // "m.call#ROOM"
using DelayId = StrongId<DelayIdTag>;    // MSC4140 delay_id

// Media key index (0-255): the LiveKit key-ring slot and the last byte of an encrypted frame.
struct KeyIndex {
    std::uint8_t value = 0;
    friend auto operator<=>(const KeyIndex&, const KeyIndex&) = default;
};

}  // namespace mxrtc

template <typename Tag>
struct std::hash<mxrtc::StrongId<Tag>> {
    std::size_t operator()(const mxrtc::StrongId<Tag>& id) const noexcept {
        return std::hash<std::string>{}(id.str());
    }
};
