#include "mxrtc/olm/pickle_store.hpp"

#include <sqlite3.h>
#include <sys/stat.h>

namespace mxrtc::olm {

namespace {

Error sqlError(sqlite3* db, const std::string& what) {
    return makeError(errcode::kUnknown, what + ": " + (db != nullptr ? sqlite3_errmsg(db) : "out of memory"));
}

struct Statement {
    sqlite3_stmt* st = nullptr;
    ~Statement() { sqlite3_finalize(st); }
};

}  // namespace

std::string_view toString(PickleKind kind) {
    switch (kind) {
        case PickleKind::Account:
            return "account";
        case PickleKind::OlmSession:
            return "olm_session";
        case PickleKind::InboundGroupSession:
            return "inbound_group_session";
        case PickleKind::OutboundGroupSession:
            return "outbound_group_session";
        case PickleKind::Devices:
            return "devices";
    }
    return "unknown";
}

Result<void> MemoryPickleStore::write(const std::vector<PickleWrite>& batch) {
    for (const auto& w : batch) {
        const auto key = std::make_pair(static_cast<int>(w.kind), w.id);
        if (w.value) {
            m_rows[key] = *w.value;
        } else {
            m_rows.erase(key);
        }
    }
    return {};
}

Result<std::vector<PickleRecord>> MemoryPickleStore::load(PickleKind kind) const {
    std::vector<PickleRecord> out;
    for (const auto& [key, value] : m_rows) {
        if (key.first == static_cast<int>(kind)) out.push_back({key.second, value});
    }
    return out;
}

Result<std::unique_ptr<SqlitePickleStore>> SqlitePickleStore::open(const std::string& path) {
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        nullptr) != SQLITE_OK) {
        Error e = sqlError(db, "cannot open the crypto store " + path);
        sqlite3_close(db);
        return e;
    }
    ::chmod(path.c_str(), 0600);
    sqlite3_busy_timeout(db, 5000);
    char* err = nullptr;
    const char* schema =
        "PRAGMA journal_mode=WAL;"
        "CREATE TABLE IF NOT EXISTS olm_pickles (kind TEXT NOT NULL, id TEXT NOT NULL, value TEXT NOT NULL,"
        " PRIMARY KEY (kind, id));";
    if (sqlite3_exec(db, schema, nullptr, nullptr, &err) != SQLITE_OK) {
        std::string msg = err != nullptr ? err : "unknown error";
        sqlite3_free(err);
        sqlite3_close(db);
        return makeError(errcode::kUnknown, "cannot initialise the crypto store " + path + ": " + msg);
    }
    return std::unique_ptr<SqlitePickleStore>(new SqlitePickleStore(db));
}

SqlitePickleStore::~SqlitePickleStore() {
    sqlite3_close(m_db);
}

Result<void> SqlitePickleStore::write(const std::vector<PickleWrite>& batch) {
    if (batch.empty()) return {};
    if (sqlite3_exec(m_db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK)
        return sqlError(m_db, "crypto store");
    auto fail = [&](const std::string& what) {
        Error e = sqlError(m_db, what);
        sqlite3_exec(m_db, "ROLLBACK", nullptr, nullptr, nullptr);
        return e;
    };
    for (const auto& w : batch) {
        Statement s;
        const std::string_view kind = toString(w.kind);
        const char* sql = w.value ? "INSERT INTO olm_pickles(kind, id, value) VALUES(?, ?, ?) "
                                    "ON CONFLICT(kind, id) DO UPDATE SET value = excluded.value"
                                  : "DELETE FROM olm_pickles WHERE kind = ? AND id = ?";
        if (sqlite3_prepare_v2(m_db, sql, -1, &s.st, nullptr) != SQLITE_OK) return fail("crypto store");
        sqlite3_bind_text(s.st, 1, kind.data(), static_cast<int>(kind.size()), SQLITE_TRANSIENT);
        sqlite3_bind_text(s.st, 2, w.id.data(), static_cast<int>(w.id.size()), SQLITE_TRANSIENT);
        if (w.value)
            sqlite3_bind_text(s.st, 3, w.value->data(), static_cast<int>(w.value->size()), SQLITE_TRANSIENT);
        if (sqlite3_step(s.st) != SQLITE_DONE) return fail("crypto store write");
    }
    if (sqlite3_exec(m_db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK)
        return fail("crypto store commit");
    return {};
}

Result<std::vector<PickleRecord>> SqlitePickleStore::load(PickleKind kind) const {
    Statement s;
    if (sqlite3_prepare_v2(m_db, "SELECT id, value FROM olm_pickles WHERE kind = ? ORDER BY id", -1, &s.st,
                           nullptr) != SQLITE_OK)
        return sqlError(m_db, "crypto store");
    const std::string_view k = toString(kind);
    sqlite3_bind_text(s.st, 1, k.data(), static_cast<int>(k.size()), SQLITE_TRANSIENT);
    std::vector<PickleRecord> out;
    int rc = 0;
    while ((rc = sqlite3_step(s.st)) == SQLITE_ROW) {
        const auto* id = reinterpret_cast<const char*>(sqlite3_column_text(s.st, 0));
        const auto* value = reinterpret_cast<const char*>(sqlite3_column_text(s.st, 1));
        out.push_back({id != nullptr ? id : "", value != nullptr ? value : ""});
    }
    if (rc != SQLITE_DONE) return sqlError(m_db, "crypto store read");
    return out;
}

}  // namespace mxrtc::olm
