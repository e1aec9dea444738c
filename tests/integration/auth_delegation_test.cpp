// Delayed-leave delegation for real: a Synapse user (the fixture's Synapse) schedules an MSC4140
// delayed leave for its call membership and hands the delay id to mxrtc-auth; a real participant
// (livekit rtc SDK, tests/integration/auth_lk_participant.py) joins a real livekit-server whose
// webhooks point at mxrtc-auth's /sfu_webhook. While the participant is on the SFU the leave must
// not fire (mxrtc-auth restarts it); when the participant disconnects it must appear promptly
// (mxrtc-auth sends it). Fails without livekit-server or the `livekit` Python SDK
// (scripts/setup-peers.sh installs both; tests/support/livekit_server.hpp runs the server).
#include "auth_it_support.hpp"
#include "support/livekit_server.hpp"

namespace {

using namespace mxrtc::auth_it;

constexpr const char* kMemberType = "org.matrix.msc3401.call.member";
constexpr int kDelayMs = 4'000;

std::int64_t nowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// One real LiveKit participant (a Python process); leaves when told to.
class Participant {
  public:
    Participant(const std::string& wsUrl, const std::string& jwt) {
        m_dir = fs::temp_directory_path() / ("mxrtc-lk-participant-" + std::to_string(::getpid()));
        fs::create_directories(m_dir);
        const auto started = mxrtc::test::runWithInput(
            shellQuote(MXRTC_LK_PYTHON) + " " + shellQuote(MXRTC_AUTH_IT_DIR "/auth_lk_participant.py") +
                " " + shellQuote(wsUrl) + " " + shellQuote(jwt) + " " +
                shellQuote((m_dir / "leave").string()) + " > " + shellQuote((m_dir / "out").string()) +
                " 2>&1 & echo $!",
            "");
        m_pid = std::stoi(started.out);
    }
    ~Participant() {
        ::kill(m_pid, SIGKILL);
        fs::remove_all(m_dir);
    }
    Participant(const Participant&) = delete;
    Participant& operator=(const Participant&) = delete;

    // The number after `word` on the participant's output, once it appears (nullopt on timeout).
    std::optional<std::int64_t> waitFor(const std::string& word, std::chrono::milliseconds timeout) const {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < deadline) {
            std::istringstream in(output());
            std::string line;
            while (std::getline(in, line))
                if (line.rfind(word + " ", 0) == 0) return std::stoll(line.substr(line.rfind(' ') + 1));
            std::this_thread::sleep_for(10ms);
        }
        return std::nullopt;
    }
    void leave() const { std::ofstream(m_dir / "leave") << "bye\n"; }
    std::string output() const { return readWholeFile(m_dir / "out"); }

  private:
    fs::path m_dir;
    pid_t m_pid = -1;
};

// The value of one sample in Prometheus text (-1 when absent).
long metric(const std::string& text, const std::string& sample) {
    const auto at = text.find("\n" + sample + " ");
    if (at == std::string::npos) return -1;
    return std::stol(text.substr(at + sample.size() + 2));
}

class DelegationOnLiveKit : public AuthWithSynapse {
  protected:
    void TearDown() override {
        if (HasFailure() && m_lk)
            std::cerr << "---- livekit-server log (tail) ----\n" << tail(m_lk->logs()) << "\n";
        if (HasFailure() && m_participant)
            std::cerr << "---- participant output ----\n" << m_participant->output() << "\n";
        AuthWithSynapse::TearDown();
    }
    static std::string tail(const std::string& s) { return s.size() > 6000 ? s.substr(s.size() - 6000) : s; }

    std::unique_ptr<mxrtc::test::LiveKitServer> m_lk;
    std::unique_ptr<Participant> m_participant;
};

TEST_F(DelegationOnLiveKit, LeaveIsHeldWhileOnTheSfuAndSentPromptlyOnDisconnect) {
    const auto missing = mxrtc::test::requireLiveKitPeers();
    ASSERT_EQ(missing, "") << missing;

    const User erin = registerUser("auth_erin");
    ASSERT_FALSE(erin.userId.empty());
    const mxrtc::net::Headers asErin{{"Authorization", "Bearer " + erin.accessToken}};
    const auto created =
        call("POST", synapse().url + "/_matrix/client/v3/createRoom", R"({"preset":"private_chat"})", asErin);
    ASSERT_EQ(created.status, 200) << created.body;
    const std::string roomId = created.js().value("room_id", "");

    // LiveKit's port is chosen first (mxrtc-auth's LIVEKIT_URL), mxrtc-auth's port is then known
    // for LiveKit's webhook URL.
    const int lkPort = mxrtc::test::freeLoopbackTcpPort();
    auto env = baseEnv(synapse().serverName);
    env["LIVEKIT_URL"] = "ws://127.0.0.1:" + std::to_string(lkPort);
    env["LIVEKIT_CS_API_URL_OVERRIDES"] = synapse().serverName + "=" + synapse().url;
    auto& auth = start(env);
    ASSERT_NE(auth.port(), 0);
    mxrtc::test::LiveKitServerOptions lkOptions;
    lkOptions.key = kKey;
    lkOptions.secret = kSecret;
    lkOptions.httpPort = lkPort;
    lkOptions.autoCreateRooms = false;
    lkOptions.webhookUrls = {auth.url("/sfu_webhook")};
    m_lk = std::make_unique<mxrtc::test::LiveKitServer>(lkOptions);
    ASSERT_TRUE(m_lk->up()) << m_lk->error() << "\n" << m_lk->logs();

    // The call membership and its delayed leave, as js-sdk writes them (spec §3.3).
    const std::string stateKey = "_" + erin.userId + "_" + erin.deviceId + "_m.call";
    const std::string stateUrl = synapse().url + "/_matrix/client/v3/rooms/" + mxrtc::net::urlEncode(roomId) +
                                 "/state/" + kMemberType + "/" + mxrtc::net::urlEncode(stateKey);
    const json membership{{"application", "m.call"},
                          {"call_id", ""},
                          {"scope", "m.room"},
                          {"device_id", erin.deviceId},
                          {"expires", 3'600'000},
                          {"focus_active", {{"type", "livekit"}, {"focus_selection", "oldest_membership"}}},
                          {"foci_preferred", json::array()}};
    ASSERT_EQ(call("PUT", stateUrl, membership.dump(), asErin).status, 200);
    const auto delayed =
        call("PUT", stateUrl + "?org.matrix.msc4140.delay=" + std::to_string(kDelayMs), "{}", asErin);
    ASSERT_EQ(delayed.status, 200) << delayed.body;
    const std::string delayId = delayed.js().value("delay_id", "");
    ASSERT_FALSE(delayId.empty()) << delayed.body;
    const auto scheduledAt = nowMs();
    auto memberContent = [&] { return call("GET", stateUrl, {}, asErin).js(); };

    // A token for the SFU (full access: the room is created on LiveKit), and a real participant.
    const std::string memberId = "erin-member-1";
    const auto tok = call("POST", auth.url("/get_token"),
                          getTokenBody(roomId, openIdToken(erin), erin.userId, erin.deviceId, memberId));
    ASSERT_EQ(tok.status, 200) << tok.body;
    const std::string jwt = tok.js().value("jwt", "");
    m_participant = std::make_unique<Participant>(m_lk->wsUrl(), jwt);
    ASSERT_TRUE(m_participant->waitFor("joined", 30s)) << "participant did not join";

    // Hand the delayed leave over (spec §8.2 body).
    const json delegation{
        {"room_id", roomId},
        {"slot_id", "m.call#ROOM"},
        {"openid_token", openIdToken(erin)},
        {"member",
         {{"id", memberId}, {"claimed_user_id", erin.userId}, {"claimed_device_id", erin.deviceId}}},
        {"delay_id", delayId},
        {"delay_timeout", kDelayMs}};
    const auto delegated = call("POST", auth.url("/delegate_delayed_leave"), delegation.dump());
    ASSERT_EQ(delegated.status, 200) << delegated.body;
    EXPECT_EQ(delegated.body, "{}\n");

    // While the participant is on the SFU the leave must not fire: watch for 3 delays.
    const auto holdUntil = scheduledAt + 3 * kDelayMs;
    while (nowMs() < holdUntil) {
        const auto content = memberContent();
        ASSERT_EQ(content.value("application", ""), "m.call")
            << "the delayed leave fired while the participant was on the SFU, " << (nowMs() - scheduledAt)
            << " ms after scheduling";
        std::this_thread::sleep_for(250ms);
    }
    const auto during = call("GET", auth.url("/metrics")).body;
    EXPECT_EQ(metric(during, R"(mxrtc_auth_delegation_jobs{state="present"})"), 1) << during;
    EXPECT_GE(metric(during, R"(mxrtc_auth_delegation_requests_total{action="restart",outcome="ok"})"), 3)
        << during;
    EXPECT_GE(metric(during, R"(mxrtc_auth_webhooks_total{outcome="participant_joined"})"), 1) << during;

    // Disconnect: the leave must show up promptly (sent by mxrtc-auth, not by the homeserver's timer).
    m_participant->leave();
    const auto leftAt = m_participant->waitFor("left", 20s);
    ASSERT_TRUE(leftAt) << "participant did not disconnect";
    std::int64_t seenAt = 0;
    while (nowMs() < *leftAt + 3 * kDelayMs) {
        const auto content = memberContent();
        if (content.is_object() && content.empty()) {
            seenAt = nowMs();
            break;
        }
        std::this_thread::sleep_for(10ms);
    }
    ASSERT_NE(seenAt, 0) << "the leave never appeared";
    const auto latency = seenAt - *leftAt;
    std::cout << "[ delegation ] participant disconnect -> leave state event visible: " << latency << " ms"
              << " (delay_timeout " << kDelayMs << " ms)" << std::endl;
    RecordProperty("disconnect_to_leave_ms", std::to_string(latency));
    EXPECT_LT(latency, kDelayMs / 2);
    const auto after = call("GET", auth.url("/metrics")).body;
    EXPECT_EQ(metric(after, R"(mxrtc_auth_delegation_jobs_ended_total{reason="sent"})"), 1) << after;
    EXPECT_EQ(metric(after, R"(mxrtc_auth_delegation_jobs{state="present"})"), 0) << after;

    // Forged webhooks are refused; nothing secret reaches the logs.
    const auto forged =
        call("POST", auth.url("/sfu_webhook"),
             R"({"event":"participant_left","room":{"name":"x"},"participant":{"identity":"y"}})");
    EXPECT_EQ(forged.status, 401) << forged.body;
    const auto logs = auth.logs();
    EXPECT_EQ(logs.find(delayId), std::string::npos) << "delay id in the logs";
    EXPECT_EQ(logs.find(jwt), std::string::npos) << "JWT in the logs";
    EXPECT_EQ(logs.find(kSecret), std::string::npos);
}

}  // namespace
