// What every sampler shares: reading only the newly finished trials, the
// per-call seed, and redrawing proposals that fail spec validation.
//
// A concrete sampler implements Observe (fold one finished trial into its
// statistics), Reset (forget them all) and Propose (one assignment).
//
// Thread-safety: as Sampler.
#ifndef CONVRNN_SEARCH_SAMPLER_BASE_H_
#define CONVRNN_SEARCH_SAMPLER_BASE_H_

#include <memory>

#include "search/sampler.h"

namespace convrnn::search {

class SamplerBase : public Sampler {
 public:
  SamplerBase(std::shared_ptr<const Space> space, const SamplerOptions& options)
      : space_(std::move(space)), options_(options) {}

  absl::StatusOr<Suggestion> Suggest(const History& history) final;

 protected:
  // Called once per finished trial, in order. Failed trials included.
  virtual void Observe(const FinishedTrial& trial) = 0;
  virtual void Reset() = 0;
  // One proposal; called again (same rng, advanced) when it fails validation.
  virtual Assignment Propose(const History& history, Rng& rng) = 0;

  // Losses to minimise for the trial's values (NaN kept as +inf).
  std::vector<double> Losses(const std::vector<double>& values) const;
  size_t observed() const { return observed_; }
  // 0 on a Suggest's first Propose, then 1, 2, ... for each redraw.
  int attempt() const { return attempt_; }

  std::shared_ptr<const Space> space_;
  SamplerOptions options_;

 private:
  absl::Status Sync(const History& history);
  size_t observed_ = 0;
  int attempt_ = 0;
};

// "random": independent draws from the space.
class RandomSampler final : public SamplerBase {
 public:
  using SamplerBase::SamplerBase;

 protected:
  void Observe(const FinishedTrial&) override {}
  void Reset() override {}
  Assignment Propose(const History&, Rng& rng) override { return space_->Sample(rng); }
};

}  // namespace convrnn::search

#endif  // CONVRNN_SEARCH_SAMPLER_BASE_H_
