// The Reciprocal Gated Cell (Nayebi et al. 2018, DESIGN.md §3):
//
//   c_t = f_c( (tau_o + tau_k s_tau(W_cc * c_{t-1})) . c_{t-1}
//            + (g_o + g_k s_g(W_hc * h_{t-1})) . x^c_t )
//   h_t = f_h( (tau_o + tau_k s_tau(W_hh * h_{t-1})) . h_{t-1}
//            + (g_o + g_k s_g(W_ch * c_{t-1})) . x^h_t  [+ P c_t if cell_to_out] )
//
// Each state's self-decay (tau) reads itself; each state's input gate reads
// the *other* state. x^c = conv_ic(u) (+ feedback entering at the cell);
// x^h = conv_io(u) (+ u when out_residual: the bypass, identity because u
// already has the layer's width and size) (+ feedback entering at the output).
// Optional layer norm acts on the pre-activations of c and h.
#include <torch/torch.h>

#include "worker/model/cells.h"

namespace convrnn {

namespace {

SpatialConv MakeConv(int64_t in, int64_t out, int64_t kernel, bool separable, double bias_init) {
  SpatialConv conv(SpatialConvOptions(in, out, kernel).separable(separable));
  torch::NoGradGuard no_grad;
  conv->output_conv()->bias.fill_(bias_init);
  return conv;
}

}  // namespace

RgcCellImpl::RgcCellImpl(const CellSpec& spec, int64_t channels, int64_t cell_channels)
    : spec_(spec) {
  input_to_cell = register_module(
      "input_to_cell", SpatialConv(SpatialConvOptions(channels, cell_channels, spec.ic_kernel)
                                       .separable(spec.ic_separable)));
  input_to_out = register_module(
      "input_to_out",
      SpatialConv(
          SpatialConvOptions(channels, channels, spec.io_kernel).separable(spec.io_separable)));
  w_cc = register_module("w_cc", MakeConv(cell_channels, cell_channels, spec.tau_kernel,
                                          spec.tau_separable, spec.tau_bias));
  w_hh = register_module(
      "w_hh", MakeConv(channels, channels, spec.tau_kernel, spec.tau_separable, spec.tau_bias));
  w_hc = register_module("w_hc", MakeConv(channels, cell_channels, spec.gate_kernel,
                                          spec.gate_separable, spec.gate_bias));
  w_ch = register_module("w_ch", MakeConv(cell_channels, channels, spec.gate_kernel,
                                          spec.gate_separable, spec.gate_bias));
  if (spec.cell_to_out) {
    cell_to_out = register_module(
        "cell_to_out",
        torch::nn::Conv2d(torch::nn::Conv2dOptions(cell_channels, channels, 1).bias(false)));
  }
  if (spec.layer_norm) {
    norm_c = register_module("norm_c", torch::nn::GroupNorm(1, cell_channels));
    norm_h = register_module("norm_h", torch::nn::GroupNorm(1, channels));
  }
}

CellState RgcCellImpl::Step(const CellInput& in, const CellState& prev) {
  const CellSpec& s = spec_;
  // Gain of a state's own past (tau) or of its input (gate): offset + multiplier *
  // squash(conv(state)). With the state zero the conv is its bias alone, a [1, C, 1, 1] tensor that
  // broadcasts.
  auto modulation = [](SpatialConv& conv, const torch::Tensor& state, Squash squash, double offset,
                       double multiplier) {
    torch::Tensor pre = state.defined() ? conv->forward(state) : conv->ZeroResponse();
    return offset + multiplier * ApplySquash(squash, pre);
  };

  torch::Tensor x_c = AddMaybe(input_to_cell->forward(in.u), in.cell_feedback);
  torch::Tensor x_h = input_to_out->forward(in.u);
  if (s.out_residual) x_h = x_h + in.u;
  x_h = AddMaybe(x_h, in.out_feedback);

  torch::Tensor c_pre =
      modulation(w_hc, prev.h, s.gate_nonlinearity, s.gate_offset, s.gate_multiplier) * x_c;
  if (prev.c.defined()) {
    c_pre = c_pre +
            modulation(w_cc, prev.c, s.tau_nonlinearity, s.tau_offset, s.tau_multiplier) * prev.c;
  }
  torch::Tensor h_pre =
      modulation(w_ch, prev.c, s.gate_nonlinearity, s.gate_offset, s.gate_multiplier) * x_h;
  if (prev.h.defined()) {
    h_pre = h_pre +
            modulation(w_hh, prev.h, s.tau_nonlinearity, s.tau_offset, s.tau_multiplier) * prev.h;
  }
  if (s.layer_norm) c_pre = norm_c->forward(c_pre);
  CellState next;
  next.c = Activate(s.cell_activation, c_pre);
  if (cell_to_out) h_pre = h_pre + cell_to_out->forward(next.c);
  if (s.layer_norm) h_pre = norm_h->forward(h_pre);
  next.h = Activate(s.out_activation, h_pre);
  next.y = next.h;
  return next;
}

}  // namespace convrnn
