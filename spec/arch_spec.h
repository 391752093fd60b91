// The architecture spec: one concrete ConvRNN and how to train it.
//
// This is the JSON contract of DESIGN.md §7 as typed C++. It has no LibTorch
// dependency so that search/, server/ and client/ can parse, validate and
// print specs without linking the model. ParseArchSpec refuses every spec the
// model could not build, naming the key path and the rule, before any
// training starts.
//
// Thread-safety: plain values; safe to share const.
#ifndef CONVRNN_SPEC_ARCH_SPEC_H_
#define CONVRNN_SPEC_ARCH_SPEC_H_

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace convrnn {

enum class CellType {
  kFeedforward,
  kTimeDecay,
  kSimpleRnn,
  kGru,
  kLstm,
  kUgrnn,
  kIntersection,
  kRgc
};
enum class Activation { kRelu, kElu, kTanh };
enum class Squash { kSigmoid, kTanh };  // s_tau, s_g of the RGC
enum class FeedbackEntry { kInput, kCell, kOutput };

// The most layers a spec may have (and a space may list: checked before the
// space builder expands all_descending feedback, O(layers^2) edges).
inline constexpr int kMaxLayers = 64;

absl::string_view CellTypeName(CellType type);
absl::string_view ActivationName(Activation a);
absl::string_view SquashName(Squash s);
absl::string_view FeedbackEntryName(FeedbackEntry e);
// Every cell type name, in DESIGN.md order.
const std::vector<std::string>& AllCellTypeNames();

// A layer's local recurrent cell. Only the knobs of `type` are meaningful;
// the parser refuses knobs of other types. Defaults are the values below.
struct CellSpec {
  CellType type = CellType::kFeedforward;
  // Where long-range feedback into this layer is added: the layer input
  // (before the feedforward conv), the cell's drive, or the layer output.
  FeedbackEntry feedback_entry = FeedbackEntry::kOutput;

  // feedforward, time_decay, simple_rnn: the output nonlinearity.
  Activation activation = Activation::kRelu;
  // time_decay: initial value of the learned decay lambda.
  double decay_init = 0.0;
  // simple_rnn, gru, lstm, ugrnn, intersection: kernel of the recurrent convs.
  int recurrent_kernel = 3;
  // lstm (forget gate), ugrnn (update gate), intersection (state gate): bias
  // added to the gate pre-activation so the cell starts by remembering.
  double forget_bias = 1.0;

  // rgc (Reciprocal Gated Cell), DESIGN.md §3.
  int cell_channels = 0;  // 0: the layer's channels
  int tau_kernel = 3;     // W_cc, W_hh
  int gate_kernel = 3;    // W_hc, W_ch
  int ic_kernel = 3;      // input_to_cell (x^c)
  int io_kernel = 3;      // input_to_out (x^h)
  bool tau_separable = false;
  bool gate_separable = false;
  bool ic_separable = false;
  bool io_separable = false;
  Squash tau_nonlinearity = Squash::kSigmoid;
  Squash gate_nonlinearity = Squash::kSigmoid;
  double tau_offset = 1.0;
  double tau_multiplier = -1.0;
  double gate_offset = 1.0;
  double gate_multiplier = -1.0;
  double tau_bias = 0.0;   // initial bias of the tau convs
  double gate_bias = 0.0;  // initial bias of the gate convs
  bool out_residual = true;
  bool cell_to_out = false;                       // h also receives a 1x1 projection of the new c
  Activation cell_activation = Activation::kElu;  // f_c
  Activation out_activation = Activation::kElu;   // f_h
  bool layer_norm = false;
};

struct LayerSpec {
  int channels = 32;
  int kernel = 3;  // odd; "same" padding
  int stride = 1;
  bool pool = false;  // 2x2 max-pool after the feedforward conv
  CellSpec cell;
};

struct FeedbackEdge {
  int from = 0;  // source layer (later in the hierarchy)
  int to = 0;    // target layer, to < from
};

struct TimeSpec {
  int steps = 8;
  int image_off = 8;        // image shown on steps [0, image_off), blank after
  int loss_from_step = -1;  // -1: loss on the last step only
};

struct TrainSpec {
  std::string optimizer = "sgd";  // sgd | adam
  double lr = 0.05;
  double momentum = 0.9;  // sgd only
  bool nesterov = true;   // sgd only
  double weight_decay = 5e-4;
  int batch_size = 128;
  int epochs = 2;                   // budget in epochs, unless `steps` is set
  int64_t steps = 0;                // budget in optimizer steps (0: use epochs)
  std::string schedule = "cosine";  // cosine | step | constant
  int step_size = 1;                // step schedule: epochs between decays
  double gamma = 0.1;               // step schedule: decay factor
  double clip_grad_norm = 0.0;      // 0: no clipping
  int64_t seed = 0;
  std::string precision = "fp32";  // fp32 | bf16 (autocast; CUDA only)
  bool channels_last = false;      // memory format; CUDA only
  // Whole-step CUDA graph capture (worker/train/graph_step.h): "auto" uses
  // it where it can (a CUDA device, LibTorch 2.x built with CUDA) and trains
  // eagerly otherwise; "on" makes an impossible capture an error; "off"
  // always trains eagerly. Results equal eager within float tolerance.
  std::string cuda_graphs = "auto";  // auto | on | off
};

struct InputSpec {
  int channels = 1;
  int height = 28;
  int width = 28;
};

struct ArchSpec {
  std::string name;  // optional label
  InputSpec input;
  int num_classes = 10;
  TimeSpec time;
  std::vector<LayerSpec> layers;
  std::vector<FeedbackEdge> feedback;  // sorted by (to, from), no duplicates
  TrainSpec train;
};

// Spatial and channel sizes of every layer, derived from the spec.
struct LayerGeometry {
  int in_channels, in_height, in_width;     // what the feedforward conv reads
  int conv_height, conv_width;              // after the conv, before pooling
  int out_channels, out_height, out_width;  // the cell's (and layer's) output
  int cell_channels;                        // width of the cell's memory (rgc), else out_channels
};
std::vector<LayerGeometry> ComputeGeometry(const ArchSpec& spec);

// Parses and validates; errors are InvalidArgument naming the key path.
absl::StatusOr<ArchSpec> ParseArchSpec(const nlohmann::json& json);
absl::StatusOr<ArchSpec> ParseArchSpecText(absl::string_view text);
absl::StatusOr<ArchSpec> ReadArchSpecFile(const std::string& file);

// Cross-field rules (sizes, feedback edges, time); ParseArchSpec calls it.
absl::Status ValidateArchSpec(const ArchSpec& spec);

// The canonical JSON form: every field, each cell with its own type's knobs.
// ParseArchSpec(ToJson(s)) == s.
nlohmann::json ToJson(const ArchSpec& spec);
nlohmann::json ToJson(const CellSpec& cell);

}  // namespace convrnn

#endif  // CONVRNN_SPEC_ARCH_SPEC_H_
