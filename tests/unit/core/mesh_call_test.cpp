#include "mxrtc/core/mesh_call.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <functional>
#include <set>

namespace mxrtc::core {
namespace {

using Json = nlohmann::json;

const TimePoint kT0 = fromUnixMs(1760000000000);

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

// Deterministic ids: "id0001", "id0002", ...
std::function<std::string()> counter(std::string prefix = "id") {
    auto n = std::make_shared<int>(0);
    return [n, prefix] {
        char buf[16];
        std::snprintf(buf, sizeof buf, "%04d", ++*n);
        return prefix + buf;
    };
}

MeshMember member(const char* user, const char* device, const char* session = nullptr) {
    return MeshMember{UserId(user), DeviceId(device), session ? session : std::string("s-") + device};
}
MeshSelf self(const char* user, const char* device) {
    return MeshSelf{UserId(user), DeviceId(device), std::string("s-") + device, "conf1"};
}

Json toDevice(const char* callId, const char* fromDevice, std::uint64_t seq, const char* destSession,
              Json body) {
    Json c = std::move(body);
    c["call_id"] = callId;
    c["party_id"] = fromDevice;
    c["version"] = "1";
    c["conf_id"] = "conf1";
    c["device_id"] = fromDevice;
    c["sender_session_id"] = std::string("s-") + fromDevice;
    c["dest_session_id"] = destSession;
    c["seq"] = seq;
    return c;
}
Json inviteBody() {
    return {{"offer", {{"type", "offer"}, {"sdp", "v=0 o"}}},
            {"lifetime", 60000},
            {"invitee", "@bob:example.org"}};
}
Json candidatesBody() {
    return {{"candidates", Json::array({{{"candidate", "candidate:1 1 UDP 1 127.0.0.1 5000 typ host"},
                                         {"sdpMid", "0"},
                                         {"sdpMLineIndex", 0}}})}};
}

// ---- the offer rule -------------------------------------------------------------------------------

struct OfferCase {
    const char* name;
    const char* myUser;
    const char* myDevice;
    const char* theirUser;
    const char* theirDevice;
    bool weCall;
};
class OfferRule : public ::testing::TestWithParam<OfferCase> {};

// js-sdk GroupCall: call out iff their_user > my_user || (same user && their_device > my_device).
TEST_P(OfferRule, LowerUserIdThenLowerDeviceIdCalls) {
    const auto& p = GetParam();
    EXPECT_EQ(
        shouldPlaceCall(UserId(p.myUser), DeviceId(p.myDevice), UserId(p.theirUser), DeviceId(p.theirDevice)),
        p.weCall);
    // Exactly one side of every pair calls.
    EXPECT_NE(
        shouldPlaceCall(UserId(p.theirUser), DeviceId(p.theirDevice), UserId(p.myUser), DeviceId(p.myDevice)),
        p.weCall);
}
INSTANTIATE_TEST_SUITE_P(
    Table, OfferRule,
    ::testing::Values(OfferCase{"lower_user_calls", "@alice:x", "Z", "@bob:x", "A", true},
                      OfferCase{"higher_user_waits", "@bob:x", "A", "@alice:x", "Z", false},
                      OfferCase{"same_user_lower_device_calls", "@bob:x", "AAA", "@bob:x", "BBB", true},
                      OfferCase{"same_user_higher_device_waits", "@bob:x", "BBB", "@bob:x", "AAA", false},
                      OfferCase{"uppercase_sorts_first", "@Zed:x", "D", "@alice:x", "D", true},
                      OfferCase{"server_part_counts", "@a:a.org", "D", "@a:b.org", "D", true},
                      OfferCase{"prefix_is_lower", "@al:x", "D", "@alice:x", "D", true},
                      // U+FF5F (UTF-8 EF BD 9F) vs U+1F600 (F0 9F 98 80): bytes say FF5F first, JS's
                      // UTF-16 code units (FF5F vs D83D) say the emoji first.
                      OfferCase{"utf16_order_not_utf8", "@\xF0\x9F\x98\x80:x", "D", "@\xEF\xBD\x9F:x", "D",
                                true}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(MeshCall, CompareAsUtf16FallsBackToBytesOnInvalidUtf8) {
    EXPECT_LT(compareAsUtf16("a", "b"), 0);
    EXPECT_EQ(compareAsUtf16("abc", "abc"), 0);
    EXPECT_GT(compareAsUtf16("\xEF\xBD\x9F", "\xF0\x9F\x98\x80"), 0);
    EXPECT_LT(compareAsUtf16("\xFF", "\xFF\x01"), 0);
}

// ---- one MeshCall ---------------------------------------------------------------------------------

TEST(MeshCall, JoinCallsOnlyTheMembersTheRuleSaysWeCall) {
    MeshCall mesh(self("@bob:x", "D"), counter());
    auto fx = mesh.join({member("@alice:x", "A"), member("@carol:x", "C"), member("@bob:x", "E"),
                         member("@bob:x", "C"), member("@bob:x", "D")},
                        kT0);
    auto started = all<MeshPeerStarted>(fx);
    ASSERT_EQ(started.size(), 2U);
    std::set<std::string> called;
    for (const auto& s : started) {
        EXPECT_EQ(s.direction, CallDirection::Outbound);
        called.insert(s.user.str() + "|" + s.device.str());
    }
    EXPECT_EQ(called, (std::set<std::string>{"@bob:x|E", "@carol:x|C"}));
    auto creates = all<CreatePeer>(fx);
    ASSERT_EQ(creates.size(), 2U);
    for (const auto& c : creates)
        EXPECT_TRUE(c.remoteDevice.has_value());
    EXPECT_EQ(all<CreateOffer>(fx).size(), 2U);
    EXPECT_EQ(mesh.state(), MeshCall::State::Joined);
}

TEST(MeshCall, ToDeviceMessagesCarryTheGroupFieldsAndASeqPerCall) {
    MeshCall mesh(self("@alice:x", "A"), counter());
    auto fx = mesh.join({member("@bob:x", "B")}, kT0);
    const CallId call = one<MeshPeerStarted>(fx)->call;
    EXPECT_EQ(call.str(), "id0001");
    fx = mesh.onLocalDescription(call, SessionDescription{SdpType::Offer, "v=0 o"}, kT0);
    auto send = one<SendToDevice>(fx);
    ASSERT_TRUE(send);
    EXPECT_EQ(send->user, UserId("@bob:x"));
    EXPECT_EQ(send->device, DeviceId("B"));
    EXPECT_EQ(send->type, "m.call.invite");
    EXPECT_EQ(send->content, (Json{{"call_id", "id0001"},
                                   {"party_id", "A"},
                                   {"version", "1"},
                                   {"offer", {{"type", "offer"}, {"sdp", "v=0 o"}}},
                                   {"lifetime", 60000},
                                   {"invitee", "@bob:x"},
                                   {"conf_id", "conf1"},
                                   {"device_id", "A"},
                                   {"sender_session_id", "s-A"},
                                   {"dest_session_id", "s-B"},
                                   {"seq", 0},
                                   {"org.matrix.msgid", "id0002"}}));
    fx = mesh.onLocalCandidate(call, IceCandidate{"", std::nullopt, std::nullopt}, kT0);
    send = one<SendToDevice>(fx);
    ASSERT_TRUE(send);
    EXPECT_EQ(send->type, "m.call.candidates");
    EXPECT_EQ(send->content["seq"], 1);
}

TEST(MeshCall, IncomingInviteIsAnsweredAutomatically) {
    MeshCall mesh(self("@bob:x", "B"), counter());
    (void)mesh.join({member("@alice:x", "A")}, kT0);
    auto fx = mesh.onToDevice(UserId("@alice:x"), "m.call.invite",
                              toDevice("call1", "A", 0, "s-B", inviteBody()), kT0);
    auto started = one<MeshPeerStarted>(fx);
    ASSERT_TRUE(started);
    EXPECT_EQ(started->direction, CallDirection::Inbound);
    EXPECT_TRUE(one<CreatePeer>(fx)->polite);
    EXPECT_EQ(one<SetRemoteDescription>(fx)->description.sdp, "v=0 o");
    EXPECT_TRUE(one<CreateAnswer>(fx));
    fx = mesh.onLocalDescription(CallId("call1"), SessionDescription{SdpType::Answer, "v=0 a"}, kT0);
    auto send = one<SendToDevice>(fx);
    ASSERT_TRUE(send);
    EXPECT_EQ(send->type, "m.call.answer");
    EXPECT_EQ(send->content["seq"], 0);
    EXPECT_EQ(send->content["dest_session_id"], "s-A");
    EXPECT_EQ(mesh.peers().at(0).state, CallState::Connecting);
}

struct DropCase {
    const char* name;
    const char* type;
    std::function<Json()> content;
    DropReason reason;
};
class MeshDrops : public ::testing::TestWithParam<DropCase> {};

TEST_P(MeshDrops, MessageIsDroppedWithAReason) {
    MeshCall mesh(self("@bob:x", "B"), counter());
    (void)mesh.join({member("@alice:x", "A")}, kT0);
    auto fx = mesh.onToDevice(UserId("@alice:x"), GetParam().type, GetParam().content(), kT0);
    auto dropped = one<MessageDropped>(fx);
    ASSERT_TRUE(dropped);
    EXPECT_EQ(dropped->reason, GetParam().reason);
    EXPECT_TRUE(mesh.peers().empty());
}
INSTANTIATE_TEST_SUITE_P(
    Table, MeshDrops,
    ::testing::Values(DropCase{"malformed", "m.call.invite",
                               [] {
                                   return Json{{"call_id", "c"}};
                               },
                               DropReason::Malformed},
                      DropCase{"missing_seq", "m.call.invite",
                               [] {
                                   auto c = toDevice("c", "A", 0, "s-B", inviteBody());
                                   c.erase("seq");
                                   return c;
                               },
                               DropReason::Malformed},
                      DropCase{"other_conf", "m.call.invite",
                               [] {
                                   auto c = toDevice("c", "A", 0, "s-B", inviteBody());
                                   c["conf_id"] = "conf2";
                                   return c;
                               },
                               DropReason::WrongConf},
                      DropCase{"old_dest_session", "m.call.invite",
                               [] { return toDevice("c", "A", 0, "s-B-old", inviteBody()); },
                               DropReason::WrongSession},
                      DropCase{"unknown_call", "m.call.candidates",
                               [] { return toDevice("nope", "A", 0, "s-B", candidatesBody()); },
                               DropReason::UnknownCall}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(MeshCall, OutOfOrderMessagesAreDeliveredInSeqOrder) {
    MeshCall mesh(self("@bob:x", "B"), counter());
    (void)mesh.join({member("@alice:x", "A")}, kT0);
    // Candidates (seq 1) overtake the invite (seq 0).
    auto fx = mesh.onToDevice(UserId("@alice:x"), "m.call.candidates",
                              toDevice("call1", "A", 1, "s-B", candidatesBody()), kT0);
    EXPECT_TRUE(fx.empty());
    fx = mesh.onToDevice(UserId("@alice:x"), "m.call.invite", toDevice("call1", "A", 0, "s-B", inviteBody()),
                         kT0);
    std::vector<std::size_t> order;
    for (std::size_t i = 0; i < fx.size(); ++i) {
        if (std::holds_alternative<SetRemoteDescription>(fx[i])) order.push_back(1);
        if (std::holds_alternative<AddRemoteCandidates>(fx[i])) order.push_back(2);
    }
    EXPECT_EQ(order, (std::vector<std::size_t>{1, 2}));
    // A repeat is dropped.
    fx = mesh.onToDevice(UserId("@alice:x"), "m.call.candidates",
                         toDevice("call1", "A", 1, "s-B", candidatesBody()), kT0);
    EXPECT_EQ(one<MessageDropped>(fx)->reason, DropReason::Duplicate);
}

TEST(MeshCall, InviteArrivingBeforeTheMembershipIsHeldUntilTheMemberAppears) {
    MeshCall mesh(self("@bob:x", "B"), counter());
    (void)mesh.join({}, kT0);
    auto fx = mesh.onToDevice(UserId("@alice:x"), "m.call.invite",
                              toDevice("call1", "A", 0, "s-B", inviteBody()), kT0);
    EXPECT_FALSE(one<MeshPeerStarted>(fx));
    EXPECT_EQ(one<ScheduleWakeup>(fx)->at, kT0 + Duration{10'000});
    fx = mesh.onMembersChanged({member("@alice:x", "A")}, kT0 + Duration{300});
    ASSERT_TRUE(one<MeshPeerStarted>(fx));
    EXPECT_TRUE(one<CreateAnswer>(fx));
}

TEST(MeshCall, MessagesFromANonMemberExpire) {
    MeshCall mesh(self("@bob:x", "B"), counter());
    (void)mesh.join({member("@alice:x", "A", "s-other")}, kT0);
    (void)mesh.onToDevice(UserId("@alice:x"), "m.call.invite", toDevice("call1", "A", 0, "s-B", inviteBody()),
                          kT0);
    (void)mesh.onToDevice(UserId("@mallory:x"), "m.call.invite",
                          toDevice("call2", "M", 0, "s-B", inviteBody()), kT0);
    auto fx = mesh.onWakeup(kT0 + Duration{10'000});
    auto dropped = all<MessageDropped>(fx);
    ASSERT_EQ(dropped.size(), 2U);
    std::set<DropReason> reasons{dropped[0].reason, dropped[1].reason};
    EXPECT_EQ(reasons, (std::set<DropReason>{DropReason::StaleSession, DropReason::NotAMember}));
    EXPECT_TRUE(mesh.peers().empty());
}

TEST(MeshCall, MemberLeavingIsHungUp) {
    MeshCall mesh(self("@alice:x", "A"), counter());
    auto fx = mesh.join({member("@bob:x", "B")}, kT0);
    const CallId call = one<MeshPeerStarted>(fx)->call;
    (void)mesh.onLocalDescription(call, SessionDescription{SdpType::Offer, "o"}, kT0);
    fx = mesh.onMembersChanged({}, kT0);
    auto send = one<SendToDevice>(fx);
    ASSERT_TRUE(send);
    EXPECT_EQ(send->type, "m.call.hangup");
    EXPECT_EQ(send->content["reason"], "user_hangup");
    EXPECT_EQ(send->content["seq"], 1);
    EXPECT_EQ(one<ClosePeer>(fx)->call, call);
    EXPECT_TRUE(mesh.peers().empty());
}

TEST(MeshCall, MemberWithANewSessionGetsANewCall) {
    MeshCall mesh(self("@alice:x", "A"), counter());
    auto fx = mesh.join({member("@bob:x", "B", "s1")}, kT0);
    const CallId first = one<MeshPeerStarted>(fx)->call;
    fx = mesh.onMembersChanged({member("@bob:x", "B", "s2")}, kT0);
    EXPECT_EQ(one<ClosePeer>(fx)->call, first);
    auto started = one<MeshPeerStarted>(fx);
    ASSERT_TRUE(started);
    EXPECT_NE(started->call, first);
    ASSERT_EQ(mesh.peers().size(), 1U);
    EXPECT_EQ(mesh.peers()[0].member.sessionId, "s2");
}

struct MeshGlareCase {
    const char* name;
    const char* incomingCallId;
    bool keepOurs;
};
class MeshGlare : public ::testing::TestWithParam<MeshGlareCase> {};

// Both devices invited each other (e.g. different offer rules): the smaller call_id survives.
TEST_P(MeshGlare, SmallerCallIdSurvives) {
    MeshCall mesh(self("@alice:x", "A"), counter("m"));  // our call id: "m0001"
    auto fx = mesh.join({member("@bob:x", "B")}, kT0);
    const CallId ours = one<MeshPeerStarted>(fx)->call;
    (void)mesh.onLocalDescription(ours, SessionDescription{SdpType::Offer, "o"}, kT0);
    fx = mesh.onToDevice(UserId("@bob:x"), "m.call.invite",
                         toDevice(GetParam().incomingCallId, "B", 0, "s-A", inviteBody()), kT0);
    auto sends = all<SendToDevice>(fx);
    ASSERT_GE(sends.size(), 1U);
    EXPECT_EQ(sends[0].type, "m.call.hangup");
    EXPECT_EQ(sends[0].content["reason"], "replaced");
    ASSERT_EQ(mesh.peers().size(), 1U);
    if (GetParam().keepOurs) {
        EXPECT_EQ(sends[0].content["call_id"], GetParam().incomingCallId);
        EXPECT_EQ(sends[0].content["seq"], 0);
        EXPECT_EQ(mesh.peers()[0].call, ours);
    } else {
        EXPECT_EQ(sends[0].content["call_id"], ours.str());
        EXPECT_EQ(mesh.peers()[0].call.str(), GetParam().incomingCallId);
        EXPECT_TRUE(one<CreateAnswer>(fx));
    }
}
INSTANTIATE_TEST_SUITE_P(Table, MeshGlare,
                         ::testing::Values(MeshGlareCase{"incoming_larger_keeps_ours", "z9", true},
                                           MeshGlareCase{"incoming_smaller_replaces_ours", "a1", false}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(MeshCall, UnansweredInviteIsRetriedAtMostThreeTimes) {
    MeshCallConfig config;
    config.peer.inviteLifetime = Duration{1'000};
    config.retryDelay = Duration{500};
    MeshCall mesh(self("@alice:x", "A"), counter(), config);
    auto fx = mesh.join({member("@bob:x", "B")}, kT0);
    int calls = 0;
    TimePoint t = kT0;
    for (int i = 0; i < 10; ++i) {
        for (const auto& s : all<MeshPeerStarted>(fx)) {
            ++calls;
            (void)s;
            fx = mesh.onLocalDescription(mesh.peers().at(0).call, SessionDescription{SdpType::Offer, "o"}, t);
        }
        auto next = mesh.nextWakeup();
        if (!next) break;
        t = *next;
        fx = mesh.onWakeup(t);
    }
    EXPECT_EQ(calls, 4);  // the first call + 3 retries
    EXPECT_TRUE(mesh.peers().empty());
}

Json answerBody() {
    return {{"answer", {{"type", "answer"}, {"sdp", "v=0 a"}}}};
}

// webrtcbin 1.22 cannot restart ICE: with no restarts allowed an ICE failure ends the call and the
// offerer places a new one after the retry delay.
TEST(MeshCall, IceFailureWithoutRestartsPlacesANewCall) {
    MeshCallConfig config;
    config.peer.maxIceRestarts = 0;
    MeshCall mesh(self("@alice:x", "A"), counter(), config);
    auto fx = mesh.join({member("@bob:x", "B")}, kT0);
    const CallId first = one<MeshPeerStarted>(fx)->call;
    (void)mesh.onLocalDescription(first, SessionDescription{SdpType::Offer, "o"}, kT0);
    (void)mesh.onToDevice(UserId("@bob:x"), "m.call.answer",
                          toDevice(first.str().c_str(), "B", 0, "s-A", answerBody()), kT0);
    (void)mesh.onIceState(first, IceConnectionState::Connected, kT0);
    ASSERT_EQ(mesh.peers().at(0).state, CallState::Connected);

    fx = mesh.onIceState(first, IceConnectionState::Failed, kT0 + Duration{1'000});
    std::vector<std::string> sentTypes;
    for (const auto& s : all<SendToDevice>(fx))
        sentTypes.push_back(s.type);
    EXPECT_EQ(sentTypes, (std::vector<std::string>{"m.call.hangup"}));
    EXPECT_EQ(all<SendToDevice>(fx).at(0).content["reason"], "ice_failed");
    EXPECT_EQ(one<ClosePeer>(fx)->call, first);
    EXPECT_EQ(one<ScheduleWakeup>(fx)->at, kT0 + Duration{3'000});
    fx = mesh.onWakeup(kT0 + Duration{3'000});
    auto again = one<MeshPeerStarted>(fx);
    ASSERT_TRUE(again);
    EXPECT_NE(again->call, first);
    EXPECT_EQ(again->direction, CallDirection::Outbound);
}

TEST(MeshCall, MediaFailureHangsUpThatCallOnly) {
    MeshCall mesh(self("@alice:x", "A"), counter());
    auto fx = mesh.join({member("@bob:x", "B"), member("@carol:x", "C")}, kT0);
    auto started = all<MeshPeerStarted>(fx);
    ASSERT_EQ(started.size(), 2U);
    for (const auto& s : started)
        (void)mesh.onLocalDescription(s.call, SessionDescription{SdpType::Offer, "o"}, kT0);
    fx = mesh.onMediaFailed(started[0].call, kT0);
    EXPECT_EQ(one<SendToDevice>(fx)->content["reason"], "user_media_failed");
    EXPECT_EQ(mesh.peers().size(), 1U);
    EXPECT_FALSE(mesh.nextWakeup() &&
                 *mesh.nextWakeup() < kT0 + Duration{60'000});  // no retry for media failures
}

TEST(MeshCall, LeaveHangsUpEveryPeer) {
    MeshCall mesh(self("@alice:x", "A"), counter());
    auto fx = mesh.join({member("@bob:x", "B"), member("@carol:x", "C")}, kT0);
    for (const auto& s : all<MeshPeerStarted>(fx))
        (void)mesh.onLocalDescription(s.call, SessionDescription{SdpType::Offer, "o"}, kT0);
    fx = mesh.leave(kT0);
    EXPECT_EQ(all<SendToDevice>(fx).size(), 2U);
    EXPECT_EQ(all<ClosePeer>(fx).size(), 2U);
    EXPECT_EQ(mesh.state(), MeshCall::State::Left);
    EXPECT_EQ(
        one<MessageDropped>(mesh.onToDevice(UserId("@bob:x"), "m.call.hangup", Json::object(), kT0))->reason,
        DropReason::WrongState);
}

// ---- several MeshCalls wired together over a fake to-device network and fake media engines -------

class MeshNetwork {
  public:
    struct Node {
        MeshSelf self;
        std::unique_ptr<MeshCall> mesh;
        struct Media {
            bool local = false;
            bool remote = false;
            bool remoteCandidates = false;
            bool connected = false;
        };
        std::map<CallId, Media> media;
        std::optional<TimePoint> wakeup;
        int invitesSent = 0;
    };

    std::size_t add(const char* user, const char* device) {
        auto n = std::make_unique<Node>();
        n->self = self(user, device);
        n->mesh = std::make_unique<MeshCall>(n->self, counter(std::string("c") + device));
        m_nodes.push_back(std::move(n));
        return m_nodes.size() - 1;
    }
    Node& node(std::size_t i) { return *m_nodes[i]; }
    std::vector<MeshMember> members(const std::vector<std::size_t>& ids) {
        std::vector<MeshMember> out;
        for (auto i : ids)
            out.push_back(MeshMember{node(i).self.user, node(i).self.device, node(i).self.sessionId});
        return out;
    }
    void perform(std::size_t i, CallEffects fx) {
        Node& n = node(i);
        for (auto& e : fx) {
            if (auto* s = std::get_if<SendToDevice>(&e)) {
                if (s->type == "m.call.invite") ++n.invitesSent;
                for (std::size_t j = 0; j < m_nodes.size(); ++j) {
                    if (node(j).self.user == s->user && node(j).self.device == s->device) {
                        m_queue.push_back(
                            [this, j, from = n.self.user, type = s->type, content = s->content] {
                                perform(j, node(j).mesh->onToDevice(from, type, content, m_now));
                            });
                    }
                }
            } else if (auto* c = std::get_if<CreatePeer>(&e)) {
                n.media[c->call] = {};
            } else if (auto* o = std::get_if<CreateOffer>(&e)) {
                gather(i, o->call, SdpType::Offer);
            } else if (auto* a = std::get_if<CreateAnswer>(&e)) {
                gather(i, a->call, SdpType::Answer);
            } else if (auto* r = std::get_if<SetRemoteDescription>(&e)) {
                n.media[r->call].remote = true;
                maybeConnect(i, r->call);
            } else if (auto* rc = std::get_if<AddRemoteCandidates>(&e)) {
                n.media[rc->call].remoteCandidates = true;
                maybeConnect(i, rc->call);
            } else if (auto* cp = std::get_if<ClosePeer>(&e)) {
                n.media.erase(cp->call);
            } else if (auto* w = std::get_if<ScheduleWakeup>(&e)) {
                n.wakeup = w->at;
            }
        }
    }
    // Runs queued work; when idle, advances the clock to the earliest wakeup. Stops at `until`.
    void run(TimePoint until) {
        while (true) {
            while (!m_queue.empty()) {
                auto f = std::move(m_queue.front());
                m_queue.pop_front();
                f();
            }
            std::optional<std::size_t> next;
            for (std::size_t i = 0; i < m_nodes.size(); ++i)
                if (node(i).wakeup && (!next || *node(i).wakeup < *node(*next).wakeup)) next = i;
            if (!next || *node(*next).wakeup > until) break;
            m_now = std::max(m_now, *node(*next).wakeup);
            node(*next).wakeup.reset();
            perform(*next, node(*next).mesh->onWakeup(m_now));
        }
    }
    TimePoint now() const { return m_now; }
    void at(TimePoint t) { m_now = t; }

  private:
    void gather(std::size_t i, CallId call, SdpType type) {
        m_queue.push_back([this, i, call, type] {
            node(i).media[call].local = true;
            perform(i, node(i).mesh->onLocalDescription(call, SessionDescription{type, "sdp"}, m_now));
            perform(i, node(i).mesh->onLocalCandidate(
                           call, IceCandidate{"candidate:1 1 UDP 1 127.0.0.1 1 typ host", "0", 0}, m_now));
            perform(i, node(i).mesh->onLocalCandidate(call, IceCandidate{}, m_now));
            maybeConnect(i, call);
        });
    }
    void maybeConnect(std::size_t i, const CallId& call) {
        auto it = node(i).media.find(call);
        if (it == node(i).media.end()) return;
        auto& m = it->second;
        if (m.local && m.remote && m.remoteCandidates && !m.connected) {
            m.connected = true;
            m_queue.push_back([this, i, call] {
                perform(i, node(i).mesh->onIceState(call, IceConnectionState::Connected, m_now));
            });
        }
    }

    std::vector<std::unique_ptr<Node>> m_nodes;
    std::deque<std::function<void()>> m_queue;
    TimePoint m_now = kT0;
};

int connectedPeers(const MeshCall& mesh) {
    int n = 0;
    for (const auto& p : mesh.peers())
        n += p.state == CallState::Connected;
    return n;
}

TEST(MeshNetwork, ThreeMembersConnectEveryPairWithExactlyOneCall) {
    MeshNetwork net;
    auto a = net.add("@alice:x", "A");
    auto b = net.add("@bob:x", "B");
    auto c = net.add("@carol:x", "C");
    const auto everyone = net.members({a, b, c});
    for (auto i : {a, b, c})
        net.perform(i, net.node(i).mesh->join(everyone, kT0));
    net.run(kT0);  // loopback-fast signalling: no timer has to fire (candidates flush on end-of-candidates)
    for (auto i : {a, b, c}) {
        EXPECT_EQ(net.node(i).mesh->peers().size(), 2U);
        EXPECT_EQ(connectedPeers(*net.node(i).mesh), 2) << net.node(i).self.user;
    }
    // alice calls bob and carol, bob calls carol, carol calls nobody.
    EXPECT_EQ(net.node(a).invitesSent, 2);
    EXPECT_EQ(net.node(b).invitesSent, 1);
    EXPECT_EQ(net.node(c).invitesSent, 0);
}

TEST(MeshNetwork, LateJoinerConnectsToEveryoneAndLeaverIsDroppedByAll) {
    MeshNetwork net;
    auto a = net.add("@alice:x", "A");
    auto b = net.add("@bob:x", "B");
    auto c = net.add("@bob:x", "C");  // a second device of bob
    net.perform(a, net.node(a).mesh->join(net.members({a, b}), kT0));
    net.perform(b, net.node(b).mesh->join(net.members({a, b}), kT0));
    net.run(kT0 + Duration{100});
    EXPECT_EQ(connectedPeers(*net.node(a).mesh), 1);

    // The new device sees everyone at once; the others see it a little later (sync lag): its
    // invite to... nobody (it is the highest), their invites reach it after it joined.
    net.at(kT0 + Duration{1'000});
    net.perform(c, net.node(c).mesh->join(net.members({a, b, c}), net.now()));
    net.perform(b, net.node(b).mesh->onMembersChanged(net.members({a, b, c}), net.now()));
    net.perform(a, net.node(a).mesh->onMembersChanged(net.members({a, b, c}), net.now()));
    net.run(net.now() + Duration{100});
    for (auto i : {a, b, c})
        EXPECT_EQ(connectedPeers(*net.node(i).mesh), 2) << net.node(i).self.device;

    // b leaves: a and c each hang up on b and keep their call.
    net.perform(b, net.node(b).mesh->leave(net.now()));
    net.perform(a, net.node(a).mesh->onMembersChanged(net.members({a, c}), net.now()));
    net.perform(c, net.node(c).mesh->onMembersChanged(net.members({a, c}), net.now()));
    net.run(net.now() + Duration{100});
    EXPECT_EQ(net.node(b).mesh->peers().size(), 0U);
    EXPECT_EQ(connectedPeers(*net.node(a).mesh), 1);
    EXPECT_EQ(connectedPeers(*net.node(c).mesh), 1);
    EXPECT_TRUE(net.node(b).media.empty());
}

TEST(MeshNetwork, InviteRacingAheadOfTheMembershipStillConnects) {
    MeshNetwork net;
    auto a = net.add("@alice:x", "A");
    auto b = net.add("@bob:x", "B");
    // bob has not seen alice's membership when her invite arrives.
    net.perform(b, net.node(b).mesh->join(net.members({b}), kT0));
    net.perform(a, net.node(a).mesh->join(net.members({a, b}), kT0));
    net.run(kT0 + Duration{200});
    EXPECT_EQ(connectedPeers(*net.node(a).mesh), 0);
    net.perform(b, net.node(b).mesh->onMembersChanged(net.members({a, b}), kT0 + Duration{200}));
    net.run(kT0 + Duration{400});
    EXPECT_EQ(connectedPeers(*net.node(a).mesh), 1);
    EXPECT_EQ(connectedPeers(*net.node(b).mesh), 1);
}

}  // namespace
}  // namespace mxrtc::core
