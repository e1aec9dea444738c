#include "mxrtc/core/call_signalling.hpp"

#include <gtest/gtest.h>

#include "support/vectors.hpp"

namespace mxrtc::core {
namespace {

using Json = nlohmann::json;

struct Case {
    std::string name;
    Json data;
};

std::vector<Case> load(const char* key) {
    std::vector<Case> out;
    const Json all = test::loadVector("signalling/cases.json");
    for (const auto& c : all[key])
        out.push_back({c["name"].get<std::string>(), c});
    return out;
}

CallTransport transportOf(const Json& c) {
    return c["transport"] == "to_device" ? CallTransport::ToDevice : CallTransport::Room;
}

class ValidCallEvents : public ::testing::TestWithParam<Case> {};

// Every valid vector parses, serialises to the canonical JSON (byte-compatible names, both
// metadata keys) and parses back to the same value.
TEST_P(ValidCallEvents, ParseSerialiseRoundTrip) {
    const Json& c = GetParam().data;
    const std::string type = c["type"];
    auto m = parseCallMessage(type, c["content"], transportOf(c));
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_EQ(m->type(), *callEventTypeFromString(type));
    EXPECT_EQ(m->group.has_value(), transportOf(c) == CallTransport::ToDevice);

    const Json out = serializeCallMessage(*m);
    if (c.value("roundtrip", true)) {
        EXPECT_EQ(out, c.contains("canonical") ? c["canonical"] : c["content"]);
    }
    auto again = parseCallMessage(type, out, transportOf(c));
    ASSERT_TRUE(again) << again.error().message;
    EXPECT_EQ(*again, *m);

    if (!c.contains("expect")) return;
    const Json& e = c["expect"];
    if (e.contains("version")) {
        EXPECT_EQ(m->version, e["version"].get<int>());
    }
    if (e.contains("party_id")) {
        EXPECT_EQ(m->partyId.str(), e["party_id"].get<std::string>());
    }
    if (e.contains("lifetime")) {
        if (auto* inv = std::get_if<Invite>(&m->body)) {
            EXPECT_EQ(inv->lifetime.count(), e["lifetime"].get<int>());
        }
        if (auto* neg = std::get_if<Negotiate>(&m->body)) {
            EXPECT_EQ(neg->lifetime->count(), e["lifetime"].get<int>());
        }
    }
    if (e.contains("invitee")) {
        EXPECT_EQ(std::get<Invite>(m->body).invitee->str(), e["invitee"].get<std::string>());
    }
    if (e.contains("metadata_streams")) {
        std::optional<SdpStreamMetadata> meta;
        if (auto* inv = std::get_if<Invite>(&m->body)) meta = inv->metadata;
        if (auto* ans = std::get_if<Answer>(&m->body)) meta = ans->metadata;
        if (auto* chg = std::get_if<SdpStreamMetadataChanged>(&m->body)) meta = chg->metadata;
        ASSERT_TRUE(meta);
        EXPECT_EQ(meta->size(), e["metadata_streams"].get<std::size_t>());
    }
    if (e.contains("candidates")) {
        const auto& cs = std::get<Candidates>(m->body).candidates;
        EXPECT_EQ(cs.size(), e["candidates"].get<std::size_t>());
        if (e.value("end_of_candidates", false)) {
            EXPECT_TRUE(cs.back().endOfCandidates());
        }
    }
    if (e.contains("reason")) {
        EXPECT_EQ(toString(std::get<Hangup>(m->body).reason), e["reason"].get<std::string>());
    }
    if (e.contains("seq")) {
        EXPECT_EQ(m->group->seq, e["seq"].get<std::uint64_t>());
    }
    if (e.contains("conf_id")) {
        EXPECT_EQ(m->group->confId, e["conf_id"].get<std::string>());
    }
    if (e.contains("dest_session_id")) {
        EXPECT_EQ(m->group->destSessionId, e["dest_session_id"].get<std::string>());
    }
}

INSTANTIATE_TEST_SUITE_P(Vectors, ValidCallEvents, ::testing::ValuesIn(load("valid")),
                         [](const auto& info) { return info.param.name; });

class InvalidCallEvents : public ::testing::TestWithParam<Case> {};

// Every invalid vector is rejected without throwing, with M_BAD_JSON naming the field.
TEST_P(InvalidCallEvents, RejectedNamingTheField) {
    const Json& c = GetParam().data;
    auto m = parseCallMessage(c["type"].get<std::string>(), c["content"], transportOf(c));
    ASSERT_FALSE(m);
    EXPECT_EQ(m.error().errcode, "M_BAD_JSON");
    const std::string field = "'" + c["field"].get<std::string>() + "'";
    EXPECT_EQ(m.error().message.rfind(field, 0), 0U) << m.error().message;
}

INSTANTIATE_TEST_SUITE_P(Vectors, InvalidCallEvents, ::testing::ValuesIn(load("invalid")),
                         [](const auto& info) { return info.param.name; });

TEST(CallSignalling, ToDeviceFieldsRequiredOnlyForToDeviceTransport) {
    const Json content = {{"call_id", "c1"}, {"party_id", "P"}, {"version", "1"}};
    EXPECT_TRUE(parseCallMessage("m.call.hangup", content, CallTransport::Room));
    auto td = parseCallMessage("m.call.hangup", content, CallTransport::ToDevice);
    ASSERT_FALSE(td);
    EXPECT_EQ(td.error().message.rfind("'conf_id'", 0), 0U);
}

TEST(CallSignalling, UnstableMetadataChangedTypeIsUnderstoodAndSent) {
    EXPECT_EQ(callEventTypeFromString("org.matrix.call.sdp_stream_metadata_changed"),
              CallEventType::SdpStreamMetadataChanged);
    EXPECT_EQ(sendEventType(CallEventType::SdpStreamMetadataChanged),
              "org.matrix.call.sdp_stream_metadata_changed");
    EXPECT_EQ(sendEventType(CallEventType::Invite), "m.call.invite");
    EXPECT_FALSE(isCallEventType("m.call.member"));
}

TEST(CallSignalling, StableMetadataKeyWinsOverUnstable) {
    Json c = {{"call_id", "c1"},
              {"party_id", "P"},
              {"version", "1"},
              {"sdp_stream_metadata", {{"a", {{"purpose", "m.usermedia"}, {"audio_muted", true}}}}},
              {"org.matrix.msc3077.sdp_stream_metadata", {{"b", {{"purpose", "m.screenshare"}}}}}};
    auto m = parseCallMessage("m.call.sdp_stream_metadata_changed", c);
    ASSERT_TRUE(m);
    const auto& meta = std::get<SdpStreamMetadataChanged>(m->body).metadata;
    ASSERT_EQ(meta.size(), 1U);
    EXPECT_TRUE(meta.at("a").audioMuted.value());
}

TEST(CallSignalling, CallIdentifierGrammar) {
    EXPECT_TRUE(isValidCallIdentifier("aZ09._~-"));
    EXPECT_TRUE(isValidCallIdentifier(std::string(255, 'x')));
    EXPECT_FALSE(isValidCallIdentifier(std::string(256, 'x')));
    EXPECT_FALSE(isValidCallIdentifier(""));
    EXPECT_FALSE(isValidCallIdentifier("a:b"));
    EXPECT_FALSE(isValidCallIdentifier("caf\xc3\xa9"));
}

TEST(CallSignalling, HangupReasonNamesRoundTrip) {
    for (auto r : {HangupReason::UserHangup, HangupReason::IceFailed, HangupReason::IceTimeout,
                   HangupReason::InviteTimeout, HangupReason::UserMediaFailed, HangupReason::UserBusy,
                   HangupReason::UnknownError, HangupReason::Replaced, HangupReason::AnsweredElsewhere,
                   HangupReason::SignallingTimeout})
        EXPECT_EQ(hangupReasonFromString(toString(r)), r);
    EXPECT_EQ(hangupReasonFromString("org.example"), HangupReason::Other);
}

TEST(CallSignalling, NonJsonShapesNeverThrow) {
    for (const Json& content : {Json(nullptr), Json(1), Json("x"), Json::array(), Json::object()}) {
        for (auto type : {"m.call.invite", "m.call.candidates", "m.call.answer", "m.call.select_answer",
                          "m.call.negotiate", "m.call.reject", "m.call.hangup"}) {
            EXPECT_NO_THROW((void)parseCallMessage(type, content, CallTransport::ToDevice));
        }
    }
}

}  // namespace
}  // namespace mxrtc::core
