// SDP helpers for talking to a LiveKit SFU with webrtcbin (pure text functions, no GStreamer):
// reading the SFU's subscriber offers (which track is in which m-line), limiting them to the codecs
// we decode, and writing the track ids the SFU matches our AddTrack requests by into our offers.
// See spec livekit-client.md §2 (pitfalls 1-3).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "mxrtc/common/result.hpp"

namespace mxrtc::livekit::sdp {

struct MediaSection {
    std::string kind;        // "audio" | "video" | "application" | …
    std::string mid;         // a=mid
    std::string direction;   // "sendrecv" | "sendonly" | "recvonly" | "inactive" ("" = sendrecv)
    std::string msidStream;  // a=msid:<stream> <track> (or a=ssrc:<n> msid:<stream> <track>)
    std::string msidTrack;
    bool rejected = false;               // port 0
    std::vector<std::string> encodings;  // rtpmap encoding names in m-line order, e.g. "opus", "red"
};

struct Summary {
    std::string iceUfrag;  // session-level, else the first media section's
    std::vector<MediaSection> media;
};

// Parses what we need of an SDP (CRLF or LF line ends). Fails with M_BAD_JSON-style errors only on
// text that is not an SDP at all (no "v=0" / no m-lines is fine: an empty summary).
Result<Summary> summarize(std::string_view sdp);

// The SFU offers audio/red, VP9, H.264, AV1, RTX, … besides Opus and VP8. Returns the offer with
// every payload type whose encoding is not in `keep` (case-insensitive) removed from the m-line and
// its rtpmap/fmtp/rtcp-fb lines dropped; RTX (apt=) entries of removed types go too. A media
// section left without any payload type is rejected (port 0) so the answer declines it.
// Non-RTP sections (m=application) are untouched.
std::string restrictCodecs(std::string_view sdp, const std::vector<std::string>& keep = {"opus", "VP8"});

// Our publisher offer: for each media kind in `tracks` ("audio" / "video" -> {stream, track id}),
// every section of that kind gets exactly one "a=msid:<stream> <track id>" line, and every
// "a=ssrc:<n> msid:…" line is rewritten to the same ids (pion lets an ssrc msid override a=msid,
// so both must agree with the AddTrack cid). Other lines are untouched; output uses CRLF.
struct StreamTrack {
    std::string stream;
    std::string track;
};
std::string setMsid(std::string_view sdp, const std::map<std::string, StreamTrack>& tracksByKind);

// The SFU's msid stream id is "<participant sid>|<stream>" (protocol > 9) or just the sid;
// returns the participant sid ("PA_…") part.
std::string participantSidOfStream(std::string_view msidStream);

}  // namespace mxrtc::livekit::sdp
