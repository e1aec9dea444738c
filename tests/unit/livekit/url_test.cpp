// signalUrl: the v0 join/resume URL as livekit-server 1.13.5 reads it, and its log form.
#include "mxrtc/livekit/url.hpp"

#include <gtest/gtest.h>

#include "mxrtc/livekit/messages.hpp"

namespace mxrtc::livekit {
namespace {

const std::string kJwt =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJAYWxpY2U6ZXhhbXBsZS5vcmc6QUxJQ0VERVYifQ.q1-Rz_Xw8";

SignalUrlOptions options() {
    SignalUrlOptions o;
    o.accessToken = Redacted<std::string>(kJwt);
    o.sdkVersion = "0.1.0";
    return o;
}

TEST(SignalUrl, BuildsTheJoinUrl) {
    EXPECT_EQ(signalUrl("wss://sfu.example.org", options()),
              "wss://sfu.example.org/rtc?access_token=" + kJwt +
                  "&protocol=17&auto_subscribe=1&sdk=cpp&version=0.1.0&os=linux&adaptive_stream=0");
}

TEST(SignalUrl, AddsTheResumeParameters) {
    SignalUrlOptions o = options();
    o.reconnect = true;
    o.participantSid = "PA_Zt4mJbV8q2Xc";
    o.reconnectReason = ReconnectReason::SignalDisconnected;
    EXPECT_EQ(signalUrl("ws://127.0.0.1:7880", o),
              "ws://127.0.0.1:7880/rtc?access_token=" + kJwt +
                  "&protocol=17&auto_subscribe=1&sdk=cpp&version=0.1.0&os=linux&adaptive_stream=0"
                  "&reconnect=1&sid=PA_Zt4mJbV8q2Xc&reconnect_reason=1");
}

TEST(SignalUrl, KeepsAnExistingPathAndPort) {
    const std::string url = signalUrl("wss://matrix-rtc.example.org:8443/livekit/sfu/", options());
    EXPECT_EQ(url.rfind("wss://matrix-rtc.example.org:8443/livekit/sfu/rtc?access_token=", 0), 0u) << url;
}

TEST(SignalUrl, TurnsHttpIntoWebSocketSchemes) {
    EXPECT_EQ(signalUrl("https://sfu.example.org", options()).rfind("wss://sfu.example.org/rtc?", 0), 0u);
    EXPECT_EQ(signalUrl("http://localhost:7880", options()).rfind("ws://localhost:7880/rtc?", 0), 0u);
}

TEST(SignalUrl, KeepsAnExistingQueryAfterOurs) {
    EXPECT_EQ(signalUrl("wss://sfu.example.org/?region=eu#x", options()),
              "wss://sfu.example.org/rtc?access_token=" + kJwt +
                  "&protocol=17&auto_subscribe=1&sdk=cpp&version=0.1.0&os=linux&adaptive_stream=0&region=eu");
}

TEST(SignalUrl, PercentEncodesValues) {
    SignalUrlOptions o = options();
    o.accessToken = Redacted<std::string>("a+b/c=d e");
    o.sdkVersion = "0.1.0 beta+1";
    o.autoSubscribe = false;
    o.adaptiveStream = true;
    EXPECT_EQ(signalUrl("wss://h", o),
              "wss://h/rtc?access_token=a%2Bb%2Fc%3Dd%20e&protocol=17&auto_subscribe=0&sdk=cpp"
              "&version=0.1.0%20beta%2B1&os=linux&adaptive_stream=1");
}

TEST(SignalUrl, RedactsTheTokenForLogs) {
    const std::string logged = signalUrlForLog("wss://sfu.example.org", options());
    EXPECT_EQ(logged, "wss://sfu.example.org/rtc?access_token=<redacted " + fingerprint(kJwt) +
                          ">&protocol=17&auto_subscribe=1&sdk=cpp&version=0.1.0&os=linux&adaptive_stream=0");
    EXPECT_EQ(logged.find(kJwt), std::string::npos);
    EXPECT_EQ(redactAccessToken(signalUrl("wss://sfu.example.org", options())), logged);
}

TEST(SignalUrl, RedactsOnlyTheAccessTokenParameter) {
    EXPECT_EQ(redactAccessToken("wss://h/rtc?x_access_token=keep&access_token=secret#frag"),
              "wss://h/rtc?x_access_token=keep&access_token=<redacted " + fingerprint("secret") + ">#frag");
    EXPECT_EQ(redactAccessToken("wss://h/rtc"), "wss://h/rtc");
}

TEST(TurnServerUris, LiveKitsEmbeddedTurnBecomesAWebrtcbinUriWithEscapedCredentials) {
    IceServer embedded;
    embedded.urls = {"turn:127.0.0.1:3478?transport=udp", "turns:turn.example.org:443?transport=tcp",
                     "stun:stun.l.google.com:19302"};
    embedded.username = "1796325503:PA_abc";  // expiry:participant, as livekit-server makes it
    embedded.credential = Redacted<std::string>("q+/x=");
    IceServer stunOnly;
    stunOnly.urls = {"stun:global.stun.twilio.com:3478"};
    IceServer junk;
    junk.urls = {"turn:", "turn:?transport=udp", "turn:evil@host:1", "http://x", ""};
    junk.username = "u";
    EXPECT_EQ(turnServerUris({embedded, stunOnly, junk}),
              (std::vector<std::string>{
                  "turn://1796325503%3APA_abc:q%2B%2Fx%3D@127.0.0.1:3478?transport=udp",
                  "turns://1796325503%3APA_abc:q%2B%2Fx%3D@turn.example.org:443?transport=tcp"}));
    EXPECT_TRUE(turnServerUris({}).empty());
}

}  // namespace
}  // namespace mxrtc::livekit
