#include "search/grid_sampler.h"

#include <map>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "util/json_object.h"
#include "util/status_macros.h"

namespace convrnn::search {
namespace {

// Walks the product in grid order; stops once `limit` is passed.
class Enumerator {
 public:
  Enumerator(const Space& space, int64_t limit, std::vector<Assignment>* out)
      : space_(space), limit_(limit), out_(out) {}

  void Run() {
    Assignment a(space_.params().size(), kAbsent);
    Visit(0, a);
  }
  int64_t count() const { return count_; }

 private:
  void Visit(size_t i, Assignment& a) {
    if (count_ > limit_) return;
    if (i == a.size()) {
      ++count_;
      if (out_ != nullptr && count_ <= limit_) out_->push_back(a);
      return;
    }
    if (!space_.IsActive(a, static_cast<int>(i))) {
      a[i] = kAbsent;
      Visit(i + 1, a);
      return;
    }
    const Param& p = space_.params()[i];
    for (int k = 0; k < p.Cardinality(); ++k) {
      a[i] = p.categorical() ? k : p.lo + k * p.step;
      Visit(i + 1, a);
    }
    a[i] = kAbsent;
  }

  const Space& space_;
  const int64_t limit_;
  std::vector<Assignment>* out_;
  int64_t count_ = 0;
};

absl::Status CheckDiscrete(const Space& space) {
  for (const Param& p : space.params()) {
    if (p.categorical() || p.kind == Param::Kind::kInt) continue;
    return PathError(absl::StrCat("space.", p.name),
                     "grid search needs an explicit list of values: write {\"choice\": [...]} "
                     "(or {\"int\": [lo, hi], \"step\": s}) instead of a continuous distribution");
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> Enumerate(const Space& space, int64_t limit, std::vector<Assignment>* out) {
  if (absl::Status s = CheckDiscrete(space); !s.ok()) return s;
  Enumerator e(space, limit, out);
  e.Run();
  if (e.count() > limit) {
    return absl::InvalidArgumentError(
        absl::StrCat("space: the grid has more than ", limit, " combinations"));
  }
  return e.count();
}

}  // namespace

absl::StatusOr<std::vector<Assignment>> GridCombinations(const Space& space, int64_t limit) {
  std::vector<Assignment> grid;
  RETURN_IF_ERROR(Enumerate(space, limit, &grid).status());
  return grid;
}

absl::StatusOr<int64_t> GridSize(const Space& space, int64_t limit) {
  return Enumerate(space, limit, nullptr);
}

absl::StatusOr<Suggestion> GridSampler::Make(size_t index, int64_t round) const {
  const Assignment& a = grid_[index];
  absl::StatusOr<ArchSpec> spec = space_->ToSpec(a);
  if (!spec.ok()) {
    return absl::FailedPreconditionError(absl::StrCat("grid combination ", index + 1, " ",
                                                      space_->ToJson(a).dump(), ": ",
                                                      spec.status().message()));
  }
  spec->train.seed += round;
  Suggestion out{a, ToJson(*spec), {}};
  if (options_.adjust) {
    absl::StatusOr<nlohmann::json> adjusted = options_.adjust(*spec);
    if (!adjusted.ok()) {
      return absl::FailedPreconditionError(absl::StrCat("grid combination ", index + 1, " ",
                                                        space_->ToJson(a).dump(), ": ",
                                                        adjusted.status().message()));
    }
    out.spec = *std::move(adjusted);
  }
  return out;
}

absl::StatusOr<Suggestion> GridSampler::Suggest(const History& history) {
  if (grid_.empty()) return absl::FailedPreconditionError("the grid is empty");
  std::map<std::string, int64_t> seen;
  auto count = [&](const Assignment& a) { ++seen[space_->ToJson(a).dump()]; };
  for (const FinishedTrial& t : history.finished()) count(t.assignment);
  for (const auto& [id, a] : history.pending()) count(a);
  size_t best = 0;
  int64_t best_count = -1;
  for (size_t i = 0; i < grid_.size(); ++i) {
    auto it = seen.find(space_->ToJson(grid_[i]).dump());
    const int64_t c = it == seen.end() ? 0 : it->second;
    if (best_count < 0 || c < best_count) {
      best = i;
      best_count = c;
      if (c == 0) break;
    }
  }
  return Make(best, best_count);
}

}  // namespace convrnn::search
