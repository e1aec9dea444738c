#include "mxrtc/common/encoding.hpp"

#include <gtest/gtest.h>

#include <sstream>

#include "mxrtc/common/redacted.hpp"
#include "mxrtc/common/result.hpp"

namespace mxrtc {
namespace {

const Bytes k0to15 = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

struct B64Case {
    const char* text;
    bool valid;
};

class Base64Decode : public ::testing::TestWithParam<B64Case> {};

// Spec §12.4 K1: padded, unpadded and url-safe forms of the same key all decode.
TEST_P(Base64Decode, AcceptsEveryAlphabetAndPaddingJsSdkAccepts) {
    const auto decoded = base64Decode(GetParam().text);
    if (GetParam().valid) {
        ASSERT_TRUE(decoded.has_value()) << GetParam().text;
        EXPECT_EQ(*decoded, k0to15);
    } else {
        EXPECT_FALSE(decoded.has_value()) << GetParam().text;
    }
}

INSTANTIATE_TEST_SUITE_P(Keys, Base64Decode,
                         ::testing::Values(B64Case{"AAECAwQFBgcICQoLDA0ODw==", true},
                                           B64Case{"AAECAwQFBgcICQoLDA0ODw", true},
                                           B64Case{"AAECAwQFBgcICQoLDA0ODw=", false},
                                           B64Case{"AAECAwQFBgcICQoLDA0OD", false},
                                           B64Case{"AAECAwQFBgcICQoLDA0ODw!!", false},
                                           B64Case{"AAECAwQFBgcICQoLDA0ODw===", false}));

TEST(Base64, UrlAlphabetRoundTrips) {
    const Bytes bytes = {0xfb, 0xff, 0xbf};
    EXPECT_EQ(base64Encode(bytes), "+/+/");
    EXPECT_EQ(base64Encode(bytes, Base64Alphabet::Url, Base64Padding::Unpadded), "-_-_");
    EXPECT_EQ(*base64Decode("-_-_"), bytes);
    EXPECT_EQ(base64Encode(k0to15, Base64Alphabet::Standard, Base64Padding::Padded),
              "AAECAwQFBgcICQoLDA0ODw==");
}

TEST(Hex, RoundTripAndRejectsOddOrNonHex) {
    EXPECT_EQ(hexEncode(*hexDecode("00ff10Ab")), "00ff10ab");
    EXPECT_FALSE(hexDecode("abc").has_value());
    EXPECT_FALSE(hexDecode("zz").has_value());
}

TEST(Redacted, PrintsOnlyAFingerprint) {
    const Redacted<std::string> token("syt_c2VjcmV0_abcdef");
    std::ostringstream os;
    os << token;
    EXPECT_EQ(os.str().find("syt_"), std::string::npos);
    EXPECT_EQ(os.str().rfind("<redacted sha256:", 0), 0u);
}

TEST(Result, CarriesValueOrNamedError) {
    Result<int> good = 3;
    Result<int> bad = makeError(errcode::kBadJson, "field 'device_id' must be a string");
    ASSERT_TRUE(good);
    EXPECT_EQ(*good, 3);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().errcode, "M_BAD_JSON");
}

}  // namespace
}  // namespace mxrtc
