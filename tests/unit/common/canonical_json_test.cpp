#include "mxrtc/common/canonical_json.hpp"

#include <gtest/gtest.h>

namespace mxrtc {
namespace {

using Json = nlohmann::json;

struct CanonicalCase {
    const char* input;
    const char* canonical;
};

class CanonicalJson : public ::testing::TestWithParam<CanonicalCase> {};

// The examples of the Matrix spec, appendices "Canonical JSON".
TEST_P(CanonicalJson, MatchesTheSpecExamples) {
    const auto parsed = Json::parse(GetParam().input);
    const auto out = canonicalJson(parsed);
    ASSERT_TRUE(out.ok()) << out.error().message;
    EXPECT_EQ(*out, GetParam().canonical);
}

INSTANTIATE_TEST_SUITE_P(
    Spec, CanonicalJson,
    ::testing::Values(CanonicalCase{"{}", "{}"},
                      CanonicalCase{R"({"one": 1, "two": "Two"})", R"({"one":1,"two":"Two"})"},
                      CanonicalCase{R"({"b": "2", "a": "1"})", R"({"a":"1","b":"2"})"},
                      CanonicalCase{
                          R"({"auth": {"success": true, "mxid": "@john.doe:example.com",
                       "profile": {"display_name": "John Doe", "three_pids": [
                         {"medium": "email", "address": "john.doe@example.org"},
                         {"medium": "msisdn", "address": "123456789"}]}}})",
                          R"({"auth":{"mxid":"@john.doe:example.com","profile":{"display_name":"John Doe",)"
                          R"("three_pids":[{"address":"john.doe@example.org","medium":"email"},)"
                          R"({"address":"123456789","medium":"msisdn"}]},"success":true}})"},
                      CanonicalCase{R"({"a": "日本語"})", R"({"a":"日本語"})"},
                      CanonicalCase{R"({"本": 2, "日": 1})", R"({"日":1,"本":2})"},
                      CanonicalCase{R"({"a": "\u65E5"})", R"({"a":"日"})"},
                      CanonicalCase{R"({"a": null})", R"({"a":null})"},
                      CanonicalCase{R"({"a": -0, "b": 1e10})", R"({"a":0,"b":10000000000})"},
                      // Escapes: the short forms, \u00XX in lower case for other controls, '/' and DEL as is.
                      CanonicalCase{R"({"a": "\"\\\b\f\n\r\t\u0001\u001f/\u007f"})",
                                    "{\"a\":\"\\\"\\\\\\b\\f\\n\\r\\t\\u0001\\u001f/\x7f\"}"},
                      CanonicalCase{R"([true, false, [], {"z": {"y": 1, "x": 2}}])",
                                    R"([true,false,[],{"z":{"x":2,"y":1}}])"}));

TEST(CanonicalJson, SortsKeysByCodePointNotByUtf16) {
    // U+FF61 (3 UTF-8 bytes) sorts before U+1F600 (4 bytes) by code point; UTF-16 order would differ.
    Json j = Json::object();
    j["\xF0\x9F\x98\x80"] = 1;
    j["\xEF\xBD\xA1"] = 2;
    EXPECT_EQ(*canonicalJson(j), "{\"\xEF\xBD\xA1\":2,\"\xF0\x9F\x98\x80\":1}");
}

TEST(CanonicalJson, RefusesFractionsAndUnsafeIntegers) {
    EXPECT_EQ(canonicalJson(Json::parse(R"({"a": 1.5})")).error().errcode, errcode::kBadJson);
    EXPECT_EQ(canonicalJson(Json::parse(R"({"a": 9007199254740992})")).error().errcode, errcode::kBadJson);
    EXPECT_EQ(canonicalJson(Json::parse(R"({"a": -9007199254740992})")).error().errcode, errcode::kBadJson);
    EXPECT_TRUE(canonicalJson(Json::parse(R"({"a": 9007199254740991})")).ok());
    EXPECT_NE(canonicalJson(Json::parse(R"({"x": {"y": [0.25]}})")).error().message.find("$.x.y[0]"),
              std::string::npos)
        << "the error names the path";
}

TEST(CanonicalJson, RefusesInvalidUtf8) {
    Json bad = Json::object();
    bad["a"] = std::string("\xC0\xAF");  // overlong '/'
    EXPECT_FALSE(canonicalJson(bad).ok());
    Json badKey = Json::object();
    badKey[std::string("\xED\xA0\x80")] = 1;  // a UTF-16 surrogate
    EXPECT_FALSE(canonicalJson(badKey).ok());
}

TEST(CanonicalJson, SigningFormDropsTopLevelSignaturesAndUnsignedOnly) {
    const auto j = Json::parse(R"({"b": 1, "signatures": {"@a:x": {"ed25519:D": "sig"}},
        "unsigned": {"age": 5}, "nested": {"signatures": 1, "unsigned": 2}})");
    EXPECT_EQ(*canonicalJsonForSigning(j), R"({"b":1,"nested":{"signatures":1,"unsigned":2}})");
    EXPECT_FALSE(canonicalJsonForSigning(Json::array()).ok());
}

}  // namespace
}  // namespace mxrtc
