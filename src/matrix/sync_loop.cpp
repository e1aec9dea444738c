#include "mxrtc/matrix/sync_loop.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace mxrtc::matrix {

namespace asio = boost::asio;
using Json = nlohmann::json;

std::optional<Duration> SyncBackoff::onFailure(const MatrixError& e) {
    ++m_failures;
    if (e.unknownToken) return std::nullopt;
    const Duration wait = e.retryAfter > Duration{0} ? e.retryAfter : m_next;
    m_next = std::min(m_next * 2, m_policy.max);
    return wait;
}

void SyncBackoff::onSuccess() noexcept {
    m_failures = 0;
    m_next = m_policy.initial;
}

Json SyncFilter::toJson() const {
    Json timeline = Json{{"limit", timelineLimit}};
    if (!timelineTypes.empty()) timeline["types"] = timelineTypes;
    Json roomFilter = Json{{"rooms", Json::array({room.str()})},
                           {"timeline", std::move(timeline)},
                           {"ephemeral", {{"types", Json::array()}}},
                           {"account_data", {{"types", Json::array()}}}};
    roomFilter["state"] = roomState ? Json{{"lazy_load_members", true}} : Json{{"types", Json::array()}};
    return Json{{"room", std::move(roomFilter)},
                {"presence", {{"types", Json::array()}}},
                {"account_data", {{"types", Json::array()}}}};
}

SyncLoop::SyncLoop(Client& client, Options options)
    : m_client(client), m_options(std::move(options)), m_since(m_options.since), m_backoff(m_options.retry) {}

void SyncLoop::commit() {
    if (!m_pending) return;
    if (*m_pending != m_since) {
        m_since = std::move(*m_pending);
        if (m_options.onToken) m_options.onToken(m_since);
    }
    m_pending.reset();
}

asio::awaitable<MxResult<Json>> SyncLoop::poll(std::optional<Duration> timeout) {
    commit();  // the caller handled the previous batch
    const Duration wait = m_since.empty() ? Duration{0} : timeout.value_or(m_options.timeout);
    auto r = co_await m_client.sync(m_since, std::max(wait, Duration{0}), m_options.filter);
    if (auto* e = std::get_if<MatrixError>(&r)) {
        const auto now = std::chrono::steady_clock::now();
        if (!m_failingSince) m_failingSince = now;
        const auto delay = m_backoff.onFailure(*e);
        if (!delay) co_return r;
        if (m_options.onRetry) m_options.onRetry(*e, *delay, m_backoff.consecutiveFailures());
        asio::steady_timer pause(m_client.http().executor(), *delay);
        co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
        co_return r;
    }
    if (m_failingSince) {
        const auto outage =
            std::chrono::duration_cast<Duration>(std::chrono::steady_clock::now() - *m_failingSince);
        m_failingSince.reset();
        if (m_options.onRecovered) m_options.onRecovered(outage);
    }
    m_backoff.onSuccess();
    const Json& body = std::get<Json>(r);
    if (auto next = body.find("next_batch"); next != body.end() && next->is_string())
        m_pending = next->get_ref<const std::string&>();
    co_return r;
}

const Json* roomEventsOf(const Json& body, const RoomId& room, std::string_view section) {
    const auto rooms = body.find("rooms");
    if (rooms == body.end() || !rooms->is_object()) return nullptr;
    const auto join = rooms->find("join");
    if (join == rooms->end() || !join->is_object()) return nullptr;
    const auto r = join->find(room.str());
    if (r == join->end() || !r->is_object()) return nullptr;
    const auto s = r->find(std::string(section));
    if (s == r->end() || !s->is_object()) return nullptr;
    const auto events = s->find("events");
    return events != s->end() && events->is_array() ? &*events : nullptr;
}

}  // namespace mxrtc::matrix
