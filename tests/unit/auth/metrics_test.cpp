#include "mxrtc/auth/metrics.hpp"

#include <gtest/gtest.h>

namespace mxrtc::auth {
namespace {

TEST(Metrics, RendersPrometheusText) {
    Metrics m;
    m.request(Endpoint::GetToken, 200, std::chrono::microseconds{1000});
    m.request(Endpoint::GetToken, 200, std::chrono::microseconds{2000});
    m.request(Endpoint::SfuGet, 401, std::chrono::microseconds{30000});
    m.error("M_UNAUTHORIZED");
    m.verification("ok", std::chrono::microseconds{12000});
    m.rateLimited();
    const auto text = m.render(CacheGauges{7, 3, 0, 1, 2});
    EXPECT_NE(text.find("# TYPE mxrtc_auth_requests_total counter"), std::string::npos);
    EXPECT_NE(text.find("mxrtc_auth_requests_total{endpoint=\"get_token\",status=\"200\"} 2\n"),
              std::string::npos);
    EXPECT_NE(text.find("mxrtc_auth_requests_total{endpoint=\"sfu_get\",status=\"401\"} 1\n"),
              std::string::npos);
    EXPECT_NE(text.find("mxrtc_auth_errors_total{errcode=\"M_UNAUTHORIZED\"} 1\n"), std::string::npos);
    EXPECT_NE(text.find("mxrtc_auth_openid_verifications_total{outcome=\"ok\"} 1\n"), std::string::npos);
    EXPECT_NE(text.find("mxrtc_auth_openid_verification_seconds_bucket{le=\"0.025\"} 1\n"),
              std::string::npos);
    EXPECT_NE(text.find("mxrtc_auth_openid_verification_seconds_bucket{le=\"0.01\"} 0\n"), std::string::npos);
    EXPECT_NE(text.find("mxrtc_auth_openid_verification_seconds_count 1\n"), std::string::npos);
    EXPECT_NE(text.find("mxrtc_auth_openid_cache_hits_total 7\n"), std::string::npos);
    EXPECT_NE(text.find("mxrtc_auth_openid_cache_misses_total 3\n"), std::string::npos);
    EXPECT_NE(text.find("mxrtc_auth_openid_cache_entries 2\n"), std::string::npos);
    EXPECT_NE(text.find("mxrtc_auth_rate_limited_total 1\n"), std::string::npos);
    EXPECT_NE(text.find("mxrtc_auth_request_duration_seconds_bucket{endpoint=\"get_token\",le=\"+Inf\"} 2\n"),
              std::string::npos);
}

}  // namespace
}  // namespace mxrtc::auth
