#include "mxrtc/auth/requests.hpp"

#include <gtest/gtest.h>

namespace mxrtc::auth {
namespace {

const char* kToken =
    R"({"access_token":"tok","token_type":"Bearer","matrix_server_name":"example.org","expires_in":3600})";

std::string getTokenBody(
    const std::string& extra = "",
    const std::string& member =
        R"({"id":"m1","claimed_user_id":"@alice:example.org","claimed_device_id":"DEV"})") {
    return std::string(R"({"room_id":"!r:example.org","slot_id":"m.call#ROOM","openid_token":)") + kToken +
           R"(,"member":)" + member + extra + "}";
}

template <typename T>
ErrorResponse errorOf(const Parsed<T>& p) {
    EXPECT_TRUE(std::holds_alternative<ErrorResponse>(p));
    return std::holds_alternative<ErrorResponse>(p) ? std::get<ErrorResponse>(p) : ErrorResponse{};
}

ErrorResponse notJson() {
    return ErrorResponse{400, Error{"M_NOT_JSON", "Error reading request"}};
}
ErrorResponse badJson(const char* m) {
    return ErrorResponse{400, Error{"M_BAD_JSON", m}};
}

TEST(Requests, GetTokenParsesAllFields) {
    auto p = parseGetTokenRequest(getTokenBody());
    ASSERT_TRUE(std::holds_alternative<GetTokenRequest>(p));
    const auto& r = std::get<GetTokenRequest>(p);
    EXPECT_EQ(r.roomId, "!r:example.org");
    EXPECT_EQ(r.slotId, "m.call#ROOM");
    EXPECT_EQ(r.openIdToken.accessToken.exposeSecret(), "tok");
    EXPECT_EQ(r.openIdToken.tokenType, "Bearer");
    EXPECT_EQ(r.openIdToken.matrixServerName, "example.org");
    EXPECT_EQ(r.openIdToken.expiresIn, 3600);
    EXPECT_EQ(r.member.id, "m1");
    EXPECT_EQ(r.member.claimedUserId, "@alice:example.org");
    EXPECT_EQ(r.member.claimedDeviceId, "DEV");
}

// Spec §12.6: an extra key is M_NOT_JSON (DisallowUnknownFields).
TEST(Requests, UnknownFieldIsNotJson) {
    EXPECT_EQ(errorOf(parseGetTokenRequest(getTokenBody(R"(,"device_id":"DEV")"))), notJson());
    EXPECT_EQ(errorOf(parseGetTokenRequest(
                  getTokenBody("", R"({"id":"m1","claimed_user_id":"@a:b","claimed_device_id":"D","x":1})"))),
              notJson());
    EXPECT_EQ(
        errorOf(parseLegacySfuRequest(
            R"({"room":"!r:x","openid_token":{"access_token":"t","matrix_server_name":"x","nope":1}})")),
        notJson());
}

TEST(Requests, MalformedBodiesAreNotJson) {
    for (const char* body :
         {"", "{", "[]", "\"x\"", "42", R"({"room": 5})", R"({"room":"!r:x","openid_token":"t"})",
          R"({"room":"!r:x","delay_timeout":"10"})", R"({"room":"!r:x","delay_timeout":10.5})",
          R"({"room":"!r:x","delay_timeout":1e3})",
          R"({"room":"!r:x","delay_timeout":99999999999999999999})"}) {
        EXPECT_EQ(errorOf(parseLegacySfuRequest(body)), notJson()) << body;
    }
}

TEST(Requests, FieldNamesMatchCaseInsensitivelyLikeGo) {
    auto p = parseLegacySfuRequest(
        R"({"ROOM":"!r:x","OpenID_Token":{"Access_Token":"t","MATRIX_SERVER_NAME":"x"}})");
    ASSERT_TRUE(std::holds_alternative<LegacySfuRequest>(p));
    EXPECT_EQ(std::get<LegacySfuRequest>(p).room, "!r:x");
}

TEST(Requests, NullLeavesFieldsEmpty) {
    EXPECT_EQ(errorOf(parseLegacySfuRequest("null")), badJson("Missing room parameter"));
    EXPECT_EQ(errorOf(parseLegacySfuRequest(R"({"room":null})")), badJson("Missing room parameter"));
}

TEST(Requests, LegacyValidationMessages) {
    EXPECT_EQ(
        errorOf(parseLegacySfuRequest(R"({"openid_token":{"access_token":"t","matrix_server_name":"x"}})")),
        badJson("Missing room parameter"));
    EXPECT_EQ(errorOf(parseLegacySfuRequest(R"({"room":"!r:x","openid_token":{"access_token":"t"}})")),
              badJson("Missing OpenID token parameters"));
    EXPECT_EQ(errorOf(parseLegacySfuRequest(R"({"room":"!r:x","openid_token":{"matrix_server_name":"x"}})")),
              badJson("Missing OpenID token parameters"));
    EXPECT_EQ(
        errorOf(parseLegacySfuRequest(
            R"({"room":"!r:x","openid_token":{"access_token":"t","matrix_server_name":"x"},"delay_id":"d"})")),
        badJson("The request body is missing `delay_id` or `delay_timeout`"));
    EXPECT_EQ(
        errorOf(parseLegacySfuRequest(
            R"({"room":"!r:x","openid_token":{"access_token":"t","matrix_server_name":"x"},"delay_timeout":5})")),
        badJson("The request body is missing `delay_id` or `delay_timeout`"));
}

TEST(Requests, LegacyAcceptsDelayParamsAndIgnoredCsApiUrl) {
    auto p = parseLegacySfuRequest(
        R"({"room":"!r:x","openid_token":{"access_token":"t","matrix_server_name":"x"},"device_id":"D",)"
        R"("delay_id":"d","delay_timeout":10000,"delay_cs_api_url":"https://x"})");
    ASSERT_TRUE(std::holds_alternative<LegacySfuRequest>(p));
    EXPECT_EQ(std::get<LegacySfuRequest>(p).delayTimeout, 10000);
    EXPECT_EQ(std::get<LegacySfuRequest>(p).deviceId, "D");
}

// Spec §12.6.
TEST(Requests, GetTokenValidationMessages) {
    const std::string noSlot = std::string(R"({"room_id":"!r:x","openid_token":)") + kToken +
                               R"(,"member":{"id":"m","claimed_user_id":"@a:x","claimed_device_id":"D"}})";
    EXPECT_EQ(errorOf(parseGetTokenRequest(noSlot)),
              badJson("The request body is missing `room_id` or `slot_id`"));
    EXPECT_EQ(
        errorOf(parseGetTokenRequest(getTokenBody("", R"({"id":"m1","claimed_user_id":"@a:x"})"))),
        badJson("The request body `member` is missing a `id`, `claimed_user_id` or `claimed_device_id`"));
    const std::string noToken =
        R"({"room_id":"!r:x","slot_id":"s","openid_token":{"access_token":"t"},"member":{"id":"m","claimed_user_id":"@a:x","claimed_device_id":"D"}})";
    EXPECT_EQ(errorOf(parseGetTokenRequest(noToken)),
              badJson("The request body `openid_token` is missing a `access_token` or `matrix_server_name`"));
    EXPECT_EQ(errorOf(parseGetTokenRequest(getTokenBody(R"(,"delay_id":"d","delay_timeout":0)"))),
              badJson("The request body is missing `delay_id` or `delay_timeout`"));
    EXPECT_EQ(errorOf(parseGetTokenRequest(getTokenBody(R"(,"delay_id":"d","delay_timeout":-5)"))),
              badJson("The request body is missing `delay_id` or `delay_timeout`"));
}

TEST(Requests, DelegateRequiresEverything) {
    const std::string base = std::string(R"({"room_id":"!r:x","slot_id":"s","openid_token":)") + kToken +
                             R"(,"member":{"id":"m","claimed_user_id":"@a:x","claimed_device_id":"D"})";
    EXPECT_EQ(errorOf(parseDelegateDelayedLeaveRequest(base + "}")),
              badJson("The request body is missing `delay_id` or `delay_timeout`"));
    EXPECT_EQ(errorOf(parseDelegateDelayedLeaveRequest(base + R"(,"delay_id":"d","delay_timeout":0})")),
              badJson("The request body is missing `delay_id` or `delay_timeout`"));
    EXPECT_EQ(errorOf(parseDelegateDelayedLeaveRequest(
                  std::string(R"({"room_id":"!r:x","slot_id":"s","openid_token":)") + kToken +
                  R"(,"member":{"id":"m"},"delay_id":"d","delay_timeout":5})")),
              badJson("The request body `member` is missing `id`, `claimed_user_id` or `claimed_device_id`"));
    auto ok = parseDelegateDelayedLeaveRequest(
        base + R"(,"delay_id":"d","delay_timeout":5,"delay_cs_api_url":"u"})");
    ASSERT_TRUE(std::holds_alternative<DelegateDelayedLeaveRequest>(ok));
    EXPECT_EQ(std::get<DelegateDelayedLeaveRequest>(ok).delayId, "d");
}

TEST(Requests, DecodesOnlyTheFirstValueLikeGosDecoder) {
    // json.Decoder.Decode stops after the first value; trailing bytes are never read.
    auto p = parseLegacySfuRequest(
        R"({"room":"!r:x","openid_token":{"access_token":"t","matrix_server_name":"x"}} trailing)");
    ASSERT_TRUE(std::holds_alternative<LegacySfuRequest>(p));
    // ...but the first value must be complete.
    EXPECT_EQ(errorOf(parseLegacySfuRequest(R"({"room":"!r:x")")), notJson());
    EXPECT_EQ(errorOf(parseLegacySfuRequest(R"({"room":"!r:x",})")), notJson());
    EXPECT_EQ(errorOf(parseLegacySfuRequest(R"({"room" "!r:x"})")), notJson());
}

TEST(Requests, StringsAreUnescapedAndInvalidUtf8BecomesReplacementCharacter) {
    auto room = [](const std::string& json) {
        auto p = parseLegacySfuRequest(R"({"room":)" + json +
                                       R"(,"openid_token":{"access_token":"t","matrix_server_name":"x"}})");
        EXPECT_TRUE(std::holds_alternative<LegacySfuRequest>(p)) << json;
        return std::holds_alternative<LegacySfuRequest>(p) ? std::get<LegacySfuRequest>(p).room
                                                           : std::string();
    };
    EXPECT_EQ(room(R"("a\"b\\c\/d\n\t\u00e9")"), "a\"b\\c/d\n\t\xC3\xA9");
    EXPECT_EQ(room(R"("\ud83d\ude00")"), "\xF0\x9F\x98\x80");  // surrogate pair
    EXPECT_EQ(room(R"("\ud83dx")"), "\xEF\xBF\xBDx");          // lone high surrogate
    EXPECT_EQ(room(R"("\ude00")"), "\xEF\xBF\xBD");            // lone low surrogate
    EXPECT_EQ(room("\"caf\xC3\xA9\""), "caf\xC3\xA9");         // valid UTF-8 kept
    EXPECT_EQ(room("\"a\xFF"
                   "b\""),
              "a\xEF\xBF\xBD"
              "b");                                                               // invalid byte -> U+FFFD
    EXPECT_EQ(room("\"\xED\xA0\x80\""), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // encoded surrogate
    for (const char* bad : {"\"a\x01\"", R"("\x")", R"("\u12")", "\"unterminated"})
        EXPECT_EQ(errorOf(parseLegacySfuRequest(std::string(R"({"room":)") + bad + "}")), notJson()) << bad;
}

TEST(Requests, IntegersFollowGoRules) {
    auto timeout = [](const std::string& num) {
        return parseLegacySfuRequest(
            R"({"room":"!r:x","openid_token":{"access_token":"t","matrix_server_name":"x"},"delay_id":"d","delay_timeout":)" +
            num + "}");
    };
    ASSERT_TRUE(std::holds_alternative<LegacySfuRequest>(timeout("9223372036854775807")));
    EXPECT_EQ(std::get<LegacySfuRequest>(timeout("9223372036854775807")).delayTimeout, 9223372036854775807LL);
    EXPECT_EQ(errorOf(timeout("9223372036854775808")), notJson());
    EXPECT_EQ(errorOf(timeout("012")), notJson());
    EXPECT_EQ(errorOf(timeout("1.0")), notJson());
    EXPECT_EQ(errorOf(timeout("-")), notJson());
    EXPECT_EQ(errorOf(timeout("true")), notJson());
    EXPECT_EQ(errorOf(timeout("-5")), badJson("The request body is missing `delay_id` or `delay_timeout`"));
}

TEST(Requests, ResponseBodiesAreCompactJsonWithNewline) {
    EXPECT_EQ(errorBody(Error{"M_UNAUTHORIZED", "The request could not be authorised."}),
              "{\"errcode\":\"M_UNAUTHORIZED\",\"error\":\"The request could not be authorised.\"}\n");
    EXPECT_EQ(errorBody(Error{"M_LIMIT_EXCEEDED", "x"}, 1500),
              "{\"errcode\":\"M_LIMIT_EXCEEDED\",\"error\":\"x\",\"retry_after_ms\":1500}\n");
    EXPECT_EQ(tokenResponseBody("wss://sfu", "a.b.c"), "{\"url\":\"wss://sfu\",\"jwt\":\"a.b.c\"}\n");
}

}  // namespace
}  // namespace mxrtc::auth
