#include "mxrtc/olm/profile.hpp"

#include <sys/stat.h>

#include <array>
#include <cstdlib>
#include <fstream>

#include "mxrtc/common/encoding.hpp"

namespace mxrtc::olm {

Result<PickleKey> profilePickleKey(const std::string& dir) {
    if (const char* env = std::getenv("MXRTC_PICKLE_KEY"); env != nullptr && *env != '\0')
        return PickleKey(env);
    const std::string path = dir + "/pickle.key";
    {
        std::ifstream in(path);
        std::string key;
        if (in >> key && key.size() >= 32) return PickleKey(key);
    }
    std::array<std::uint8_t, 32> raw{};
    systemRandom()(raw);
    const std::string key = hexEncode(raw);
    {
        // Created private: the key decrypts the Olm account.
        const mode_t old = ::umask(077);
        std::ofstream out(path, std::ios::trunc);
        out << key << "\n";
        ::umask(old);
        if (!out) return makeError(mxrtc::errcode::kUnknown, "cannot write " + path);
    }
    ::chmod(path.c_str(), 0600);
    return PickleKey(key);
}

Result<ProfileCrypto> ProfileCrypto::open(const std::string& dir, const UserId& user,
                                          const DeviceId& device) {
    auto key = profilePickleKey(dir);
    if (!key) return key.error();
    auto store = SqlitePickleStore::open(dir + "/olm.db");
    if (!store) return store.error();
    ProfileCrypto out;
    out.store = std::move(store.value());
    auto machine = OlmMachine::open(user, device, std::move(key.value()), *out.store, systemRandom());
    if (!machine)
        return makeError(machine.error().errcode, "cannot open the Olm account: " + machine.error().message);
    out.machine = std::move(machine.value());
    return out;
}

}  // namespace mxrtc::olm
