#include "mxrtc/matrix/store.hpp"

#include <sqlite3.h>
#include <sys/stat.h>

namespace mxrtc::matrix {

namespace {

Error sqlError(sqlite3* db, const std::string& what) {
    return makeError("M_UNKNOWN", what + ": " + (db != nullptr ? sqlite3_errmsg(db) : "out of memory"));
}

}  // namespace

Result<std::unique_ptr<Store>> Store::open(const std::string& path) {
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        nullptr) != SQLITE_OK) {
        Error e = sqlError(db, "cannot open the session store " + path);
        sqlite3_close(db);
        return e;
    }
    ::chmod(path.c_str(), 0600);  // it holds an access token
    sqlite3_busy_timeout(db, 5000);
    char* err = nullptr;
    const char* schema =
        "PRAGMA journal_mode=WAL;"
        "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);";
    if (sqlite3_exec(db, schema, nullptr, nullptr, &err) != SQLITE_OK) {
        std::string msg = err != nullptr ? err : "unknown error";
        sqlite3_free(err);
        sqlite3_close(db);
        return makeError("M_UNKNOWN", "cannot initialise the session store " + path + ": " + msg);
    }
    return std::unique_ptr<Store>(new Store(db));
}

Store::~Store() {
    sqlite3_close(m_db);
}

Result<void> Store::put(const std::string& key, const std::string& value) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(
            m_db,
            "INSERT INTO kv(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value", -1,
            &st, nullptr) != SQLITE_OK) {
        return sqlError(m_db, "store");
    }
    sqlite3_bind_text(st, 1, key.c_str(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, value.c_str(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
    const int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return sqlError(m_db, "store");
    return {};
}

std::optional<std::string> Store::get(const std::string& key) const {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(m_db, "SELECT value FROM kv WHERE key = ?", -1, &st, nullptr) != SQLITE_OK)
        return std::nullopt;
    sqlite3_bind_text(st, 1, key.c_str(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
    std::optional<std::string> v;
    if (sqlite3_step(st) == SQLITE_ROW) {
        const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
        v = text != nullptr ? std::string(text) : std::string();
    }
    sqlite3_finalize(st);
    return v;
}

Result<void> Store::saveSession(const LoginSession& s) {
    char* err = nullptr;
    sqlite3_exec(m_db, "BEGIN", nullptr, nullptr, &err);
    sqlite3_free(err);
    for (const auto& [k, v] : {std::pair<std::string, std::string>{"homeserver", s.homeserver},
                               {"user_id", s.userId.str()},
                               {"device_id", s.deviceId.str()},
                               {"access_token", s.accessToken}}) {
        auto r = put(k, v);
        if (!r) {
            sqlite3_exec(m_db, "ROLLBACK", nullptr, nullptr, nullptr);
            return r;
        }
    }
    if (sqlite3_exec(m_db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) return sqlError(m_db, "store");
    return {};
}

std::optional<LoginSession> Store::loadSession() const {
    auto hs = get("homeserver");
    auto user = get("user_id");
    auto device = get("device_id");
    auto token = get("access_token");
    if (!hs || !user || !device || !token || token->empty()) return std::nullopt;
    return LoginSession{UserId(*user), DeviceId(*device), *token, *hs};
}

Result<void> Store::clearSession() {
    if (sqlite3_exec(m_db, "DELETE FROM kv", nullptr, nullptr, nullptr) != SQLITE_OK)
        return sqlError(m_db, "store");
    return {};
}

}  // namespace mxrtc::matrix
