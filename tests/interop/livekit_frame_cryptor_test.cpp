// Our frame cryptor against livekit-client's own (npm, unmodified) e2ee worker run under Node:
// identical bytes when the random send counter is pinned, and each side decrypts the other.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "mxrtc/common/encoding.hpp"
#include "mxrtc/e2ee/frame_cryptor.hpp"
#include "support/subprocess.hpp"

namespace mxrtc::e2ee {
namespace {

using Json = nlohmann::json;

struct Frame {
    std::string name;
    MediaKind kind;
    VideoCodec codec;
    bool keyFrame;
    std::string hex;
};

std::string codecName(const Frame& f) {
    if (f.kind == MediaKind::Audio) return "opus";
    switch (f.codec) {
        case VideoCodec::VP8:
            return "vp8";
        case VideoCodec::VP9:
            return "vp9";
        case VideoCodec::H264:
            return "h264";
        case VideoCodec::H265:
            return "h265";
        default:
            return "vp8";
    }
}

std::string repeatHex(std::string_view unit, int n) {
    std::string s;
    for (int i = 0; i < n; ++i)
        s += unit;
    return s;
}

const std::vector<Frame>& frames() {
    static const std::vector<Frame> f = {
        {"opus small", MediaKind::Audio, VideoCodec::Unknown, false, "780102030405060708"},
        {"opus 1 byte", MediaKind::Audio, VideoCodec::Unknown, false, "fc"},
        {"opus 160", MediaKind::Audio, VideoCodec::Unknown, false, "fc" + repeatHex("a55a0001", 40)},
        {"vp8 key", MediaKind::Video, VideoCodec::VP8, true,
         "9019009d012a28002800" + repeatHex("00112233", 50)},
        {"vp8 delta", MediaKind::Video, VideoCodec::VP8, false, "b10200deadbeefcafe"},
        {"vp9", MediaKind::Video, VideoCodec::VP9, true, "8249834200" + repeatHex("01020304", 20)},
        {"h264 idr 4-byte start codes", MediaKind::Video, VideoCodec::H264, true,
         "000000016742c01e0000000168ce3c8000000001658884" + repeatHex("00000000", 8) + "0102"},
        {"h264 idr 3-byte start codes", MediaKind::Video, VideoCodec::H264, true,
         "0000016742c01e00000168ce3c80000001658884" + repeatHex("0000030001", 6)},
        {"h264 delta slice", MediaKind::Video, VideoCodec::H264, false,
         "0000000141e0" + repeatHex("00ff", 30)},
    };
    return f;
}

const std::string kKeyA = "000102030405060708090a0b0c0d0e0f";
const std::string kKeyB = "f0e1d2c3b4a5968778695a4b3c2d1e0f";  // current, index 5
constexpr std::uint32_t kSsrc = 0x11223344;

FrameInfo infoOf(const Frame& f, std::uint32_t ts) {
    return FrameInfo{f.kind, f.codec, f.keyFrame, kSsrc, ts};
}

// Runs the livekit-client harness on a batch of frames of one kind/codec.
Json runLiveKit(const std::string& mode, const std::vector<const Frame*>& batch,
                const std::vector<std::string>& data, int sendCount = -1) {
    Json req = {{"mode", mode},
                {"participantIdentity", "@bob:example.org:BOBDEV"},
                {"keys", Json::array({{{"index", 0}, {"key", kKeyA}}, {{"index", 5}, {"key", kKeyB}}})},
                {"keyringSize", 256},
                {"ratchetWindowSize", 10},
                {"failureTolerance", -1},
                {"kind", batch.front()->kind == MediaKind::Audio ? "audio" : "video"},
                {"codec", codecName(*batch.front())},
                {"frames", Json::array()}};
    if (sendCount >= 0) req["sendCount"] = sendCount;
    for (std::size_t i = 0; i < batch.size(); ++i) {
        Json fr = {{"data", data[i]}, {"ssrc", kSsrc}, {"rtpTimestamp", 90000 + 3000 * i}};
        fr["type"] =
            batch[i]->kind == MediaKind::Audio ? Json(nullptr) : Json(batch[i]->keyFrame ? "key" : "delta");
        req["frames"].push_back(fr);
    }
    const std::string script = std::string(MXRTC_INTEROP_DIR) + "/lk_frame_cryptor.mjs";
    if (!std::filesystem::exists(std::string(MXRTC_INTEROP_DIR) + "/node_modules/livekit-client")) {
        ADD_FAILURE() << "livekit-client is not installed: run scripts/setup-peers.sh";
        return Json::object();
    }
    auto r = test::runWithInput(std::string(MXRTC_NODE) + " '" + script + "'", req.dump());
    EXPECT_EQ(r.exitCode, 0) << r.err;
    auto out = Json::parse(r.out, nullptr, false);
    EXPECT_FALSE(out.is_discarded()) << r.out << r.err;
    if (out.is_discarded() || !out.contains("frames") || out["frames"].size() != batch.size()) {
        ADD_FAILURE() << "unexpected harness output: " << r.out << "\n" << r.err;
        return Json::object();
    }
    return out;
}

// Frames grouped by (kind, codec) so one harness run covers one track.
std::vector<std::vector<const Frame*>> tracks() {
    std::vector<std::vector<const Frame*>> groups;
    for (const auto& f : frames()) {
        bool placed = false;
        for (auto& g : groups) {
            if (g.front()->kind == f.kind && g.front()->codec == f.codec) {
                g.push_back(&f);
                placed = true;
            }
        }
        if (!placed) groups.push_back({&f});
    }
    return groups;
}

Bytes hexBytes(const std::string& h) {
    return hexDecode(h).value();
}

FrameEncryptor makeEncryptor(std::uint16_t sendCount) {
    FrameEncryptor enc([sendCount] { return sendCount; });
    enc.setKey(0, hexBytes(kKeyA));
    enc.setKey(5, hexBytes(kKeyB));
    return enc;
}

TEST(LiveKitInterop, EncryptionIsByteIdenticalWithThePinnedSendCounter) {
    for (const auto& track : tracks()) {
        FrameEncryptor enc = makeEncryptor(4321);
        std::vector<std::string> plain;
        std::vector<std::string> ours;
        for (std::size_t i = 0; i < track.size(); ++i) {
            plain.push_back(track[i]->hex);
            Bytes in = hexBytes(track[i]->hex);
            Bytes out(maxEncryptedSize(in.size()));
            auto r = enc.encrypt(infoOf(*track[i], static_cast<std::uint32_t>(90000 + 3000 * i)), in, out);
            ASSERT_EQ(r.status, FrameStatus::Ok) << track[i]->name;
            out.resize(r.size);
            ours.push_back(hexEncode(out));
        }
        Json theirs = runLiveKit("encrypt", track, plain, 4321);
        if (theirs.empty()) return;
        for (std::size_t i = 0; i < track.size(); ++i) {
            EXPECT_EQ(
                theirs["frames"][i].value("data", "<error: " + theirs["frames"][i].value("error", "") + ">"),
                ours[i])
                << track[i]->name;
        }
    }
}

TEST(LiveKitInterop, LiveKitDecryptsOurFrames) {
    for (const auto& track : tracks()) {
        FrameEncryptor enc = makeEncryptor(17);
        FrameDecryptor self;
        self.keys().setKey(0, hexBytes(kKeyA));
        self.keys().setKey(5, hexBytes(kKeyB));
        std::vector<std::string> encrypted;
        std::vector<std::string> expected;  // what a receiver gets back (H.264 start codes widened)
        for (std::size_t i = 0; i < track.size(); ++i) {
            Bytes in = hexBytes(track[i]->hex);
            Bytes out(maxEncryptedSize(in.size()));
            const FrameInfo info = infoOf(*track[i], static_cast<std::uint32_t>(1000 + i));
            auto r = enc.encrypt(info, in, out);
            ASSERT_EQ(r.status, FrameStatus::Ok);
            out.resize(r.size);
            encrypted.push_back(hexEncode(out));
            Bytes back(out.size());
            auto d = self.decrypt(info, out, back);
            ASSERT_EQ(d.status, FrameStatus::Ok) << track[i]->name;
            back.resize(d.size);
            expected.push_back(hexEncode(back));
        }
        Json theirs = runLiveKit("decrypt", track, encrypted);
        if (theirs.empty()) return;
        for (std::size_t i = 0; i < track.size(); ++i) {
            EXPECT_EQ(
                theirs["frames"][i].value("data", "<error: " + theirs["frames"][i].value("error", "") + ">"),
                expected[i])
                << track[i]->name;
        }
    }
}

TEST(LiveKitInterop, WeDecryptLiveKitsFrames) {
    for (const auto& track : tracks()) {
        std::vector<std::string> plain;
        for (const auto* f : track)
            plain.push_back(f->hex);
        Json theirs = runLiveKit("encrypt", track, plain);  // random send counter, as in a browser
        if (theirs.empty()) return;
        FrameDecryptor dec;
        dec.keys().setKey(0, hexBytes(kKeyA));
        dec.keys().setKey(5, hexBytes(kKeyB));
        for (std::size_t i = 0; i < track.size(); ++i) {
            ASSERT_TRUE(theirs["frames"][i].contains("data")) << theirs["frames"][i].dump();
            Bytes in = hexBytes(theirs["frames"][i]["data"].get<std::string>());
            EXPECT_EQ(in.back(), 5) << "encrypted with the current key";
            Bytes out(in.size());
            auto r = dec.decrypt(infoOf(*track[i], 0), in, out);
            ASSERT_EQ(r.status, FrameStatus::Ok) << track[i]->name << ": " << toString(r.status);
            out.resize(r.size);
            // Compare with the plain frame as a receiver sees it (start codes widened for H.264).
            FrameEncryptor enc = makeEncryptor(0);
            Bytes p = hexBytes(plain[i]);
            Bytes e(maxEncryptedSize(p.size()));
            e.resize(enc.encrypt(infoOf(*track[i], 0), p, e).size);
            FrameDecryptor self;
            self.keys().setKey(5, hexBytes(kKeyB));
            Bytes expect(e.size());
            expect.resize(self.decrypt(infoOf(*track[i], 0), e, expect).size);
            EXPECT_EQ(hexEncode(out), hexEncode(expect)) << track[i]->name;
        }
    }
}

TEST(LiveKitInterop, LiveKitFollowsOurRatchetedKey) {
    const Frame& f = frames().front();
    FrameEncryptor enc = makeEncryptor(1);
    enc.keys().ratchet(5);  // the sender ratchets; the receiver only has the original key
    Bytes in = hexBytes(f.hex);
    Bytes out(maxEncryptedSize(in.size()));
    out.resize(enc.encrypt(infoOf(f, 1), in, out).size);
    Json theirs = runLiveKit("decrypt", {&f}, {hexEncode(out)});
    if (theirs.empty()) return;
    EXPECT_EQ(theirs["frames"][0].value("data", theirs["frames"][0].dump()), f.hex);
}

}  // namespace
}  // namespace mxrtc::e2ee
