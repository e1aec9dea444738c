#include "mxrtc/rtc/vp8_payload.hpp"

#include <gtest/gtest.h>

#include <numeric>

namespace mxrtc::rtc {
namespace {

std::vector<std::uint8_t> frame(std::size_t n) {
    std::vector<std::uint8_t> f(n);
    std::iota(f.begin(), f.end(), std::uint8_t{0});
    return f;
}

struct SplitCase {
    const char* name;
    std::size_t frameSize;
    std::size_t maxPayload;
    std::size_t packets;
};
class Vp8Split : public ::testing::TestWithParam<SplitCase> {};

// Any bytes (ciphertext included) are split, never parsed; reassembling the payloads after their
// descriptors gives the frame back; S only on the first packet, the marker only on the last.
TEST_P(Vp8Split, PacketsReassembleToTheFrame) {
    const auto& p = GetParam();
    const auto f = frame(p.frameSize);
    const auto packets = packetizeVp8(f, 0x1234, p.maxPayload);
    ASSERT_EQ(packets.size(), p.packets);
    std::vector<std::uint8_t> joined;
    for (std::size_t i = 0; i < packets.size(); ++i) {
        const auto& pk = packets[i];
        EXPECT_LE(pk.payload.size(), p.maxPayload);
        const auto d = parseVp8Descriptor(pk.payload);
        ASSERT_EQ(d.size, kVp8DescriptorSize);
        EXPECT_EQ(d.start, i == 0);
        EXPECT_EQ(d.partitionId, 0);
        EXPECT_TRUE(d.hasPictureId);
        EXPECT_EQ(d.pictureId, 0x1234);
        EXPECT_EQ(pk.marker, i + 1 == packets.size());
        joined.insert(joined.end(), pk.payload.begin() + static_cast<std::ptrdiff_t>(d.size),
                      pk.payload.end());
    }
    EXPECT_EQ(joined, f);
}
INSTANTIATE_TEST_SUITE_P(Sizes, Vp8Split,
                         ::testing::Values(SplitCase{"empty", 0, 1200, 1}, SplitCase{"small", 10, 1200, 1},
                                           SplitCase{"exact_fit", 1196, 1200, 1},
                                           SplitCase{"one_over", 1197, 1200, 2},
                                           SplitCase{"many", 5000, 1200, 5}, SplitCase{"tiny_mtu", 7, 5, 7}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(Vp8Payload, PictureIdIsFifteenBits) {
    const auto packets = packetizeVp8(frame(3), 0xFFFF);
    EXPECT_EQ(parseVp8Descriptor(packets.at(0).payload).pictureId, 0x7FFF);
}

TEST(Vp8Payload, RejectsAPayloadLimitWithoutRoomForData) {
    EXPECT_TRUE(packetizeVp8(frame(3), 1, kVp8DescriptorSize).empty());
}

TEST(Vp8Payload, ParsesShortAndExtendedDescriptors) {
    const std::uint8_t minimal[] = {0x10, 0xAA};  // S=1, no extension
    auto d = parseVp8Descriptor(minimal);
    EXPECT_TRUE(d.start);
    EXPECT_EQ(d.size, 1U);
    const std::uint8_t sevenBit[] = {0x90, 0x80, 0x05, 0xAA};  // X, I, M=0 PictureID 5
    d = parseVp8Descriptor(sevenBit);
    EXPECT_EQ(d.pictureId, 5);
    EXPECT_EQ(d.size, 3U);
    const std::uint8_t truncated[] = {0x90, 0x80};
    EXPECT_EQ(parseVp8Descriptor(truncated).size, 0U);
}

}  // namespace
}  // namespace mxrtc::rtc
