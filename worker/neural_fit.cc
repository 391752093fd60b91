#include "worker/neural_fit.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace convrnn {
namespace {

constexpr double kTiny = 1e-12;

// The dominant right singular vector of s [F, M] by power iteration on
// s^T s, started from the row of s with the largest norm (deterministic).
torch::Tensor DominantDirection(const torch::Tensor& s) {
  if (s.size(1) == 1) return torch::ones({1}, s.options());
  torch::Tensor q = s[s.norm(2, /*dim=*/1).argmax().item<int64_t>()].clone();
  q /= q.norm().clamp_min(kTiny);
  for (int it = 0; it < 300; ++it) {
    torch::Tensor next = s.t().mv(s.mv(q));
    double norm = next.norm().item<double>();
    if (norm < kTiny) break;
    next /= norm;
    double change = (next - q).abs().max().item<double>();
    q = next;
    if (change < 1e-10) break;
  }
  return q;
}

torch::Tensor RidgePredict(const torch::Tensor& xs, const torch::Tensor& yc,
                           const torch::Tensor& xt, const std::vector<double>& alphas) {
  auto [u, sv, vh] = torch::linalg::svd(xs, /*full_matrices=*/false, /*driver=*/c10::nullopt);
  const int64_t m = yc.size(1);
  torch::Tensor uty = u.t().mm(yc);  // [k, M]
  torch::Tensor s2 = sv.square();
  torch::Tensor u2 = u.square();
  torch::Tensor best_err = torch::full({m}, INFINITY, yc.options());
  torch::Tensor best_alpha = torch::zeros({m}, yc.options());
  for (double alpha : alphas) {
    torch::Tensor d = s2 / (s2 + alpha);                    // [k]
    torch::Tensor fit = u.mm(d.unsqueeze(1) * uty);         // [n, M]
    torch::Tensor h = u2.mv(d).clamp_max(1 - 1e-9);         // leverage [n]
    torch::Tensor loo = (yc - fit) / (1 - h).unsqueeze(1);  // exact LOO residuals
    torch::Tensor err = loo.square().mean(0);               // [M]
    torch::Tensor better = err < best_err;
    best_err = torch::where(better, err, best_err);
    best_alpha = torch::where(better, torch::full_like(best_alpha, alpha), best_alpha);
  }
  // coef[:, j] = V diag(s / (s^2 + alpha_j)) U^T y[:, j]
  torch::Tensor shrink = sv.unsqueeze(1) / (s2.unsqueeze(1) + best_alpha.unsqueeze(0));  // [k, M]
  torch::Tensor coef = vh.t().mm(shrink * uty);
  return xt.mm(coef);
}

}  // namespace

torch::Tensor PlsCoefficients(const torch::Tensor& x, const torch::Tensor& y, int components) {
  const int64_t n = x.size(0), f = x.size(1), m = y.size(1);
  const int a_max = static_cast<int>(std::min<int64_t>({components, n - 1, f}));
  torch::Tensor s = x.t().mm(y);  // [F, M]
  std::vector<torch::Tensor> rs, qs, vs;
  torch::Tensor v_mat;  // [F, a]: orthonormal basis of the loadings so far
  const double x_scale = x.norm().item<double>();
  for (int a = 0; a < a_max; ++a) {
    if (s.abs().max().item<double>() < kTiny * std::max(1.0, x_scale)) break;
    torch::Tensor q = DominantDirection(s);
    torch::Tensor r = s.mv(q);
    torch::Tensor t = x.mv(r);
    t -= t.mean();
    double tn = t.norm().item<double>();
    if (tn < 1e-9 * std::max(1.0, x_scale)) break;
    t /= tn;
    r /= tn;
    torch::Tensor p = x.t().mv(t);
    torch::Tensor qa = y.t().mv(t);
    torch::Tensor v = p.clone();
    if (v_mat.defined()) v -= v_mat.mv(v_mat.t().mv(p));
    double vn = v.norm().item<double>();
    if (vn < kTiny) break;
    v /= vn;
    s -= v.unsqueeze(1) * v.unsqueeze(0).mm(s);
    v_mat = v_mat.defined() ? torch::cat({v_mat, v.unsqueeze(1)}, 1) : v.unsqueeze(1);
    rs.push_back(r);
    qs.push_back(qa);
  }
  if (rs.empty()) return torch::zeros({f, m}, x.options());
  return torch::stack(rs, 1).mm(torch::stack(qs, 1).t());  // R Q^T
}

torch::Tensor FitPredict(const torch::Tensor& x_train, const torch::Tensor& y_train,
                         const torch::Tensor& x_test, const FitOptions& options) {
  torch::Tensor x = x_train.to(torch::kFloat64);
  torch::Tensor xt = x_test.to(torch::kFloat64);
  torch::Tensor y = y_train.to(torch::kFloat64);
  torch::Tensor mean = x.mean(0);
  torch::Tensor sd = x.std(0, /*unbiased=*/false);
  torch::Tensor keep = sd > 1e-8 * std::max(1.0, sd.max().item<double>());
  torch::Tensor y_mean = y.mean(0);
  torch::Tensor yc = y - y_mean;
  if (!keep.any().item<bool>()) return y_mean.unsqueeze(0).expand({xt.size(0), y.size(1)}).clone();
  torch::Tensor idx = keep.nonzero().squeeze(1);
  torch::Tensor xs = (x.index_select(1, idx) - mean.index_select(0, idx)) / sd.index_select(0, idx);
  torch::Tensor xts =
      (xt.index_select(1, idx) - mean.index_select(0, idx)) / sd.index_select(0, idx);
  torch::Tensor pred;
  if (options.method == NeuralMethod::kPls) {
    pred = xts.mm(PlsCoefficients(xs, yc, options.pls_components));
  } else {
    pred = RidgePredict(xs, yc, xts, options.ridge_alphas);
  }
  return pred + y_mean;
}

torch::Tensor CrossValidatedPredictions(const torch::Tensor& x, const torch::Tensor& y,
                                        const std::vector<int>& fold, int folds,
                                        const FitOptions& options) {
  const int64_t n = x.size(0);
  torch::Tensor out = torch::empty({n, y.size(1)}, torch::kFloat64);
  torch::Tensor yd = y.to(torch::kFloat64);
  for (int k = 0; k < folds; ++k) {
    std::vector<int64_t> train, test;
    for (int64_t i = 0; i < n; ++i) (fold[i] == k ? test : train).push_back(i);
    if (test.empty()) continue;
    torch::Tensor tr = torch::tensor(train, torch::kInt64), te = torch::tensor(test, torch::kInt64);
    torch::Tensor y_train = yd.index_select(0, tr);
    torch::Tensor finite = torch::isfinite(y_train);
    if (!finite.all().item<bool>()) {
      torch::Tensor site_mean = torch::where(finite, y_train, torch::zeros_like(y_train)).sum(0) /
                                finite.sum(0).clamp_min(1);
      y_train = torch::where(finite, y_train, site_mean.unsqueeze(0).expand_as(y_train));
    }
    out.index_copy_(0, te,
                    FitPredict(x.index_select(0, tr), y_train, x.index_select(0, te), options));
  }
  return out;
}

torch::Tensor CrossValidatedCorrelation(const torch::Tensor& x, const torch::Tensor& y,
                                        const std::vector<int>& fold, int folds,
                                        const FitOptions& options) {
  torch::Tensor pred = CrossValidatedPredictions(x, y, fold, folds, options);
  torch::Tensor sum = torch::zeros({y.size(1)}, torch::kFloat64);
  torch::Tensor count = torch::zeros({y.size(1)}, torch::kFloat64);
  for (int k = 0; k < folds; ++k) {
    std::vector<int64_t> test;
    for (size_t i = 0; i < fold.size(); ++i) {
      if (fold[i] == k) test.push_back(static_cast<int64_t>(i));
    }
    if (test.empty()) continue;
    torch::Tensor te = torch::tensor(test, torch::kInt64);
    torch::Tensor r = PearsonColumns(pred.index_select(0, te), y.index_select(0, te));
    torch::Tensor ok = torch::isfinite(r);
    sum += torch::where(ok, r, torch::zeros_like(r));
    count += ok.to(torch::kFloat64);
  }
  return torch::where(count > 0, sum / count.clamp_min(1), torch::full_like(sum, NAN));
}

torch::Tensor PearsonColumns(const torch::Tensor& a_in, const torch::Tensor& b_in) {
  torch::Tensor a = a_in.to(torch::kFloat64), b = b_in.to(torch::kFloat64);
  torch::Tensor mask = (torch::isfinite(a) & torch::isfinite(b)).to(torch::kFloat64);
  torch::Tensor count = mask.sum(0);
  torch::Tensor az = torch::where(mask > 0, a, torch::zeros_like(a));
  torch::Tensor bz = torch::where(mask > 0, b, torch::zeros_like(b));
  torch::Tensor ac = (az - az.sum(0) / count.clamp_min(1)) * mask;
  torch::Tensor bc = (bz - bz.sum(0) / count.clamp_min(1)) * mask;
  torch::Tensor va = ac.square().sum(0), vb = bc.square().sum(0);
  torch::Tensor r = (ac * bc).sum(0) / (va * vb).sqrt().clamp_min(1e-300);
  const double scale_a = std::max(1e-300, az.abs().max().item<double>());
  const double scale_b = std::max(1e-300, bz.abs().max().item<double>());
  torch::Tensor a_const = va <= 1e-20 * scale_a * scale_a * count;
  torch::Tensor b_const = vb <= 1e-20 * scale_b * scale_b * count;
  r = torch::where(a_const, torch::zeros_like(r), r);
  r = torch::where(b_const | (count < 3), torch::full_like(r, NAN), r);
  return r;
}

std::vector<int> AssignFolds(int64_t n, int folds, uint64_t seed) {
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(seed ^ 0x6e657572616cULL);
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<int> fold(n);
  for (int64_t i = 0; i < n; ++i) fold[order[i]] = static_cast<int>(i % folds);
  return fold;
}

}  // namespace convrnn
