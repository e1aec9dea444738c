// Our LiveKit signal schema (proto/livekit_signal.proto) against upstream's: every message, field
// and enum value we declare must exist in livekit/protocol at the commit livekit-server v1.13.5 pins,
// with the same field number, type (scalar kind, message/enum type, repeated, map, proto3 optional,
// oneof) and enum value number.
//
// At test time: `go mod download -json github.com/livekit/protocol@<pinned>` (Go module proxy;
// cached after the first run) gives the upstream module directory; protoc turns both schemas into
// FileDescriptorSets, which libprotobuf's descriptor API compares. A missing `go` fails the test
// (CI installs Go); it never skips.
#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "support/subprocess.hpp"

namespace {

namespace fs = std::filesystem;
namespace gpb = google::protobuf;

constexpr std::string_view kModule = "github.com/livekit/protocol";
constexpr std::string_view kVersion =
    "v1.50.5-0.20260728075222-28e604c046c6";  // livekit-server v1.13.5 go.mod

using mxrtc::test::runWithInput;
using mxrtc::test::shellQuote;

std::optional<std::string> findGo() {
    const std::string configured = MXRTC_GO;  // find_program at configure time; may be …-NOTFOUND
    if (!configured.empty() && fs::exists(configured)) return configured;
    auto which = runWithInput("command -v go", "");
    if (which.exitCode == 0 && !which.out.empty()) {
        while (!which.out.empty() && (which.out.back() == '\n' || which.out.back() == '\r'))
            which.out.pop_back();
        return which.out;
    }
    if (fs::exists("/usr/local/go/bin/go")) return "/usr/local/go/bin/go";
    return std::nullopt;
}

struct Schemas {
    std::string error;  // empty when both loaded
    std::string upstreamDir;
    gpb::DescriptorPool ours;
    gpb::DescriptorPool upstream;
    const gpb::FileDescriptor* ourFile = nullptr;
};

// protoc --include_imports --descriptor_set_out, then every file into `pool` (imports come first).
std::string loadDescriptorSet(const std::string& includes, const std::string& file, const fs::path& out,
                              gpb::DescriptorPool& pool) {
    const std::string command = shellQuote(MXRTC_PROTOC) +
                                " --include_imports --descriptor_set_out=" + shellQuote(out.string()) + " " +
                                includes + " " + shellQuote(file);
    const auto run = runWithInput(command, "");
    if (run.exitCode != 0) return "protoc failed (" + command + "): " + run.err;
    gpb::FileDescriptorSet set;
    if (!set.ParseFromString(mxrtc::test::readWholeFile(out))) return "cannot parse " + out.string();
    for (const auto& proto : set.file()) {
        if (pool.BuildFile(proto) == nullptr) return "cannot build descriptors of " + proto.name();
    }
    return "";
}

Schemas& schemas() {
    static const std::unique_ptr<Schemas> loaded = [] {
        auto s = std::make_unique<Schemas>();
        const auto go = findGo();
        if (!go) {
            s->error = "`go` not found (looked at MXRTC_GO, PATH, /usr/local/go/bin): install Go, CI does";
            return s;
        }
        char pattern[] = "/tmp/mxrtc-lk-upstream-XXXXXX";
        if (::mkdtemp(pattern) == nullptr) {
            s->error = "mkdtemp failed";
            return s;
        }
        const fs::path tmp = pattern;
        const std::string moduleAtVersion = std::string(kModule) + "@" + std::string(kVersion);
        auto download =
            runWithInput("cd " + shellQuote(tmp.string()) + " && env GOFLAGS=-mod=mod " + shellQuote(*go) +
                             " mod download -json " + shellQuote(moduleAtVersion),
                         "");
        nlohmann::json info = nlohmann::json::parse(download.out, nullptr, /*allow_exceptions=*/false);
        if (download.exitCode != 0 || !info.is_object() || !info.contains("Dir") || info.contains("Error")) {
            s->error = "go mod download " + moduleAtVersion + " failed (exit " +
                       std::to_string(download.exitCode) + "): " + download.out + download.err;
            fs::remove_all(tmp);
            return s;
        }
        if (info.value("Version", "") != kVersion) {
            s->error = "go mod download gave version " + info.value("Version", "?");
            fs::remove_all(tmp);
            return s;
        }
        s->upstreamDir = info.at("Dir").get<std::string>() + "/protobufs";
        const std::string protobufInclude = " -I " + shellQuote(MXRTC_PROTOBUF_INCLUDE);
        s->error = loadDescriptorSet("-I " + shellQuote(s->upstreamDir) + protobufInclude,
                                     "livekit_rtc.proto", tmp / "upstream.pb", s->upstream);
        if (s->error.empty()) {
            s->error = loadDescriptorSet("-I " + shellQuote(MXRTC_PROTO_DIR) + protobufInclude,
                                         "livekit_signal.proto", tmp / "ours.pb", s->ours);
        }
        fs::remove_all(tmp);
        if (s->error.empty()) {
            s->ourFile = s->ours.FindFileByName("livekit_signal.proto");
            if (s->ourFile == nullptr) s->error = "livekit_signal.proto not in its own descriptor set";
        }
        return s;
    }();
    return *loaded;
}

// "string", "uint32", "message livekit.TrackInfo", "enum livekit.Encryption.Type", …
std::string typeOf(const gpb::FieldDescriptor& f) {
    if (f.message_type() != nullptr) return std::string(f.type_name()) + " " + f.message_type()->full_name();
    if (f.enum_type() != nullptr) return std::string("enum ") + f.enum_type()->full_name();
    return f.type_name();
}

std::string shapeOf(const gpb::FieldDescriptor& f) {
    std::string shape = f.is_map() ? "map" : f.is_repeated() ? "repeated" : "singular";
    if (f.has_optional_keyword()) shape += " optional";
    if (const auto* oneof = f.real_containing_oneof()) shape += " in oneof " + oneof->name();
    return shape;
}

void forEachMessage(const gpb::Descriptor& message, const auto& visit) {
    visit(message);
    for (int i = 0; i < message.nested_type_count(); ++i)
        forEachMessage(*message.nested_type(i), visit);
}

template <typename Visit>
void forEachMessage(const gpb::FileDescriptor& file, const Visit& visit) {
    for (int i = 0; i < file.message_type_count(); ++i)
        forEachMessage(*file.message_type(i), visit);
}

template <typename Visit>
void forEachEnum(const gpb::FileDescriptor& file, const Visit& visit) {
    for (int i = 0; i < file.enum_type_count(); ++i)
        visit(*file.enum_type(i));
    forEachMessage(file, [&](const gpb::Descriptor& m) {
        for (int i = 0; i < m.enum_type_count(); ++i)
            visit(*m.enum_type(i));
    });
}

class LiveKitProtoUpstream : public ::testing::Test {
  protected:
    void SetUp() override {
        auto& s = schemas();
        ASSERT_TRUE(s.error.empty()) << s.error;
    }
};

TEST_F(LiveKitProtoUpstream, OurFileIsProto3InPackageLivekit) {
    const auto& file = *schemas().ourFile;
    EXPECT_EQ(file.package(), "livekit");
    EXPECT_EQ(file.syntax(), gpb::FileDescriptor::SYNTAX_PROTO3);
}

TEST_F(LiveKitProtoUpstream, EveryFieldWeDeclareHasUpstreamsNumberAndType) {
    auto& s = schemas();
    int fields = 0;
    forEachMessage(*s.ourFile, [&](const gpb::Descriptor& ours) {
        const auto* theirs = s.upstream.FindMessageTypeByName(ours.full_name());
        if (theirs == nullptr) {
            ADD_FAILURE() << "message " << ours.full_name() << " is not in upstream " << s.upstreamDir;
            return;
        }
        for (int i = 0; i < ours.field_count(); ++i) {
            const auto& f = *ours.field(i);
            ++fields;
            const auto* u = theirs->FindFieldByName(f.name());
            if (u == nullptr) {
                ADD_FAILURE() << f.full_name() << " (number " << f.number()
                              << "): no field of that name upstream";
                continue;
            }
            EXPECT_EQ(f.number(), u->number())
                << f.full_name() << ": number " << f.number() << " here, " << u->number() << " upstream";
            EXPECT_EQ(typeOf(f), typeOf(*u))
                << f.full_name() << ": type " << typeOf(f) << " here, " << typeOf(*u) << " upstream";
            EXPECT_EQ(shapeOf(f), shapeOf(*u))
                << f.full_name() << ": " << shapeOf(f) << " here, " << shapeOf(*u) << " upstream";
        }
    });
    EXPECT_GT(fields, 100) << "compared suspiciously few fields";
}

TEST_F(LiveKitProtoUpstream, EveryEnumValueWeDeclareHasUpstreamsNumber) {
    auto& s = schemas();
    int values = 0;
    forEachEnum(*s.ourFile, [&](const gpb::EnumDescriptor& ours) {
        const auto* theirs = s.upstream.FindEnumTypeByName(ours.full_name());
        if (theirs == nullptr) {
            ADD_FAILURE() << "enum " << ours.full_name() << " is not in upstream " << s.upstreamDir;
            return;
        }
        for (int i = 0; i < ours.value_count(); ++i) {
            const auto& v = *ours.value(i);
            ++values;
            const auto* u = theirs->FindValueByName(v.name());
            if (u == nullptr) {
                ADD_FAILURE() << ours.full_name() << "." << v.name() << " (" << v.number()
                              << "): no value of that name upstream";
                continue;
            }
            EXPECT_EQ(v.number(), u->number()) << ours.full_name() << "." << v.name() << ": " << v.number()
                                               << " here, " << u->number() << " upstream";
        }
    });
    EXPECT_GT(values, 40) << "compared suspiciously few enum values";
}

}  // namespace
