// SignalSession, part 4: the other participants and what the subscriber peer connection carries.
//
// The participant table starts from JoinResponse.other_participants and follows ParticipantUpdate:
// an entry is applied only when its version is newer than the one held (the server increments it
// on every change; an equal version is the same state sent again), our own sid is skipped (the
// update after a resume lists us too), and so is our own identity under another sid (our previous
// session being cleaned up after a rejoin). DISCONNECTED removes a participant for good (sids are
// never reused).
//
// The mid -> track map is rebuilt from the last subscriber offer whenever it or the table changes.
// Per audio/video m-line that the server sends on (not inactive, recvonly or rejected):
// * track sid: the msid track id when it is a "TR_…" sid (the DownTrack id), else the part after
//   '|' of the msid stream when that is one (PackStreamID "PA_…|TR_…"), else
//   SessionDescription.mid_to_track_id[mid], else whatever the msid track id is;
// * participant sid: the msid stream "PA_…|camera" (PackSyncStreamID, protocol > 9), else the
//   owner of the track sid in the table;
// * identity and TrackInfo from the table, once known (RemoteTrack.identity "" until then).
// Transceivers are reused (protocol > 3): an m-line goes inactive and later carries another
// participant's track, so nothing of an earlier map is kept.
#include <set>
#include <utility>

#include "mxrtc/livekit/sdp.hpp"
#include "mxrtc/livekit/signal_session.hpp"

namespace mxrtc::livekit {

namespace {

constexpr std::string_view kTrackPrefix = "TR_";

bool isTrackSid(std::string_view s) {
    return s.size() > kTrackPrefix.size() && s.substr(0, kTrackPrefix.size()) == kTrackPrefix;
}

bool sameTrack(const RemoteTrack& a, const RemoteTrack& b) {
    return a.participantSid == b.participantSid && a.identity == b.identity && a.info == b.info;
}

bool sameMap(const std::map<std::string, RemoteTrack>& a, const std::map<std::string, RemoteTrack>& b) {
    if (a.size() != b.size()) return false;
    for (auto ia = a.begin(), ib = b.begin(); ia != a.end(); ++ia, ++ib) {
        if (ia->first != ib->first || !sameTrack(ia->second, ib->second)) return false;
    }
    return true;
}

const TrackInfo* findTrack(const ParticipantInfo& p, const std::string& sid) {
    for (const auto& t : p.tracks) {
        if (t.sid == sid) return &t;
    }
    return nullptr;
}

}  // namespace

bool SignalSession::isOwn(const ParticipantInfo& p) const {
    return p.sid == m_participantSid || (!m_identity.empty() && p.identity == m_identity);
}

// ---- participants --------------------------------------------------------------------------------

// A complete list (JoinResponse, also after a rejoin): whoever is no longer in it has left.
void SignalSession::applyParticipantSnapshot(const std::vector<ParticipantInfo>& others, Effects& out) {
    std::map<std::string, ParticipantInfo> next;
    for (const auto& p : others) {
        if (!isOwn(p) && p.state != ParticipantState::Disconnected && !m_departed.contains(p.sid))
            next[p.sid] = p;
    }
    std::map<std::string, ParticipantInfo> previous = std::move(m_participants);
    m_participants = std::move(next);
    for (auto& [sid, old] : previous) {
        if (m_participants.contains(sid)) continue;
        old.state = ParticipantState::Disconnected;
        m_departed.insert(sid);
        out.emplace_back(ParticipantLeft{old});
    }
    std::set<std::string> reported;
    for (const auto& p : others) {  // in the server's order, each sid once
        auto it = m_participants.find(p.sid);
        if (it == m_participants.end() || !reported.insert(p.sid).second) continue;
        auto before = previous.find(p.sid);
        if (before == previous.end()) {
            out.emplace_back(ParticipantJoined{it->second});
        } else if (!(before->second == it->second)) {
            out.emplace_back(ParticipantChanged{it->second});
        }
    }
    remapTracks(false, out);
}

void SignalSession::onParticipantUpdate(const ParticipantUpdate& update, Effects& out) {
    for (const auto& p : update.participants) {
        if (isOwn(p)) continue;
        auto it = m_participants.find(p.sid);
        if (it != m_participants.end() && p.version <= it->second.version) continue;  // stale
        if (p.state == ParticipantState::Disconnected) {
            m_departed.insert(p.sid);
            if (it == m_participants.end()) continue;
            ParticipantInfo left = it->second;  // the update may carry little more than sid/state
            left.state = ParticipantState::Disconnected;
            left.version = p.version;
            left.disconnectReason = p.disconnectReason;
            m_participants.erase(it);
            out.emplace_back(ParticipantLeft{std::move(left)});
        } else if (it == m_participants.end()) {
            if (m_departed.contains(p.sid)) continue;  // a late update about someone who left
            m_participants[p.sid] = p;
            out.emplace_back(ParticipantJoined{p});
        } else {
            it->second = p;
            out.emplace_back(ParticipantChanged{p});
        }
    }
    remapTracks(false, out);
}

// ---- the subscriber ------------------------------------------------------------------------------

void SignalSession::onSubscriberOffer(const SubscriberOffer& offer, TimePoint now, Effects& out) {
    const SessionDescription& description = offer.description;
    bool iceRestart = false;
    auto summary = sdp::summarize(description.sdp);
    if (summary) {
        iceRestart = !m_subscriberUfrag.empty() && !summary->iceUfrag.empty() &&
                     summary->iceUfrag != m_subscriberUfrag;
        if (!summary->iceUfrag.empty()) m_subscriberUfrag = summary->iceUfrag;
        m_subscriberMedia = std::move(summary->media);
    } else {
        // Not SDP we can read: handed on all the same (the shell's SDP parser decides), mapping nothing.
        m_subscriberMedia.clear();
    }
    if (iceRestart && !m_config.iceRestartSupported) {
        startRejoin("the SFU restarted ICE on the subscriber, which our peer connections cannot follow", now,
                    out);
        return;
    }
    m_midToTrackId = description.midToTrackId;
    m_subscriberOfferIds.push_back(description.id);
    out.emplace_back(ApplySubscriberOffer{description, iceRestart});
    remoteDescriptionApplied(SignalTarget::Subscriber, out);
    remapTracks(true, out);
}

std::map<std::string, RemoteTrack> SignalSession::buildTrackMap() const {
    std::map<std::string, RemoteTrack> map;
    for (const auto& m : m_subscriberMedia) {
        if (m.kind != "audio" && m.kind != "video") continue;  // m=application: the data channels
        if (m.rejected || m.mid.empty() || m.direction == "inactive" || m.direction == "recvonly") continue;

        std::string trackSid;
        const std::string_view afterBar = [&]() -> std::string_view {
            std::string_view s = m.msidStream;
            auto bar = s.find('|');
            return bar == std::string_view::npos ? std::string_view() : s.substr(bar + 1);
        }();
        if (isTrackSid(m.msidTrack)) {
            trackSid = m.msidTrack;
        } else if (isTrackSid(afterBar)) {
            trackSid = std::string(afterBar);
        } else if (auto it = m_midToTrackId.find(m.mid); it != m_midToTrackId.end() && !it->second.empty()) {
            trackSid = it->second;
        } else {
            trackSid = m.msidTrack;
        }
        if (trackSid.empty()) continue;

        const std::string streamSid = sdp::participantSidOfStream(m.msidStream);
        if (!streamSid.empty() && m_departed.contains(streamSid)) continue;  // left: the m-line goes next
        const ParticipantInfo* owner = nullptr;
        if (!streamSid.empty()) {
            if (auto it = m_participants.find(streamSid); it != m_participants.end()) owner = &it->second;
        } else {
            for (const auto& [sid, p] : m_participants) {
                if (findTrack(p, trackSid) != nullptr) {
                    owner = &p;
                    break;
                }
            }
        }
        const TrackInfo* info = owner != nullptr ? findTrack(*owner, trackSid) : nullptr;

        RemoteTrack track;
        track.participantSid = owner != nullptr ? owner->sid : streamSid;
        track.identity = owner != nullptr ? owner->identity : std::string();
        if (info != nullptr) {
            track.info = *info;
        } else {
            track.info.type = m.kind == "audio" ? TrackType::Audio : TrackType::Video;
        }
        track.info.sid = trackSid;
        map[m.mid] = std::move(track);
    }
    return map;
}

void SignalSession::remapTracks(bool always, Effects& out) {
    auto map = buildTrackMap();
    const bool changed = !sameMap(map, m_byMid);
    m_byMid = std::move(map);
    if (always || changed) out.emplace_back(SubscriberTracksMapped{m_byMid});
}

}  // namespace mxrtc::livekit
