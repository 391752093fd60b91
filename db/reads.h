// Read queries on any Connection, shared by SqliteStore's read pool (plain
// reads) and its writer (reads inside a write transaction).
//
// Internal to db/. Thread-safety: as Connection (one thread per connection).
#ifndef CONVRNN_DB_READS_H_
#define CONVRNN_DB_READS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "db/sqlite_connection.h"
#include "db/store.h"
#include "util/status_macros.h"

namespace convrnn::db::reads {

// Steps `stmt` to the end, decoding each row with `read` (returning a T or
// an absl::StatusOr<T>).
template <typename T, typename ReadRow>
absl::StatusOr<std::vector<T>> ReadAll(Stmt& stmt, ReadRow read) {
  std::vector<T> out;
  while (true) {
    ASSIGN_OR_RETURN(bool has_row, stmt.Step());
    if (!has_row) return out;
    if constexpr (std::is_same_v<decltype(read(stmt)), T>) {
      out.push_back(read(stmt));
    } else {
      ASSIGN_OR_RETURN(T item, read(stmt));
      out.push_back(std::move(item));
    }
  }
}

// NOT_FOUND naming the id when absent.
absl::StatusOr<Campaign> GetCampaign(Connection& conn, int64_t campaign_id);
absl::StatusOr<std::optional<Campaign>> CampaignByRequest(Connection& conn,
                                                          absl::string_view request_id);
absl::StatusOr<std::vector<Campaign>> ListCampaigns(Connection& conn, int64_t before_id, int limit);
absl::StatusOr<Trial> GetTrial(Connection& conn, int64_t trial_id);
// The trial holding (or last ended by) `lease_token`; nullopt when none.
absl::StatusOr<std::optional<Trial>> TrialByLease(Connection& conn, int64_t lease_token);
absl::StatusOr<std::vector<Trial>> ListTrials(Connection& conn, const TrialQuery& query);
absl::StatusOr<TrialCounts> CountTrials(Connection& conn, int64_t campaign_id);
absl::StatusOr<std::vector<Trial>> TopTrials(Connection& conn, int64_t campaign_id,
                                             absl::string_view metric, bool maximize, int k);
absl::StatusOr<std::vector<EpochReport>> ListEpochs(Connection& conn, int64_t trial_id);
absl::StatusOr<Worker> GetWorker(Connection& conn, int64_t worker_id);
absl::StatusOr<std::vector<Worker>> ListWorkers(Connection& conn, int64_t seen_since_us);
absl::StatusOr<std::vector<Event>> ListEvents(Connection& conn, int64_t campaign_id,
                                              int64_t after_id, int limit);
// The first column of every row `sql` returns with `now_us` bound to ?1
// (the ids of leases that expired by then).
absl::StatusOr<std::vector<int64_t>> ExpiredIds(Connection& conn, const std::string& sql,
                                                int64_t now_us);

}  // namespace convrnn::db::reads

#endif  // CONVRNN_DB_READS_H_
