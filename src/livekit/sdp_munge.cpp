// Text munging of SDP for the LiveKit SFU (sdp.hpp): codec restriction of the SFU's subscriber offers
// and msid lines in our publisher offers. Line-based: an SDP is a session part followed by media
// sections, each starting at an "m=" line; everything we do not touch is copied as it was.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>
#include <set>

#include "mxrtc/livekit/sdp.hpp"

namespace mxrtc::livekit::sdp {

namespace {

constexpr std::string_view kCrlf = "\r\n";

// One SDP split into its session lines and media sections (line ends stripped).
struct Section {
    std::vector<std::string> lines;  // lines[0] is the m= line
};
struct Document {
    std::vector<std::string> session;
    std::vector<Section> media;
};

Document split(std::string_view sdp) {
    Document doc;
    std::size_t pos = 0;
    while (pos < sdp.size()) {
        std::size_t end = sdp.find('\n', pos);
        if (end == std::string_view::npos) end = sdp.size();
        std::string_view line = sdp.substr(pos, end - pos);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        pos = end + 1;
        if (line.empty()) continue;
        if (line.starts_with("m=")) {
            doc.media.push_back({{std::string(line)}});
        } else if (doc.media.empty()) {
            doc.session.emplace_back(line);
        } else {
            doc.media.back().lines.emplace_back(line);
        }
    }
    return doc;
}

std::string join(const Document& doc) {
    std::string out;
    for (const auto& l : doc.session)
        out.append(l).append(kCrlf);
    for (const auto& s : doc.media)
        for (const auto& l : s.lines)
            out.append(l).append(kCrlf);
    return out;
}

std::vector<std::string_view> words(std::string_view s) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && s[i] == ' ')
            ++i;
        const std::size_t start = i;
        while (i < s.size() && s[i] != ' ')
            ++i;
        if (i > start) out.push_back(s.substr(start, i - start));
    }
    return out;
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

std::optional<int> toInt(std::string_view s) {
    int v = 0;
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
    return v;
}

// "m=<media> <port>[/<n>] <proto> <fmt>..." parts.
struct MLine {
    std::string media;
    std::string port;
    std::string proto;
    std::vector<std::string> formats;
};
std::optional<MLine> parseMLine(std::string_view line) {
    const auto w = words(line.substr(2));
    if (w.size() < 3) return std::nullopt;
    MLine m{std::string(w[0]), std::string(w[1]), std::string(w[2]), {}};
    for (std::size_t i = 3; i < w.size(); ++i)
        m.formats.emplace_back(w[i]);
    return m;
}
std::string formatMLine(const MLine& m) {
    std::string out = "m=" + m.media + " " + m.port + " " + m.proto;
    for (const auto& f : m.formats)
        out += " " + f;
    return out;
}

// The payload type an "a=<attr>:<pt> ..." line is about, if the line has that attribute.
std::optional<int> payloadTypeOf(std::string_view line, std::string_view attr) {
    const std::string prefix = "a=" + std::string(attr) + ":";
    if (!line.starts_with(prefix)) return std::nullopt;
    std::string_view rest = line.substr(prefix.size());
    return toInt(rest.substr(0, rest.find(' ')));
}

// Encoding names of static payload types an offer may list without an rtpmap (RFC 3551).
std::string staticEncoding(int pt) {
    switch (pt) {
        case 0:
            return "PCMU";
        case 3:
            return "GSM";
        case 8:
            return "PCMA";
        case 9:
            return "G722";
        case 13:
            return "CN";
        case 18:
            return "G729";
        default:
            return "";
    }
}

// "apt=96" in an fmtp parameter list.
std::optional<int> aptOf(std::string_view params) {
    std::size_t pos = 0;
    while (pos < params.size()) {
        std::size_t end = params.find(';', pos);
        if (end == std::string_view::npos) end = params.size();
        std::string_view p = params.substr(pos, end - pos);
        while (!p.empty() && p.front() == ' ')
            p.remove_prefix(1);
        if (p.starts_with("apt=")) return toInt(p.substr(4));
        pos = end + 1;
    }
    return std::nullopt;
}

bool isRtp(const MLine& m) {
    return (m.media == "audio" || m.media == "video") && m.proto.find("RTP") != std::string::npos;
}

std::string midOf(const Section& s) {
    for (const auto& l : s.lines)
        if (l.starts_with("a=mid:")) return l.substr(6);
    return "";
}

// Restricts one RTP section in place; returns false if nothing is left (the section is rejected).
bool restrictSection(Section& section, MLine& m, const std::vector<std::string>& keep) {
    std::map<int, std::string> encoding;  // pt -> encoding name
    std::map<int, int> apt;               // rtx pt -> the pt it repairs
    for (const auto& l : section.lines) {
        if (auto pt = payloadTypeOf(l, "rtpmap")) {
            std::string_view rest = std::string_view(l).substr(l.find(' ') + 1);
            encoding[*pt] = std::string(rest.substr(0, rest.find('/')));
        } else if (auto fpt = payloadTypeOf(l, "fmtp")) {
            const std::size_t sp = l.find(' ');
            if (sp != std::string::npos)
                if (auto a = aptOf(std::string_view(l).substr(sp + 1))) apt[*fpt] = *a;
        }
    }
    const auto kept = [&](int pt) {
        auto it = encoding.find(pt);
        const std::string name = it != encoding.end() ? it->second : staticEncoding(pt);
        return std::any_of(keep.begin(), keep.end(),
                           [&](const std::string& k) { return equalsIgnoreCase(k, name); });
    };
    std::set<int> keepPts;
    for (const auto& f : m.formats)
        if (auto pt = toInt(f); pt && kept(*pt)) keepPts.insert(*pt);
    // RTX (or anything else with apt=) of a removed type goes too.
    for (const auto& [pt, target] : apt)
        if (!keepPts.contains(target)) keepPts.erase(pt);
    const bool anyRtx = std::any_of(keepPts.begin(), keepPts.end(), [&](int pt) {
        auto it = encoding.find(pt);
        return it != encoding.end() && equalsIgnoreCase(it->second, "rtx");
    });

    std::vector<std::string> formats;
    for (const auto& f : m.formats)
        if (auto pt = toInt(f); pt && keepPts.contains(*pt)) formats.push_back(f);
    if (formats.empty()) return false;
    m.formats = std::move(formats);

    // Without RTX the retransmission SSRCs (second of each FID group) have no stream to belong to.
    std::set<std::string> rtxSsrcs;
    std::vector<std::string> lines{formatMLine(m)};
    for (std::size_t i = 1; i < section.lines.size(); ++i) {
        const std::string& l = section.lines[i];
        bool drop = false;
        for (const char* attr : {"rtpmap", "fmtp", "rtcp-fb"})
            if (auto pt = payloadTypeOf(l, attr); pt && !keepPts.contains(*pt)) drop = true;
        if (!anyRtx && l.starts_with("a=ssrc-group:FID ")) {
            const auto w = words(std::string_view(l).substr(17));
            for (std::size_t k = 1; k < w.size(); ++k)
                rtxSsrcs.emplace(w[k]);
            drop = true;
        }
        if (!drop) lines.push_back(l);
    }
    if (!rtxSsrcs.empty()) {
        std::erase_if(lines, [&](const std::string& l) {
            if (!l.starts_with("a=ssrc:")) return false;
            const std::string_view rest = std::string_view(l).substr(7);
            return rtxSsrcs.contains(std::string(rest.substr(0, rest.find(' '))));
        });
    }
    section.lines = std::move(lines);
    return true;
}

// Port 0, one format (an m-line needs one) but no codec attributes at all, out of the BUNDLE group.
void reject(Section& section, MLine& m) {
    m.port = "0";
    if (m.formats.size() > 1) m.formats.resize(1);
    std::vector<std::string> lines{formatMLine(m)};
    for (std::size_t i = 1; i < section.lines.size(); ++i) {
        const std::string& l = section.lines[i];
        if (l.starts_with("a=bundle-only") || l.starts_with("a=rtcp-fb:")) continue;
        if (payloadTypeOf(l, "rtpmap") || payloadTypeOf(l, "fmtp")) continue;
        lines.push_back(l);
    }
    section.lines = std::move(lines);
}

void removeFromBundle(std::vector<std::string>& session, const std::string& mid) {
    if (mid.empty()) return;
    for (auto& l : session) {
        if (!l.starts_with("a=group:BUNDLE")) continue;
        const auto w = words(std::string_view(l).substr(8));  // "BUNDLE", mids...
        std::string out = "a=group:BUNDLE";
        for (std::size_t i = 1; i < w.size(); ++i)
            if (w[i] != mid) out.append(" ").append(w[i]);
        l = std::move(out);
    }
}

}  // namespace

std::string restrictCodecs(std::string_view sdp, const std::vector<std::string>& keep) {
    Document doc = split(sdp);
    for (auto& section : doc.media) {
        auto m = parseMLine(section.lines.front());
        if (!m || !isRtp(*m) || m->port == "0") continue;
        if (!restrictSection(section, *m, keep)) {
            reject(section, *m);
            removeFromBundle(doc.session, midOf(section));
        }
    }
    return join(doc);
}

std::string setMsid(std::string_view sdp, const std::map<std::string, StreamTrack>& tracksByKind) {
    Document doc = split(sdp);
    for (auto& section : doc.media) {
        const auto m = parseMLine(section.lines.front());
        if (!m) continue;
        const auto it = tracksByKind.find(m->media);
        if (it == tracksByKind.end()) continue;
        const std::string ids = it->second.stream + " " + it->second.track;
        std::vector<std::string> lines;
        std::optional<std::size_t> msidAt;
        std::optional<std::size_t> afterMid;
        for (const auto& l : section.lines) {
            if (l.starts_with("a=msid:")) {
                if (!msidAt) msidAt = lines.size();
                continue;
            }
            if (l.starts_with("a=ssrc:")) {
                const std::size_t sp = l.find(' ');
                if (sp != std::string::npos && std::string_view(l).substr(sp + 1).starts_with("msid:")) {
                    lines.push_back(l.substr(0, sp) + " msid:" + ids);
                    continue;
                }
            }
            lines.push_back(l);
            if (l.starts_with("a=mid:")) afterMid = lines.size();
        }
        const std::size_t at = msidAt ? *msidAt : afterMid ? *afterMid : lines.size();
        lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(at), "a=msid:" + ids);
        section.lines = std::move(lines);
    }
    return join(doc);
}

}  // namespace mxrtc::livekit::sdp
