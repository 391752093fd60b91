// worker/model/: the ConvRNN model zoo. This header is the folder's face;
// cells.h declares the eight local cells (rgc_cell.cc holds the Reciprocal
// Gated Cell), torch_compat.h the LibTorch 1.13 / 2.x differences.
//
// The ConvRNN: an architecture spec unrolled in time (DESIGN.md §3).
//
// Every arrow costs one step. At step t layer l reads the previous step's
// outputs: layer l-1's (layer 0 reads the image, shown on steps
// [0, image_off) and blank after), its own state, and its feedback sources'.
// So layer l first computes at step l; before that its output is zero and it
// is not computed. The readout (global average pool of the last layer, then
// a linear classifier) at step t reads the last layer's output of step t-1,
// so it first sees the image at step L. Feedback j -> i at step t uses j's
// output of step t-1: sources are resized (bilinear) to the entry's size,
// concatenated and projected by a 1x1 conv without bias, and join layer i at
// its input, its cell or its output; a source that has not computed yet
// contributes nothing.
//
// The time loop has no host synchronisation and no data-dependent branching:
// which layers and edges run at step t depends only on t, so shapes are
// static per batch size (ready for CUDA-graph capture).
//
// Thread-safety: as any torch::nn::Module.
#ifndef CONVRNN_WORKER_MODEL_MODEL_H_
#define CONVRNN_WORKER_MODEL_MODEL_H_

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include <memory>
#include <vector>

#include "spec/arch_spec.h"
#include "worker/model/cells.h"

namespace convrnn {

struct UnrollOptions {
  // Keep every layer's emitted output at every step (for tests and neural
  // scoring). Steps before a layer first computes hold zeros.
  bool record_layers = false;
};

struct UnrollResult {
  torch::Tensor logits;  // [T, B, num_classes]: the readout at every step
  // outputs[t][l]: layer l's output at step t; empty unless recorded.
  std::vector<std::vector<torch::Tensor>> outputs;
};

class ConvRnnImpl : public torch::nn::Module {
 public:
  // REQUIRES: `spec` passed ValidateArchSpec (ParseArchSpec does this).
  explicit ConvRnnImpl(const ArchSpec& spec);

  // Logits of every step, [T, B, num_classes], for images [B, C, H, W].
  torch::Tensor forward(const torch::Tensor& images);
  UnrollResult Unroll(const torch::Tensor& images, const UnrollOptions& options = {});

  const ArchSpec& spec() const { return spec_; }
  const std::vector<LayerGeometry>& geometry() const { return geometry_; }
  int64_t ParameterCount() const;

  struct Layer {
    torch::nn::Conv2d conv{nullptr};  // feedforward conv of the layer input
    std::shared_ptr<RecurrentCellImpl> cell;
    torch::nn::Conv2d feedback{nullptr};  // 1x1 projection of concatenated sources
    std::vector<int> sources;             // feedback source layers, ascending
  };
  std::vector<Layer> layers;
  torch::nn::Linear readout{nullptr};

 private:
  // Feedback reaching layer `l` at the current step from `prev` outputs;
  // undefined when no source has computed yet.
  torch::Tensor Feedback(int l, const std::vector<torch::Tensor>& prev);

  ArchSpec spec_;
  std::vector<LayerGeometry> geometry_;
};
TORCH_MODULE(ConvRnn);

// The training loss on unrolled logits: cross-entropy on the last step, or
// the mean over steps [from_step, T) (DESIGN.md §3).
torch::Tensor UnrolledLoss(const torch::Tensor& logits, const torch::Tensor& labels,
                           const TimeSpec& time);

}  // namespace convrnn

#endif  // CONVRNN_WORKER_MODEL_MODEL_H_
