// SignalSession: join, subscribe, publish, candidates, ping, mute, participants, leave. Driven with
// recorded message sequences (as livekit-server 1.13.5 sends them) and exact time. Reconnecting
// is in signal_session_reconnect_test.cpp.
#include <gtest/gtest.h>

#include "signal_session_fixture.hpp"

namespace mxrtc::livekit::test {
namespace {

using namespace std::chrono_literals;
using V = std::vector<std::string>;
using Requests = std::vector<SignalRequest>;

SessionDescription answerFromServer(std::uint32_t id, std::string sdp = "v=0 publisher answer") {
    return SessionDescription{"answer", std::move(sdp), id, {}};
}

AddTrack expectedMicAddTrack() {
    AddTrack a;
    a.cid = "mxrtc-mic";
    a.name = "microphone";
    a.type = TrackType::Audio;
    a.source = TrackSource::Microphone;
    a.disableRed = true;
    a.encryption = EncryptionType::Gcm;
    return a;
}
AddTrack expectedCamAddTrack() {
    AddTrack a;
    a.cid = "mxrtc-cam";
    a.name = "camera";
    a.type = TrackType::Video;
    a.width = 640;
    a.height = 360;
    a.source = TrackSource::Camera;
    a.layers = {VideoLayer{VideoQuality::High, 640, 360, 0, 0}};
    a.encryption = EncryptionType::Gcm;
    return a;
}

// ---- join ----------------------------------------------------------------------------------------

TEST(SignalSession, JoinsAndCreatesPeerConnectionsFromTheJoinResponse) {
    Harness h;
    auto e = h.connect();
    EXPECT_EQ(describe(e), (V{"State connecting", "OpenSocket join"}));
    EXPECT_EQ(only<StateChanged>(e).detail, "connecting to the SFU");
    EXPECT_EQ(h.session.nextWakeup(), h.now + 10s) << "join timeout";

    h.now += 40ms;
    e = h.opened();
    EXPECT_EQ(describe(e), V{"State joining"});
    EXPECT_EQ(h.session.state(), SignalState::Joining);

    h.now += 25ms;
    e = h.receive(joinResponse());
    EXPECT_EQ(describe(e),
              (V{"State connected", "ServerInjectedTrailer 8 bytes",
                 "CreatePeerConnections publisher+subscriber", "ParticipantJoined @bob:example.org:BOBDEV"}));
    EXPECT_EQ(only<StateChanged>(e).detail,
              "joined room \"!CallRoom:example.org\" as @alice:example.org:ALICEDEV (PA_Zt4mJbV8q2Xc), "
              "livekit-server 1.13.5");
    EXPECT_EQ(only<ServerInjectedTrailer>(e).trailer, joinResponse().sifTrailer);
    EXPECT_TRUE(only<CreatePeerConnections>(e).iceServers.empty());
    EXPECT_EQ(only<ParticipantJoined>(e).participant, bob());
    EXPECT_EQ(h.session.participantSid(), kAliceSid);
    EXPECT_EQ(h.session.identity(), kAlice);
    EXPECT_EQ(h.session.serverInfo().version, "1.13.5");
    EXPECT_EQ(h.session.participants().size(), 1u);
    EXPECT_EQ(h.session.nextWakeup(), h.now + 5s) << "the first ping, ping_interval after the join";
}

TEST(SignalSession, ClosesWhenTheSfuRefusesTheTokenOnTheFirstConnect) {
    Harness h;
    h.connect();
    auto e = h.failed(401, "Unauthorized");
    EXPECT_EQ(describe(e),
              (V{"State closed", "Closed join_failure error: the SFU refused the token (HTTP 401)"}));
    EXPECT_EQ(h.session.state(), SignalState::Closed);
    EXPECT_EQ(h.session.nextWakeup(), std::nullopt);
}

TEST(SignalSession, ClosesWhenTheFirstConnectFailsOtherwise) {
    Harness h;
    h.connect();
    auto e = h.failed(0, "connection refused");
    EXPECT_EQ(
        describe(e),
        (V{"State closed", "Closed join_failure error: could not connect to the SFU: connection refused"}));
}

TEST(SignalSession, ClosesWhenNoJoinResponseArrivesWithinTheJoinTimeout) {
    Harness h;
    h.connect();
    h.opened();
    EXPECT_TRUE(h.advance(9999ms).empty());
    auto e = h.advance(1ms);
    EXPECT_EQ(describe(e),
              (V{"State closed", "CloseSocket",
                 "Closed join_failure error: could not connect to the SFU: no JoinResponse within 10 s"}));
}

// ---- subscribing ---------------------------------------------------------------------------------

TEST(SignalSession, SubscribeOnlySessionAnswersTheFirstOfferOfAnEmptyRoom) {
    SignalSessionConfig config;
    config.publish = false;
    Harness h(config);
    auto e = h.join(joinResponse({}));
    EXPECT_EQ(describe(e),
              (V{"State connected", "ServerInjectedTrailer 8 bytes", "CreatePeerConnections subscriber"}));

    // Even in an empty room the server offers its data channels (m=application only).
    e = h.receive(subscriberOffer("1_empty_room", 17));
    EXPECT_EQ(describe(e), (V{"ApplySubscriberOffer id=17", "Mapped"}));
    EXPECT_EQ(only<ApplySubscriberOffer>(e).description.sdp, offerSdp("1_empty_room"));
    EXPECT_FALSE(only<ApplySubscriberOffer>(e).iceRestart);

    h.now += 12ms;
    e = h.localDescription(SignalTarget::Subscriber, "v=0 subscriber answer");
    EXPECT_EQ(sent(e),
              (Requests{SubscriberAnswer{SessionDescription{"answer", "v=0 subscriber answer", 17, {}}}}));

    e = h.publish(micTrack());
    EXPECT_EQ(describe(e), V{"LocalTrackRejected mxrtc-mic: this session does not publish (subscribe-only)"});
    EXPECT_TRUE(h.localCandidate(SignalTarget::Publisher, candidate(1)).empty());
}

TEST(SignalSession, MapsSubscriberMidsToParticipantsAndTracks) {
    Harness h;
    h.join();
    auto e = h.receive(subscriberOffer("2_bob", 42));
    EXPECT_EQ(
        describe(e),
        (V{"ApplySubscriberOffer id=42",
           "Mapped 1=@bob:example.org:BOBDEV/TR_AMf5tGq8wJzR 2=@bob:example.org:BOBDEV/TR_VCp2Xr7NkYbd"}));
    const auto map = only<SubscriberTracksMapped>(e).byMid;
    ASSERT_EQ(map.size(), 2u) << "m=application (mid 0) carries no track";
    EXPECT_EQ(map.at("1").participantSid, kBobSid);
    EXPECT_EQ(map.at("1").info, bobMic());
    EXPECT_EQ(map.at("2").info, bobCam());
    EXPECT_EQ(h.session.subscriberTracks().size(), 2u);
}

TEST(SignalSession, RemapsEveryOfferWhenTransceiversAreReused) {
    Harness h;
    h.joinAndAnswer();

    // Bob leaves: the server sends the update, then an offer with his m-lines inactive.
    ParticipantInfo gone;
    gone.sid = kBobSid;
    gone.identity = kBob;
    gone.state = ParticipantState::Disconnected;
    gone.version = 8;
    gone.disconnectReason = DisconnectReason::ClientInitiated;
    h.now += 1s;
    auto e = h.receive(ParticipantUpdate{{gone}});
    EXPECT_EQ(describe(e), (V{"ParticipantLeft @bob:example.org:BOBDEV", "Mapped"}));
    EXPECT_EQ(only<ParticipantLeft>(e).participant.tracks.size(), 2u) << "what we knew of him";
    EXPECT_EQ(only<ParticipantLeft>(e).participant.disconnectReason, DisconnectReason::ClientInitiated);

    e = h.receive(subscriberOffer("3_bob_left", 43));
    EXPECT_EQ(describe(e), (V{"ApplySubscriberOffer id=43", "Mapped"}));
    h.localDescription(SignalTarget::Subscriber, "v=0 answer 43");

    // Carol joins; her tracks reuse mids 1 and 2.
    h.now += 1s;
    e = h.receive(ParticipantUpdate{{carol()}});
    EXPECT_EQ(describe(e), V{"ParticipantJoined @carol:example.org:CAROLDEV"});
    e = h.receive(subscriberOffer("4_carol_reuses", 44));
    EXPECT_EQ(describe(e), (V{"ApplySubscriberOffer id=44",
                              "Mapped 1=@carol:example.org:CAROLDEV/TR_AMc7Vb2Nm4Lk "
                              "2=@carol:example.org:CAROLDEV/TR_VCx9Zq3Wp6Ty"}));
    const auto map = only<SubscriberTracksMapped>(e).byMid;
    EXPECT_EQ(map.at("1").info, carol().tracks[0]);
    EXPECT_EQ(map.at("2").info, carol().tracks[1]);
    EXPECT_EQ(map.at("2").participantSid, kCarolSid);
}

TEST(SignalSession, ReemitsTheMapWhenAnUpdateNamesAnUnknownTrackOwner) {
    Harness h;
    h.join(joinResponse({}));
    // The offer can overtake the update that introduces its publisher.
    auto e = h.receive(subscriberOffer("4_carol_reuses", 5));
    EXPECT_EQ(describe(e),
              (V{"ApplySubscriberOffer id=5", "Mapped 1=?/TR_AMc7Vb2Nm4Lk 2=?/TR_VCx9Zq3Wp6Ty"}));
    auto map = only<SubscriberTracksMapped>(e).byMid;
    EXPECT_EQ(map.at("1").participantSid, kCarolSid) << "from the msid stream PA_…|camera";
    EXPECT_EQ(map.at("1").identity, "");
    EXPECT_EQ(map.at("1").info.type, TrackType::Audio);
    EXPECT_EQ(map.at("2").info.type, TrackType::Video);

    e = h.receive(ParticipantUpdate{{carol()}});
    EXPECT_EQ(describe(e), (V{"ParticipantJoined @carol:example.org:CAROLDEV",
                              "Mapped 1=@carol:example.org:CAROLDEV/TR_AMc7Vb2Nm4Lk "
                              "2=@carol:example.org:CAROLDEV/TR_VCx9Zq3Wp6Ty"}));

    // A change that does not touch her tracks leaves the map alone …
    ParticipantInfo renamed = carol(4);
    renamed.name = "Carol";
    e = h.receive(ParticipantUpdate{{renamed}});
    EXPECT_EQ(describe(e), V{"ParticipantChanged @carol:example.org:CAROLDEV v4"});

    // … her muting the microphone does not.
    ParticipantInfo muted = renamed;
    muted.version = 5;
    muted.tracks[0].muted = true;
    e = h.receive(ParticipantUpdate{{muted}});
    EXPECT_EQ(describe(e), (V{"ParticipantChanged @carol:example.org:CAROLDEV v5",
                              "Mapped 1=@carol:example.org:CAROLDEV/TR_AMc7Vb2Nm4Lk "
                              "2=@carol:example.org:CAROLDEV/TR_VCx9Zq3Wp6Ty"}));
    EXPECT_TRUE(only<SubscriberTracksMapped>(e).byMid.at("1").info.muted);
}

SignalSessionConfig followsIceRestarts() {
    SignalSessionConfig c;
    c.iceRestartSupported = true;
    return c;
}

TEST(SignalSession, FlagsAnIceRestartWhenTheOfferChangesTheUfrag) {
    Harness h(followsIceRestarts());
    h.join(joinResponse({carol()}));
    auto e = h.receive(subscriberOffer("4_carol_reuses", 1));
    EXPECT_FALSE(only<ApplySubscriberOffer>(e).iceRestart) << "the first offer";
    h.localDescription(SignalTarget::Subscriber, "v=0 answer 1");
    e = h.receive(subscriberOffer("4_carol_reuses", 2));
    EXPECT_FALSE(only<ApplySubscriberOffer>(e).iceRestart) << "a renegotiation with the same credentials";
    h.localDescription(SignalTarget::Subscriber, "v=0 answer 2");
    e = h.receive(subscriberOffer("5_ice_restart", 3));
    EXPECT_EQ(describe(e).front(), "ApplySubscriberOffer id=3 ice-restart");
}

TEST(SignalSession, RejoinsWhenTheSfuRestartsIceThatThePeerConnectionsCannotFollow) {
    Harness h;  // webrtcbin 1.22: no ICE restarts
    h.join(joinResponse({carol()}));
    h.receive(subscriberOffer("4_carol_reuses", 1));
    h.localDescription(SignalTarget::Subscriber, "v=0 answer 1");
    auto e = h.receive(subscriberOffer("5_ice_restart", 2));
    EXPECT_EQ(describe(e).front(), "State rejoining");
    EXPECT_EQ(only<StateChanged>(e).detail,
              "rejoining: the SFU restarted ICE on the subscriber, which our peer connections cannot follow");
    EXPECT_TRUE(std::none_of(e.begin(), e.end(), [](const SignalEffect& x) {
        return std::holds_alternative<ApplySubscriberOffer>(x);
    })) << "the restart offer is not applied";
    EXPECT_TRUE(std::any_of(e.begin(), e.end(), [](const SignalEffect& x) {
        return std::holds_alternative<ClosePeerConnections>(x);
    }));
}

TEST(SignalSession, EchoesEachOfferIdInItsAnswer) {
    Harness h;
    h.join();
    EXPECT_TRUE(h.localDescription(SignalTarget::Subscriber, "v=0 stray").empty()) << "no offer to answer";
    h.receive(subscriberOffer("2_bob", 41));
    h.receive(subscriberOffer("2_bob", 42));
    EXPECT_EQ(describe(h.localDescription(SignalTarget::Subscriber, "v=0 a")),
              V{"Send SubscriberAnswer id=41"});
    EXPECT_EQ(describe(h.localDescription(SignalTarget::Subscriber, "v=0 b")),
              V{"Send SubscriberAnswer id=42"});
    EXPECT_TRUE(h.localDescription(SignalTarget::Subscriber, "v=0 c").empty());
}

// ---- candidates ----------------------------------------------------------------------------------

TEST(SignalSession, HoldsLocalCandidatesUntilTheirDescriptionWasSent) {
    Harness h;
    h.publish(micTrack());
    h.join();
    h.receive(subscriberOffer("2_bob", 41));
    EXPECT_TRUE(h.localCandidate(SignalTarget::Subscriber, candidate(1)).empty());
    EXPECT_TRUE(h.localCandidate(SignalTarget::Subscriber, candidate(2)).empty());
    auto e = h.localDescription(SignalTarget::Subscriber, "v=0 answer");
    EXPECT_EQ(describe(e), (V{"Send SubscriberAnswer id=41", "Send Trickle subscriber candidate:1",
                              "Send Trickle subscriber candidate:2"}));
    EXPECT_EQ(sent(e)[1], (SignalRequest{Trickle{candidate(1), SignalTarget::Subscriber, false}}));
    EXPECT_EQ(describe(h.localCandidate(SignalTarget::Subscriber, candidate(3))),
              V{"Send Trickle subscriber candidate:3"});
    EXPECT_TRUE(h.localCandidate(SignalTarget::Subscriber, "").empty()) << "gathering complete sends nothing";

    h.receive(published(micTrack(), kOurMic));
    EXPECT_TRUE(h.localCandidate(SignalTarget::Publisher, candidate(4, "0")).empty());
    e = h.localDescription(SignalTarget::Publisher, "v=0 offer");
    EXPECT_EQ(describe(e), (V{"Send PublisherOffer id=1", "Send Trickle publisher candidate:4"}));
}

TEST(SignalSession, HoldsRemoteCandidatesUntilTheRemoteDescriptionIsApplied) {
    Harness h;
    h.publish(micTrack());
    h.join();
    EXPECT_TRUE(h.receive(Trickle{candidate(11), SignalTarget::Subscriber, false}).empty());
    auto e = h.receive(subscriberOffer("2_bob", 41));
    EXPECT_EQ(
        describe(e),
        (V{"ApplySubscriberOffer id=41", "AddRemoteCandidate subscriber candidate:11",
           "Mapped 1=@bob:example.org:BOBDEV/TR_AMf5tGq8wJzR 2=@bob:example.org:BOBDEV/TR_VCp2Xr7NkYbd"}));
    // The server marks its last candidate final; it is a candidate all the same.
    e = h.receive(Trickle{candidate(12), SignalTarget::Subscriber, true});
    EXPECT_EQ(only<AddRemoteCandidate>(e).candidateInit, candidate(12));

    h.receive(published(micTrack(), kOurMic));
    h.localDescription(SignalTarget::Publisher, "v=0 offer");
    EXPECT_TRUE(h.receive(Trickle{candidate(21), SignalTarget::Publisher, false}).empty());
    e = h.receive(PublisherAnswer{answerFromServer(1)});
    EXPECT_EQ(describe(e), (V{"ApplyPublisherAnswer id=1", "AddRemoteCandidate publisher candidate:21"}));
    EXPECT_EQ(describe(h.receive(Trickle{candidate(22), SignalTarget::Publisher, false})),
              V{"AddRemoteCandidate publisher candidate:22"});
}

// ---- publishing ----------------------------------------------------------------------------------

TEST(SignalSession, PublishesTracksAfterTheJoinAndOffersOnceAllArePublished) {
    Harness h;
    EXPECT_TRUE(h.publish(micTrack()).empty());
    EXPECT_TRUE(h.publish(camTrack()).empty());
    auto e = h.join();
    EXPECT_EQ(describe(e),
              (V{"State connected", "ServerInjectedTrailer 8 bytes",
                 "CreatePeerConnections publisher+subscriber", "ParticipantJoined @bob:example.org:BOBDEV",
                 "Send AddTrack mxrtc-mic", "Send AddTrack mxrtc-cam"}));
    EXPECT_EQ(sent(e), (Requests{expectedMicAddTrack(), expectedCamAddTrack()}));

    h.now += 30ms;
    e = h.receive(published(micTrack(), kOurMic));
    EXPECT_EQ(describe(e), V{"LocalTrackPublished mxrtc-mic TR_AMs8Hd3Fg5Jk"})
        << "the camera is still pending";
    EXPECT_EQ(only<LocalTrackPublished>(e).track, published(micTrack(), kOurMic).track);
    e = h.receive(published(camTrack(), kOurCam));
    EXPECT_EQ(describe(e), (V{"LocalTrackPublished mxrtc-cam TR_VCn4Bm6Vc8Xz", "CreatePublisherOffer"}));

    e = h.localDescription(SignalTarget::Publisher, "v=0 publisher offer");
    EXPECT_EQ(sent(e), (Requests{PublisherOffer{SessionDescription{"offer", "v=0 publisher offer", 1, {}}}}));
    e = h.receive(PublisherAnswer{answerFromServer(1)});
    EXPECT_EQ(describe(e), V{"ApplyPublisherAnswer id=1"});
    EXPECT_EQ(only<ApplyPublisherAnswer>(e).description, answerFromServer(1));
}

TEST(SignalSession, RenegotiatesAfterTheAnswerWhenATrackIsPublishedMeanwhile) {
    Harness h;
    h.publish(micTrack());
    h.join();
    h.receive(published(micTrack(), kOurMic));
    h.localDescription(SignalTarget::Publisher, "v=0 offer 1");

    auto e = h.publish(camTrack());
    EXPECT_EQ(sent(e), Requests{expectedCamAddTrack()});
    e = h.receive(published(camTrack(), kOurCam));
    EXPECT_EQ(describe(e), V{"LocalTrackPublished mxrtc-cam TR_VCn4Bm6Vc8Xz"}) << "one negotiation at a time";
    e = h.receive(PublisherAnswer{answerFromServer(1)});
    EXPECT_EQ(describe(e), (V{"ApplyPublisherAnswer id=1", "CreatePublisherOffer"}));
    e = h.localDescription(SignalTarget::Publisher, "v=0 offer 2");
    EXPECT_EQ(describe(e), V{"Send PublisherOffer id=2"});
    EXPECT_TRUE(h.receive(PublisherAnswer{answerFromServer(1)}).empty()) << "an answer to the old offer";
    EXPECT_EQ(describe(h.receive(PublisherAnswer{answerFromServer(2)})), V{"ApplyPublisherAnswer id=2"});
}

TEST(SignalSession, RejectsATrackTheSfuRefusesAndOffersTheRest) {
    Harness h;
    h.publish(micTrack());
    h.publish(camTrack());
    h.join();
    EXPECT_EQ(describe(h.receive(published(micTrack(), kOurMic))),
              V{"LocalTrackPublished mxrtc-mic TR_AMs8Hd3Fg5Jk"});

    RequestResponse queued;
    queued.reason = RequestReason::Queued;
    queued.addTrack = expectedCamAddTrack();
    EXPECT_TRUE(h.receive(queued).empty()) << "QUEUED is not a refusal";

    RequestResponse refused;
    refused.reason = RequestReason::NotAllowed;
    refused.message = "does not have permission to publish";
    refused.addTrack = expectedCamAddTrack();
    auto e = h.receive(refused);
    EXPECT_EQ(describe(e),
              (V{"LocalTrackRejected mxrtc-cam: not_allowed: does not have permission to publish",
                 "CreatePublisherOffer"}));
    EXPECT_TRUE(h.receive(published(camTrack(), kOurCam)).empty()) << "a late answer for a dropped track";
}

TEST(SignalSession, RejectsATrackWhoseAddTrackTimesOut) {
    Harness h;
    h.publish(micTrack());
    h.publish(camTrack());
    h.join();  // both AddTracks at T0
    h.receive(published(micTrack(), kOurMic));
    auto e = h.runUntil(h.now + 9999ms);
    EXPECT_EQ(describe(e), V{"Send Ping ts=5000 rtt=0"});
    e = h.advance(1ms);
    EXPECT_EQ(describe(e), (V{"Send Ping ts=10000 rtt=0", "LocalTrackRejected mxrtc-cam: timeout",
                              "CreatePublisherOffer"}));
    EXPECT_TRUE(h.receive(published(camTrack(), kOurCam)).empty());
}

TEST(SignalSession, DropsOurTrackWhenTheSfuUnpublishesIt) {
    Harness h;
    h.publish(micTrack());
    h.join();
    h.receive(published(micTrack(), kOurMic));
    auto e = h.receive(TrackUnpublished{kOurMic});
    EXPECT_EQ(describe(e), V{"LocalTrackRejected mxrtc-mic: unpublished by the SFU"});
    EXPECT_TRUE(h.mute("mxrtc-mic", true).empty());
    EXPECT_TRUE(h.receive(TrackUnpublished{kBobMic}).empty()) << "not ours";
}

// ---- mute ----------------------------------------------------------------------------------------

TEST(SignalSession, SendsMuteOnceTheTrackHasASid) {
    Harness h;
    h.publish(micTrack());
    EXPECT_TRUE(h.mute("mxrtc-mic", true).empty()) << "before the join: the AddTrack carries it";
    auto e = h.join();
    AddTrack mutedMic = expectedMicAddTrack();
    mutedMic.muted = true;
    EXPECT_EQ(sent(e), Requests{mutedMic});

    EXPECT_TRUE(h.mute("mxrtc-mic", false).empty()) << "no sid yet: remembered";
    LocalTrack asRequested = micTrack();
    asRequested.muted = true;
    e = h.receive(published(asRequested, kOurMic));
    EXPECT_EQ(describe(e), (V{"LocalTrackPublished mxrtc-mic TR_AMs8Hd3Fg5Jk",
                              "Send MuteTrack TR_AMs8Hd3Fg5Jk unmuted", "CreatePublisherOffer"}));

    EXPECT_EQ(sent(h.mute("mxrtc-mic", true)), (Requests{MuteTrack{kOurMic, true}}));
    EXPECT_TRUE(h.mute("mxrtc-mic", true).empty()) << "no change";
    EXPECT_TRUE(h.mute("mxrtc-nothing", true).empty());
}

TEST(SignalSession, ServerMuteStopsOurTrack) {
    Harness h;
    h.publish(micTrack());
    h.join();
    h.receive(published(micTrack(), kOurMic));
    auto e = h.receive(ServerMute{MuteTrack{kOurMic, true}});
    EXPECT_EQ(describe(e), V{"MuteLocalTrack mxrtc-mic muted"});
    EXPECT_TRUE(h.mute("mxrtc-mic", true).empty()) << "the server knows already";
    EXPECT_EQ(sent(h.mute("mxrtc-mic", false)), (Requests{MuteTrack{kOurMic, false}}));
    EXPECT_TRUE(h.receive(ServerMute{MuteTrack{kBobMic, true}}).empty()) << "not ours";
}

// ---- participants --------------------------------------------------------------------------------

TEST(SignalSession, AppliesParticipantUpdatesOnlyWhenNewer) {
    Harness h;
    h.join();  // Bob at version 7
    EXPECT_TRUE(h.receive(ParticipantUpdate{{bob(7)}}).empty()) << "same version";
    EXPECT_TRUE(h.receive(ParticipantUpdate{{bob(6)}}).empty()) << "older";

    ParticipantInfo self;
    self.sid = kAliceSid;
    self.identity = kAlice;
    self.state = ParticipantState::Active;
    self.version = 9;
    ParticipantInfo renamed = bob(8);
    renamed.name = "Bob";
    auto e = h.receive(ParticipantUpdate{{self, renamed, carol()}});
    EXPECT_EQ(describe(e), (V{"ParticipantChanged @bob:example.org:BOBDEV v8",
                              "ParticipantJoined @carol:example.org:CAROLDEV"}));
    EXPECT_EQ(h.session.participants().at(kBobSid).name, "Bob");
    EXPECT_FALSE(h.session.participants().contains(kAliceSid));

    ParticipantInfo gone = carol(4);
    gone.state = ParticipantState::Disconnected;
    EXPECT_EQ(describe(h.receive(ParticipantUpdate{{gone}})),
              V{"ParticipantLeft @carol:example.org:CAROLDEV"});
    EXPECT_TRUE(h.receive(ParticipantUpdate{{carol(5)}}).empty()) << "a late update about someone who left";

    ParticipantInfo previousSelf = self;  // our session before a rejoin, being cleaned up
    previousSelf.sid = "PA_oLdS3ss10nXy";
    EXPECT_TRUE(h.receive(ParticipantUpdate{{previousSelf}}).empty());
}

// ---- ping ----------------------------------------------------------------------------------------

TEST(SignalSession, PingsAtTheServerIntervalAndMeasuresTheRoundTrip) {
    Harness h;
    h.join();
    auto e = h.advance(5s);
    EXPECT_EQ(sent(e), (Requests{Ping{kT0 + 5000, 0}}));
    h.now += 38ms;
    EXPECT_TRUE(h.receive(Pong{kT0 + 5000, kT0 + 5020}).empty());
    EXPECT_EQ(h.session.rtt(), Duration{38});
    e = h.runUntil(fromUnixMs(kT0 + 10000));
    EXPECT_EQ(sent(e), (Requests{Ping{kT0 + 10000, 38}}));
}

TEST(SignalSession, ResumesWhenNothingArrivesWithinThePingTimeout) {
    Harness h;
    h.join();
    // The server answers every ping up to 20 s, then falls silent.
    for (int s = 5; s <= 20; s += 5) {
        auto e = h.runUntil(fromUnixMs(kT0 + s * 1000));
        ASSERT_EQ(sent(e), (Requests{Ping{kT0 + s * 1000, s == 5 ? 0 : 4}}));
        h.now += 4ms;
        h.receive(Pong{kT0 + s * 1000, kT0 + s * 1000 + 2});
    }
    auto e = h.runUntil(fromUnixMs(kT0 + 35003));
    EXPECT_EQ(describe(e),
              (V{"Send Ping ts=25000 rtt=4", "Send Ping ts=30000 rtt=4", "Send Ping ts=35000 rtt=4"}));
    e = h.advance(1ms);  // 15 s after the last pong (at 20.004 s)
    EXPECT_EQ(describe(e),
              (V{"State resuming", "CloseSocket", "OpenSocket resume PA_Zt4mJbV8q2Xc reason=1"}));
    EXPECT_EQ(only<StateChanged>(e).detail, "resuming: nothing from the SFU for 15 s (ping timeout)");
}

// ---- leave ---------------------------------------------------------------------------------------

TEST(SignalSession, LeaveSendsLeaveAndClosesEverything) {
    Harness h;
    h.joinAndAnswer();
    auto e = h.session.leave(h.now);
    EXPECT_EQ(describe(e), (V{"State leaving", "Send Leave client_initiated", "State closed", "CloseSocket",
                              "ClosePeerConnections", "Closed client_initiated: left the room"}));
    EXPECT_EQ(sent(e), (Requests{Leave{false, DisconnectReason::ClientInitiated, LeaveAction::Disconnect}}));
    EXPECT_EQ(h.session.state(), SignalState::Closed);
    EXPECT_EQ(h.session.nextWakeup(), std::nullopt);
    EXPECT_TRUE(h.receive(ParticipantUpdate{{carol()}}).empty());
    EXPECT_TRUE(h.session.leave(h.now).empty());
}

TEST(SignalSession, ClosesWhenTheSfuSaysAnotherClientTookOurIdentity) {
    Harness h;
    h.join();
    auto e = h.receive(Leave{false, DisconnectReason::DuplicateIdentity, LeaveAction::Disconnect});
    EXPECT_EQ(describe(e),
              (V{"State closed", "CloseSocket", "ClosePeerConnections",
                 "Closed duplicate_identity error: the SFU ended the session: duplicate_identity: another "
                 "client joined with the same identity"}));
}

TEST(SignalSession, ConnectsAgainAfterItClosedWithTheSameTracks) {
    Harness h;
    h.publish(micTrack());
    h.join();
    auto e = h.receive(Leave{false, DisconnectReason::RoomDeleted, LeaveAction::Disconnect});
    EXPECT_EQ(describe(e).back(),
              "Closed room_deleted error: the SFU ended the session: room_deleted: the room was deleted");
    EXPECT_EQ(describe(h.connect()), (V{"State connecting", "OpenSocket join"}));
    h.opened();
    e = h.receive(joinResponse({}));
    EXPECT_EQ(describe(e), (V{"State connected", "ServerInjectedTrailer 8 bytes",
                              "CreatePeerConnections publisher+subscriber", "Send AddTrack mxrtc-mic"}));
}

}  // namespace
}  // namespace mxrtc::livekit::test
