// Each cell type on a one-channel, 1x1-kernel case with weights set by hand,
// against the value computed from its equation (DESIGN.md §3).
#include "tests/torch_catch.h"

#include "worker/model/cells.h"

#include <cmath>

namespace convrnn {
namespace {

double Sig(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double Elu(double x) { return x > 0 ? x : std::exp(x) - 1.0; }

torch::Tensor Scalar(double v) { return torch::full({1, 1, 1, 1}, v); }
double Value(const torch::Tensor& t) { return t.item<double>(); }

// Sets a conv's weight (flattened [out, in]) and bias by hand.
void Set(torch::nn::Conv2d& conv, std::vector<float> weight, std::vector<float> bias = {}) {
  torch::NoGradGuard no_grad;
  conv->weight.copy_(torch::tensor(weight).view(conv->weight.sizes()));
  if (!bias.empty()) conv->bias.copy_(torch::tensor(bias));
}

CellSpec Spec(CellType type) {
  CellSpec s;
  s.type = type;
  s.recurrent_kernel = 1;
  s.ic_kernel = s.io_kernel = s.tau_kernel = s.gate_kernel = 1;
  return s;
}

CellState Run(RecurrentCellImpl& cell, double u, const CellState& prev, double out_fb = 0) {
  CellInput in;
  in.u = Scalar(u);
  if (out_fb != 0) in.out_feedback = Scalar(out_fb);
  torch::NoGradGuard no_grad;
  return cell.Step(in, prev);
}

TEST_CASE("feedforward and time_decay cells follow their equations", "[model][cells]") {
  CellSpec s = Spec(CellType::kFeedforward);
  FeedforwardCellImpl ff(s);
  CHECK(Value(Run(ff, -0.5, {}).y) == Approx(0.0));
  CHECK(Value(Run(ff, 0.7, {}).y) == Approx(0.7));
  // Feedback entering at the output is added to what the layer emits.
  CHECK(Value(Run(ff, 0.7, {}, /*out_fb=*/0.25).y) == Approx(0.95));

  CellSpec d = Spec(CellType::kTimeDecay);
  d.decay_init = 0.5;
  TimeDecayCellImpl decay(d);
  CellState s1 = Run(decay, 1.0, {});
  CHECK(Value(s1.y) == Approx(1.0));
  CellState s2 = Run(decay, 0.2, s1);
  CHECK(Value(s2.y) == Approx(0.2 + 0.5 * 1.0));
}

TEST_CASE("simple_rnn: h = act(u + W_hh h)", "[model][cells]") {
  CellSpec s = Spec(CellType::kSimpleRnn);
  s.activation = Activation::kTanh;
  SimpleRnnCellImpl cell(s, 1);
  Set(cell.w_hh, {0.5});
  CellState s1 = Run(cell, 0.3, {});
  CHECK(Value(s1.y) == Approx(std::tanh(0.3)));
  CellState s2 = Run(cell, -0.4, s1);
  CHECK(Value(s2.y) == Approx(std::tanh(-0.4 + 0.5 * std::tanh(0.3))));
}

TEST_CASE("gru: z, r gates and candidate", "[model][cells]") {
  GruCellImpl cell(Spec(CellType::kGru), 1);
  // rows: z, r; columns: u, h
  Set(cell.gates, {0.3, -0.6, 0.8, 0.4}, {0.1, -0.2});
  Set(cell.candidate, {0.9});
  const double u1 = 0.5, u2 = -0.3;
  double z = Sig(0.3 * u1 + 0.1);
  double h1 = (1 - z) * std::tanh(u1);
  CellState s1 = Run(cell, u1, {});
  CHECK(Value(s1.y) == Approx(h1));
  z = Sig(0.3 * u2 - 0.6 * h1 + 0.1);
  double r = Sig(0.8 * u2 + 0.4 * h1 - 0.2);
  double h2 = z * h1 + (1 - z) * std::tanh(u2 + 0.9 * r * h1);
  CHECK(Value(Run(cell, u2, s1).y) == Approx(h2));
}

TEST_CASE("lstm: i, f, o gates with forget bias", "[model][cells]") {
  CellSpec s = Spec(CellType::kLstm);
  s.forget_bias = 1.0;
  LstmCellImpl cell(s, 1);
  // rows: input, forget, output, candidate; columns: u, h
  Set(cell.gates, {0.2, 0.1, -0.3, 0.5, 0.7, -0.4, 1.1, 0.6}, {0.05, -0.1, 0.2, 0.0});
  const double u1 = 0.8, u2 = -0.5;
  double i = Sig(0.2 * u1 + 0.05), o = Sig(0.7 * u1 + 0.2), g = std::tanh(1.1 * u1);
  double c1 = i * g, h1 = o * std::tanh(c1);
  CellState s1 = Run(cell, u1, {});
  CHECK(Value(s1.c) == Approx(c1));
  CHECK(Value(s1.y) == Approx(h1));
  i = Sig(0.2 * u2 + 0.1 * h1 + 0.05);
  double f = Sig(-0.3 * u2 + 0.5 * h1 - 0.1 + 1.0);
  o = Sig(0.7 * u2 - 0.4 * h1 + 0.2);
  g = std::tanh(1.1 * u2 + 0.6 * h1);
  double c2 = f * c1 + i * g;
  CHECK(Value(Run(cell, u2, s1).y) == Approx(o * std::tanh(c2)));
}

TEST_CASE("ugrnn: g = sigmoid(W_g [u,h] + b), h = g h + (1-g) tanh(W_c [u,h])", "[model][cells]") {
  CellSpec s = Spec(CellType::kUgrnn);
  s.forget_bias = 0.5;
  UgrnnCellImpl cell(s, 1);
  Set(cell.gates, {0.4, -0.2, 0.9, 0.3}, {0.1, -0.05});
  const double u1 = 0.6, u2 = 0.1;
  double g = Sig(0.4 * u1 + 0.1 + 0.5);
  double h1 = (1 - g) * std::tanh(0.9 * u1 - 0.05);
  CellState s1 = Run(cell, u1, {});
  CHECK(Value(s1.y) == Approx(h1));
  g = Sig(0.4 * u2 - 0.2 * h1 + 0.1 + 0.5);
  double h2 = g * h1 + (1 - g) * std::tanh(0.9 * u2 + 0.3 * h1 - 0.05);
  CHECK(Value(Run(cell, u2, s1).y) == Approx(h2));
}

TEST_CASE("intersection: state gate and output gate", "[model][cells]") {
  CellSpec s = Spec(CellType::kIntersection);
  s.forget_bias = 1.0;
  IntersectionCellImpl cell(s, 1);
  // rows: state gate, output gate, state candidate, output candidate
  Set(cell.gates, {0.3, 0.2, -0.5, 0.4, 0.8, -0.6, 1.2, 0.7}, {0.0, 0.1, -0.1, 0.2});
  const double u1 = 0.9, u2 = -0.4;
  double gh = Sig(0.3 * u1 + 1.0), gy = Sig(-0.5 * u1 + 0.1);
  double h1 = (1 - gh) * std::tanh(0.8 * u1 - 0.1);
  double y1 = gy * u1 + (1 - gy) * std::max(0.0, 1.2 * u1 + 0.2);
  CellState s1 = Run(cell, u1, {});
  CHECK(Value(s1.h) == Approx(h1));
  CHECK(Value(s1.y) == Approx(y1));
  gh = Sig(0.3 * u2 + 0.2 * h1 + 1.0);
  gy = Sig(-0.5 * u2 + 0.4 * h1 + 0.1);
  double h2 = gh * h1 + (1 - gh) * std::tanh(0.8 * u2 - 0.6 * h1 - 0.1);
  double y2 = gy * u2 + (1 - gy) * std::max(0.0, 1.2 * u2 + 0.7 * h1 + 0.2);
  CellState s2 = Run(cell, u2, s1);
  CHECK(Value(s2.h) == Approx(h2));
  CHECK(Value(s2.y) == Approx(y2));
}

struct RgcWeights {
  double a_ic = 0.7, b_ic = 0.1, a_io = -0.4, b_io = 0.05;
  double w_cc = 0.6, b_cc = -0.2, w_hh = -0.3, b_hh = 0.3;
  double w_hc = 0.5, b_hc = 0.2, w_ch = -0.8, b_ch = -0.1;
};

void SetRgc(RgcCellImpl& cell, const RgcWeights& w) {
  Set(cell.input_to_cell->conv, {float(w.a_ic)}, {float(w.b_ic)});
  Set(cell.input_to_out->conv, {float(w.a_io)}, {float(w.b_io)});
  Set(cell.w_cc->conv, {float(w.w_cc)}, {float(w.b_cc)});
  Set(cell.w_hh->conv, {float(w.w_hh)}, {float(w.b_hh)});
  Set(cell.w_hc->conv, {float(w.w_hc)}, {float(w.b_hc)});
  Set(cell.w_ch->conv, {float(w.w_ch)}, {float(w.b_ch)});
}

TEST_CASE("rgc: reciprocal gating, as written in DESIGN.md", "[model][cells]") {
  // Two parameterisations: the defaults (1 - sigmoid, ELU) and the released
  // "median" cell's offsets and multipliers with tanh squashing and ReLU.
  struct Case {
    Squash squash;
    double tau_o, tau_k, g_o, g_k;
    Activation act;
  };
  for (const Case& k : {Case{Squash::kSigmoid, 1.0, -1.0, 1.0, -1.0, Activation::kElu},
                        Case{Squash::kTanh, 0.922, -0.922, 0.701, -0.701, Activation::kRelu}}) {
    CellSpec s = Spec(CellType::kRgc);
    s.tau_nonlinearity = s.gate_nonlinearity = k.squash;
    s.tau_offset = k.tau_o;
    s.tau_multiplier = k.tau_k;
    s.gate_offset = k.g_o;
    s.gate_multiplier = k.g_k;
    s.cell_activation = s.out_activation = k.act;
    s.out_residual = true;
    RgcCellImpl cell(s, 1, 1);
    RgcWeights w;
    SetRgc(cell, w);
    auto sq = [&](double x) { return k.squash == Squash::kSigmoid ? Sig(x) : std::tanh(x); };
    auto f = [&](double x) { return k.act == Activation::kElu ? Elu(x) : std::max(0.0, x); };

    const double u1 = 0.8, u2 = 1.3;
    double xc = w.a_ic * u1 + w.b_ic, xh = w.a_io * u1 + w.b_io + u1;
    double c1 = f((k.g_o + k.g_k * sq(w.b_hc)) * xc);
    double h1 = f((k.g_o + k.g_k * sq(w.b_ch)) * xh);
    CellState s1 = Run(cell, u1, {});
    CHECK(Value(s1.c) == Approx(c1));
    CHECK(Value(s1.y) == Approx(h1));

    xc = w.a_ic * u2 + w.b_ic;
    xh = w.a_io * u2 + w.b_io + u2;
    double c2 = f((k.tau_o + k.tau_k * sq(w.w_cc * c1 + w.b_cc)) * c1 +
                  (k.g_o + k.g_k * sq(w.w_hc * h1 + w.b_hc)) * xc);
    double h2 = f((k.tau_o + k.tau_k * sq(w.w_hh * h1 + w.b_hh)) * h1 +
                  (k.g_o + k.g_k * sq(w.w_ch * c1 + w.b_ch)) * xh);
    CellState s2 = Run(cell, u2, s1);
    CHECK(Value(s2.c) == Approx(c2));
    CHECK(Value(s2.y) == Approx(h2));
  }
}

TEST_CASE("rgc: cell_to_out and knob biases take effect", "[model][cells]") {
  CellSpec s = Spec(CellType::kRgc);
  s.cell_to_out = true;
  s.tau_bias = 2.5;
  s.gate_bias = -1.5;
  RgcCellImpl cell(s, 1, 1);
  CHECK(cell.w_cc->conv->bias.item<double>() == Approx(2.5));
  CHECK(cell.w_ch->conv->bias.item<double>() == Approx(-1.5));
  RgcWeights w;
  SetRgc(cell, w);
  Set(cell.cell_to_out, {0.4});
  const double u = 0.5;
  double xc = w.a_ic * u + w.b_ic, xh = w.a_io * u + w.b_io + u;
  double c1 = Elu((1 - Sig(w.b_hc)) * xc);
  double h1 = Elu((1 - Sig(w.b_ch)) * xh + 0.4 * c1);
  CHECK(Value(Run(cell, u, {}).y) == Approx(h1));
}

TEST_CASE("bypass: an RGC in its zero state passes its input through", "[model][cells]") {
  CellSpec s;
  s.type = CellType::kRgc;
  s.out_residual = true;
  s.gate_nonlinearity = Squash::kTanh;  // zero-state gate = g_o + g_k tanh(0) = 1
  s.out_activation = Activation::kRelu;
  s.gate_separable = s.tau_separable = true;
  s.gate_kernel = s.tau_kernel = 7;
  RgcCellImpl cell(s, 4, 6);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : cell.parameters()) p.zero_();  // recurrent and input convs all zero
  }
  torch::manual_seed(3);
  torch::Tensor u = torch::rand({2, 4, 5, 5});  // non-negative drive
  CellInput in;
  in.u = u;
  CellState out = cell.Step(in, {});
  CHECK(torch::allclose(out.y, u));

  // Without the residual the same zeroed cell emits nothing: the bypass is the residual.
  s.out_residual = false;
  RgcCellImpl closed(s, 4, 6);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : closed.parameters()) p.zero_();
  }
  CHECK(closed.Step(in, {}).y.abs().max().item<double>() == 0.0);

  // simple_rnn with W_hh = 0 also passes its input: act(u) = u for u >= 0.
  CellSpec r;
  r.type = CellType::kSimpleRnn;
  SimpleRnnCellImpl rnn(r, 4);
  {
    torch::NoGradGuard no_grad;
    rnn.w_hh->weight.zero_();
  }
  CellState first = rnn.Step(in, {});
  CHECK(torch::allclose(rnn.Step(in, first).y, u));
}

TEST_CASE("gating: an LSTM's output is bounded by its output gate", "[model][cells]") {
  CellSpec s;
  s.type = CellType::kLstm;
  torch::manual_seed(5);
  LstmCellImpl cell(s, 3);
  CellInput in;
  in.u = 20 * torch::randn({2, 3, 6, 6});  // large drive saturates tanh(c)
  CellState prev;
  for (int t = 0; t < 3; ++t) {
    torch::Tensor h_prev = prev.h;
    CellState next = cell.Step(in, prev);
    torch::Tensor pre = h_prev.defined()
                            ? cell.gates->forward(torch::cat({in.u, h_prev}, 1))
                            : cell.gates->forward(torch::cat({in.u, torch::zeros_like(in.u)}, 1));
    torch::Tensor gate = torch::sigmoid(pre.chunk(4, 1)[2]);
    CHECK((next.y.abs() <= gate + 1e-6).all().item<bool>());
    CHECK((gate >= 0).all().item<bool>());
    CHECK((gate <= 1).all().item<bool>());
    prev = next;
  }
  // Closing the output gate (large negative bias) silences the cell.
  {
    torch::NoGradGuard no_grad;
    cell.gates->bias.narrow(0, 6, 3).fill_(-40.0);
    cell.gates->weight.narrow(0, 6, 3).zero_();
  }
  CHECK(cell.Step(in, {}).y.abs().max().item<double>() < 1e-12);
}

}  // namespace
}  // namespace convrnn
