// Steps of a write transaction that trial leases and score leases share:
// noting that a worker was heard from, and drawing a lease token.
//
// Internal to db/. Thread-safety: as Connection (one thread per connection);
// call them inside SqliteStore's write transactions only.
#ifndef CONVRNN_DB_LEASE_STEPS_H_
#define CONVRNN_DB_LEASE_STEPS_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "db/sqlite_connection.h"

namespace convrnn::db::steps {

// Records that the worker was heard from at `now_us`; NOT_FOUND for an
// unknown id.
absl::Status TouchWorker(Connection& conn, int64_t worker_id, int64_t now_us);

// A lease token never handed out before: trials and scores draw from one
// counter, so a token names one lease of either.
absl::StatusOr<int64_t> NextLeaseToken(Connection& conn);

}  // namespace convrnn::db::steps

#endif  // CONVRNN_DB_LEASE_STEPS_H_
