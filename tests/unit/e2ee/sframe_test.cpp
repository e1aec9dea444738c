// RFC 9605 SFrame: header codec, key schedule, AEADs, context (replay window, nonce-reuse guard).
// Vectors: tests/vectors/sframe/rfc9605.json (RFC 9605 Appendix C) and
// tests/vectors/sframe/python_crosscheck.json (independent Python model, see its "description").
#include "mxrtc/e2ee/sframe.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdint>
#include <limits>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "mxrtc/common/encoding.hpp"
#include "mxrtc/common/result.hpp"
#include "support/vectors.hpp"

namespace mxrtc::e2ee {

// gtest printer for parameterised test names/messages (internal linkage; found by ADL).
[[maybe_unused]] static void PrintTo(SFrameCipherSuite suite, std::ostream* os) {
    auto p = sframeSuiteParams(suite);
    *os << (p ? p->name : "unknown suite");
}

namespace {

using Json = nlohmann::json;

constexpr std::uint64_t kMax64 = std::numeric_limits<std::uint64_t>::max();

Bytes hx(std::string_view text) {
    auto b = hexDecode(text);
    EXPECT_TRUE(b.has_value()) << "bad hex in test: " << text;
    return b.value_or(Bytes{});
}

Bytes str(std::string_view s) {
    return Bytes(s.begin(), s.end());
}

Bytes concat(const Bytes& a, const Bytes& b) {
    Bytes out = a;
    out.insert(out.end(), b.begin(), b.end());
    return out;
}

std::uint64_t hex64(const std::string& s) {
    return std::stoull(s, nullptr, 16);
}

const std::vector<SFrameCipherSuite> kAllSuites = {
    SFrameCipherSuite::kAes128CtrHmacSha256_80, SFrameCipherSuite::kAes128CtrHmacSha256_64,
    SFrameCipherSuite::kAes128CtrHmacSha256_32, SFrameCipherSuite::kAes128GcmSha256_128,
    SFrameCipherSuite::kAes256GcmSha512_128,
};

std::string suiteName(const ::testing::TestParamInfo<SFrameCipherSuite>& info) {
    return std::string(sframeSuiteParams(info.param)->name);
}

// Encrypts with a fresh context; returns the full SFrame ciphertext.
Bytes sealOnce(SFrameCipherSuite suite, std::uint64_t kid, std::uint64_t ctr, const Bytes& baseKey,
               const Bytes& metadata, const Bytes& pt) {
    SFrameContext ctx(suite);
    EXPECT_TRUE(ctx.addEncryptKey(kid, baseKey));
    Bytes out(ctx.ciphertextSize(kid, ctr, pt.size()));
    auto n = ctx.encrypt(ctr, kid, metadata, pt, out);
    EXPECT_TRUE(n) << (n ? "" : n.error().message);
    if (n) {
        EXPECT_EQ(*n, out.size());
    }
    return out;
}

// ===== Header =============================================================================================

struct HeaderCase {
    std::uint64_t kid;
    std::uint64_t ctr;
    const char* hex;
};

class SFrameHeaderExamples : public ::testing::TestWithParam<HeaderCase> {};

TEST_P(SFrameHeaderExamples, EncodesMinimallyAndDecodesBack) {
    const auto& c = GetParam();
    const SFrameHeader h{c.kid, c.ctr};
    EXPECT_EQ(hexEncode(encodeSFrameHeader(h)), c.hex);
    EXPECT_EQ(sframeHeaderSize(h) * 2, std::string(c.hex).size());
    const Bytes wire = concat(hx(c.hex), hx("deadbeef"));  // trailing bytes are not consumed
    auto decoded = decodeSFrameHeader(wire);
    ASSERT_TRUE(decoded) << decoded.error().message;
    EXPECT_EQ(decoded->header, h);
    EXPECT_EQ(decoded->size, sframeHeaderSize(h));
}

INSTANTIATE_TEST_SUITE_P(Brief, SFrameHeaderExamples,
                         ::testing::Values(HeaderCase{0, 0, "00"}, HeaderCase{0, 1, "01"},
                                           HeaderCase{0, 255, "08ff"}, HeaderCase{0, 256, "090100"},
                                           HeaderCase{7, 7, "77"}, HeaderCase{8, 0, "8008"},
                                           HeaderCase{0x123, 0x4567, "9901234567"},
                                           HeaderCase{kMax64, 0, "f0ffffffffffffffff"},
                                           HeaderCase{kMax64, kMax64, "ffffffffffffffffffffffffffffffffff"},
                                           HeaderCase{0, 8, "0808"}, HeaderCase{3, 5, "35"}));

TEST(SFrameHeader, Rfc9605AppendixC1AllVectors) {
    const Json v = test::loadVector("sframe/rfc9605.json");
    ASSERT_EQ(v["header"].size(), 289u);
    for (const auto& t : v["header"]) {
        const SFrameHeader h{t["kid"].get<std::uint64_t>(), t["ctr"].get<std::uint64_t>()};
        const std::string expected = t["encoded"].get<std::string>();
        EXPECT_EQ(hexEncode(encodeSFrameHeader(h)), expected) << h.kid << "/" << h.ctr;
        const Bytes wire = hx(expected);
        auto decoded = decodeSFrameHeader(wire);
        ASSERT_TRUE(decoded) << expected << ": " << decoded.error().message;
        EXPECT_EQ(decoded->header, h) << expected;
        EXPECT_EQ(decoded->size, wire.size()) << expected;
        // Every proper prefix is a truncated header.
        for (std::size_t len = 0; len < wire.size(); ++len) {
            auto cut = decodeSFrameHeader(std::span<const std::uint8_t>(wire).first(len));
            ASSERT_FALSE(cut) << expected << " cut to " << len;
            EXPECT_EQ(cut.error().errcode, errcode::kInvalidParam);
        }
    }
}

TEST(SFrameHeader, RejectsEmptyAndTruncatedWithClearMessage) {
    auto empty = decodeSFrameHeader({});
    ASSERT_FALSE(empty);
    EXPECT_EQ(empty.error().errcode, errcode::kInvalidParam);
    EXPECT_NE(empty.error().message.find("empty"), std::string::npos);

    auto kid = decodeSFrameHeader(hx("a01234"));  // KID needs 3 bytes, only 2
    ASSERT_FALSE(kid);
    EXPECT_NE(kid.error().message.find("truncated KID"), std::string::npos) << kid.error().message;

    auto ctr = decodeSFrameHeader(hx("0b010203"));  // CTR needs 4 bytes, only 3
    ASSERT_FALSE(ctr);
    EXPECT_NE(ctr.error().message.find("truncated CTR"), std::string::npos) << ctr.error().message;
}

TEST(SFrameHeader, RejectsNonMinimalEncodings) {
    for (const char* bad : {
             "8007",                // KID 7 must live in the config byte
             "8000",                // KID 0 likewise
             "900008",              // KID 8 with a leading zero byte
             "90000100",            // KID 1 in two bytes (then one trailing byte)
             "0807",                // CTR 7 must live in the config byte
             "090001",              // CTR 1 in two bytes
             "0900ff",              // CTR 255 in two bytes
             "f0007fffffffffffff",  // 8-byte KID with a leading zero
             "0f00ffffffffffffff",  // 8-byte CTR with a leading zero
         }) {
        auto r = decodeSFrameHeader(hx(bad));
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().errcode, errcode::kInvalidParam) << bad;
        EXPECT_NE(r.error().message.find("non-minimal"), std::string::npos)
            << bad << ": " << r.error().message;
    }
}

TEST(SFrameHeader, EncodeIntoShortBufferFails) {
    std::uint8_t buf[4];
    auto r = encodeSFrameHeader(SFrameHeader{0x123, 0x4567}, std::span<std::uint8_t>(buf));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().errcode, errcode::kInvalidParam);
    std::uint8_t big[kSFrameMaxHeaderSize];
    auto ok = encodeSFrameHeader(SFrameHeader{kMax64, kMax64}, std::span<std::uint8_t>(big));
    ASSERT_TRUE(ok);
    EXPECT_EQ(*ok, kSFrameMaxHeaderSize);
}

TEST(SFrameHeader, EveryConfigByteEitherDecodesCanonicallyOrFails) {
    // Exhaustive over the config byte with 16 bytes of 0x00 or 0x5a following.
    for (int fill : {0x00, 0x5a}) {
        for (int config = 0; config < 256; ++config) {
            Bytes wire(17, static_cast<std::uint8_t>(fill));
            wire[0] = static_cast<std::uint8_t>(config);
            auto r = decodeSFrameHeader(wire);
            if (!r) continue;
            const Bytes again = encodeSFrameHeader(r->header);
            EXPECT_EQ(again, Bytes(wire.begin(), wire.begin() + static_cast<std::ptrdiff_t>(r->size)))
                << "config " << config;
        }
    }
}

// ===== Suites =============================================================================================

TEST(SFrameSuites, ParametersMatchRfc9605Table) {
    struct Row {
        std::uint16_t id;
        const char* name;
        std::size_t nh, nka, nk, nn, nt;
        bool ctrHmac;
    };
    const Row rows[] = {
        {1, "AES_128_CTR_HMAC_SHA256_80", 32, 16, 48, 12, 10, true},
        {2, "AES_128_CTR_HMAC_SHA256_64", 32, 16, 48, 12, 8, true},
        {3, "AES_128_CTR_HMAC_SHA256_32", 32, 16, 48, 12, 4, true},
        {4, "AES_128_GCM_SHA256_128", 32, 0, 16, 12, 16, false},
        {5, "AES_256_GCM_SHA512_128", 64, 0, 32, 12, 16, false},
    };
    for (const auto& row : rows) {
        auto suite = parseSFrameCipherSuite(row.id);
        ASSERT_TRUE(suite);
        auto p = sframeSuiteParams(*suite);
        ASSERT_TRUE(p.has_value());
        EXPECT_EQ(p->name, row.name);
        EXPECT_EQ(static_cast<std::uint16_t>(p->suite), row.id);
        EXPECT_EQ(p->nh, row.nh);
        EXPECT_EQ(p->nka, row.nka);
        EXPECT_EQ(p->nk, row.nk);
        EXPECT_EQ(p->nn, row.nn);
        EXPECT_EQ(p->nt, row.nt);
        EXPECT_EQ(p->ctrHmac, row.ctrHmac);
    }
    for (std::uint16_t bad : {0x0000, 0x0006, 0xF000, 0xFFFF}) {
        auto r = parseSFrameCipherSuite(bad);
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().errcode, errcode::kUnsupported);
        EXPECT_FALSE(sframeSuiteParams(static_cast<SFrameCipherSuite>(bad)).has_value());
    }
    auto d = deriveSFrameKeyMaterial(static_cast<SFrameCipherSuite>(0x0009), 1, hx("00"));
    ASSERT_FALSE(d);
    EXPECT_EQ(d.error().errcode, errcode::kUnsupported);
}

// ===== RFC 9605 Appendix C.2 / C.3 =========================================================================

TEST(SFrameRfcVectors, AppendixC2AesCtrHmac) {
    const Json v = test::loadVector("sframe/rfc9605.json");
    ASSERT_EQ(v["aes_ctr_hmac"].size(), 3u);
    for (const auto& t : v["aes_ctr_hmac"]) {
        auto suite = parseSFrameCipherSuite(t["cipher_suite"].get<std::uint16_t>());
        ASSERT_TRUE(suite);
        const auto p = *sframeSuiteParams(*suite);
        const Bytes key = hx(t["key"].get<std::string>());
        // enc_key / auth_key split (the AEAD uses key[:Nka] and key[Nka:]).
        EXPECT_EQ(hexEncode(std::span<const std::uint8_t>(key).first(p.nka)),
                  t["enc_key"].get<std::string>());
        EXPECT_EQ(hexEncode(std::span<const std::uint8_t>(key).subspan(p.nka)),
                  t["auth_key"].get<std::string>());
        const Bytes nonce = hx(t["nonce"].get<std::string>());
        const Bytes aad = hx(t["aad"].get<std::string>());
        const Bytes pt = hx(t["pt"].get<std::string>());
        const Bytes ct = hx(t["ct"].get<std::string>());
        auto sealed = sframeAeadEncrypt(*suite, key, nonce, aad, pt);
        ASSERT_TRUE(sealed) << sealed.error().message;
        EXPECT_EQ(hexEncode(*sealed), hexEncode(ct)) << p.name;
        auto opened = sframeAeadDecrypt(*suite, key, nonce, aad, ct);
        ASSERT_TRUE(opened) << opened.error().message;
        EXPECT_EQ(*opened, pt);
        Bytes bad = ct;
        bad.back() ^= 1;
        auto rejected = sframeAeadDecrypt(*suite, key, nonce, aad, bad);
        ASSERT_FALSE(rejected);
        EXPECT_EQ(rejected.error().errcode, errcode::kForbidden);
    }
}

// The intermediate values of C.3 (labels, secret) are checked against OpenSSL HMAC directly, then the
// library's key, salt, nonce, AAD, encryption and decryption are checked against the vector.
TEST(SFrameRfcVectors, AppendixC3AllSuites) {
    const Json v = test::loadVector("sframe/rfc9605.json");
    ASSERT_EQ(v["sframe"].size(), 5u);
    for (const auto& t : v["sframe"]) {
        auto suite = parseSFrameCipherSuite(t["cipher_suite"].get<std::uint16_t>());
        ASSERT_TRUE(suite);
        const auto p = *sframeSuiteParams(*suite);
        SCOPED_TRACE(std::string(p.name));
        const std::uint64_t kid = t["kid"].get<std::uint64_t>();
        const std::uint64_t ctr = t["ctr"].get<std::uint64_t>();
        const Bytes baseKey = hx(t["base_key"].get<std::string>());
        const Bytes metadata = hx(t["metadata"].get<std::string>());
        const Bytes pt = hx(t["pt"].get<std::string>());
        const Bytes ct = hx(t["ct"].get<std::string>());

        // Labels: "SFrame 1.0 Secret key|salt " || u64be(KID) || u16be(suite).
        Bytes tail;
        for (int i = 7; i >= 0; --i)
            tail.push_back(static_cast<std::uint8_t>(kid >> (8 * i)));
        tail.push_back(0);
        tail.push_back(static_cast<std::uint8_t>(t["cipher_suite"].get<int>()));
        EXPECT_EQ(hexEncode(concat(str("SFrame 1.0 Secret key "), tail)),
                  t["sframe_key_label"].get<std::string>());
        EXPECT_EQ(hexEncode(concat(str("SFrame 1.0 Secret salt "), tail)),
                  t["sframe_salt_label"].get<std::string>());
        // Secret: HKDF-Extract(salt = "", base_key).
        std::uint8_t secret[64];
        unsigned secretLen = 0;
        static const std::uint8_t kNoKey = 0;
        ASSERT_NE(HMAC(p.nh == 64 ? EVP_sha512() : EVP_sha256(), &kNoKey, 0, baseKey.data(), baseKey.size(),
                       secret, &secretLen),
                  nullptr);
        EXPECT_EQ(hexEncode(std::span<const std::uint8_t>(secret, secretLen)),
                  t["sframe_secret"].get<std::string>());

        auto material = deriveSFrameKeyMaterial(*suite, kid, baseKey);
        ASSERT_TRUE(material) << material.error().message;
        EXPECT_EQ(hexEncode(material->key), t["sframe_key"].get<std::string>());
        EXPECT_EQ(hexEncode(material->salt), t["sframe_salt"].get<std::string>());
        auto nonce = sframeNonce(material->salt, ctr);
        ASSERT_TRUE(nonce);
        EXPECT_EQ(hexEncode(*nonce), t["nonce"].get<std::string>());
        EXPECT_EQ(hexEncode(concat(encodeSFrameHeader(SFrameHeader{kid, ctr}), metadata)),
                  t["aad"].get<std::string>());

        // Raw AEAD with the derived key and nonce gives ct minus the header.
        auto raw = sframeAeadEncrypt(*suite, material->key, *nonce, hx(t["aad"].get<std::string>()), pt);
        ASSERT_TRUE(raw);
        EXPECT_EQ(hexEncode(concat(encodeSFrameHeader(SFrameHeader{kid, ctr}), *raw)), hexEncode(ct));

        // Context encrypt / decrypt.
        EXPECT_EQ(hexEncode(sealOnce(*suite, kid, ctr, baseKey, metadata, pt)), hexEncode(ct));
        SFrameContext rx(*suite);
        ASSERT_TRUE(rx.addDecryptKey(kid, baseKey));
        Bytes out(ct.size());
        auto opened = rx.decrypt(metadata, ct, out);
        ASSERT_TRUE(opened) << opened.error().message;
        EXPECT_EQ(opened->kid, kid);
        EXPECT_EQ(opened->ctr, ctr);
        out.resize(opened->size);
        EXPECT_EQ(out, pt);
    }
}

TEST(SFrameRfcVectors, BriefGcmVectorSpelledOut) {
    // Suite 0x0004, KID 0x123, CTR 0x4567: "IETF SFrame WG" / "draft-ietf-sframe-enc".
    const Bytes baseKey = hx("000102030405060708090a0b0c0d0e0f");
    auto m = deriveSFrameKeyMaterial(SFrameCipherSuite::kAes128GcmSha256_128, 0x123, baseKey);
    ASSERT_TRUE(m);
    EXPECT_EQ(hexEncode(m->key), "d34f547f4ca4f9a7447006fe7fcbf768");
    EXPECT_EQ(hexEncode(m->salt), "75234edefe07819026751816");
    EXPECT_EQ(hexEncode(*sframeNonce(m->salt, 0x4567)), "75234edefe07819026755d71");
    EXPECT_EQ(hexEncode(sealOnce(SFrameCipherSuite::kAes128GcmSha256_128, 0x123, 0x4567, baseKey,
                                 str("IETF SFrame WG"), str("draft-ietf-sframe-enc"))),
              "9901234567b7412c2513a1b66dbb48841bbaf17f598751176ad847681a69c6d0b091c07018ce4adb34eb");
}

TEST(SFrameCrossCheck, PythonModelVectors) {
    const Json v = test::loadVector("sframe/python_crosscheck.json");
    ASSERT_EQ(v["sframe"].size(), 30u);
    for (const auto& t : v["sframe"]) {
        auto suite = parseSFrameCipherSuite(t["cipher_suite"].get<std::uint16_t>());
        ASSERT_TRUE(suite);
        const std::uint64_t kid = hex64(t["kid"].get<std::string>());
        const std::uint64_t ctr = hex64(t["ctr"].get<std::string>());
        SCOPED_TRACE(std::string(sframeSuiteParams(*suite)->name) + " kid " + t["kid"].get<std::string>() +
                     " ctr " + t["ctr"].get<std::string>());
        const Bytes baseKey = hx(t["base_key"].get<std::string>());
        const Bytes metadata = hx(t["metadata"].get<std::string>());
        const Bytes pt = hx(t["pt"].get<std::string>());
        const Bytes ct = hx(t["ct"].get<std::string>());
        auto m = deriveSFrameKeyMaterial(*suite, kid, baseKey);
        ASSERT_TRUE(m);
        EXPECT_EQ(hexEncode(m->key), t["sframe_key"].get<std::string>());
        EXPECT_EQ(hexEncode(m->salt), t["sframe_salt"].get<std::string>());
        EXPECT_EQ(hexEncode(*sframeNonce(m->salt, ctr)), t["nonce"].get<std::string>());
        EXPECT_EQ(hexEncode(sealOnce(*suite, kid, ctr, baseKey, metadata, pt)), hexEncode(ct));
        SFrameContext rx(*suite);
        ASSERT_TRUE(rx.addDecryptKey(kid, baseKey));
        Bytes out(ct.size());
        auto opened = rx.decrypt(metadata, ct, out);
        ASSERT_TRUE(opened) << opened.error().message;
        out.resize(opened->size);
        EXPECT_EQ(out, pt);
    }
    ASSERT_EQ(v["ratchet"].size(), 5u);
    for (const auto& t : v["ratchet"]) {
        auto suite = parseSFrameCipherSuite(t["cipher_suite"].get<std::uint16_t>());
        ASSERT_TRUE(suite);
        const auto& chain = t["chain"];
        for (std::size_t i = 0; i + 1 < chain.size(); ++i) {
            auto next = sframeRatchetBaseKey(*suite, hx(chain[i].get<std::string>()));
            ASSERT_TRUE(next);
            EXPECT_EQ(hexEncode(*next), chain[i + 1].get<std::string>()) << "step " << i;
            EXPECT_EQ(next->size(), sframeSuiteParams(*suite)->nh);
        }
    }
}

// ===== Context, per suite =================================================================================

class SFrameContextSuite : public ::testing::TestWithParam<SFrameCipherSuite> {
  protected:
    const Bytes baseKey = hx("101112131415161718191a1b1c1d1e1f");
    const Bytes metadata = str("rtp-header-ish");
    static constexpr std::uint64_t kKid = 42;

    SFrameContext sender() {
        SFrameContext c(GetParam());
        EXPECT_TRUE(c.addEncryptKey(kKid, baseKey));
        return c;
    }
    SFrameContext receiver() {
        SFrameContext c(GetParam());
        EXPECT_TRUE(c.addDecryptKey(kKid, baseKey));
        return c;
    }
    Bytes seal(SFrameContext& c, std::uint64_t ctr, const Bytes& pt) {
        Bytes out(c.ciphertextSize(kKid, ctr, pt.size()));
        auto n = c.encrypt(ctr, kKid, metadata, pt, out);
        EXPECT_TRUE(n) << (n ? "" : n.error().message);
        return out;
    }
    Result<SFrameDecryptResult> open(SFrameContext& c, const Bytes& frame, Bytes& out) {
        out.assign(frame.size(), 0);
        return c.decrypt(metadata, frame, out);
    }
};

TEST_P(SFrameContextSuite, RoundTripsManySizesAndMatchesOneShotAead) {
    auto tx = sender();
    auto rx = receiver();
    const auto m = *deriveSFrameKeyMaterial(GetParam(), kKid, baseKey);
    std::uint64_t ctr = 0;
    for (std::size_t size : {0u, 1u, 15u, 16u, 17u, 255u, 1000u, 4099u}) {
        Bytes pt(size);
        for (std::size_t i = 0; i < size; ++i)
            pt[i] = static_cast<std::uint8_t>(i * 7 + size);
        const Bytes frame = seal(tx, ctr, pt);
        EXPECT_EQ(frame.size(), sframeHeaderSize({kKid, ctr}) + size + tx.params().nt);
        // The reused, re-IV'd contexts give exactly what a fresh one-shot AEAD gives.
        const Bytes header = encodeSFrameHeader(SFrameHeader{kKid, ctr});
        auto oneShot =
            sframeAeadEncrypt(GetParam(), m.key, *sframeNonce(m.salt, ctr), concat(header, metadata), pt);
        ASSERT_TRUE(oneShot);
        EXPECT_EQ(frame, concat(header, *oneShot)) << "size " << size;
        Bytes out;
        auto r = open(rx, frame, out);
        ASSERT_TRUE(r) << r.error().message;
        EXPECT_EQ(r->kid, kKid);
        EXPECT_EQ(r->ctr, ctr);
        out.resize(r->size);
        EXPECT_EQ(out, pt);
        ctr += 1 + size;  // gaps are fine
    }
}

TEST_P(SFrameContextSuite, ExactBuffersWorkAndShortBuffersFail) {
    auto tx = sender();
    auto rx = receiver();
    const Bytes pt = str("exact sizes");
    Bytes exact(tx.ciphertextSize(kKid, 300, pt.size()));
    Bytes small(exact.size() - 1);
    auto tooSmall = tx.encrypt(300, kKid, metadata, pt, small);
    ASSERT_FALSE(tooSmall);
    EXPECT_EQ(tooSmall.error().errcode, errcode::kInvalidParam);
    ASSERT_TRUE(tx.encrypt(300, kKid, metadata, pt, exact));  // CTR 300 was not consumed by the failure
    EXPECT_LE(exact.size(), pt.size() + tx.maxOverhead());

    Bytes ptOut(pt.size() - 1);
    auto shortOut = rx.decrypt(metadata, exact, ptOut);
    ASSERT_FALSE(shortOut);
    EXPECT_EQ(shortOut.error().errcode, errcode::kInvalidParam);
    ptOut.resize(pt.size());
    auto ok = rx.decrypt(metadata, exact, ptOut);  // replay state untouched by the failure
    ASSERT_TRUE(ok) << ok.error().message;
    EXPECT_EQ(ptOut, pt);
}

TEST_P(SFrameContextSuite, EveryTamperedByteIsRejected) {
    auto tx = sender();
    const Bytes pt = str("attack at dawn, bring snacks");
    const Bytes frame = seal(tx, 0x4567, pt);
    for (std::size_t i = 0; i < frame.size(); ++i) {
        for (std::uint8_t flip : {0x01, 0x80}) {
            auto rx = receiver();
            Bytes bad = frame;
            bad[i] ^= flip;
            Bytes out;
            auto r = open(rx, bad, out);
            ASSERT_FALSE(r) << "byte " << i;
            // The genuine frame is still accepted: a forgery never advances the replay window.
            auto good = open(rx, frame, out);
            ASSERT_TRUE(good) << "byte " << i << ": " << good.error().message;
        }
    }
    // Tag/ciphertext flips are authentication failures specifically.
    auto rx = receiver();
    Bytes bad = frame;
    bad.back() ^= 0x01;
    Bytes out;
    auto r = open(rx, bad, out);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().errcode, errcode::kForbidden);
    EXPECT_NE(r.error().message.find("authentication failed"), std::string::npos);
}

TEST_P(SFrameContextSuite, WrongMetadataIsRejected) {
    auto tx = sender();
    auto rx = receiver();
    const Bytes frame = seal(tx, 9, str("payload"));
    for (const Bytes& md : {Bytes{}, str("rtp-header-isH"), str("rtp-header-ish!"), str("rtp-header-is")}) {
        Bytes out(frame.size());
        auto r = rx.decrypt(md, frame, out);
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().errcode, errcode::kForbidden);
    }
    Bytes out(frame.size());
    EXPECT_TRUE(rx.decrypt(metadata, frame, out));
}

TEST_P(SFrameContextSuite, FailedDecryptLeavesNoPlaintext) {
    auto tx = sender();
    auto rx = receiver();
    const Bytes pt = str("secret secret secret secret");
    Bytes frame = seal(tx, 77, pt);
    frame.back() ^= 0x55;
    Bytes out(frame.size(), 0xAA);
    ASSERT_FALSE(rx.decrypt(metadata, frame, out));
    EXPECT_NE(Bytes(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(pt.size())), pt);
    for (std::size_t i = 0; i < pt.size(); ++i)
        EXPECT_NE(out[i], pt[i]) << i;  // 0xAA (never written) or wiped to 0
}

TEST_P(SFrameContextSuite, TruncatedFramesAreRejected) {
    auto tx = sender();
    const Bytes frame = seal(tx, 0x10000, str("some frame"));
    const std::size_t headerSize = sframeHeaderSize({kKid, 0x10000});
    const std::size_t nt = tx.params().nt;
    for (std::size_t len = 0; len < frame.size(); ++len) {
        auto rx = receiver();
        Bytes out(frame.size());
        auto r = rx.decrypt(metadata, std::span<const std::uint8_t>(frame).first(len), out);
        ASSERT_FALSE(r) << len;
        const char* expected = len < headerSize + nt ? errcode::kInvalidParam : errcode::kForbidden;
        EXPECT_EQ(r.error().errcode, expected) << len << " " << r.error().message;
    }
}

TEST_P(SFrameContextSuite, ReplayWindow) {
    auto tx = sender();
    auto rx = receiver();
    std::vector<Bytes> frames;
    for (std::uint64_t ctr = 0; ctr < 400; ++ctr)
        frames.push_back(seal(tx, ctr, str("f" + std::to_string(ctr))));
    Bytes out;
    auto accept = [&](std::uint64_t ctr) {
        auto r = open(rx, frames[ctr], out);
        EXPECT_TRUE(r) << "ctr " << ctr << ": " << (r ? "" : r.error().message);
    };
    auto reject = [&](std::uint64_t ctr, const char* why) {
        auto r = open(rx, frames[ctr], out);
        ASSERT_FALSE(r) << "ctr " << ctr;
        EXPECT_EQ(r.error().errcode, errcode::kExpired) << "ctr " << ctr;
        EXPECT_NE(r.error().message.find(why), std::string::npos) << r.error().message;
    };
    accept(10);
    reject(10, "replayed");
    accept(5);  // out of order inside the window
    accept(7);
    reject(5, "replayed");
    accept(11);
    reject(11, "replayed");
    accept(300);                                 // jump ahead
    accept(300 - kSFrameReplayWindow + 1);       // oldest CTR still inside the window
    reject(300 - kSFrameReplayWindow, "older");  // just outside
    reject(11, "older");
    reject(300 - kSFrameReplayWindow + 1, "replayed");
    accept(301);
    accept(399);
    reject(301, "replayed");  // 399 - 301 = 98 < 128: inside the window, already seen
    reject(399 - kSFrameReplayWindow, "older");
}

TEST_P(SFrameContextSuite, EncryptCtrMustIncrease) {
    auto tx = sender();
    (void)seal(tx, 5, str("a"));
    for (std::uint64_t ctr : {5u, 4u, 0u}) {
        Bytes out(tx.ciphertextSize(kKid, ctr, 1));
        auto r = tx.encrypt(ctr, kKid, metadata, str("b"), out);
        ASSERT_FALSE(r) << ctr;
        EXPECT_EQ(r.error().errcode, errcode::kInvalidParam);
        EXPECT_NE(r.error().message.find("nonce reuse"), std::string::npos);
    }
    (void)seal(tx, 6, str("c"));
    // Re-adding the key resets the guard (a new base key means new nonces).
    ASSERT_TRUE(tx.addEncryptKey(kKid, hx("99")));
    (void)seal(tx, 0, str("d"));
}

TEST_P(SFrameContextSuite, ExtremeKidAndCtr) {
    SFrameContext tx(GetParam());
    SFrameContext rx(GetParam());
    ASSERT_TRUE(tx.addEncryptKey(kMax64, baseKey));
    ASSERT_TRUE(rx.addDecryptKey(kMax64, baseKey));
    const Bytes pt = str("edge");
    Bytes frame(tx.ciphertextSize(kMax64, kMax64, pt.size()));
    ASSERT_TRUE(tx.encrypt(kMax64, kMax64, metadata, pt, frame));
    EXPECT_EQ(frame.size(), kSFrameMaxHeaderSize + pt.size() + tx.params().nt);
    Bytes out(frame.size());
    auto r = rx.decrypt(metadata, frame, out);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->kid, kMax64);
    EXPECT_EQ(r->ctr, kMax64);
    Bytes again(tx.ciphertextSize(kMax64, kMax64, pt.size()));
    EXPECT_FALSE(tx.encrypt(kMax64, kMax64, metadata, pt, again));  // counter space exhausted
}

INSTANTIATE_TEST_SUITE_P(AllSuites, SFrameContextSuite, ::testing::ValuesIn(kAllSuites), suiteName);

// ===== Context, suite-independent ========================================================================

TEST(SFrameContext, UnknownKidAndWrongDirection) {
    const Bytes key = hx("00112233");
    SFrameContext tx(SFrameCipherSuite::kAes128GcmSha256_128);
    SFrameContext rx(SFrameCipherSuite::kAes128GcmSha256_128);
    ASSERT_TRUE(tx.addEncryptKey(1, key));
    ASSERT_TRUE(rx.addDecryptKey(2, key));
    Bytes frame(tx.ciphertextSize(1, 0, 3));
    ASSERT_TRUE(tx.encrypt(0, 1, {}, str("abc"), frame));

    Bytes out(frame.size());
    auto unknown = rx.decrypt({}, frame, out);
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().errcode, errcode::kNotFound);
    EXPECT_NE(unknown.error().message.find("KID 1"), std::string::npos);

    auto noEncKey = tx.encrypt(1, 9, {}, str("abc"), frame);
    ASSERT_FALSE(noEncKey);
    EXPECT_EQ(noEncKey.error().errcode, errcode::kNotFound);

    // An encrypt-only key cannot decrypt, a decrypt-only key cannot encrypt.
    auto encKeyDecrypt = tx.decrypt({}, frame, out);
    ASSERT_FALSE(encKeyDecrypt);
    EXPECT_EQ(encKeyDecrypt.error().errcode, errcode::kForbidden);
    Bytes frame2(rx.ciphertextSize(2, 0, 3));
    auto decKeyEncrypt = rx.encrypt(0, 2, {}, str("abc"), frame2);
    ASSERT_FALSE(decKeyEncrypt);
    EXPECT_EQ(decKeyEncrypt.error().errcode, errcode::kForbidden);

    // A KID cannot switch direction without being removed first.
    auto clash = rx.addEncryptKey(2, key);
    ASSERT_FALSE(clash);
    EXPECT_EQ(clash.error().errcode, errcode::kInvalidParam);
    EXPECT_TRUE(rx.hasKey(2));
    EXPECT_TRUE(rx.removeKey(2));
    EXPECT_FALSE(rx.removeKey(2));
    EXPECT_FALSE(rx.hasKey(2));
    EXPECT_TRUE(rx.addEncryptKey(2, key));

    ASSERT_TRUE(rx.removeKey(2));
    ASSERT_TRUE(rx.addDecryptKey(1, key));
    auto ok = rx.decrypt({}, frame, out);
    ASSERT_TRUE(ok) << ok.error().message;
    EXPECT_EQ(ok->size, 3u);
}

TEST(SFrameContext, RejectsEmptyBaseKeyAndGarbageHeaders) {
    SFrameContext ctx(SFrameCipherSuite::kAes128CtrHmacSha256_80);
    auto empty = ctx.addDecryptKey(1, {});
    ASSERT_FALSE(empty);
    EXPECT_EQ(empty.error().errcode, errcode::kInvalidParam);
    EXPECT_FALSE(ctx.hasKey(1));
    ASSERT_FALSE(sframeRatchetBaseKey(SFrameCipherSuite::kAes128CtrHmacSha256_80, {}));

    ASSERT_TRUE(ctx.addDecryptKey(1, hx("01")));
    Bytes out(64);
    auto none = ctx.decrypt({}, {}, out);
    ASSERT_FALSE(none);
    EXPECT_EQ(none.error().errcode, errcode::kInvalidParam);
    auto nonMinimal = ctx.decrypt({}, hx("8001000102030405060708090a0b0c0d0e0f"), out);
    ASSERT_FALSE(nonMinimal);
    EXPECT_EQ(nonMinimal.error().errcode, errcode::kInvalidParam);
}

TEST(SFrameContext, OverlappingBuffersAreRejected) {
    SFrameContext tx(SFrameCipherSuite::kAes128GcmSha256_128);
    ASSERT_TRUE(tx.addEncryptKey(1, hx("01")));
    Bytes buf(64, 0x11);
    std::span<std::uint8_t> all(buf);
    auto r = tx.encrypt(0, 1, {}, all.subspan(2, 10), all);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().errcode, errcode::kInvalidParam);
    EXPECT_NE(r.error().message.find("overlap"), std::string::npos);

    SFrameContext rx(SFrameCipherSuite::kAes128GcmSha256_128);
    ASSERT_TRUE(rx.addDecryptKey(1, hx("01")));
    ASSERT_TRUE(tx.encrypt(1, 1, {}, str("0123456789"), all.first(tx.ciphertextSize(1, 1, 10))));
    auto d = rx.decrypt({}, all.first(tx.ciphertextSize(1, 1, 10)), all.subspan(1));
    ASSERT_FALSE(d);
    EXPECT_NE(d.error().message.find("overlap"), std::string::npos);
}

TEST(SFrameContext, KeysAreIndependentPerKidAndSuite) {
    const Bytes key = hx("000102030405060708090a0b0c0d0e0f");
    SFrameContext tx(SFrameCipherSuite::kAes128GcmSha256_128);
    ASSERT_TRUE(tx.addEncryptKey(1, key));
    ASSERT_TRUE(tx.addEncryptKey(2, key));
    Bytes a(tx.ciphertextSize(1, 0, 4)), b(tx.ciphertextSize(2, 0, 4));
    ASSERT_TRUE(tx.encrypt(0, 1, {}, str("same"), a));
    ASSERT_TRUE(tx.encrypt(0, 2, {}, str("same"), b));
    EXPECT_NE(Bytes(a.begin() + 1, a.end()), Bytes(b.begin() + 1, b.end()));  // KID is in the key schedule

    const auto k1 = *deriveSFrameKeyMaterial(SFrameCipherSuite::kAes128CtrHmacSha256_80, 1, key);
    const auto k2 = *deriveSFrameKeyMaterial(SFrameCipherSuite::kAes128CtrHmacSha256_64, 1, key);
    EXPECT_NE(k1.key, k2.key);  // suite is in the label too

    // A receiver holding KID 2's key cannot read KID 1's frame relabelled as KID 2.
    SFrameContext rx(SFrameCipherSuite::kAes128GcmSha256_128);
    ASSERT_TRUE(rx.addDecryptKey(2, key));
    Bytes relabelled = a;
    relabelled[0] = 0x20;  // KID 2, CTR 0
    Bytes out(a.size());
    auto r = rx.decrypt({}, relabelled, out);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().errcode, errcode::kForbidden);
}

TEST(SFrameContext, MovedContextKeepsKeysAndState) {
    SFrameContext tx(SFrameCipherSuite::kAes256GcmSha512_128);
    ASSERT_TRUE(tx.addEncryptKey(3, hx("abcdef")));
    SFrameContext rx0(SFrameCipherSuite::kAes256GcmSha512_128);
    ASSERT_TRUE(rx0.addDecryptKey(3, hx("abcdef")));
    Bytes f(tx.ciphertextSize(3, 1, 2));
    ASSERT_TRUE(tx.encrypt(1, 3, {}, str("hi"), f));
    Bytes out(f.size());
    ASSERT_TRUE(rx0.decrypt({}, f, out));
    SFrameContext rx = std::move(rx0);
    EXPECT_EQ(rx.suite(), SFrameCipherSuite::kAes256GcmSha512_128);
    auto replay = rx.decrypt({}, f, out);
    ASSERT_FALSE(replay);
    EXPECT_EQ(replay.error().errcode, errcode::kExpired);
}

TEST(SFrameRatchet, ChainsAreDeterministicAndDistinct) {
    for (auto suite : kAllSuites) {
        const Bytes k0 = hx("000102030405060708090a0b0c0d0e0f");
        auto k1 = sframeRatchetBaseKey(suite, k0);
        auto k1again = sframeRatchetBaseKey(suite, k0);
        ASSERT_TRUE(k1);
        ASSERT_TRUE(k1again);
        EXPECT_EQ(*k1, *k1again);
        EXPECT_EQ(k1->size(), sframeSuiteParams(suite)->nh);
        auto k2 = sframeRatchetBaseKey(suite, *k1);
        ASSERT_TRUE(k2);
        EXPECT_NE(*k1, *k2);
        // A ratcheted key is usable as a base key.
        SFrameContext tx(suite), rx(suite);
        ASSERT_TRUE(tx.addEncryptKey(5, *k2));
        ASSERT_TRUE(rx.addDecryptKey(5, *k2));
        Bytes f(tx.ciphertextSize(5, 0, 3));
        ASSERT_TRUE(tx.encrypt(0, 5, {}, str("abc"), f));
        Bytes out(f.size());
        EXPECT_TRUE(rx.decrypt({}, f, out));
    }
}

TEST(SFrameRawAead, RejectsBadSizes) {
    const Bytes key16(16, 1), nonce12(12, 2);
    auto badKey = sframeAeadEncrypt(SFrameCipherSuite::kAes128CtrHmacSha256_80, key16, nonce12, {}, {});
    ASSERT_FALSE(badKey);  // CTR+HMAC suites need a 48-byte key
    EXPECT_EQ(badKey.error().errcode, errcode::kInvalidParam);
    auto badNonce = sframeAeadEncrypt(SFrameCipherSuite::kAes128GcmSha256_128, key16, Bytes(11), {}, {});
    ASSERT_FALSE(badNonce);
    EXPECT_EQ(badNonce.error().errcode, errcode::kInvalidParam);
    auto shortCt = sframeAeadDecrypt(SFrameCipherSuite::kAes128GcmSha256_128, key16, nonce12, {}, Bytes(15));
    ASSERT_FALSE(shortCt);
    EXPECT_EQ(shortCt.error().errcode, errcode::kInvalidParam);
    ASSERT_FALSE(sframeNonce(Bytes(7), 1));
}

}  // namespace
}  // namespace mxrtc::e2ee
