// Real GStreamer webrtcbin peers on 127.0.0.1 in one process (no Synapse): two peers wired
// directly, a 1:1 call driven by core::PeerCall, and a 3-member full mesh driven by core::MeshCall
// with the to-device JSON going through the real serialiser/parser. Media is asserted on what was
// decoded (buffers, frames, RMS energy), with and without LiveKit frame E2EE.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>

#include "mxrtc/core/mesh_call.hpp"
#include "mxrtc/rtc/call_media.hpp"
#include "mxrtc/rtc/peer.hpp"

namespace mxrtc::rtc {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

TimePoint wallNow() {
    return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
}

bool runUntil(boost::asio::io_context& io, const std::function<bool()>& done,
              std::chrono::milliseconds timeout) {
    const auto deadline = SteadyClock::now() + timeout;
    while (!done()) {
        if (SteadyClock::now() > deadline) return false;
        io.restart();
        io.run_for(5ms);
    }
    return true;
}

double cpuSeconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

long ms(std::optional<Duration> d) {
    return d ? static_cast<long>(d->count()) : -1;
}

class RtcLoopback : public ::testing::Test {
  protected:
    void SetUp() override {
        auto engine = MediaEngine::create(io.get_executor());
        if (!engine) GTEST_SKIP() << engine.error().message;
        m_engine = std::move(engine).value();
    }
    void TearDown() override {
        io.restart();
        io.run_for(50ms);  // let closed peers' last posts drain
        m_engine.reset();
    }
    MediaEngine& engine() { return *m_engine; }

    boost::asio::io_context io;

  private:
    std::unique_ptr<MediaEngine> m_engine;
};

// Two peers wired directly: offer/answer and trickled candidates go straight across.
struct DirectPair {
    std::unique_ptr<Peer> a;
    std::unique_ptr<Peer> b;
    std::vector<std::string> aGot;
    std::vector<std::string> bGot;
    std::vector<std::string> errors;
    bool aConnected = false;
    bool bConnected = false;

    DirectPair(MediaEngine& engine, MediaOptions oa, MediaOptions ob) {
        Peer::Listener la;
        Peer::Listener lb;
        la.onLocalDescription = [this](const core::SessionDescription& d) {
            b->setRemoteDescription(d);
            b->createAnswer();
        };
        lb.onLocalDescription = [this](const core::SessionDescription& d) { a->setRemoteDescription(d); };
        la.onLocalCandidate = [this](const core::IceCandidate& c) { b->addRemoteCandidates({c}); };
        lb.onLocalCandidate = [this](const core::IceCandidate& c) { a->addRemoteCandidates({c}); };
        la.onIceState = [this](core::IceConnectionState s) {
            aConnected |=
                s == core::IceConnectionState::Connected || s == core::IceConnectionState::Completed;
        };
        lb.onIceState = [this](core::IceConnectionState s) {
            bConnected |=
                s == core::IceConnectionState::Connected || s == core::IceConnectionState::Completed;
        };
        la.onDataMessage = [this](const std::string& t) { aGot.push_back(t); };
        lb.onDataMessage = [this](const std::string& t) { bGot.push_back(t); };
        la.onError = [this](const std::string& e) { errors.push_back("a: " + e); };
        lb.onError = [this](const std::string& e) { errors.push_back("b: " + e); };
        a = std::make_unique<Peer>(engine, oa, std::move(la));
        b = std::make_unique<Peer>(engine, ob, std::move(lb));
    }
};

TEST_F(RtcLoopback, TwoPeersExchangeAudioVideoAndDataOverLoopback) {
    MediaOptions oa;
    oa.toneFrequency = 440;
    MediaOptions ob;
    ob.toneFrequency = 660;
    DirectPair p(engine(), oa, ob);
    p.a->createOffer();
    ASSERT_TRUE(runUntil(
        io, [&] { return p.aConnected && p.bConnected; }, 10s))
        << ::testing::PrintToString(p.errors);
    ASSERT_TRUE(runUntil(
        io,
        [&] {
            auto sa = p.a->stats();
            auto sb = p.b->stats();
            return sa.audioBuffersDecoded >= 25 && sb.audioBuffersDecoded >= 25 &&
                   sa.videoFramesDecoded >= 5 && sb.videoFramesDecoded >= 5;
        },
        15s))
        << ::testing::PrintToString(p.errors);
    // The data channel opens a little after ICE: retry until a message arrives.
    ASSERT_TRUE(runUntil(
        io,
        [&] {
            if (p.bGot.empty()) p.a->sendData("hello from a");
            if (p.aGot.empty()) p.b->sendData("hello from b");
            return !p.aGot.empty() && !p.bGot.empty();
        },
        5s));
    EXPECT_EQ(p.bGot.front(), "hello from a");
    EXPECT_EQ(p.aGot.front(), "hello from b");
    const auto sa = p.a->stats();
    const auto sb = p.b->stats();
    // A 0.3-amplitude sine has RMS 0.21; Opus keeps it close.
    EXPECT_GT(sa.audioRms, 0.1);
    EXPECT_GT(sb.audioRms, 0.1);
    EXPECT_TRUE(p.errors.empty()) << ::testing::PrintToString(p.errors);
    std::printf(
        "[ metrics  ] direct pair: ice connected a=%ld ms b=%ld ms; first audio a=%ld ms b=%ld ms; "
        "first video a=%ld ms; rms a=%.3f b=%.3f\n",
        ms(sa.iceConnectedAfter), ms(sb.iceConnectedAfter), ms(sa.firstAudioAfter), ms(sb.firstAudioAfter),
        ms(sa.firstVideoAfter), sa.audioRms, sb.audioRms);
}

TEST_F(RtcLoopback, EncryptedFramesDecryptWithTheRightKeyOnly) {
    const std::vector<std::uint8_t> keyA(16, 0xA1);
    const std::vector<std::uint8_t> keyB(16, 0xB2);
    const std::vector<std::uint8_t> wrong(16, 0x00);
    MediaOptions o;
    o.e2ee = true;
    DirectPair p(engine(), o, o);
    p.a->setSendKey(0, keyA);
    p.b->setSendKey(0, keyB);
    p.b->setReceiveKey(0, keyA);   // b knows a's key
    p.a->setReceiveKey(0, wrong);  // a has a wrong key for b
    p.a->createOffer();
    ASSERT_TRUE(runUntil(
        io, [&] { return p.aConnected && p.bConnected; }, 10s))
        << ::testing::PrintToString(p.errors);
    ASSERT_TRUE(runUntil(
        io,
        [&] {
            auto sb = p.b->stats();
            return sb.audioBuffersDecoded >= 25 && sb.videoFramesDecoded >= 5 &&
                   p.a->stats().decryptFailures >= 20;
        },
        15s))
        << ::testing::PrintToString(p.errors);
    const auto sa = p.a->stats();
    const auto sb = p.b->stats();
    EXPECT_GT(sb.framesDecrypted, 30U);  // audio + video frames
    EXPECT_EQ(sb.decryptFailures, 0U);
    EXPECT_GT(sb.audioRms, 0.1);
    EXPECT_GT(sa.framesEncrypted, 30U);
    // a cannot decrypt b: nothing reaches its decoders.
    EXPECT_EQ(sa.framesDecrypted, 0U);
    EXPECT_EQ(sa.audioBuffersDecoded, 0U);
    EXPECT_EQ(sa.videoFramesDecoded, 0U);
    EXPECT_TRUE(p.errors.empty()) << ::testing::PrintToString(p.errors);
    std::printf(
        "[ metrics  ] e2ee pair: b decrypted %llu frames (first after %ld ms), video frames %llu, rms %.3f; "
        "a dropped %llu undecryptable frames\n",
        static_cast<unsigned long long>(sb.framesDecrypted), ms(sb.firstDecryptedAfter),
        static_cast<unsigned long long>(sb.videoFramesDecoded), sb.audioRms,
        static_cast<unsigned long long>(sa.decryptFailures));
}

// ---- core-driven mesh with real media ------------------------------------------------------------------

struct MeshNode {
    core::MeshSelf self;
    std::unique_ptr<core::MeshCall> mesh;
    std::unique_ptr<CallMedia> media;
    std::unique_ptr<boost::asio::steady_timer> timer;
    std::map<CallId, std::pair<UserId, DeviceId>> remoteOf;
    std::vector<std::uint8_t> key;
    std::vector<std::string> errors;
    SteadyClock::time_point joinedAt;
    bool left = false;
};

class MeshRig {
  public:
    MeshRig(boost::asio::io_context& io, MediaEngine& engine, bool e2ee, std::uint32_t jitterMs = 50,
            std::uint32_t pacingMs = 0)
        : m_io(io), m_engine(engine), m_e2ee(e2ee), m_jitterMs(jitterMs), m_pacingMs(pacingMs) {}

    std::size_t add(const char* user, const char* device, double tone) {
        auto n = std::make_unique<MeshNode>();
        n->self = core::MeshSelf{UserId(user), DeviceId(device), std::string("sess-") + device, "conf-it"};
        auto counter = std::make_shared<int>(0);
        core::MeshCallConfig config;
        config.peer.firstCandidateDelay = Duration{5};  // loopback: trickle the host candidate at once
        config.peer.maxIceRestarts = 0;                 // webrtcbin 1.22: a new call replaces ICE restart
        n->mesh = std::make_unique<core::MeshCall>(
            n->self, [counter, device] { return std::string("call") + device + std::to_string(++*counter); },
            config);
        const std::size_t i = m_nodes.size();
        MediaOptions o;
        o.toneFrequency = tone;
        o.e2ee = m_e2ee;
        o.jitterLatencyMs = m_jitterMs;
        o.icePacingMs = m_pacingMs;
        CallMedia::Events ev;
        ev.onLocalDescription = [this, i](const CallId& c, const core::SessionDescription& d) {
            perform(i, node(i).mesh->onLocalDescription(c, d, wallNow()));
        };
        ev.onLocalCandidate = [this, i](const CallId& c, const core::IceCandidate& cand) {
            perform(i, node(i).mesh->onLocalCandidate(c, cand, wallNow()));
        };
        ev.onIceState = [this, i](const CallId& c, core::IceConnectionState s) {
            perform(i, node(i).mesh->onIceState(c, s, wallNow()));
        };
        ev.onError = [this, i](const CallId& c, const std::string& e) {
            node(i).errors.push_back(e);
            perform(i, node(i).mesh->onMediaFailed(c, wallNow()));
        };
        n->media = std::make_unique<CallMedia>(m_engine, o, std::move(ev));
        n->key.assign(16, static_cast<std::uint8_t>(0x10 + i));
        if (m_e2ee) n->media->setSendKey(0, n->key);
        n->timer = std::make_unique<boost::asio::steady_timer>(m_io);
        m_nodes.push_back(std::move(n));
        return i;
    }
    MeshNode& node(std::size_t i) { return *m_nodes[i]; }
    std::vector<core::MeshMember> members(const std::vector<std::size_t>& ids) {
        std::vector<core::MeshMember> out;
        for (auto i : ids)
            out.push_back({node(i).self.user, node(i).self.device, node(i).self.sessionId});
        return out;
    }
    void join(std::size_t i, const std::vector<std::size_t>& ids) {
        node(i).joinedAt = SteadyClock::now();
        perform(i, node(i).mesh->join(members(ids), wallNow()));
    }
    void membersChanged(std::size_t i, const std::vector<std::size_t>& ids) {
        perform(i, node(i).mesh->onMembersChanged(members(ids), wallNow()));
    }
    void leave(std::size_t i) {
        perform(i, node(i).mesh->leave(wallNow()));
        node(i).left = true;
    }

    void perform(std::size_t i, core::CallEffects fx) {
        MeshNode& n = node(i);
        for (auto& e : fx) {
            if (n.media->perform(e)) continue;
            if (auto* s = std::get_if<core::SendToDevice>(&e)) {
                // Through JSON text, as Synapse would carry it.
                const std::string wire = s->content.dump();
                for (std::size_t j = 0; j < m_nodes.size(); ++j) {
                    if (node(j).self.user != s->user || node(j).self.device != s->device) continue;
                    m_io.post([this, alive = std::weak_ptr<bool>(m_alive), j, from = n.self.user,
                               type = s->type, wire] {
                        if (!alive.expired() && !node(j).left)
                            perform(j, node(j).mesh->onToDevice(from, type, nlohmann::json::parse(wire),
                                                                wallNow()));
                    });
                }
            } else if (auto* started = std::get_if<core::MeshPeerStarted>(&e)) {
                n.remoteOf[started->call] = {started->user, started->device};
            } else if (auto* w = std::get_if<core::ScheduleWakeup>(&e)) {
                const auto delay = w->at - wallNow();
                n.timer->expires_after(delay.count() > 0 ? std::chrono::milliseconds(delay.count()) : 0ms);
                n.timer->async_wait([this, i](const boost::system::error_code& ec) {
                    if (!ec) perform(i, node(i).mesh->onWakeup(wallNow()));
                });
            }
        }
        // Keys: each remote's key for its call (the key manager's job in the real client).
        if (m_e2ee) {
            for (const auto& [call, who] : n.remoteOf) {
                for (auto& other : m_nodes)
                    if (other->self.user == who.first && other->self.device == who.second)
                        n.media->setReceiveKey(call, 0, other->key);
            }
        }
    }

    // Stats of i's peer with member j (nullopt if none).
    std::optional<PeerStats> statsWith(std::size_t i, std::size_t j) {
        for (const auto& [call, who] : node(i).remoteOf)
            if (who.first == node(j).self.user && who.second == node(j).self.device)
                if (auto s = node(i).media->stats(call)) return s;
        return std::nullopt;
    }
    std::vector<PeerStats> statsOf(std::size_t i) {
        std::vector<PeerStats> out;
        for (const auto& c : node(i).media->calls())
            if (auto s = node(i).media->stats(c)) out.push_back(*s);
        return out;
    }
    bool hearsAll(std::size_t i, std::size_t expectedPeers, std::uint64_t minBuffers) {
        auto s = statsOf(i);
        if (s.size() != expectedPeers) return false;
        for (const auto& p : s)
            if (p.audioBuffersDecoded < minBuffers || p.audioRms < 0.1) return false;
        return true;
    }

  private:
    boost::asio::io_context& m_io;
    MediaEngine& m_engine;
    bool m_e2ee;
    std::uint32_t m_jitterMs;
    std::uint32_t m_pacingMs;
    std::vector<std::unique_ptr<MeshNode>> m_nodes;
    std::shared_ptr<bool> m_alive = std::make_shared<bool>(true);  // posted deliveries die with the rig
};

class RtcMesh : public RtcLoopback, public ::testing::WithParamInterface<bool> {};

// Three members join a mesh call at once: every member decodes audio (with energy) from both
// others, through the MSC3401 to-device messages and real webrtcbin peers; then one leaves and
// the other two keep hearing each other.
TEST_P(RtcMesh, ThreeMembersHearEachOtherAndSurviveALeave) {
    const bool e2ee = GetParam();
    MeshRig rig(io, engine(), e2ee);
    auto a = rig.add("@alice:it", "ADEV", 440);
    auto b = rig.add("@bob:it", "BDEV", 550);
    auto c = rig.add("@carol:it", "CDEV", 660);
    const double cpu0 = cpuSeconds();
    const auto t0 = SteadyClock::now();
    for (auto i : {a, b, c})
        rig.join(i, {a, b, c});
    ASSERT_TRUE(runUntil(
        io, [&] { return rig.hearsAll(a, 2, 25) && rig.hearsAll(b, 2, 25) && rig.hearsAll(c, 2, 25); }, 20s))
        << "a errors " << ::testing::PrintToString(rig.node(a).errors);
    for (auto i : {a, b, c}) {
        EXPECT_TRUE(rig.node(i).errors.empty()) << ::testing::PrintToString(rig.node(i).errors);
        for (const auto& s : rig.statsOf(i)) {
            if (e2ee) {
                EXPECT_GT(s.framesDecrypted, 0U);
                EXPECT_EQ(s.decryptFailures, 0U);
            }
            std::printf(
                "[ metrics  ] mesh%s %s: ice %ld ms, first audio %ld ms, first decrypted %ld ms after its "
                "peer "
                "was created; rms %.3f\n",
                e2ee ? "+e2ee" : "", rig.node(i).self.device.str().c_str(), ms(s.iceConnectedAfter),
                ms(s.firstAudioAfter), ms(s.firstDecryptedAfter), s.audioRms);
        }
    }
    const auto allHeard =
        std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - t0).count();
    // CPU of the whole process (3 members x 2 peers, encode + decode) over a steady 2 s window.
    const double cpu1 = cpuSeconds();
    runUntil(
        io, [] { return false; }, 2s);
    const double steadyCpu = (cpuSeconds() - cpu1) / 2.0;
    std::printf(
        "[ metrics  ] mesh%s: join -> every member hears both others in %lld ms; setup CPU %.2f s; "
        "steady CPU %.0f%% of one core for 3 members (6 peers)\n",
        e2ee ? "+e2ee" : "", static_cast<long long>(allHeard), cpu1 - cpu0, steadyCpu * 100.0);

    // carol leaves: alice and bob hang up on her and keep their call.
    rig.leave(c);
    rig.membersChanged(a, {a, b});
    rig.membersChanged(b, {a, b});
    ASSERT_TRUE(runUntil(
        io, [&] { return rig.statsOf(a).size() == 1 && rig.statsOf(b).size() == 1; }, 5s));
    EXPECT_TRUE(rig.statsOf(c).empty());
    const auto before = rig.statsOf(a).at(0).audioBuffersDecoded;
    ASSERT_TRUE(runUntil(
        io, [&] { return rig.statsOf(a).at(0).audioBuffersDecoded >= before + 25; }, 5s));
    EXPECT_GT(rig.statsOf(a).at(0).audioRms, 0.1);
    const double twoCpu0 = cpuSeconds();
    runUntil(
        io, [] { return false; }, 2s);
    std::printf("[ metrics  ] mesh%s: steady CPU %.0f%% of one core for 2 members (2 peers)\n",
                e2ee ? "+e2ee" : "", (cpuSeconds() - twoCpu0) / 2.0 * 100.0);
    for (auto i : {a, b})
        rig.leave(i);
}

struct LatencyCase {
    std::uint32_t jitterMs;
    std::uint32_t pacingMs;  // libnice Ta; 0 = default (20 ms)
};
class RtcJoinLatency : public RtcLoopback, public ::testing::WithParamInterface<LatencyCase> {};

// The figure: a member event is seen -> the first decrypted frame, both ways (an existing
// member receiving from the joiner, the joiner receiving from an existing member), E2EE on,
// signalling in-process (no homeserver hop), p50 over several joins. The parameter is the
// jitterbuffer latency and the ICE check pacing.
TEST_P(RtcJoinLatency, MemberSeenToFirstDecryptedFrame) {
    constexpr int kRuns = 5;
    std::vector<long> existingGets;
    std::vector<long> joinerGets;
    {  // warm-up: the first call in a process pays plugin/encoder initialisation
        MeshRig warm(io, engine(), true, GetParam().jitterMs, GetParam().pacingMs);
        auto a = warm.add("@alice:it", "ADEV", 440);
        auto b = warm.add("@bob:it", "BDEV", 550);
        warm.join(a, {a, b});
        warm.join(b, {a, b});
        ASSERT_TRUE(runUntil(
            io, [&] { return warm.hearsAll(a, 1, 5) && warm.hearsAll(b, 1, 5); }, 15s));
        warm.leave(a);
        warm.leave(b);
    }
    for (int run = 0; run < kRuns; ++run) {
        MeshRig rig(io, engine(), true, GetParam().jitterMs, GetParam().pacingMs);
        auto a = rig.add("@alice:it", "ADEV", 440);
        auto b = rig.add("@bob:it", "BDEV", 550);
        auto c = rig.add("@carol:it", "CDEV", 660);
        rig.join(a, {a, b});
        rig.join(b, {a, b});
        ASSERT_TRUE(runUntil(
            io, [&] { return rig.hearsAll(a, 1, 5) && rig.hearsAll(b, 1, 5); }, 15s));
        const auto t0 = SteadyClock::now();
        rig.join(c, {a, b, c});
        rig.membersChanged(a, {a, b, c});
        rig.membersChanged(b, {a, b, c});
        std::optional<long> aFromC;
        std::optional<long> cFromA;
        const auto deadline = t0 + 10s;
        while ((!aFromC || !cFromA) && SteadyClock::now() < deadline) {
            io.restart();
            io.run_for(1ms);
            const long now =
                std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - t0).count();
            if (!aFromC) {
                if (auto s = rig.statsWith(a, c); s && s->framesDecrypted > 0) aFromC = now;
            }
            if (!cFromA) {
                if (auto s = rig.statsWith(c, a); s && s->framesDecrypted > 0) cFromA = now;
            }
        }
        ASSERT_TRUE(aFromC && cFromA) << "run " << run;
        existingGets.push_back(*aFromC);
        joinerGets.push_back(*cFromA);
        for (auto i : {a, b, c})
            rig.leave(i);
        runUntil(
            io, [] { return false; }, 100ms);
    }
    auto p50 = [](std::vector<long> v) {
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
    };
    std::printf(
        "[ metrics  ] jitterbuffer %u ms, ICE pacing %u ms: member seen -> first decrypted frame: existing "
        "member p50 %ld ms "
        "(runs %s), joiner p50 %ld ms (runs %s)\n",
        GetParam().jitterMs, GetParam().pacingMs, p50(existingGets),
        ::testing::PrintToString(existingGets).c_str(), p50(joinerGets),
        ::testing::PrintToString(joinerGets).c_str());
}

INSTANTIATE_TEST_SUITE_P(Tuning, RtcJoinLatency,
                         ::testing::Values(LatencyCase{50, 0}, LatencyCase{10, 5}, LatencyCase{10, 2}),
                         [](const auto& info) {
                             return "jitter" + std::to_string(info.param.jitterMs) + "ms_pacing" +
                                    (info.param.pacingMs ? std::to_string(info.param.pacingMs) + "ms"
                                                         : "default");
                         });

INSTANTIATE_TEST_SUITE_P(Media, RtcMesh, ::testing::Values(false, true), [](const auto& info) {
    return info.param ? std::string("e2ee") : std::string("clear");
});

}  // namespace
}  // namespace mxrtc::rtc
