// SignalSession: resume, full rejoin, backoff, giving up. Driven with recorded message sequences
// (as livekit-server 1.13.5 sends them: roommanager.go StartSession, room.go ResumeParticipant)
// and exact time.
#include <gtest/gtest.h>

#include "signal_session_fixture.hpp"

namespace mxrtc::livekit::test {
namespace {

using namespace std::chrono_literals;
using V = std::vector<std::string>;
using Requests = std::vector<SignalRequest>;

const char* kRejoinedSid = "PA_N3wS1d4AlIce";

std::string withUfrag(std::string sdp, const std::string& from, const std::string& to) {
    for (auto p = sdp.find(from); p != std::string::npos; p = sdp.find(from, p + to.size())) {
        sdp.replace(p, from.size(), to);
    }
    return sdp;
}

ReconnectResponse reconnectResponse() {
    return ReconnectResponse{{}, ServerInfo{"1.13.5", 17, "", "ND_kT8sZx3QwErt"}, 3};
}

// Joined, publishing the microphone with its publisher negotiation complete, Bob's offer answered.
void publishingMic(Harness& h) {
    h.publish(micTrack());
    h.joinAndAnswer();
    h.receive(published(micTrack(), kOurMic));
    h.localDescription(SignalTarget::Publisher, "v=0 offer");
    h.receive(PublisherAnswer{SessionDescription{"answer", "v=0 answer", 1, {}}});
}

TEST(SignalSession, ResumesAfterTheSocketDropsAndSendsWhatWasProducedMeanwhile) {
    SignalSessionConfig followsIceRestarts;
    followsIceRestarts.iceRestartSupported = true;
    Harness h(followsIceRestarts);
    h.joinAndAnswer();
    h.now += 2s;
    auto e = h.failed(0, "end of stream");
    EXPECT_EQ(describe(e), (V{"State resuming", "OpenSocket resume PA_Zt4mJbV8q2Xc reason=1"}));
    EXPECT_EQ(only<StateChanged>(e).detail, "resuming: socket closed: end of stream");
    EXPECT_EQ(h.session.nextWakeup(), h.now + 10s) << "the attempt's join timeout";

    EXPECT_TRUE(h.localCandidate(SignalTarget::Subscriber, candidate(5)).empty()) << "waits for the resume";
    EXPECT_TRUE(h.opened().empty());
    h.now += 30ms;
    e = h.receive(reconnectResponse());
    EXPECT_EQ(describe(e), (V{"State connected", "Send Trickle subscriber candidate:5"}));
    EXPECT_EQ(only<StateChanged>(e).detail, "resumed");

    // The server lists everybody next, ourselves included, then restarts ICE on the subscriber.
    ParticipantInfo self;
    self.sid = kAliceSid;
    self.identity = kAlice;
    self.state = ParticipantState::Active;
    self.version = 4;
    EXPECT_TRUE(h.receive(ParticipantUpdate{{self, bob()}}).empty());
    const std::string restarted = withUfrag(offerSdp("2_bob"), "kPzQwVbLmNcXrTsa", "Rq7WnE4xTz2VbMcY");
    e = h.receive(SubscriberOffer{SessionDescription{"offer", restarted, 42, {}}});
    EXPECT_EQ(
        describe(e),
        (V{"ApplySubscriberOffer id=42 ice-restart",
           "Mapped 1=@bob:example.org:BOBDEV/TR_AMf5tGq8wJzR 2=@bob:example.org:BOBDEV/TR_VCp2Xr7NkYbd"}));
    EXPECT_EQ(describe(h.localDescription(SignalTarget::Subscriber, "v=0 answer")),
              V{"Send SubscriberAnswer id=42"});
    EXPECT_EQ(h.session.nextWakeup(), h.now + 5s) << "pinging again";
}

TEST(SignalSession, ResendsAPublisherOfferWhoseAnswerMayHaveBeenLostInTheDrop) {
    Harness h;
    h.publish(micTrack());
    h.join();
    h.receive(published(micTrack(), kOurMic));
    h.localDescription(SignalTarget::Publisher, "v=0 offer");
    h.failed();
    h.opened();
    auto e = h.receive(reconnectResponse());
    EXPECT_EQ(describe(e), (V{"State connected", "Send PublisherOffer id=1"}));
    EXPECT_EQ(describe(h.receive(PublisherAnswer{SessionDescription{"answer", "v=0 answer", 1, {}}})),
              V{"ApplyPublisherAnswer id=1"});
}

TEST(SignalSession, ResumesWhenTheSfuAsksToResume) {
    Harness h;
    h.join();
    // What participant.go onAnyTransportFailed sends: reason CONNECTION_TIMEOUT (14), action RESUME.
    auto e = h.receive(Leave{false, static_cast<DisconnectReason>(14), LeaveAction::Resume});
    EXPECT_EQ(describe(e),
              (V{"State resuming", "CloseSocket", "OpenSocket resume PA_Zt4mJbV8q2Xc reason=1"}));
    EXPECT_EQ(only<StateChanged>(e).detail, "resuming: the SFU asked us to resume: reason 14");
}

TEST(SignalSession, RejoinsAndRepublishesWhenTheSfuNoLongerKnowsTheResumedParticipant) {
    Harness h;
    h.publish(micTrack());
    h.publish(camTrack());
    h.joinAndAnswer();
    h.receive(published(micTrack(), kOurMic));
    h.receive(published(camTrack(), kOurCam));
    h.localDescription(SignalTarget::Publisher, "v=0 offer");
    h.receive(PublisherAnswer{SessionDescription{"answer", "v=0 answer", 1, {}}});

    h.now += 1s;
    h.failed();
    h.opened();
    // roommanager.go: the participant is gone -> Leave{RECONNECT, STATE_MISMATCH}, socket closed.
    auto e = h.receive(Leave{false, DisconnectReason::StateMismatch, LeaveAction::Reconnect});
    EXPECT_EQ(describe(e), (V{"State rejoining", "CloseSocket", "ClosePeerConnections", "Mapped",
                              "OpenSocket join fresh-token"}));
    EXPECT_EQ(only<StateChanged>(e).detail,
              "rejoining: the SFU refused the resume: state_mismatch: the SFU no longer has our session");
    EXPECT_TRUE(h.session.subscriberTracks().empty());

    h.now += 80ms;
    EXPECT_TRUE(h.opened().empty());
    e = h.receive(joinResponse({bob(), carol()}, kRejoinedSid));
    EXPECT_EQ(describe(e), (V{"State connected", "ServerInjectedTrailer 8 bytes",
                              "CreatePeerConnections publisher+subscriber",
                              "ParticipantJoined @carol:example.org:CAROLDEV", "Send AddTrack mxrtc-mic",
                              "Send AddTrack mxrtc-cam"}));
    EXPECT_EQ(only<StateChanged>(e).detail.rfind("rejoined room", 0), 0u);
    EXPECT_EQ(h.session.participantSid(), kRejoinedSid);

    h.receive(published(micTrack(), "TR_AMr3j01nM1cc"));
    e = h.receive(published(camTrack(), "TR_VCr3j01nC4mm"));
    EXPECT_EQ(describe(e), (V{"LocalTrackPublished mxrtc-cam TR_VCr3j01nC4mm", "CreatePublisherOffer"}));
    EXPECT_EQ(describe(h.localDescription(SignalTarget::Publisher, "v=0 offer")),
              V{"Send PublisherOffer id=1"})
        << "a new peer connection";
}

TEST(SignalSession, RejoinsWhenSubscriberPeerConnectionFails) {
    Harness h;
    publishingMic(h);
    h.now += 3s;
    EXPECT_TRUE(h.pcState(SignalTarget::Subscriber, PeerConnectionState::Disconnected).empty())
        << "ICE may recover";
    auto e = h.pcState(SignalTarget::Subscriber, PeerConnectionState::Failed);
    EXPECT_EQ(describe(e), (V{"State rejoining", "CloseSocket", "ClosePeerConnections", "Mapped",
                              "OpenSocket join fresh-token"}));
    EXPECT_EQ(only<StateChanged>(e).detail, "rejoining: the subscriber peer connection failed");

    // Reports from the closed peer connections change nothing.
    EXPECT_TRUE(h.pcState(SignalTarget::Publisher, PeerConnectionState::Failed).empty());
    EXPECT_TRUE(h.localCandidate(SignalTarget::Subscriber, candidate(9)).empty());
    EXPECT_TRUE(h.localDescription(SignalTarget::Subscriber, "v=0 late answer").empty());

    h.opened();
    e = h.receive(joinResponse({bob()}, kRejoinedSid));
    EXPECT_EQ(describe(e), (V{"State connected", "ServerInjectedTrailer 8 bytes",
                              "CreatePeerConnections publisher+subscriber", "Send AddTrack mxrtc-mic"}))
        << "Bob is unchanged: no participant event";
    // The new subscriber peer connection starts from the server's new offer.
    EXPECT_TRUE(h.receive(Trickle{candidate(31), SignalTarget::Subscriber, false}).empty());
    e = h.receive(subscriberOffer("2_bob", 7));
    EXPECT_EQ(describe(e).at(1), "AddRemoteCandidate subscriber candidate:31");
}

TEST(SignalSession, RejoinsWhenThePublisherPeerConnectionFailsWhileResuming) {
    Harness h;
    publishingMic(h);
    h.failed();
    auto e = h.pcState(SignalTarget::Publisher, PeerConnectionState::Failed);
    EXPECT_EQ(describe(e), (V{"State rejoining", "CloseSocket", "ClosePeerConnections", "Mapped",
                              "OpenSocket join fresh-token"}));
}

TEST(SignalSession, RejoinsWhenTheSfuAnswersAResumeWithANewJoin) {
    Harness h;
    h.join();
    h.failed();
    h.opened();
    auto e = h.receive(joinResponse({bob()}, kRejoinedSid));
    EXPECT_EQ(describe(e),
              (V{"State rejoining", "CloseSocket", "ClosePeerConnections", "OpenSocket join fresh-token"}));
}

TEST(SignalSession, FallsBackToARejoinWhenTheResumeAttemptsAreUsedUp) {
    SignalSessionConfig config;
    config.resumeAttempts = 2;
    Harness h(config);
    h.join();
    EXPECT_EQ(describe(h.failed()), (V{"State resuming", "OpenSocket resume PA_Zt4mJbV8q2Xc reason=1"}));
    h.opened();
    EXPECT_TRUE(h.advance(9999ms).empty());
    EXPECT_EQ(describe(h.advance(1ms)), V{"CloseSocket"}) << "no ReconnectResponse within the join timeout";
    EXPECT_EQ(h.session.nextWakeup(), h.now + 300ms);
    EXPECT_EQ(describe(h.advance(300ms)), V{"OpenSocket resume PA_Zt4mJbV8q2Xc reason=1"});
    auto e = h.failed(0, "connection refused");
    EXPECT_EQ(describe(e), (V{"State rejoining", "ClosePeerConnections", "OpenSocket join fresh-token"}));
    EXPECT_EQ(only<StateChanged>(e).detail, "rejoining: socket failed: connection refused");
}

TEST(SignalSession, BacksOffBetweenRejoinAttempts) {
    Harness h;
    h.join();
    const TimePoint start = h.now;
    h.pcState(SignalTarget::Publisher, PeerConnectionState::Failed);  // the first attempt: at once
    std::vector<std::int64_t> attempts{0};
    for (int i = 0; i < 6; ++i) {
        ASSERT_TRUE(h.failed(502, "Bad Gateway").empty());
        auto next = h.session.nextWakeup();
        ASSERT_TRUE(next.has_value());
        EXPECT_TRUE(h.advance(*next - h.now - 1ms).empty());
        auto e = h.advance(1ms);
        ASSERT_EQ(describe(e), V{"OpenSocket join fresh-token"});
        attempts.push_back((h.now - start).count());
    }
    EXPECT_EQ(attempts, (std::vector<std::int64_t>{0, 300, 900, 2100, 4100, 6100, 8100}));
}

TEST(SignalSession, KeepsRejoiningWhenTheSfuRefusesTheTokenDuringARejoin) {
    Harness h;
    h.join();
    h.pcState(SignalTarget::Subscriber, PeerConnectionState::Failed);
    EXPECT_TRUE(h.failed(401, "Unauthorized").empty()) << "the next attempt fetches a fresh token";
    EXPECT_EQ(h.session.state(), SignalState::Rejoining);
    EXPECT_EQ(describe(h.advance(300ms)), V{"OpenSocket join fresh-token"});
}

TEST(SignalSession, RetriesARejoinThatTheSfuDoesNotAnswer) {
    Harness h;
    h.join();
    h.pcState(SignalTarget::Subscriber, PeerConnectionState::Failed);
    h.opened();
    EXPECT_EQ(describe(h.advance(10s)), V{"CloseSocket"}) << "no JoinResponse within the join timeout";
    EXPECT_EQ(describe(h.advance(300ms)), V{"OpenSocket join fresh-token"});
}

TEST(SignalSession, GivesUpWhenReconnectingTakesLongerThanGiveUpAfter) {
    Harness h;
    h.join();
    h.now += 1s;
    const TimePoint lost = h.now;
    h.failed(0, "end of stream");  // resuming
    EXPECT_EQ(describe(h.failed(0, "connection refused")),
              (V{"State rejoining", "ClosePeerConnections", "OpenSocket join fresh-token"}));
    SignalEffects last;
    while (h.session.state() != SignalState::Closed) {
        ASSERT_TRUE(h.failed(0, "connection refused").empty());
        auto next = h.session.nextWakeup();
        ASSERT_TRUE(next.has_value());
        h.now = *next;
        last = h.session.onWakeup(h.now);
    }
    EXPECT_EQ(h.now, lost + 60s);
    EXPECT_EQ(describe(last), (V{"State closed",
                                 "Closed join_failure error: gave up reconnecting after 60 s (last: socket "
                                 "failed: connection refused)"}));
    EXPECT_EQ(h.session.nextWakeup(), std::nullopt);
}

TEST(SignalSession, DoesNotRepublishATrackTheSfuUnpublished) {
    Harness h;
    publishingMic(h);
    h.receive(TrackUnpublished{kOurMic});
    h.pcState(SignalTarget::Publisher, PeerConnectionState::Failed);
    h.opened();
    auto e = h.receive(joinResponse({bob()}, kRejoinedSid));
    EXPECT_FALSE(has<SendSignal>(e));
}

TEST(SignalSession, LeavesDuringARejoinBackoffWithoutASocket) {
    Harness h;
    h.join();
    h.pcState(SignalTarget::Subscriber, PeerConnectionState::Failed);
    h.failed();
    auto e = h.session.leave(h.now);
    EXPECT_EQ(describe(e), (V{"State leaving", "State closed", "Closed client_initiated: left the room"}));
    EXPECT_EQ(h.session.nextWakeup(), std::nullopt);
}

TEST(SignalSession, PublishesATrackAddedWhileResumingOnceResumed) {
    Harness h;
    h.join();
    h.failed();
    EXPECT_TRUE(h.publish(micTrack()).empty());
    h.opened();
    EXPECT_EQ(describe(h.receive(reconnectResponse())), (V{"State connected", "Send AddTrack mxrtc-mic"}));
}

}  // namespace
}  // namespace mxrtc::livekit::test
