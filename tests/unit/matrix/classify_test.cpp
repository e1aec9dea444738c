// Error classification at the edge: HTTP/Matrix responses as Synapse 1.163 sends them -> kinds.
#include <gtest/gtest.h>

#include "mxrtc/matrix/client.hpp"

namespace mxrtc::matrix {
namespace {

using core::FailureKind;

net::HttpResponse response(int status, std::string body, net::Headers headers = {}) {
    return net::HttpResponse{status, std::move(headers), std::move(body)};
}

TEST(Classify, RateLimitsCarryTheServersRetryAfter) {
    auto e = classify(
        response(429, R"({"errcode":"M_LIMIT_EXCEEDED","error":"Too Many Requests","retry_after_ms":925})",
                 {{"Retry-After", "1"}}));
    EXPECT_EQ(e.kind, FailureKind::RateLimited);
    EXPECT_EQ(e.retryAfter, Duration{925});
    auto h = classify(response(429, "", {{"retry-after", "3"}}));
    EXPECT_EQ(h.kind, FailureKind::RateLimited);
    EXPECT_EQ(h.retryAfter, Duration{3000});
}

TEST(Classify, MatrixErrorsByKind) {
    struct Case {
        int status;
        const char* body;
        FailureKind kind;
    };
    const Case cases[] = {
        {403, R"({"errcode":"M_FORBIDDEN","error":"You are not allowed to set others state"})",
         FailureKind::Forbidden},
        {404, R"({"errcode":"M_NOT_FOUND","error":"Delayed event not found"})", FailureKind::NotFound},
        {404, R"({"errcode":"M_UNRECOGNIZED","error":"Unrecognized request"})", FailureKind::Unrecognized},
        {400, R"({"errcode":"M_UNRECOGNIZED","error":"Unrecognized request"})", FailureKind::Unrecognized},
        {405, R"({"errcode":"M_UNRECOGNIZED","error":"Unrecognized request"})", FailureKind::Unrecognized},
        {500, R"({"errcode":"M_UNKNOWN","error":"Internal server error"})", FailureKind::Server},
        {502, "<html>bad gateway</html>", FailureKind::Server},
        {400, R"({"errcode":"M_INVALID_PARAM","error":"bad"})", FailureKind::Other},
    };
    for (const auto& c : cases) {
        auto e = classify(response(c.status, c.body));
        EXPECT_EQ(e.kind, c.kind) << c.status << " " << c.body;
        EXPECT_EQ(e.status, c.status);
    }
}

TEST(Classify, DelayTooLargeReportsTheServersMaximum) {
    auto e = classify(response(
        400, R"j({"errcode":"ORG.MATRIX.MSC4140_DELAY_TOO_LARGE",)j"
             R"j("error":"The requested delay (90000000ms) exceeds the allowed maximum (86400000ms)"})j"));
    EXPECT_EQ(e.kind, FailureKind::MaxDelayExceeded);
    EXPECT_EQ(e.maxDelay, Duration{86'400'000});
    auto f = classify(
        response(400, R"({"errcode":"M_UNKNOWN","org.matrix.msc4140.errcode":"M_MAX_DELAY_EXCEEDED",)"
                      R"("org.matrix.msc4140.max_delay":5000})"));
    EXPECT_EQ(f.kind, FailureKind::MaxDelayExceeded);
    EXPECT_EQ(f.maxDelay, Duration{5000});
}

TEST(Classify, InvalidTokensAreFlagged) {
    auto e = classify(response(
        401, R"({"errcode":"M_UNKNOWN_TOKEN","error":"Invalid access token passed.","soft_logout":false})"));
    EXPECT_TRUE(e.unknownToken);
    EXPECT_EQ(e.kind, FailureKind::Forbidden);
    EXPECT_EQ(e.message, "HTTP 401 M_UNKNOWN_TOKEN: Invalid access token passed.");
}

TEST(Classify, TransportErrors) {
    EXPECT_EQ(classify(net::NetError{net::NetErrorKind::Timeout, "timed out"}).kind, FailureKind::Timeout);
    EXPECT_EQ(classify(net::NetError{net::NetErrorKind::Connect, "refused"}).kind, FailureKind::Network);
    EXPECT_EQ(classify(net::NetError{net::NetErrorKind::Tls, "bad cert"}).kind, FailureKind::Network);
}

TEST(Classify, MessagesStayOneLine) {
    auto e = classify(response(500, "{\"errcode\":\"M_UNKNOWN\",\"error\":\"line one\\nline two\"}"));
    EXPECT_EQ(e.message.find('\n'), std::string::npos);
}

}  // namespace
}  // namespace mxrtc::matrix
