// Local recurrent cells of a ConvRNN layer (DESIGN.md §3, "Local cells").
//
// A cell turns the layer's feedforward drive `u` (the conv of its input) and
// its previous state into a new state and the output the layer emits. An
// undefined tensor in a state means "zero" (the layer's first computed step):
// cells then skip the recurrent convolutions and use their bias alone, which
// is exact and keeps the shapes static.
//
// Feedback (DESIGN.md §3, "Long-range feedback") reaches a cell already
// projected to the right width: `cell_feedback` joins the cell's drive and
// `out_feedback` the output. For every cell but the RGC the drive is `u`
// itself and output feedback is added to what the layer emits (the cell's
// recurrent state stays its own); the RGC adds them inside its gated inputs
// x^c and x^h.
//
// Thread-safety: as any torch::nn::Module; one forward at a time.
#ifndef CONVRNN_WORKER_MODEL_CELLS_H_
#define CONVRNN_WORKER_MODEL_CELLS_H_

#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/normalization.h>

#include <memory>

#include "spec/arch_spec.h"

namespace convrnn {

// What a cell carries from one step to the next.
struct CellState {
  torch::Tensor h;  // recurrent state (the output for most cells)
  torch::Tensor c;  // second state: LSTM / RGC memory; undefined for others
  torch::Tensor y;  // what the layer emits this step (feedforward, next layer, readout)
};

struct CellInput {
  torch::Tensor u;              // feedforward drive [B, C, H, W]
  torch::Tensor cell_feedback;  // undefined when no feedback enters at the cell
  torch::Tensor out_feedback;   // undefined when no feedback enters at the output
};

// A k x k convolution with "same" padding, either full or depthwise-separable
// (depthwise k x k, then pointwise 1 x 1).
struct SpatialConvOptions {
  SpatialConvOptions(int64_t in, int64_t out, int64_t kernel)
      : in_(in), out_(out), kernel_(kernel) {}
  TORCH_ARG(int64_t, in);
  TORCH_ARG(int64_t, out);
  TORCH_ARG(int64_t, kernel);
  TORCH_ARG(bool, separable) = false;
  TORCH_ARG(bool, bias) = true;
};

class SpatialConvImpl : public torch::nn::Module {
 public:
  explicit SpatialConvImpl(const SpatialConvOptions& options);
  torch::Tensor forward(const torch::Tensor& x);
  // forward(zeros): the bias as [1, out, 1, 1], or undefined without bias.
  torch::Tensor ZeroResponse() const;
  // The conv that holds the bias (the pointwise one when separable).
  torch::nn::Conv2d& output_conv() { return conv; }

  SpatialConvOptions options;
  torch::nn::Conv2d depthwise{nullptr};  // only when separable
  torch::nn::Conv2d conv{nullptr};
};
TORCH_MODULE(SpatialConv);

// Common interface of the eight cell types.
class RecurrentCellImpl : public torch::nn::Module {
 public:
  // One step. `prev` tensors may be undefined (zero state).
  virtual CellState Step(const CellInput& in, const CellState& prev) = 0;
};

// Builds the cell of `type` for a layer of `channels` output channels.
// `cell_channels` is the RGC memory width (ignored by other cells).
std::shared_ptr<RecurrentCellImpl> MakeCell(const CellSpec& spec, int64_t channels,
                                            int64_t cell_channels);

// Concrete cells, exposed so tests can set weights by hand.
class FeedforwardCellImpl : public RecurrentCellImpl {
 public:
  explicit FeedforwardCellImpl(const CellSpec& spec) : spec_(spec) {}
  CellState Step(const CellInput& in, const CellState& prev) override;

 private:
  CellSpec spec_;
};

class TimeDecayCellImpl : public RecurrentCellImpl {
 public:
  explicit TimeDecayCellImpl(const CellSpec& spec);
  CellState Step(const CellInput& in, const CellState& prev) override;
  torch::Tensor decay;  // lambda, a learned scalar
 private:
  CellSpec spec_;
};

class SimpleRnnCellImpl : public RecurrentCellImpl {
 public:
  SimpleRnnCellImpl(const CellSpec& spec, int64_t channels);
  CellState Step(const CellInput& in, const CellState& prev) override;
  torch::nn::Conv2d w_hh{nullptr};  // no bias: with W_hh = 0 the input passes
 private:
  CellSpec spec_;
};

// Cells whose gates are one conv over [u, h_prev] (fused for speed).
class GatedCellImpl : public RecurrentCellImpl {
 protected:
  GatedCellImpl(const CellSpec& spec, int64_t channels, int64_t gates);
  // conv([u, h]) with h undefined meaning zero.
  torch::Tensor Gates(const torch::Tensor& u, const torch::Tensor& h);

 public:
  torch::nn::Conv2d gates{nullptr};  // [u, h] (2C) -> gates x C
 protected:
  CellSpec spec_;
  int64_t channels_;
};

class GruCellImpl : public GatedCellImpl {
 public:
  GruCellImpl(const CellSpec& spec, int64_t channels);
  CellState Step(const CellInput& in, const CellState& prev) override;
  torch::nn::Conv2d candidate{nullptr};  // W in tanh(u + W * (r . h))
};

class LstmCellImpl : public GatedCellImpl {
 public:
  LstmCellImpl(const CellSpec& spec, int64_t channels);
  // gates order: input, forget, output, candidate.
  CellState Step(const CellInput& in, const CellState& prev) override;
};

class UgrnnCellImpl : public GatedCellImpl {
 public:
  UgrnnCellImpl(const CellSpec& spec, int64_t channels);
  // gates order: update gate g, candidate.
  CellState Step(const CellInput& in, const CellState& prev) override;
};

class IntersectionCellImpl : public GatedCellImpl {
 public:
  IntersectionCellImpl(const CellSpec& spec, int64_t channels);
  // gates order: state gate g_h, output gate g_y, state candidate, output candidate.
  CellState Step(const CellInput& in, const CellState& prev) override;
};

// The Reciprocal Gated Cell (DESIGN.md §3), in rgc_cell.cc.
class RgcCellImpl : public RecurrentCellImpl {
 public:
  RgcCellImpl(const CellSpec& spec, int64_t channels, int64_t cell_channels);
  CellState Step(const CellInput& in, const CellState& prev) override;

  SpatialConv input_to_cell{nullptr};                     // x^c = conv(u), kernel ic_kernel
  SpatialConv input_to_out{nullptr};                      // x^h = conv(u) (+ u), kernel io_kernel
  SpatialConv w_cc{nullptr};                              // tau of c from c
  SpatialConv w_hh{nullptr};                              // tau of h from h
  SpatialConv w_hc{nullptr};                              // gate of c's input from h
  SpatialConv w_ch{nullptr};                              // gate of h's input from c
  torch::nn::Conv2d cell_to_out{nullptr};                 // 1x1 c -> h, when spec.cell_to_out
  torch::nn::GroupNorm norm_c{nullptr}, norm_h{nullptr};  // when spec.layer_norm

 private:
  CellSpec spec_;
};

// Elementwise helpers shared by the cells and the model.
torch::Tensor Activate(Activation a, const torch::Tensor& x);
torch::Tensor ApplySquash(Squash s, const torch::Tensor& x);
// a + b where either may be undefined (zero).
torch::Tensor AddMaybe(const torch::Tensor& a, const torch::Tensor& b);

}  // namespace convrnn

#endif  // CONVRNN_WORKER_MODEL_CELLS_H_
