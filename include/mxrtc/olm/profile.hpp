// A client profile's Olm state: the account and sessions pickled into <dir>/olm.db, encrypted with
// the pickle key from $MXRTC_PICKLE_KEY or, failing that, <dir>/pickle.key (32 random bytes as hex,
// created on first use with mode 0600). What an application needs to run E2EE calls across restarts.
#pragma once

#include <memory>
#include <string>

#include "mxrtc/common/ids.hpp"
#include "mxrtc/common/result.hpp"
#include "mxrtc/olm/machine.hpp"
#include "mxrtc/olm/pickle_store.hpp"

namespace mxrtc::olm {

// The profile's pickle key ($MXRTC_PICKLE_KEY, else <dir>/pickle.key, created if missing).
Result<PickleKey> profilePickleKey(const std::string& dir);

struct ProfileCrypto {
    std::unique_ptr<SqlitePickleStore> store;
    std::unique_ptr<OlmMachine> machine;  // uses `store`: keep both together

    // Opens (creating) <dir>/olm.db and the device's Olm account in it.
    static Result<ProfileCrypto> open(const std::string& dir, const UserId& user, const DeviceId& device);
};

}  // namespace mxrtc::olm
