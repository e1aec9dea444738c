#include "mxrtc/matrix/history.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>

#include "mxrtc/core/membership_wire.hpp"

namespace mxrtc::matrix {

using Json = nlohmann::json;

boost::asio::awaitable<MxResult<std::vector<core::RoomEvent>>> readCallHistory(Client& client,
                                                                               const RoomId& room,
                                                                               int maxEvents) {
    const std::string filter = Json{
        {"types",
         {std::string(core::membership_wire::kCallMemberType),
          std::string(core::membership_wire::kRtcMemberType),
          std::string(core::membership_wire::kRtcMemberStableType),
          "m.room.member"}}}.dump();
    std::string from;
    std::vector<core::RoomEvent> backwards;
    while (static_cast<int>(backwards.size()) < maxEvents) {
        const int limit = std::min(100, maxEvents - static_cast<int>(backwards.size()));
        auto page = co_await client.roomMessages(room, from, "b", limit, filter);
        if (auto* e = std::get_if<MatrixError>(&page)) co_return *e;
        const Json& j = std::get<Json>(page);
        const auto chunk = j.find("chunk");
        if (chunk == j.end() || !chunk->is_array() || chunk->empty()) break;
        for (const auto& ev : *chunk) {
            if (!ev.is_object()) continue;
            Json withRoom = ev;
            withRoom["room_id"] = room.str();
            if (auto p = core::parseRoomEvent(withRoom)) backwards.push_back(std::move(p.value()));
        }
        const auto end = j.find("end");
        if (end == j.end() || !end->is_string() || end->get_ref<const std::string&>().empty() ||
            end->get_ref<const std::string&>() == from)
            break;
        from = end->get_ref<const std::string&>();
    }
    co_return std::vector<core::RoomEvent>(backwards.rbegin(), backwards.rend());
}

}  // namespace mxrtc::matrix
