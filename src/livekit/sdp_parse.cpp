// Reading SDP text: which m-line carries which track (sdp::summarize) and whose stream an SFU msid
// names (sdp::participantSidOfStream). Pure text processing, tolerant of CRLF and LF line ends.
// The munging half of sdp.hpp (restrictCodecs, setMsid) lives in sdp_munge.cpp.
#include <cctype>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "mxrtc/livekit/sdp.hpp"

namespace mxrtc::livekit::sdp {

namespace {

constexpr std::string_view kParticipantPrefix = "PA_";

// Splits on ' ' (runs of spaces count as one separator).
std::vector<std::string_view> words(std::string_view s) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && s[i] == ' ')
            ++i;
        std::size_t j = i;
        while (j < s.size() && s[j] != ' ')
            ++j;
        if (j > i) out.push_back(s.substr(i, j - i));
        i = j;
    }
    return out;
}

bool isDirection(std::string_view v) {
    return v == "sendrecv" || v == "sendonly" || v == "recvonly" || v == "inactive";
}

// RFC 3551 static payload types that may appear without an rtpmap line.
std::string staticEncoding(std::string_view pt) {
    if (pt == "0") return "PCMU";
    if (pt == "8") return "PCMA";
    if (pt == "9") return "G722";
    if (pt == "13") return "CN";
    return std::string(pt);
}

// "msid:<stream> <track>" value parts (the msid attribute value, or the part after "msid:" of an
// ssrc attribute). A missing track id (stream only) leaves `track` empty.
void splitMsid(std::string_view value, std::string& stream, std::string& track) {
    auto w = words(value);
    stream = w.size() > 0 ? std::string(w[0]) : std::string();
    track = w.size() > 1 ? std::string(w[1]) : std::string();
}

struct SectionBuilder {
    MediaSection section;
    std::vector<std::string> payloadTypes;      // m-line order
    std::map<std::string, std::string> rtpmap;  // payload type -> encoding name
    std::string ssrcMsidStream, ssrcMsidTrack;  // first a=ssrc:<n> msid:… line
    bool hasMsid = false;                       // an a=msid line was seen
    std::string ufrag;

    MediaSection finish() {
        if (!hasMsid && !ssrcMsidStream.empty()) {
            section.msidStream = ssrcMsidStream;
            section.msidTrack = ssrcMsidTrack;
        }
        // Non-RTP sections (m=application … webrtc-datachannel) list no RTP payload types.
        if (section.kind == "audio" || section.kind == "video") {
            for (const auto& pt : payloadTypes) {
                auto it = rtpmap.find(pt);
                section.encodings.push_back(it != rtpmap.end() ? it->second : staticEncoding(pt));
            }
        }
        return std::move(section);
    }
};

}  // namespace

Result<Summary> summarize(std::string_view text) {
    Summary summary;
    std::string sessionUfrag;
    std::string firstMediaUfrag;
    std::vector<SectionBuilder> sections;
    std::size_t lineNo = 0;
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t end = text.find('\n', pos);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = text.substr(pos, end - pos);
        pos = end + 1;
        ++lineNo;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty()) continue;
        if (line.size() < 2 || line[1] != '=' || !std::islower(static_cast<unsigned char>(line[0]))) {
            return makeError(errcode::kBadJson,
                             "sdp line " + std::to_string(lineNo) + ": expected <type>=<value>");
        }
        const char type = line[0];
        const std::string_view value = line.substr(2);
        if (type == 'm') {
            auto w = words(value);
            if (w.size() < 3) {
                return makeError(errcode::kBadJson,
                                 "sdp line " + std::to_string(lineNo) + ": m= needs <media> <port> <proto>");
            }
            SectionBuilder b;
            b.section.kind = std::string(w[0]);
            // "9" or "9/2"; port 0 rejects the section (RFC 3264 §6).
            std::string_view port = w[1].substr(0, w[1].find('/'));
            b.section.rejected = port == "0";
            for (std::size_t i = 3; i < w.size(); ++i)
                b.payloadTypes.emplace_back(w[i]);
            sections.push_back(std::move(b));
            continue;
        }
        if (type != 'a') continue;
        const std::size_t colon = value.find(':');
        const std::string_view name = value.substr(0, colon);
        const std::string_view attr =
            colon == std::string_view::npos ? std::string_view() : value.substr(colon + 1);
        if (sections.empty()) {
            if (name == "ice-ufrag") sessionUfrag = std::string(attr);
            continue;
        }
        SectionBuilder& b = sections.back();
        if (name == "mid") {
            b.section.mid = std::string(attr);
        } else if (colon == std::string_view::npos && isDirection(name)) {
            b.section.direction = std::string(name);
        } else if (name == "ice-ufrag") {
            b.ufrag = std::string(attr);
        } else if (name == "msid") {
            if (!b.hasMsid) splitMsid(attr, b.section.msidStream, b.section.msidTrack);
            b.hasMsid = true;
        } else if (name == "rtpmap") {
            // "<pt> <encoding>/<clock>[/<channels>]"
            auto w = words(attr);
            if (w.size() >= 2) b.rtpmap[std::string(w[0])] = std::string(w[1].substr(0, w[1].find('/')));
        } else if (name == "ssrc") {
            // "<ssrc> msid:<stream> <track>" (also cname:, mslabel:, label: – ignored)
            const std::size_t space = attr.find(' ');
            if (space == std::string_view::npos) continue;
            const std::string_view rest = attr.substr(space + 1);
            if (rest.rfind("msid:", 0) == 0 && b.ssrcMsidStream.empty()) {
                splitMsid(rest.substr(5), b.ssrcMsidStream, b.ssrcMsidTrack);
            }
        }
    }
    for (auto& b : sections) {
        if (firstMediaUfrag.empty()) firstMediaUfrag = b.ufrag;
        summary.media.push_back(b.finish());
    }
    summary.iceUfrag = !sessionUfrag.empty() ? sessionUfrag : firstMediaUfrag;
    return summary;
}

std::string participantSidOfStream(std::string_view msidStream) {
    // PackSyncStreamID / PackStreamID (livekit-server pkg/rtc/utils.go): "<PA_sid>|<stream or TR_sid>".
    std::string_view sid = msidStream.substr(0, msidStream.find('|'));
    if (sid.size() <= kParticipantPrefix.size() ||
        sid.substr(0, kParticipantPrefix.size()) != kParticipantPrefix) {
        return {};
    }
    return std::string(sid);
}

}  // namespace mxrtc::livekit::sdp
