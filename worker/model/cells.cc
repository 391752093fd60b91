#include "worker/model/cells.h"

#include <torch/torch.h>

namespace convrnn {

namespace F = torch::nn::functional;

torch::Tensor Activate(Activation a, const torch::Tensor& x) {
  switch (a) {
    case Activation::kRelu:
      return torch::relu(x);
    case Activation::kElu:
      return torch::elu(x);
    case Activation::kTanh:
      return torch::tanh(x);
  }
  return x;
}

torch::Tensor ApplySquash(Squash s, const torch::Tensor& x) {
  return s == Squash::kSigmoid ? torch::sigmoid(x) : torch::tanh(x);
}

torch::Tensor AddMaybe(const torch::Tensor& a, const torch::Tensor& b) {
  if (!a.defined()) return b;
  if (!b.defined()) return a;
  return a + b;
}

namespace {

torch::nn::Conv2dOptions SameConv(int64_t in, int64_t out, int64_t kernel) {
  return torch::nn::Conv2dOptions(in, out, kernel).padding(kernel / 2);
}

}  // namespace

SpatialConvImpl::SpatialConvImpl(const SpatialConvOptions& options_) : options(options_) {
  if (options.separable() && options.kernel() > 1) {
    depthwise = register_module(
        "depthwise", torch::nn::Conv2d(SameConv(options.in(), options.in(), options.kernel())
                                           .groups(options.in())
                                           .bias(false)));
    conv = register_module(
        "conv", torch::nn::Conv2d(
                    SameConv(options.in(), options.out(), /*kernel=*/1).bias(options.bias())));
  } else {
    conv = register_module(
        "conv", torch::nn::Conv2d(
                    SameConv(options.in(), options.out(), options.kernel()).bias(options.bias())));
  }
}

torch::Tensor SpatialConvImpl::forward(const torch::Tensor& x) {
  return depthwise ? conv->forward(depthwise->forward(x)) : conv->forward(x);
}

torch::Tensor SpatialConvImpl::ZeroResponse() const {
  if (!options.bias()) return {};
  return conv->bias.view({1, -1, 1, 1});
}

// --- feedforward, time_decay, simple_rnn -----------------------------------

CellState FeedforwardCellImpl::Step(const CellInput& in, const CellState& /*prev*/) {
  CellState next;
  next.h = Activate(spec_.activation, AddMaybe(in.u, in.cell_feedback));
  next.y = AddMaybe(next.h, in.out_feedback);
  return next;
}

TimeDecayCellImpl::TimeDecayCellImpl(const CellSpec& spec) : spec_(spec) {
  decay = register_parameter("decay", torch::full({1}, spec.decay_init));
}

CellState TimeDecayCellImpl::Step(const CellInput& in, const CellState& prev) {
  torch::Tensor drive = AddMaybe(in.u, in.cell_feedback);
  if (prev.h.defined()) drive = drive + decay * prev.h;
  CellState next;
  next.h = Activate(spec_.activation, drive);
  next.y = AddMaybe(next.h, in.out_feedback);
  return next;
}

SimpleRnnCellImpl::SimpleRnnCellImpl(const CellSpec& spec, int64_t channels) : spec_(spec) {
  w_hh = register_module(
      "w_hh", torch::nn::Conv2d(SameConv(channels, channels, spec.recurrent_kernel).bias(false)));
}

CellState SimpleRnnCellImpl::Step(const CellInput& in, const CellState& prev) {
  torch::Tensor drive = AddMaybe(in.u, in.cell_feedback);
  if (prev.h.defined()) drive = drive + w_hh->forward(prev.h);
  CellState next;
  next.h = Activate(spec_.activation, drive);
  next.y = AddMaybe(next.h, in.out_feedback);
  return next;
}

// --- gated cells -----------------------------------------------------------

GatedCellImpl::GatedCellImpl(const CellSpec& spec, int64_t channels, int64_t gates_count)
    : spec_(spec), channels_(channels) {
  gates = register_module("gates", torch::nn::Conv2d(SameConv(2 * channels, gates_count * channels,
                                                              spec.recurrent_kernel)));
}

torch::Tensor GatedCellImpl::Gates(const torch::Tensor& u, const torch::Tensor& h) {
  if (h.defined()) return gates->forward(torch::cat({u, h}, /*dim=*/1));
  // Zero state: only the weights that read u matter.
  return F::conv2d(u, gates->weight.narrow(/*dim=*/1, /*start=*/0, channels_),
                   F::Conv2dFuncOptions().bias(gates->bias).padding(spec_.recurrent_kernel / 2));
}

GruCellImpl::GruCellImpl(const CellSpec& spec, int64_t channels)
    : GatedCellImpl(spec, channels, /*gates=*/2) {
  candidate = register_module(
      "candidate",
      torch::nn::Conv2d(SameConv(channels, channels, spec.recurrent_kernel).bias(false)));
}

CellState GruCellImpl::Step(const CellInput& in, const CellState& prev) {
  torch::Tensor u = AddMaybe(in.u, in.cell_feedback);
  std::vector<torch::Tensor> g = Gates(u, prev.h).chunk(2, /*dim=*/1);
  torch::Tensor z = torch::sigmoid(g[0]);
  CellState next;
  if (prev.h.defined()) {
    torch::Tensor r = torch::sigmoid(g[1]);
    torch::Tensor cand = torch::tanh(u + candidate->forward(r * prev.h));
    next.h = z * prev.h + (1 - z) * cand;
  } else {
    next.h = (1 - z) * torch::tanh(u);
  }
  next.y = AddMaybe(next.h, in.out_feedback);
  return next;
}

LstmCellImpl::LstmCellImpl(const CellSpec& spec, int64_t channels)
    : GatedCellImpl(spec, channels, /*gates=*/4) {}

CellState LstmCellImpl::Step(const CellInput& in, const CellState& prev) {
  torch::Tensor u = AddMaybe(in.u, in.cell_feedback);
  std::vector<torch::Tensor> g = Gates(u, prev.h).chunk(4, /*dim=*/1);
  torch::Tensor input_gate = torch::sigmoid(g[0]);
  torch::Tensor output_gate = torch::sigmoid(g[2]);
  CellState next;
  next.c = input_gate * torch::tanh(g[3]);
  if (prev.c.defined()) next.c = next.c + torch::sigmoid(g[1] + spec_.forget_bias) * prev.c;
  next.h = output_gate * torch::tanh(next.c);
  next.y = AddMaybe(next.h, in.out_feedback);
  return next;
}

UgrnnCellImpl::UgrnnCellImpl(const CellSpec& spec, int64_t channels)
    : GatedCellImpl(spec, channels, /*gates=*/2) {}

CellState UgrnnCellImpl::Step(const CellInput& in, const CellState& prev) {
  torch::Tensor u = AddMaybe(in.u, in.cell_feedback);
  std::vector<torch::Tensor> g = Gates(u, prev.h).chunk(2, /*dim=*/1);
  torch::Tensor update = torch::sigmoid(g[0] + spec_.forget_bias);
  CellState next;
  next.h = (1 - update) * torch::tanh(g[1]);
  if (prev.h.defined()) next.h = next.h + update * prev.h;
  next.y = AddMaybe(next.h, in.out_feedback);
  return next;
}

IntersectionCellImpl::IntersectionCellImpl(const CellSpec& spec, int64_t channels)
    : GatedCellImpl(spec, channels, /*gates=*/4) {}

CellState IntersectionCellImpl::Step(const CellInput& in, const CellState& prev) {
  torch::Tensor u = AddMaybe(in.u, in.cell_feedback);
  std::vector<torch::Tensor> g = Gates(u, prev.h).chunk(4, /*dim=*/1);
  torch::Tensor state_gate = torch::sigmoid(g[0] + spec_.forget_bias);
  torch::Tensor out_gate = torch::sigmoid(g[1]);
  CellState next;
  next.h = (1 - state_gate) * torch::tanh(g[2]);
  if (prev.h.defined()) next.h = next.h + state_gate * prev.h;
  next.y = AddMaybe(out_gate * u + (1 - out_gate) * torch::relu(g[3]), in.out_feedback);
  return next;
}

std::shared_ptr<RecurrentCellImpl> MakeCell(const CellSpec& spec, int64_t channels,
                                            int64_t cell_channels) {
  switch (spec.type) {
    case CellType::kFeedforward:
      return std::make_shared<FeedforwardCellImpl>(spec);
    case CellType::kTimeDecay:
      return std::make_shared<TimeDecayCellImpl>(spec);
    case CellType::kSimpleRnn:
      return std::make_shared<SimpleRnnCellImpl>(spec, channels);
    case CellType::kGru:
      return std::make_shared<GruCellImpl>(spec, channels);
    case CellType::kLstm:
      return std::make_shared<LstmCellImpl>(spec, channels);
    case CellType::kUgrnn:
      return std::make_shared<UgrnnCellImpl>(spec, channels);
    case CellType::kIntersection:
      return std::make_shared<IntersectionCellImpl>(spec, channels);
    case CellType::kRgc:
      return std::make_shared<RgcCellImpl>(spec, channels, cell_channels);
  }
  return nullptr;
}

}  // namespace convrnn
