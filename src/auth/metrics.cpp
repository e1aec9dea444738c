#include "mxrtc/auth/metrics.hpp"

#include <cstdio>

namespace mxrtc::auth {

namespace {

std::string fmtDouble(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    return buf;
}

void header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
    out.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void sample(std::string& out, std::string_view name, std::string_view labels, std::string_view value) {
    out.append(name);
    if (!labels.empty()) out.append("{").append(labels).append("}");
    out.append(" ").append(value).append("\n");
}

// Label values here are fixed identifiers or errcodes (A-Z, _); escape anyway.
std::string labelValue(std::string_view v) {
    std::string out;
    for (char c : v) {
        if (c == '\\' || c == '"') out.push_back('\\');
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out.push_back(c);
    }
    return out;
}

}  // namespace

std::string_view toString(Endpoint e) {
    switch (e) {
        case Endpoint::SfuGet:
            return "sfu_get";
        case Endpoint::GetToken:
            return "get_token";
        case Endpoint::DelegateDelayedLeave:
            return "delegate_delayed_leave";
        case Endpoint::SfuWebhook:
            return "sfu_webhook";
        case Endpoint::Healthz:
            return "healthz";
        case Endpoint::Readyz:
            return "readyz";
        case Endpoint::Metrics:
            return "metrics";
        case Endpoint::Version:
            return "version";
        case Endpoint::Other:
            return "other";
    }
    return "other";
}

void Histogram::observe(double seconds) {
    for (std::size_t i = 0; i < kBounds.size(); ++i) {
        if (seconds <= kBounds[i]) {
            ++m_buckets[i];
            break;
        }
    }
    ++m_count;
    m_sum += seconds;
}

void Histogram::render(std::string& out, std::string_view name, std::string_view labels) const {
    std::uint64_t cumulative = 0;
    const std::string prefix = labels.empty() ? std::string() : std::string(labels) + ",";
    for (std::size_t i = 0; i < kBounds.size(); ++i) {
        cumulative += m_buckets[i];
        sample(out, std::string(name) + "_bucket", prefix + "le=\"" + fmtDouble(kBounds[i]) + "\"",
               std::to_string(cumulative));
    }
    sample(out, std::string(name) + "_bucket", prefix + "le=\"+Inf\"", std::to_string(m_count));
    sample(out, std::string(name) + "_sum", labels, fmtDouble(m_sum));
    sample(out, std::string(name) + "_count", labels, std::to_string(m_count));
}

void Metrics::request(Endpoint endpoint, int status, std::chrono::microseconds latency) {
    const auto i = static_cast<std::size_t>(endpoint);
    ++m_requests[i][status];
    m_requestLatency[i].observe(std::chrono::duration<double>(latency).count());
}

void Metrics::error(std::string_view errcode) {
    auto it = m_errors.find(errcode);
    if (it == m_errors.end()) it = m_errors.emplace(std::string(errcode), 0).first;
    ++it->second;
}

void Metrics::verification(std::string_view outcome, std::chrono::microseconds latency) {
    auto it = m_verifications.find(outcome);
    if (it == m_verifications.end()) it = m_verifications.emplace(std::string(outcome), 0).first;
    ++it->second;
    m_verificationLatency.observe(std::chrono::duration<double>(latency).count());
}

void Metrics::roomCreation(bool ok) {
    ++(ok ? m_roomCreateOk : m_roomCreateFailed);
}

void Metrics::membershipCheck(std::string_view outcome) {
    auto it = m_membership.find(outcome);
    if (it == m_membership.end()) it = m_membership.emplace(std::string(outcome), 0).first;
    ++it->second;
}

void Metrics::delegationRequest(DelayedEventAction action, RequestOutcome::Kind outcome) {
    ++m_delegationRequests[static_cast<std::size_t>(action)][static_cast<std::size_t>(outcome)];
}

void Metrics::webhook(std::string_view outcome) {
    auto it = m_webhooks.find(outcome);
    if (it == m_webhooks.end()) it = m_webhooks.emplace(std::string(outcome), 0).first;
    ++it->second;
}

std::string Metrics::render(const CacheGauges& cache, const DelegationCounts& delegation) const {
    std::string out;
    out.reserve(8192);
    header(out, "mxrtc_auth_requests_total", "counter", "HTTP requests by endpoint and status.");
    for (std::size_t i = 0; i < kEndpointCount; ++i) {
        for (const auto& [status, n] : m_requests[i]) {
            sample(out, "mxrtc_auth_requests_total",
                   "endpoint=\"" + std::string(toString(static_cast<Endpoint>(i))) + "\",status=\"" +
                       std::to_string(status) + "\"",
                   std::to_string(n));
        }
    }
    header(out, "mxrtc_auth_request_duration_seconds", "histogram",
           "Time from request parsed to response ready.");
    for (std::size_t i = 0; i < kEndpointCount; ++i) {
        if (m_requests[i].empty()) continue;
        m_requestLatency[i].render(out, "mxrtc_auth_request_duration_seconds",
                                   "endpoint=\"" + std::string(toString(static_cast<Endpoint>(i))) + "\"");
    }
    header(out, "mxrtc_auth_errors_total", "counter", "Error responses by Matrix errcode.");
    for (const auto& [code, n] : m_errors)
        sample(out, "mxrtc_auth_errors_total", "errcode=\"" + labelValue(code) + "\"", std::to_string(n));
    header(out, "mxrtc_auth_openid_verifications_total", "counter",
           "OpenID userinfo exchanges with homeservers by outcome (cache hits excluded).");
    for (const auto& [outcome, n] : m_verifications)
        sample(out, "mxrtc_auth_openid_verifications_total", "outcome=\"" + labelValue(outcome) + "\"",
               std::to_string(n));
    header(out, "mxrtc_auth_openid_verification_seconds", "histogram",
           "Latency of OpenID verification against homeservers (discovery + userinfo).");
    m_verificationLatency.render(out, "mxrtc_auth_openid_verification_seconds", "");
    header(out, "mxrtc_auth_openid_cache_hits_total", "counter", "Verified-token cache hits.");
    sample(out, "mxrtc_auth_openid_cache_hits_total", "", std::to_string(cache.hits));
    header(out, "mxrtc_auth_openid_cache_misses_total", "counter", "Verified-token cache misses.");
    sample(out, "mxrtc_auth_openid_cache_misses_total", "", std::to_string(cache.misses));
    header(out, "mxrtc_auth_openid_cache_evictions_total", "counter", "Entries dropped at capacity.");
    sample(out, "mxrtc_auth_openid_cache_evictions_total", "", std::to_string(cache.evictions));
    header(out, "mxrtc_auth_openid_cache_expirations_total", "counter", "Entries dropped after their TTL.");
    sample(out, "mxrtc_auth_openid_cache_expirations_total", "", std::to_string(cache.expirations));
    header(out, "mxrtc_auth_openid_cache_entries", "gauge", "Verified tokens currently cached.");
    sample(out, "mxrtc_auth_openid_cache_entries", "", std::to_string(cache.entries));
    header(out, "mxrtc_auth_room_creations_total", "counter", "LiveKit CreateRoom calls by outcome.");
    sample(out, "mxrtc_auth_room_creations_total", "outcome=\"ok\"", std::to_string(m_roomCreateOk));
    sample(out, "mxrtc_auth_room_creations_total", "outcome=\"failed\"", std::to_string(m_roomCreateFailed));
    header(out, "mxrtc_auth_membership_checks_total", "counter", "Room-membership checks by outcome.");
    for (const auto& [outcome, n] : m_membership)
        sample(out, "mxrtc_auth_membership_checks_total", "outcome=\"" + labelValue(outcome) + "\"",
               std::to_string(n));
    header(out, "mxrtc_auth_rate_limited_total", "counter",
           "Requests refused with 429 by the per-client limiter.");
    sample(out, "mxrtc_auth_rate_limited_total", "", std::to_string(m_rateLimited));
    header(out, "mxrtc_auth_connections_total", "counter", "Accepted HTTP connections.");
    sample(out, "mxrtc_auth_connections_total", "", std::to_string(m_connectionsTotal));
    header(out, "mxrtc_auth_connections_open", "gauge", "Open HTTP connections.");
    sample(out, "mxrtc_auth_connections_open", "", std::to_string(m_connectionsOpen));
    header(out, "mxrtc_auth_delegation_jobs", "gauge",
           "Delegated delayed leave events being looked after, by state.");
    for (std::size_t i = 0; i < kJobStateCount; ++i)
        sample(out, "mxrtc_auth_delegation_jobs",
               "state=\"" + std::string(toString(static_cast<JobState>(i))) + "\"",
               std::to_string(delegation.jobs[i]));
    header(out, "mxrtc_auth_delegation_jobs_created_total", "counter", "Delayed leave delegations accepted.");
    sample(out, "mxrtc_auth_delegation_jobs_created_total", "", std::to_string(delegation.delegated));
    header(out, "mxrtc_auth_delegation_jobs_ended_total", "counter", "Delegation jobs ended, by reason.");
    for (std::size_t i = 0; i < kJobEndCount; ++i)
        sample(out, "mxrtc_auth_delegation_jobs_ended_total",
               "reason=\"" + std::string(toString(static_cast<JobEnd>(i))) + "\"",
               std::to_string(delegation.ended[i]));
    header(out, "mxrtc_auth_delegation_requests_total", "counter",
           "Delayed-event restart/send requests to homeservers, by action and outcome.");
    for (std::size_t a = 0; a < 2; ++a)
        for (std::size_t k = 0; k < 4; ++k)
            sample(out, "mxrtc_auth_delegation_requests_total",
                   "action=\"" + std::string(toString(static_cast<DelayedEventAction>(a))) + "\",outcome=\"" +
                       std::string(toString(static_cast<RequestOutcome::Kind>(k))) + "\"",
                   std::to_string(m_delegationRequests[a][k]));
    header(out, "mxrtc_auth_sfu_participants_tracked", "gauge",
           "Participants known (from webhooks) to be on the SFU.");
    sample(out, "mxrtc_auth_sfu_participants_tracked", "", std::to_string(delegation.trackedParticipants));
    header(out, "mxrtc_auth_webhooks_total", "counter", "LiveKit webhooks received, by event or refusal.");
    for (const auto& [outcome, n] : m_webhooks)
        sample(out, "mxrtc_auth_webhooks_total", "outcome=\"" + labelValue(outcome) + "\"",
               std::to_string(n));
    return out;
}

}  // namespace mxrtc::auth
