// Persistent client state in SQLite: the login session (homeserver, user, device, access token)
// and the sync token, so a restarted CLI resumes where it left off. One file per profile.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "mxrtc/common/result.hpp"
#include "mxrtc/matrix/client.hpp"

struct sqlite3;

namespace mxrtc::matrix {

class Store {
  public:
    // Opens (creating if needed) the database at `path`; its directory must exist.
    static Result<std::unique_ptr<Store>> open(const std::string& path);
    ~Store();
    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

    Result<void> saveSession(const LoginSession& session);
    std::optional<LoginSession> loadSession() const;
    Result<void> clearSession();
    Result<void> put(const std::string& key, const std::string& value);
    std::optional<std::string> get(const std::string& key) const;

  private:
    explicit Store(sqlite3* db) : m_db(db) {}
    sqlite3* m_db;
};

}  // namespace mxrtc::matrix
