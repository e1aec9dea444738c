#include "mxrtc/core/peer_call.hpp"

#include <gtest/gtest.h>

namespace mxrtc::core {
namespace {

using Json = nlohmann::json;

const TimePoint kT0 = fromUnixMs(1760000000000);
const UserId kAlice("@alice:example.org");
const UserId kBob("@bob:example.org");
const PartyId kAliceParty("ALICEDEV");
const PartyId kBobParty("BOBDEV");
const PartyId kBobOtherParty("BOBPHONE");
const CallId kCall("call1");

const SessionDescription kOffer{SdpType::Offer, "v=0 offer"};
const SessionDescription kAnswer{SdpType::Answer, "v=0 answer"};
const IceCandidate kCand1{"candidate:1 1 UDP 1 127.0.0.1 40000 typ host", "0", 0};
const IceCandidate kCand2{"candidate:2 1 UDP 1 127.0.0.1 40002 typ host", "0", 0};
const IceCandidate kEnd{"", std::nullopt, std::nullopt};

template <typename T>
std::vector<T> all(const CallEffects& effects) {
    std::vector<T> out;
    for (const auto& e : effects)
        if (const auto* v = std::get_if<T>(&e)) out.push_back(*v);
    return out;
}
template <typename T>
std::optional<T> one(const CallEffects& effects) {
    auto v = all<T>(effects);
    if (v.size() != 1) return std::nullopt;
    return v.front();
}
// The call messages an effect list sends, as (type, content) with the wire JSON.
std::vector<std::pair<std::string, Json>> sent(const CallEffects& effects) {
    std::vector<std::pair<std::string, Json>> out;
    for (const auto& s : all<SendCallMessage>(effects))
        out.emplace_back(std::string(sendEventType(s.message.type())), serializeCallMessage(s.message));
    return out;
}

CallMessage from(PartyId party, CallBody body, CallId call = kCall) {
    CallMessage m;
    m.callId = std::move(call);
    m.partyId = std::move(party);
    m.body = std::move(body);
    return m;
}
CallMessage inviteMsg(Duration lifetime = Duration{60'000}, int version = 1) {
    Invite inv;
    inv.offer = kOffer;
    inv.lifetime = lifetime;
    inv.invitee = kBob;
    auto m = from(kAliceParty, inv);
    m.version = version;
    return m;
}
CallMessage answerMsg(PartyId party = kBobParty) {
    Answer a;
    a.answer = kAnswer;
    return from(std::move(party), a);
}
CallMessage candidatesMsg(PartyId party, std::vector<IceCandidate> c) {
    return from(std::move(party), Candidates{std::move(c)});
}
CallMessage hangupMsg(PartyId party, HangupReason r) {
    Hangup h;
    h.reason = r;
    return from(std::move(party), h);
}

// Alice calls Bob; returns the call in InviteSent.
PeerCall invited(PeerCallConfig config = {}) {
    PeerCall call(kCall, kAlice, kAliceParty, config);
    (void)call.placeCall(kBob, std::nullopt, kT0);
    (void)call.onLocalDescription(kOffer, kT0);
    return call;
}
// ... and Bob (BOBDEV) answered.
PeerCall connecting(PeerCallConfig config = {}) {
    PeerCall call = invited(config);
    (void)call.onMessage(kBob, answerMsg(), kT0);
    return call;
}
PeerCall connected(PeerCallConfig config = {}) {
    PeerCall call = connecting(config);
    (void)call.onIceState(IceConnectionState::Connected, kT0);
    return call;
}
// Bob receives Alice's invite and answers.
PeerCall calleeConnecting(PeerCallConfig config = {}) {
    PeerCall call(kCall, kBob, kBobParty, config);
    (void)call.onInvite(kAlice, inviteMsg(), Duration{0}, kT0);
    (void)call.answer(std::nullopt, kT0);
    (void)call.onLocalDescription(kAnswer, kT0);
    return call;
}

TEST(PeerCall, CallerSendsInviteWithOfferLifetimeAndInvitee) {
    PeerCall call(kCall, kAlice, kAliceParty);
    SdpStreamMetadata meta{{"stream1", StreamMetadata{StreamPurpose::UserMedia, false, true}}};
    auto fx = call.placeCall(kBob, meta, kT0);
    auto create = one<CreatePeer>(fx);
    ASSERT_TRUE(create);
    EXPECT_FALSE(create->polite);
    EXPECT_EQ(create->remoteUser, kBob);
    ASSERT_TRUE(one<CreateOffer>(fx));
    EXPECT_FALSE(one<CreateOffer>(fx)->iceRestart);
    EXPECT_EQ(call.state(), CallState::CreatingOffer);

    fx = call.onLocalDescription(kOffer, kT0);
    auto msgs = sent(fx);
    ASSERT_EQ(msgs.size(), 1U);
    EXPECT_EQ(msgs[0].first, "m.call.invite");
    const Json metaJson = {
        {"stream1", {{"purpose", "m.usermedia"}, {"audio_muted", false}, {"video_muted", true}}}};
    EXPECT_EQ(msgs[0].second, (Json{{"call_id", "call1"},
                                    {"party_id", "ALICEDEV"},
                                    {"version", "1"},
                                    {"offer", {{"type", "offer"}, {"sdp", "v=0 offer"}}},
                                    {"lifetime", 60000},
                                    {"invitee", "@bob:example.org"},
                                    {"sdp_stream_metadata", metaJson},
                                    {"org.matrix.msc3077.sdp_stream_metadata", metaJson}}));
    EXPECT_EQ(call.state(), CallState::InviteSent);
    EXPECT_EQ(one<ScheduleWakeup>(fx)->at, kT0 + Duration{60'000});
}

TEST(PeerCall, CandidatesGatheredBeforeTheInviteFollowItImmediately) {
    PeerCall call(kCall, kAlice, kAliceParty);
    (void)call.placeCall(kBob, std::nullopt, kT0);
    EXPECT_TRUE(sent(call.onLocalCandidate(kCand1, kT0)).empty());  // held: no invite out yet
    auto msgs = sent(call.onLocalDescription(kOffer, kT0));
    ASSERT_EQ(msgs.size(), 2U);
    EXPECT_EQ(msgs[0].first, "m.call.invite");
    EXPECT_EQ(msgs[1].first, "m.call.candidates");
    EXPECT_EQ(msgs[1].second["candidates"],
              (Json::array({{{"candidate", kCand1.candidate}, {"sdpMid", "0"}, {"sdpMLineIndex", 0}}})));
}

struct BatchCase {
    const char* name;
    bool callee;
    Duration laterDelay;
};
class CandidateBatching : public ::testing::TestWithParam<BatchCase> {};

// MSC2746/js-sdk de-trickling: the first batch after the invite/answer goes after 200 ms, later
// batches after 2 s (caller) or 500 ms (callee).
TEST_P(CandidateBatching, BatchesLocalCandidatesAfterTheRoleDelay) {
    const auto& p = GetParam();
    PeerCall call = p.callee ? calleeConnecting() : invited();
    TimePoint t = kT0 + Duration{10};
    for (Duration delay : {Duration{200}, p.laterDelay}) {
        auto fx = call.onLocalCandidate(kCand1, t);
        EXPECT_TRUE(sent(fx).empty());
        ASSERT_TRUE(one<ScheduleWakeup>(fx));
        EXPECT_EQ(one<ScheduleWakeup>(fx)->at, t + delay);
        EXPECT_TRUE(sent(call.onLocalCandidate(kCand2, t + Duration{5})).empty());
        EXPECT_TRUE(sent(call.onWakeup(t + delay - Duration{1})).empty());
        auto msgs = sent(call.onWakeup(t + delay));
        ASSERT_EQ(msgs.size(), 1U);
        EXPECT_EQ(msgs[0].first, "m.call.candidates");
        EXPECT_EQ(msgs[0].second["candidates"].size(), 2U);
        t += delay + Duration{100};
    }
}
INSTANTIATE_TEST_SUITE_P(Roles, CandidateBatching,
                         ::testing::Values(BatchCase{"caller", false, Duration{2'000}},
                                           BatchCase{"callee", true, Duration{500}}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(PeerCall, EndOfCandidatesSendsTheBatchAtOnce) {
    PeerCall call = invited();
    (void)call.onLocalCandidate(kCand1, kT0);
    auto msgs = sent(call.onLocalCandidate(kEnd, kT0 + Duration{3}));
    ASSERT_EQ(msgs.size(), 1U);
    ASSERT_EQ(msgs[0].second["candidates"].size(), 2U);
    EXPECT_EQ(msgs[0].second["candidates"][1],
              (Json{{"candidate", ""}, {"sdpMid", nullptr}, {"sdpMLineIndex", nullptr}}));
}

TEST(PeerCall, FirstAnswerIsSelectedAndRemoteDescriptionSet) {
    PeerCall call = invited();
    auto fx = call.onMessage(kBob, answerMsg(), kT0 + Duration{100});
    auto msgs = sent(fx);
    ASSERT_EQ(msgs.size(), 1U);
    EXPECT_EQ(msgs[0].first, "m.call.select_answer");
    EXPECT_EQ(msgs[0].second["selected_party_id"], "BOBDEV");
    ASSERT_TRUE(one<SetRemoteDescription>(fx));
    EXPECT_EQ(one<SetRemoteDescription>(fx)->description, kAnswer);
    EXPECT_EQ(call.state(), CallState::Connecting);
    EXPECT_EQ(call.opponentParty(), kBobParty);

    // A second device answering later is not the opponent.
    fx = call.onMessage(kBob, answerMsg(kBobOtherParty), kT0 + Duration{200});
    EXPECT_TRUE(sent(fx).empty());
    EXPECT_EQ(one<MessageDropped>(fx)->reason, DropReason::WrongParty);

    fx = call.onIceState(IceConnectionState::Connected, kT0 + Duration{300});
    EXPECT_EQ(call.state(), CallState::Connected);
    EXPECT_EQ(one<CallStateChanged>(fx)->state, CallState::Connected);
}

TEST(PeerCall, EarlyCandidatesOfTheSelectedPartyAreAppliedAfterItsAnswer) {
    PeerCall call = invited();
    EXPECT_TRUE(
        all<AddRemoteCandidates>(call.onMessage(kBob, candidatesMsg(kBobParty, {kCand1}), kT0)).empty());
    (void)call.onMessage(kBob, candidatesMsg(kBobOtherParty, {kCand2}), kT0);
    auto fx = call.onMessage(kBob, answerMsg(), kT0);
    auto add = one<AddRemoteCandidates>(fx);
    ASSERT_TRUE(add);
    EXPECT_EQ(add->candidates, std::vector<IceCandidate>{kCand1});
    // Order matters to the media engine: the description before its candidates.
    std::size_t setAt = 0;
    std::size_t addAt = 0;
    for (std::size_t i = 0; i < fx.size(); ++i) {
        if (std::holds_alternative<SetRemoteDescription>(fx[i])) setAt = i;
        if (std::holds_alternative<AddRemoteCandidates>(fx[i])) addAt = i;
    }
    EXPECT_LT(setAt, addAt);
    EXPECT_EQ(
        one<AddRemoteCandidates>(call.onMessage(kBob, candidatesMsg(kBobParty, {kCand2}), kT0))->candidates,
        std::vector<IceCandidate>{kCand2});
}

TEST(PeerCall, UnansweredInviteHangsUpWithInviteTimeout) {
    PeerCall call = invited();
    EXPECT_TRUE(sent(call.onWakeup(kT0 + Duration{59'999})).empty());
    auto fx = call.onWakeup(kT0 + Duration{60'000});
    auto msgs = sent(fx);
    ASSERT_EQ(msgs.size(), 1U);
    EXPECT_EQ(msgs[0].first, "m.call.hangup");
    EXPECT_EQ(msgs[0].second["reason"], "invite_timeout");
    EXPECT_TRUE(one<ClosePeer>(fx));
    EXPECT_EQ(one<CallEnded>(fx)->reason, HangupReason::InviteTimeout);
    EXPECT_EQ(call.state(), CallState::Ended);
}

TEST(PeerCall, CalleeStopsRingingWhenTheInviteLifetimeMinusAgeElapses) {
    PeerCall call(kCall, kBob, kBobParty);
    auto fx = call.onInvite(kAlice, inviteMsg(Duration{60'000}), Duration{10'000}, kT0);
    auto incoming = one<IncomingCall>(fx);
    ASSERT_TRUE(incoming);
    EXPECT_EQ(incoming->expires, kT0 + Duration{50'000});
    EXPECT_EQ(one<ScheduleWakeup>(fx)->at, kT0 + Duration{50'000});
    EXPECT_TRUE(one<CreatePeer>(fx)->polite);
    EXPECT_EQ(one<SetRemoteDescription>(fx)->description, kOffer);
    EXPECT_EQ(call.state(), CallState::Ringing);

    fx = call.onWakeup(kT0 + Duration{50'000});
    EXPECT_TRUE(sent(fx).empty());  // nothing to send: the caller times out on its own
    EXPECT_EQ(one<CallEnded>(fx)->reason, HangupReason::InviteTimeout);
    EXPECT_EQ(one<CallEnded>(fx)->by, EndedBy::Remote);
}

TEST(PeerCall, InviteOlderThanItsLifetimeIsNotRung) {
    PeerCall call(kCall, kBob, kBobParty);
    auto fx = call.onInvite(kAlice, inviteMsg(Duration{60'000}), Duration{60'000}, kT0);
    EXPECT_EQ(one<MessageDropped>(fx)->reason, DropReason::Expired);
    EXPECT_FALSE(one<IncomingCall>(fx));
    EXPECT_EQ(call.state(), CallState::Ended);
}

TEST(PeerCall, CalleeAnswersWithItsMetadata) {
    PeerCall call(kCall, kBob, kBobParty);
    (void)call.onInvite(kAlice, inviteMsg(), Duration{0}, kT0);
    auto fx = call.answer(
        SdpStreamMetadata{{"s", StreamMetadata{StreamPurpose::UserMedia, true, std::nullopt}}}, kT0);
    EXPECT_TRUE(one<CreateAnswer>(fx));
    EXPECT_EQ(call.state(), CallState::CreatingAnswer);
    auto msgs = sent(call.onLocalDescription(kAnswer, kT0));
    ASSERT_EQ(msgs.size(), 1U);
    EXPECT_EQ(msgs[0].first, "m.call.answer");
    EXPECT_EQ(msgs[0].second["answer"], (Json{{"type", "answer"}, {"sdp", "v=0 answer"}}));
    EXPECT_EQ(msgs[0].second["sdp_stream_metadata"],
              (Json{{"s", {{"purpose", "m.usermedia"}, {"audio_muted", true}}}}));
    EXPECT_EQ(call.state(), CallState::Connecting);
}

TEST(PeerCall, CalleeEndsWhenAnotherDeviceWasSelected) {
    PeerCall call = calleeConnecting();
    auto fx = call.onMessage(kAlice, from(kAliceParty, SelectAnswer{kBobOtherParty}), kT0);
    EXPECT_EQ(one<CallEnded>(fx)->reason, HangupReason::AnsweredElsewhere);
    EXPECT_TRUE(sent(fx).empty());

    PeerCall chosen = calleeConnecting();
    fx = chosen.onMessage(kAlice, from(kAliceParty, SelectAnswer{kBobParty}), kT0);
    EXPECT_FALSE(one<CallEnded>(fx));
    EXPECT_EQ(chosen.state(), CallState::Connecting);
}

struct RejectCase {
    const char* name;
    int inviteVersion;
    const char* sentType;
};
class RejectVersions : public ::testing::TestWithParam<RejectCase> {};

// reject is only for v1 invites; a v0 caller gets a hangup (spec §9.1).
TEST_P(RejectVersions, CalleeDeclines) {
    PeerCall call(kCall, kBob, kBobParty);
    (void)call.onInvite(kAlice, inviteMsg(Duration{60'000}, GetParam().inviteVersion), Duration{0}, kT0);
    auto fx = call.reject(kT0);
    auto msgs = sent(fx);
    ASSERT_EQ(msgs.size(), 1U);
    EXPECT_EQ(msgs[0].first, GetParam().sentType);
    EXPECT_TRUE(one<CallEnded>(fx)->rejected);
    EXPECT_TRUE(one<ClosePeer>(fx));
}
INSTANTIATE_TEST_SUITE_P(Versions, RejectVersions,
                         ::testing::Values(RejectCase{"v1", 1, "m.call.reject"},
                                           RejectCase{"v0", 0, "m.call.hangup"}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(PeerCall, CallerSeesRejectAsARejectedEnd) {
    PeerCall call = invited();
    auto fx = call.onMessage(kBob, from(kBobParty, Reject{}), kT0);
    ASSERT_TRUE(one<CallEnded>(fx));
    EXPECT_TRUE(one<CallEnded>(fx)->rejected);
    EXPECT_EQ(one<CallEnded>(fx)->by, EndedBy::Remote);
    EXPECT_TRUE(sent(fx).empty());
}

class HangupReasons : public ::testing::TestWithParam<HangupReason> {};

TEST_P(HangupReasons, LocalHangupSendsTheReason) {
    PeerCall call = connected();
    auto fx = call.hangup(GetParam(), kT0);
    auto msgs = sent(fx);
    ASSERT_EQ(msgs.size(), 1U);
    EXPECT_EQ(msgs[0].first, "m.call.hangup");
    EXPECT_EQ(msgs[0].second["reason"], std::string(toString(GetParam())));
    EXPECT_EQ(one<CallEnded>(fx)->reason, GetParam());
    EXPECT_EQ(one<CallEnded>(fx)->by, EndedBy::Local);
}

TEST_P(HangupReasons, RemoteHangupEndsWithTheirReason) {
    PeerCall call = connected();
    auto fx = call.onMessage(kBob, hangupMsg(kBobParty, GetParam()), kT0);
    EXPECT_TRUE(sent(fx).empty());
    EXPECT_TRUE(one<ClosePeer>(fx));
    EXPECT_EQ(one<CallEnded>(fx)->reason, GetParam());
    EXPECT_EQ(one<CallEnded>(fx)->by, EndedBy::Remote);
}
INSTANTIATE_TEST_SUITE_P(All, HangupReasons,
                         ::testing::Values(HangupReason::UserHangup, HangupReason::IceFailed,
                                           HangupReason::IceTimeout, HangupReason::InviteTimeout,
                                           HangupReason::UserMediaFailed, HangupReason::UserBusy,
                                           HangupReason::UnknownError, HangupReason::Replaced,
                                           HangupReason::AnsweredElsewhere, HangupReason::SignallingTimeout),
                         [](const auto& info) { return std::string(toString(info.param)); });

TEST(PeerCall, HangupWhileTheOfferIsPreparedSendsNothing) {
    PeerCall call(kCall, kAlice, kAliceParty);
    (void)call.placeCall(kBob, std::nullopt, kT0);
    auto fx = call.hangup(HangupReason::UserHangup, kT0);
    EXPECT_TRUE(sent(fx).empty());
    EXPECT_TRUE(one<ClosePeer>(fx));
    EXPECT_EQ(call.state(), CallState::Ended);
    // The offer arriving later is ignored.
    EXPECT_TRUE(call.onLocalDescription(kOffer, kT0).empty());
}

TEST(PeerCall, HangupFromAnotherCalleeDeviceBeforeAnAnswerIsIgnored) {
    PeerCall call = invited();
    auto fx = call.onMessage(kBob, hangupMsg(kBobOtherParty, HangupReason::UserHangup), kT0);
    EXPECT_EQ(one<MessageDropped>(fx)->reason, DropReason::WrongParty);
    EXPECT_EQ(call.state(), CallState::InviteSent);
}

TEST(PeerCall, OwnEchoIsIgnored) {
    PeerCall call = invited();
    auto fx = call.onMessage(kAlice, hangupMsg(kAliceParty, HangupReason::UserHangup), kT0);
    EXPECT_EQ(one<MessageDropped>(fx)->reason, DropReason::OwnEcho);
    EXPECT_EQ(call.state(), CallState::InviteSent);
}

TEST(PeerCall, MessagesFromOtherUsersAreIgnoredWhenThereIsAnInvitee) {
    PeerCall call = invited();
    auto fx = call.onMessage(UserId("@mallory:example.org"), answerMsg(PartyId("M")), kT0);
    EXPECT_EQ(one<MessageDropped>(fx)->reason, DropReason::WrongParty);
    EXPECT_EQ(call.state(), CallState::InviteSent);
}

TEST(PeerCall, RenegotiationSendsNegotiateAndAppliesTheAnswer) {
    PeerCall call = connected();
    auto fx = call.renegotiate(kT0);
    ASSERT_TRUE(one<CreateOffer>(fx));
    auto msgs = sent(call.onLocalDescription(kOffer, kT0));
    ASSERT_EQ(msgs.size(), 1U);
    EXPECT_EQ(msgs[0].first, "m.call.negotiate");
    EXPECT_EQ(msgs[0].second["description"]["type"], "offer");
    EXPECT_EQ(msgs[0].second["lifetime"], 60000);
    EXPECT_TRUE(call.renegotiate(kT0).empty());  // one at a time

    Negotiate answer;
    answer.description = kAnswer;
    fx = call.onMessage(kBob, from(kBobParty, answer), kT0);
    EXPECT_EQ(one<SetRemoteDescription>(fx)->description, kAnswer);
    // A second answer is unexpected.
    EXPECT_EQ(one<MessageDropped>(call.onMessage(kBob, from(kBobParty, answer), kT0))->reason,
              DropReason::WrongState);
}

TEST(PeerCall, RemoteRenegotiationIsAnsweredWithNegotiate) {
    PeerCall call = calleeConnecting();
    Negotiate offer;
    offer.description = kOffer;
    offer.lifetime = Duration{60'000};
    auto fx = call.onMessage(kAlice, from(kAliceParty, offer), kT0);
    EXPECT_EQ(one<SetRemoteDescription>(fx)->description, kOffer);
    EXPECT_TRUE(one<CreateAnswer>(fx));
    auto msgs = sent(call.onLocalDescription(kAnswer, kT0));
    ASSERT_EQ(msgs.size(), 1U);
    EXPECT_EQ(msgs[0].first, "m.call.negotiate");
    EXPECT_EQ(msgs[0].second["description"]["type"], "answer");
    EXPECT_FALSE(msgs[0].second.contains("lifetime"));
}

struct NegotiateGlareCase {
    const char* name;
    bool callee;  // the callee is the polite peer
    bool acceptsTheirs;
};
class NegotiateGlare : public ::testing::TestWithParam<NegotiateGlareCase> {};

// Both sides renegotiate at once: the impolite caller keeps its offer, the polite callee yields.
TEST_P(NegotiateGlare, PolitePeerYields) {
    PeerCall call = GetParam().callee ? calleeConnecting() : connected();
    (void)call.renegotiate(kT0);
    (void)call.onLocalDescription(kOffer, kT0);
    Negotiate theirs;
    theirs.description = SessionDescription{SdpType::Offer, "v=0 their offer"};
    const auto& party = GetParam().callee ? kAliceParty : kBobParty;
    const auto& user = GetParam().callee ? kAlice : kBob;
    auto fx = call.onMessage(user, from(party, theirs), kT0);
    EXPECT_EQ(one<SetRemoteDescription>(fx).has_value(), GetParam().acceptsTheirs);
    EXPECT_EQ(one<CreateAnswer>(fx).has_value(), GetParam().acceptsTheirs);
    EXPECT_EQ(one<MessageDropped>(fx).has_value(), !GetParam().acceptsTheirs);
}
INSTANTIATE_TEST_SUITE_P(Roles, NegotiateGlare,
                         ::testing::Values(NegotiateGlareCase{"caller_impolite", false, false},
                                           NegotiateGlareCase{"callee_polite", true, true}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(PeerCall, CallerRestartsIceOnFailureViaNegotiate) {
    PeerCall call = connected();
    auto fx = call.onIceState(IceConnectionState::Failed, kT0);
    ASSERT_TRUE(one<CreateOffer>(fx));
    EXPECT_TRUE(one<CreateOffer>(fx)->iceRestart);
    EXPECT_EQ(call.state(), CallState::Reconnecting);
    auto msgs = sent(call.onLocalDescription(kOffer, kT0));
    ASSERT_EQ(msgs.size(), 1U);
    EXPECT_EQ(msgs[0].first, "m.call.negotiate");
    Negotiate answer;
    answer.description = kAnswer;
    (void)call.onMessage(kBob, from(kBobParty, answer), kT0);
    fx = call.onIceState(IceConnectionState::Connected, kT0 + Duration{500});
    EXPECT_EQ(call.state(), CallState::Connected);
    EXPECT_EQ(call.iceRestarts(), 0);
}

TEST(PeerCall, CallerGivesUpWithIceFailedAfterMaxRestarts) {
    PeerCallConfig config;
    config.maxIceRestarts = 2;
    config.iceRestartTimeout = Duration{1'000};
    PeerCall call = connected(config);
    TimePoint t = kT0;
    (void)call.onIceState(IceConnectionState::Failed, t);  // restart 1
    EXPECT_EQ(call.iceRestarts(), 1);
    t += Duration{1'000};
    auto fx = call.onWakeup(t);  // restart 1 timed out: restart 2
    EXPECT_TRUE(one<CreateOffer>(fx)->iceRestart);
    EXPECT_EQ(call.iceRestarts(), 2);
    t += Duration{1'000};
    fx = call.onWakeup(t);
    auto msgs = sent(fx);
    ASSERT_EQ(msgs.size(), 1U);
    EXPECT_EQ(msgs[0].second["reason"], "ice_failed");
    EXPECT_EQ(one<CallEnded>(fx)->reason, HangupReason::IceFailed);
}

TEST(PeerCall, DisconnectedTooLongCountsAsFailed) {
    PeerCall call = connected();
    auto fx = call.onIceState(IceConnectionState::Disconnected, kT0);
    EXPECT_EQ(one<ScheduleWakeup>(fx)->at, kT0 + Duration{5'000});
    // Recovering in time cancels it.
    (void)call.onIceState(IceConnectionState::Connected, kT0 + Duration{1'000});
    EXPECT_FALSE(call.nextWakeup());
    (void)call.onIceState(IceConnectionState::Disconnected, kT0 + Duration{2'000});
    fx = call.onWakeup(kT0 + Duration{7'000});
    ASSERT_TRUE(one<CreateOffer>(fx));
    EXPECT_TRUE(one<CreateOffer>(fx)->iceRestart);
}

TEST(PeerCall, CalleeWaitsForTheCallersIceRestartThenGivesUp) {
    PeerCallConfig config;
    config.maxIceRestarts = 1;
    config.iceRestartTimeout = Duration{1'000};
    PeerCall call = calleeConnecting(config);
    (void)call.onIceState(IceConnectionState::Connected, kT0);
    auto fx = call.onIceState(IceConnectionState::Failed, kT0);
    EXPECT_FALSE(one<CreateOffer>(fx));  // the caller restarts, not us
    EXPECT_EQ(call.state(), CallState::Reconnecting);
    EXPECT_EQ(one<ScheduleWakeup>(fx)->at, kT0 + Duration{2'000});
    fx = call.onWakeup(kT0 + Duration{2'000});
    EXPECT_EQ(one<CallEnded>(fx)->reason, HangupReason::IceFailed);
}

TEST(PeerCall, MuteStateIsSentAndReceived) {
    PeerCall call = connected();
    SdpStreamMetadata muted{{"s", StreamMetadata{StreamPurpose::UserMedia, true, true}}};
    auto msgs = sent(call.setLocalMetadata(muted, kT0));
    ASSERT_EQ(msgs.size(), 1U);
    EXPECT_EQ(msgs[0].first, "org.matrix.call.sdp_stream_metadata_changed");
    EXPECT_EQ(msgs[0].second["org.matrix.msc3077.sdp_stream_metadata"]["s"]["audio_muted"], true);

    auto fx = call.onMessage(kBob, from(kBobParty, SdpStreamMetadataChanged{muted}), kT0);
    EXPECT_EQ(one<RemoteMetadataChanged>(fx)->metadata, muted);
    EXPECT_EQ(call.remoteMetadata(), muted);
}

TEST(PeerCall, MetadataBeforeTheCallIsLiveIsOnlyStored) {
    PeerCall call(kCall, kAlice, kAliceParty);
    (void)call.placeCall(kBob, std::nullopt, kT0);
    SdpStreamMetadata m{{"s", StreamMetadata{}}};
    EXPECT_TRUE(sent(call.setLocalMetadata(m, kT0)).empty());
    auto msgs = sent(call.onLocalDescription(kOffer, kT0));
    EXPECT_EQ(msgs[0].second["sdp_stream_metadata"], (Json{{"s", {{"purpose", "m.usermedia"}}}}));
}

TEST(PeerCall, NothingHappensAfterTheCallEnded) {
    PeerCall call = connected();
    (void)call.hangup(HangupReason::UserHangup, kT0);
    EXPECT_EQ(one<MessageDropped>(call.onMessage(kBob, answerMsg(), kT0))->reason, DropReason::WrongState);
    EXPECT_TRUE(call.onLocalCandidate(kCand1, kT0).empty());
    EXPECT_TRUE(call.onIceState(IceConnectionState::Failed, kT0).empty());
    EXPECT_TRUE(call.hangup(HangupReason::UserHangup, kT0).empty());
    EXPECT_FALSE(call.nextWakeup());
}

struct GlareCase {
    const char* name;
    CallState ours;
    CallDirection direction;
    const char* ourId;
    const char* incomingId;
    GlareDecision expected;
};
class Glare : public ::testing::TestWithParam<GlareCase> {};

// Spec §9.1: invite while preparing ours -> answer theirs; after ours was sent -> the smaller
// call_id wins (js-sdk: existing.callId > incoming.callId => replace ours).
TEST_P(Glare, KeepsTheLexicographicallySmallerCallId) {
    const auto& p = GetParam();
    EXPECT_EQ(decideGlare(p.ours, p.direction, CallId(p.ourId), CallId(p.incomingId)), p.expected);
}
INSTANTIATE_TEST_SUITE_P(
    Table, Glare,
    ::testing::Values(GlareCase{"preparing", CallState::CreatingOffer, CallDirection::Outbound, "b", "a",
                                GlareDecision::AnswerIncoming},
                      GlareCase{"preparing_smaller_ours", CallState::CreatingOffer, CallDirection::Outbound,
                                "a", "b", GlareDecision::AnswerIncoming},
                      GlareCase{"sent_ours_larger", CallState::InviteSent, CallDirection::Outbound, "b", "a",
                                GlareDecision::ReplaceOurs},
                      GlareCase{"sent_ours_smaller", CallState::InviteSent, CallDirection::Outbound, "a", "b",
                                GlareDecision::RejectIncoming},
                      GlareCase{"case_sensitive_upper_first", CallState::InviteSent, CallDirection::Outbound,
                                "a", "B", GlareDecision::ReplaceOurs},
                      GlareCase{"prefix_is_smaller", CallState::InviteSent, CallDirection::Outbound, "abc",
                                "abcd", GlareDecision::RejectIncoming},
                      GlareCase{"inbound_is_not_glare", CallState::Ringing, CallDirection::Inbound, "a", "b",
                                GlareDecision::NotGlare},
                      GlareCase{"connected_is_not_glare", CallState::Connected, CallDirection::Outbound, "b",
                                "a", GlareDecision::NotGlare},
                      GlareCase{"same_call", CallState::InviteSent, CallDirection::Outbound, "a", "a",
                                GlareDecision::NotGlare}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(PeerCall, AFailedInviteSendEndsTheCallAtOnce) {
    PeerCall call = invited();
    auto fx = call.onSendFailed(call_wire::kInvite, kT0 + Duration{200});
    auto ended = one<CallEnded>(fx);
    ASSERT_TRUE(ended);
    EXPECT_EQ(ended->reason, HangupReason::UnknownError);
    EXPECT_EQ(ended->by, EndedBy::Local);
    EXPECT_EQ(call.state(), CallState::Ended);
    EXPECT_TRUE(one<ClosePeer>(fx));
    auto msgs = sent(fx);
    ASSERT_EQ(msgs.size(), 1U);  // the hangup is still attempted
    EXPECT_EQ(msgs[0].first, "m.call.hangup");
    EXPECT_EQ(msgs[0].second.value("reason", ""), "unknown_error");
    EXPECT_TRUE(call.onSendFailed(call_wire::kInvite, kT0 + Duration{300}).empty());  // ended once
}

TEST(PeerCall, AFailedAnswerSendEndsTheCallee) {
    PeerCall call = calleeConnecting();
    auto fx = call.onSendFailed(call_wire::kAnswer, kT0);
    ASSERT_TRUE(one<CallEnded>(fx));
    EXPECT_EQ(one<CallEnded>(fx)->reason, HangupReason::UnknownError);
    EXPECT_EQ(call.state(), CallState::Ended);
}

TEST(PeerCall, OtherLostMessagesLeaveTheCallAlone) {
    PeerCall call = connected();
    for (auto type : {call_wire::kCandidates, call_wire::kSelectAnswer, call_wire::kNegotiate,
                      call_wire::kSdpStreamMetadataChanged, call_wire::kHangup}) {
        EXPECT_TRUE(call.onSendFailed(type, kT0).empty()) << type;
    }
    EXPECT_EQ(call.state(), CallState::Connected);
}

}  // namespace
}  // namespace mxrtc::core
