#include "db/lease_steps.h"

#include "absl/strings/str_cat.h"
#include "db/queries.h"
#include "util/status_macros.h"

namespace convrnn::db::steps {

absl::Status TouchWorker(Connection& conn, int64_t worker_id, int64_t now_us) {
  ASSIGN_OR_RETURN(Stmt touch, conn.Prepare(sql::kTouchWorker));
  RETURN_IF_ERROR(touch.Bind(1, worker_id).Bind(2, now_us).Run());
  if (conn.changes() == 0) {
    return absl::NotFoundError(absl::StrCat("worker ", worker_id, " not found"));
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> NextLeaseToken(Connection& conn) {
  ASSIGN_OR_RETURN(Stmt stmt, conn.Prepare(sql::kNextLeaseToken));
  RETURN_IF_ERROR(stmt.Step().status());
  const int64_t token = stmt.Int64(0);
  RETURN_IF_ERROR(stmt.Run());  // Finish the RETURNING statement.
  return token;
}

}  // namespace convrnn::db::steps
