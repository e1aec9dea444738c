// Where the Olm machine keeps its state between runs: the account, Olm sessions, Megolm sessions
// (all as libolm pickles, encrypted by libolm with the user's pickle key) and the device list
// learnt from /keys/query. A write batch is applied atomically.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mxrtc/common/result.hpp"

struct sqlite3;

namespace mxrtc::olm {

enum class PickleKind { Account, OlmSession, InboundGroupSession, OutboundGroupSession, Devices };
std::string_view toString(PickleKind kind);

struct PickleWrite {
    PickleKind kind;
    std::string id;
    std::optional<std::string> value;  // nullopt = delete
};

struct PickleRecord {
    std::string id;
    std::string value;
};

class PickleStore {
  public:
    virtual ~PickleStore() = default;
    virtual Result<void> write(const std::vector<PickleWrite>& batch) = 0;
    virtual Result<std::vector<PickleRecord>> load(PickleKind kind) const = 0;
};

// In memory (tests, and callers that do not persist).
class MemoryPickleStore final : public PickleStore {
  public:
    Result<void> write(const std::vector<PickleWrite>& batch) override;
    Result<std::vector<PickleRecord>> load(PickleKind kind) const override;
    std::size_t size() const { return m_rows.size(); }

  private:
    std::map<std::pair<int, std::string>, std::string> m_rows;
};

// Table `olm_pickles(kind, id, value)` in the profile's SQLite database (the same file as
// matrix::Store; its own connection, WAL mode, so both can be open at once).
class SqlitePickleStore final : public PickleStore {
  public:
    static Result<std::unique_ptr<SqlitePickleStore>> open(const std::string& path);
    ~SqlitePickleStore() override;
    SqlitePickleStore(const SqlitePickleStore&) = delete;
    SqlitePickleStore& operator=(const SqlitePickleStore&) = delete;

    Result<void> write(const std::vector<PickleWrite>& batch) override;
    Result<std::vector<PickleRecord>> load(PickleKind kind) const override;

  private:
    explicit SqlitePickleStore(sqlite3* db) : m_db(db) {}
    sqlite3* m_db;
};

}  // namespace mxrtc::olm
