#include "mxrtc/core/ring.hpp"

#include <gtest/gtest.h>

namespace mxrtc::core {
namespace {

using Json = nlohmann::json;

constexpr std::int64_t kT = 1760000090000;
const UserId kAlice("@alice:example.org");
const UserId kDave("@dave:example.org");

RoomEvent notificationEvent(Duration lifetime = Duration{30000}) {
    RtcNotification n;
    n.senderTs = fromUnixMs(kT);
    n.lifetime = lifetime;
    n.mentions = Mentions{{kDave}, false};
    n.relatesTo = EventId("$membership");
    n.callIntent = "audio";
    RoomEvent ev;
    ev.type = "org.matrix.msc4075.rtc.notification";
    ev.sender = kAlice;
    ev.eventId = EventId("$notif");
    ev.originServerTs = fromUnixMs(kT);
    ev.content = serializeRtcNotification(n);
    return ev;
}

RoomEvent declineEvent(const UserId& from, const std::string& target) {
    RoomEvent ev;
    ev.type = "org.matrix.msc4310.rtc.decline";
    ev.sender = from;
    ev.eventId = EventId("$decline");
    ev.originServerTs = fromUnixMs(kT + 1000);
    ev.content = serializeDecline(Decline{EventId(target)});
    return ev;
}

TEST(IncomingRing, RingsThenTimesOutAtTheLifetime) {
    IncomingRing ring(kDave, DeviceId("DAVEPHONE"));
    auto fx = ring.onNotification(notificationEvent(), false, fromUnixMs(kT + 100));
    ASSERT_EQ(fx.size(), 2u);
    const auto& started = std::get<RingStarted>(fx[0]);
    EXPECT_EQ(started.caller, kAlice);
    EXPECT_EQ(started.callIntent.value_or(""), "audio");
    EXPECT_EQ(std::get<ScheduleWakeup>(fx[1]).at, fromUnixMs(kT + 30000));
    EXPECT_TRUE(ring.onWakeup(fromUnixMs(kT + 29999)).empty());
    fx = ring.onWakeup(fromUnixMs(kT + 30000));
    ASSERT_EQ(fx.size(), 1u);
    EXPECT_EQ(std::get<RingStopped>(fx[0]).reason, RingStopReason::TimedOut);
    EXPECT_EQ(ring.state(), IncomingRing::State::Stopped);
}

TEST(IncomingRing, DeclineSendsTheExactMsc4310Event) {
    IncomingRing ring(kDave, DeviceId("DAVEPHONE"));
    (void)ring.onNotification(notificationEvent(), false, fromUnixMs(kT));
    auto fx = ring.decline(fromUnixMs(kT + 2000));
    ASSERT_EQ(fx.size(), 2u);
    const auto& send = std::get<SendRoomEvent>(fx[0]);
    EXPECT_EQ(send.type, "org.matrix.msc4310.rtc.decline");
    EXPECT_EQ(send.content,
              Json::parse(R"({"m.relates_to":{"rel_type":"m.reference","event_id":"$notif"}})"));
    EXPECT_EQ(std::get<RingStopped>(fx[1]).reason, RingStopReason::Declined);
}

TEST(IncomingRing, StopsWhenAnotherOfMyDevicesAnswersOrDeclines) {
    IncomingRing a(kDave, DeviceId("DAVEPHONE"));
    (void)a.onNotification(notificationEvent(), false, fromUnixMs(kT));
    EXPECT_TRUE(a.onMemberJoined(kAlice, DeviceId("X"), fromUnixMs(kT + 1)).empty());
    auto fx = a.onMemberJoined(kDave, DeviceId("DAVELAPTOP"), fromUnixMs(kT + 2));
    ASSERT_EQ(fx.size(), 1u);
    EXPECT_EQ(std::get<RingStopped>(fx[0]).reason, RingStopReason::AnsweredElsewhere);

    IncomingRing b(kDave, DeviceId("DAVEPHONE"));
    (void)b.onNotification(notificationEvent(), false, fromUnixMs(kT));
    EXPECT_TRUE(
        b.onDecline(declineEvent(kDave, "$other"), fromUnixMs(kT + 1)).empty());  // D2: unknown target
    EXPECT_TRUE(b.onDecline(declineEvent(kAlice, "$notif"), fromUnixMs(kT + 1)).empty());  // not mine
    fx = b.onDecline(declineEvent(kDave, "$notif"), fromUnixMs(kT + 2));
    ASSERT_EQ(fx.size(), 1u);
    EXPECT_EQ(std::get<RingStopped>(fx[0]).reason, RingStopReason::DeclinedElsewhere);
}

TEST(IncomingRing, DoesNotRingWhenAlreadyInTheCallOrStale) {
    IncomingRing inCall(kDave, DeviceId("D"));
    EXPECT_TRUE(inCall.onNotification(notificationEvent(), true, fromUnixMs(kT)).empty());
    EXPECT_EQ(inCall.lastDecision(), RingDecision::AlreadyInCall);
    IncomingRing stale(kDave, DeviceId("D"));
    EXPECT_TRUE(stale.onNotification(notificationEvent(), false, fromUnixMs(kT + 31000)).empty());
    EXPECT_EQ(stale.lastDecision(), RingDecision::Stale);
    EXPECT_EQ(stale.state(), IncomingRing::State::Idle);
}

TEST(IncomingRing, CancelledWhenTheCallersSessionEnds) {
    IncomingRing ring(kDave, DeviceId("D"));
    (void)ring.onNotification(notificationEvent(), false, fromUnixMs(kT));
    auto fx = ring.onSessionEnded(fromUnixMs(kT + 5));
    ASSERT_EQ(fx.size(), 1u);
    EXPECT_EQ(std::get<RingStopped>(fx[0]).reason, RingStopReason::Cancelled);
}

TEST(OutgoingRing, SendsANotificationRelatedToOurMembershipAndTracksEachRecipient) {
    const UserId carol("@carol:example.org");
    OutgoingRing ring(kAlice);
    auto fx = ring.start(EventId("$membership"), {kDave, carol}, "video", Duration{600000}, fromUnixMs(kT));
    ASSERT_EQ(fx.size(), 2u);
    const auto& send = std::get<SendRoomEvent>(fx[0]);
    EXPECT_EQ(send.type, "org.matrix.msc4075.rtc.notification");
    EXPECT_EQ(send.content,
              Json::parse(R"({"m.mentions":{"user_ids":["@dave:example.org","@carol:example.org"],
      "room":false},"notification_type":"ring","sender_ts":1760000090000,"lifetime":90000,
      "m.relates_to":{"rel_type":"m.reference","event_id":"$membership"},"m.call.intent":"video"})"));
    EXPECT_EQ(std::get<ScheduleWakeup>(fx[1]).at, fromUnixMs(kT + 90000));
    (void)ring.onNotificationSent(EventId("$notif"), fromUnixMs(kT + 50));
    (void)ring.onMemberJoined(kDave, fromUnixMs(kT + 5000));
    EXPECT_EQ(ring.outcomes().at(kDave), OutgoingRing::Outcome::Accepted);
    (void)ring.onDecline(declineEvent(kDave, "$notif"), fromUnixMs(kT + 6000));  // too late: already joined
    EXPECT_EQ(ring.outcomes().at(kDave), OutgoingRing::Outcome::Accepted);
    EXPECT_EQ(ring.state(), OutgoingRing::State::Ringing);
    (void)ring.onWakeup(fromUnixMs(kT + 90000));
    EXPECT_EQ(ring.outcomes().at(carol), OutgoingRing::Outcome::TimedOut);
    EXPECT_EQ(ring.state(), OutgoingRing::State::Finished);
}

TEST(OutgoingRing, FinishesAsSoonAsEveryRecipientHasAnswered) {
    OutgoingRing ring(kAlice);
    (void)ring.start(EventId("$m"), {kDave}, std::nullopt, Duration{30000}, fromUnixMs(kT));
    (void)ring.onNotificationSent(EventId("$notif"), fromUnixMs(kT));
    (void)ring.onDecline(declineEvent(kDave, "$notif"), fromUnixMs(kT + 1000));
    EXPECT_EQ(ring.outcomes().at(kDave), OutgoingRing::Outcome::Declined);
    EXPECT_EQ(ring.state(), OutgoingRing::State::Finished);
}

}  // namespace
}  // namespace mxrtc::core
