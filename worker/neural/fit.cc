#include "worker/neural/fit.h"

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

// a @ b for float64 operands, the rows of the result split over LibTorch's
// intra-op threads. Debian's LibTorch multiplies through the generic
// reference BLAS, which runs on one thread (~2 GFLOP/s); each block is its
// own BLAS call and every element is computed by the same loop whatever the
// split, so results do not depend on the thread count.
torch::Tensor Mm(const torch::Tensor& a_in, const torch::Tensor& b_in) {
  torch::Tensor a = a_in.contiguous(), b = b_in.contiguous();
  const int64_t rows = a.size(0);
  torch::Tensor out = torch::empty({rows, b.size(1)}, a.options());
  const int64_t threads = std::max<int64_t>(1, at::get_num_threads());
  const int64_t grain = std::max<int64_t>(16, (rows + threads - 1) / threads);
  at::parallel_for(0, rows, grain, [&](int64_t begin, int64_t end) {
    torch::Tensor block = out.slice(0, begin, end);
    torch::mm_out(block, a.slice(0, begin, end), b);
  });
  return out;
}

// a @ b in float32 through oneDNN where LibTorch has it: its inner product
// uses every intra-op thread at about ten times the reference BLAS's speed.
torch::Tensor MmFloat(const torch::Tensor& a_in, const torch::Tensor& b_in) {
  torch::Tensor a = a_in.to(torch::kFloat32).contiguous();
  torch::Tensor b = b_in.to(torch::kFloat32);
  if (!at::hasMKLDNN()) return a.mm(b);
  return at::mkldnn_linear(a.to_mkldnn(), b.t().contiguous().to_mkldnn()).to_dense();
}

// Ridge fits of centred y [n, M] on standardised x [n, p] in the eigenbasis
// of the smaller Gram matrix. With z = U S from the thin SVD x = U S V^T and
// lambda = S^2, the hat matrix is H(alpha) = z diag(1 / (lambda + alpha)) z^T.
// p <= n: x^T x = V diag(lambda) V^T, z = x V. p > n: x x^T = W diag(lambda)
// W^T, z = W diag(sqrt(lambda)). One eigendecomposition per fold serves every
// penalty and every site.
struct RidgeBasis {
  torch::Tensor z;         // [n, k]
  torch::Tensor lambda;    // [k], >= 0
  torch::Tensor zty;       // [k, M]: z^T y
  torch::Tensor test_map;  // [m, k]: x_test V (p <= n) or x_test x^T W (p > n)
  torch::Tensor test_y;    // [k, M]: with test_map, predictions are
                           // test_map diag(1 / (lambda + alpha)) test_y
};

RidgeBasis MakeRidgeBasis(const torch::Tensor& xs, const torch::Tensor& yc,
                          const torch::Tensor& xt) {
  RidgeBasis basis;
  if (xs.size(1) <= xs.size(0)) {
    auto [evals, v] = torch::linalg_eigh(Mm(xs.t(), xs), "L");
    basis.lambda = evals.clamp_min(0);
    basis.z = Mm(xs, v);
    basis.zty = Mm(basis.z.t(), yc);
    basis.test_map = Mm(xt, v);
    basis.test_y = basis.zty;
  } else {
    auto [evals, w] = torch::linalg_eigh(Mm(xs, xs.t()), "L");
    basis.lambda = evals.clamp_min(0);
    basis.z = w * basis.lambda.sqrt().unsqueeze(0);
    basis.test_y = Mm(w.t(), yc);
    basis.zty = basis.test_y * basis.lambda.sqrt().unsqueeze(1);
    basis.test_map = Mm(Mm(xt, xs.t()), w);
  }
  return basis;
}

// Mean squared leave-one-out residual [A, M] of every penalty (columns of
// g = 1 / (lambda + alpha), [k, A]) and site: the residual of the fit on all
// n rows divided by 1 - leverage (h, [n, A]). In float32 (oneDNN) when
// `fast`, else float64. Penalties are taken in blocks to bound memory.
torch::Tensor LooErrors(const RidgeBasis& basis, const torch::Tensor& yc, const torch::Tensor& g,
                        const torch::Tensor& h, bool fast) {
  const int64_t n = yc.size(0), m = yc.size(1), k = g.size(0), num_alphas = g.size(1);
  const torch::ScalarType type = fast ? torch::kFloat32 : torch::kFloat64;
  torch::Tensor z = basis.z.to(type), y = yc.to(type);
  torch::Tensor inv_1mh = (1 - h).reciprocal().to(type);  // [n, A]
  const int64_t block = std::max<int64_t>(1, (int64_t{1} << 24) / std::max<int64_t>(1, n * m));
  std::vector<torch::Tensor> errors;
  for (int64_t a0 = 0; a0 < num_alphas; a0 += block) {
    const int64_t a1 = std::min(num_alphas, a0 + block);
    torch::Tensor coef = (g.slice(1, a0, a1).unsqueeze(2) * basis.zty.unsqueeze(1))
                             .reshape({k, (a1 - a0) * m});  // [k, A' M]
    torch::Tensor fit = (fast ? MmFloat(z, coef) : Mm(z, coef)).view({n, a1 - a0, m});
    torch::Tensor loo = (y.unsqueeze(1) - fit) * inv_1mh.slice(1, a0, a1).unsqueeze(2);
    errors.push_back(loo.square_().mean(0).to(torch::kFloat64));  // [A', M]
  }
  return torch::cat(errors, 0);
}

// Relative gap under which two penalties' float32 leave-one-out errors are
// re-ranked in float64. On the neural benchmark (bench/neural) float32
// moved no error by more than 3e-7 of its size, and 1.6% of sites fell
// within this margin; every site chose the penalty float64 chooses.
constexpr double kTieMargin = 1e-4;

torch::Tensor RidgePredict(const torch::Tensor& xs, const torch::Tensor& yc,
                           const torch::Tensor& xt, const std::vector<double>& alphas) {
  const int64_t m = yc.size(1);
  RidgeBasis basis = MakeRidgeBasis(xs, yc, xt);
  torch::Tensor alpha = torch::tensor(alphas, torch::kFloat64);
  torch::Tensor g = (basis.lambda.unsqueeze(1) + alpha.unsqueeze(0)).reciprocal();  // [k, A]
  torch::Tensor h = Mm(basis.z.square(), g).clamp_max(1 - 1e-9);  // leverage [n, A]
  torch::Tensor err = LooErrors(basis, yc, g, h, /*fast=*/true);  // [A, M]
  if (alphas.size() > 1) {
    torch::Tensor sorted = std::get<0>(err.sort(/*dim=*/0));
    torch::Tensor gap = sorted[1] - sorted[0];
    torch::Tensor close =
        (gap <= kTieMargin * sorted[0].abs()).logical_or(gap.isfinite().logical_not());
    torch::Tensor idx = close.nonzero().squeeze(1);
    if (idx.numel() > 0) {
      RidgeBasis sub = basis;
      sub.zty = basis.zty.index_select(1, idx);
      err.index_copy_(1, idx, LooErrors(sub, yc.index_select(1, idx), g, h, /*fast=*/false));
    }
  }
  torch::Tensor best_err = torch::full({m}, INFINITY, yc.options());
  torch::Tensor best_alpha = torch::zeros({m}, yc.options());
  for (size_t a = 0; a < alphas.size(); ++a) {
    torch::Tensor better = err[a] < best_err;
    best_err = torch::where(better, err[a], best_err);
    best_alpha = torch::where(better, torch::full_like(best_alpha, alphas[a]), best_alpha);
  }
  // Per site j: test_map diag(1 / (lambda + alpha_j)) test_y[:, j].
  torch::Tensor shrink = (basis.lambda.unsqueeze(1) + best_alpha.unsqueeze(0)).reciprocal();
  return Mm(basis.test_map, shrink * basis.test_y);
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
