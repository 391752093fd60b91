#include "spec/arch_spec.h"

#include <algorithm>
#include <array>
#include <functional>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "util/json_object.h"
#include "util/status_macros.h"

namespace convrnn {
namespace {

using nlohmann::json;

constexpr std::array<absl::string_view, 8> kCellTypeNames = {
    "feedforward", "time_decay", "simple_rnn", "gru", "lstm", "ugrnn", "intersection", "rgc"};
constexpr std::array<absl::string_view, 3> kActivationNames = {"relu", "elu", "tanh"};
constexpr std::array<absl::string_view, 2> kSquashNames = {"sigmoid", "tanh"};
constexpr std::array<absl::string_view, 3> kEntryNames = {"input", "cell", "output"};

constexpr int kMaxKernel = 11;
constexpr int kMaxChannels = 4096;

// Reads an enum stored by name; `names` is indexed by the enum's value.
template <typename E, size_t N>
void ReadEnum(JsonObject& o, absl::string_view key, const std::array<absl::string_view, N>& names,
              E* out) {
  const json* v = o.Get(key);
  if (v == nullptr) return;
  if (v->is_string()) {
    for (size_t i = 0; i < N; ++i) {
      if (v->get<std::string>() == names[i]) {
        *out = static_cast<E>(i);
        return;
      }
    }
  }
  std::string allowed;
  for (size_t i = 0; i < N; ++i) absl::StrAppend(&allowed, i ? ", " : "", names[i]);
  o.Fail(key, absl::StrCat("must be one of ", allowed));
}

// One knob of a cell type: how to read it and how to write it back.
struct Knob {
  const char* name;
  uint32_t types;  // bit i set: the knob belongs to CellType(i)
  std::function<void(JsonObject&, CellSpec&)> read;
  std::function<json(const CellSpec&)> write;
};

constexpr uint32_t Bit(CellType t) { return 1u << static_cast<int>(t); }

Knob KernelKnob(const char* name, uint32_t types, int CellSpec::*field) {
  return {name, types,
          [=](JsonObject& o, CellSpec& c) { o.OddInt(name, &(c.*field), 1, kMaxKernel); },
          [=](const CellSpec& c) { return json(c.*field); }};
}
Knob DoubleKnob(const char* name, uint32_t types, double CellSpec::*field, double lo, double hi) {
  return {name, types, [=](JsonObject& o, CellSpec& c) { o.Double(name, &(c.*field), lo, hi); },
          [=](const CellSpec& c) { return json(c.*field); }};
}
Knob BoolKnob(const char* name, uint32_t types, bool CellSpec::*field) {
  return {name, types, [=](JsonObject& o, CellSpec& c) { o.Bool(name, &(c.*field)); },
          [=](const CellSpec& c) { return json(c.*field); }};
}
template <typename E, size_t N>
Knob EnumKnob(const char* name, uint32_t types, E CellSpec::*field,
              const std::array<absl::string_view, N>& names) {
  return {name, types,
          [=, &names](JsonObject& o, CellSpec& c) { ReadEnum(o, name, names, &(c.*field)); },
          [=, &names](const CellSpec& c) {
            return json(std::string(names[static_cast<int>(c.*field)]));
          }};
}

const std::vector<Knob>& Knobs() {
  static const std::vector<Knob>* knobs = [] {
    const uint32_t all = 0xff;
    const uint32_t act =
        Bit(CellType::kFeedforward) | Bit(CellType::kTimeDecay) | Bit(CellType::kSimpleRnn);
    const uint32_t rec = Bit(CellType::kSimpleRnn) | Bit(CellType::kGru) | Bit(CellType::kLstm) |
                         Bit(CellType::kUgrnn) | Bit(CellType::kIntersection);
    const uint32_t forget =
        Bit(CellType::kLstm) | Bit(CellType::kUgrnn) | Bit(CellType::kIntersection);
    const uint32_t rgc = Bit(CellType::kRgc);
    auto* k = new std::vector<Knob>{
        EnumKnob("feedback_entry", all, &CellSpec::feedback_entry, kEntryNames),
        EnumKnob("activation", act, &CellSpec::activation, kActivationNames),
        DoubleKnob("decay_init", Bit(CellType::kTimeDecay), &CellSpec::decay_init, -2.0, 2.0),
        KernelKnob("recurrent_kernel", rec, &CellSpec::recurrent_kernel),
        DoubleKnob("forget_bias", forget, &CellSpec::forget_bias, -10.0, 10.0),
        {"cell_channels", rgc,
         [](JsonObject& o, CellSpec& c) {
           o.Int("cell_channels", &c.cell_channels, 1, kMaxChannels);
         },
         [](const CellSpec& c) { return json(c.cell_channels); }},
        KernelKnob("tau_kernel", rgc, &CellSpec::tau_kernel),
        KernelKnob("gate_kernel", rgc, &CellSpec::gate_kernel),
        KernelKnob("ic_kernel", rgc, &CellSpec::ic_kernel),
        KernelKnob("io_kernel", rgc, &CellSpec::io_kernel),
        BoolKnob("tau_separable", rgc, &CellSpec::tau_separable),
        BoolKnob("gate_separable", rgc, &CellSpec::gate_separable),
        BoolKnob("ic_separable", rgc, &CellSpec::ic_separable),
        BoolKnob("io_separable", rgc, &CellSpec::io_separable),
        EnumKnob("tau_nonlinearity", rgc, &CellSpec::tau_nonlinearity, kSquashNames),
        EnumKnob("gate_nonlinearity", rgc, &CellSpec::gate_nonlinearity, kSquashNames),
        DoubleKnob("tau_offset", rgc, &CellSpec::tau_offset, -5.0, 5.0),
        DoubleKnob("tau_multiplier", rgc, &CellSpec::tau_multiplier, -5.0, 5.0),
        DoubleKnob("gate_offset", rgc, &CellSpec::gate_offset, -5.0, 5.0),
        DoubleKnob("gate_multiplier", rgc, &CellSpec::gate_multiplier, -5.0, 5.0),
        DoubleKnob("tau_bias", rgc, &CellSpec::tau_bias, -10.0, 10.0),
        DoubleKnob("gate_bias", rgc, &CellSpec::gate_bias, -10.0, 10.0),
        BoolKnob("out_residual", rgc, &CellSpec::out_residual),
        BoolKnob("cell_to_out", rgc, &CellSpec::cell_to_out),
        EnumKnob("cell_activation", rgc, &CellSpec::cell_activation, kActivationNames),
        EnumKnob("out_activation", rgc, &CellSpec::out_activation, kActivationNames),
        BoolKnob("layer_norm", rgc, &CellSpec::layer_norm),
    };
    return k;
  }();
  return *knobs;
}

CellSpec ParseCell(const json& j, const std::string& path, JsonObject& parent) {
  CellSpec cell;
  JsonObject o(j, path);
  ReadEnum(o, "type", kCellTypeNames, &cell.type);
  if (o.ok() && !o.Has("type")) o.Fail("type", "is required");
  if (o.ok()) {
    const uint32_t mine = Bit(cell.type);
    for (const Knob& knob : Knobs()) {
      if (knob.types & mine) {
        knob.read(o, cell);
      } else if (o.Has(knob.name)) {
        o.Allow(knob.name);
        o.Fail(knob.name, absl::StrCat("is not a knob of cell type ", CellTypeName(cell.type)));
      }
    }
  }
  parent.Fail(o.Finish());
  return cell;
}

void ParseTime(JsonObject& parent, TimeSpec* time) {
  const json* j = parent.Get("time");
  if (j == nullptr) {
    parent.Fail("time", "is required");
    return;
  }
  JsonObject o(*j, parent.PathOf("time"));
  o.Int("steps", &time->steps, 1, 256);
  if (o.ok() && !o.Has("steps")) o.Fail("steps", "is required");
  time->image_off = time->steps;
  o.Int("image_off", &time->image_off, 1, 256);
  if (const json* loss = o.Get("loss")) {
    if (loss->is_string() && loss->get<std::string>() == "last") {
      time->loss_from_step = -1;
    } else if (loss->is_object()) {
      JsonObject lo(*loss, o.PathOf("loss"));
      lo.Int("from_step", &time->loss_from_step, 0, 255);
      if (lo.ok() && !lo.Has("from_step")) lo.Fail("from_step", "is required");
      o.Fail(lo.Finish());
    } else {
      o.Fail("loss", "must be \"last\" or {\"from_step\": k}");
    }
  }
  parent.Fail(o.Finish());
}

void ParseTrain(JsonObject& parent, TrainSpec* t) {
  const json* j = parent.Get("train");
  if (j == nullptr) return;  // every field has a default
  JsonObject o(*j, parent.PathOf("train"));
  o.Enum("optimizer", &t->optimizer, {"sgd", "adam"});
  o.Double("lr", &t->lr, 1e-8, 10.0);
  if (o.ok() && o.Has("lr") && (*j)["lr"].get<double>() <= 0) o.Fail("lr", "must be positive");
  o.Double("momentum", &t->momentum, 0.0, 0.999);
  o.Bool("nesterov", &t->nesterov);
  o.Double("weight_decay", &t->weight_decay, 0.0, 1.0);
  o.Int("batch_size", &t->batch_size, 1, 65536);
  o.Int("epochs", &t->epochs, 1, 100000);
  o.Int64("steps", &t->steps, 1, 1000000000);
  if (o.ok() && o.Has("epochs") && o.Has("steps")) {
    o.Fail("steps", "give the budget as epochs or as steps, not both");
  }
  o.Enum("schedule", &t->schedule, {"cosine", "step", "constant"});
  o.Int("step_size", &t->step_size, 1, 100000);
  o.Double("gamma", &t->gamma, 1e-6, 1.0);
  o.Double("clip_grad_norm", &t->clip_grad_norm, 0.0, 1e6);
  o.Int64("seed", &t->seed, 0, (int64_t{1} << 53));
  o.Enum("precision", &t->precision, {"fp32", "bf16"});
  o.Bool("channels_last", &t->channels_last);
  o.Enum("cuda_graphs", &t->cuda_graphs, {"auto", "on", "off"});
  if (o.ok() && t->optimizer == "sgd" && t->nesterov && t->momentum <= 0.0) {
    o.Fail("nesterov", "requires momentum > 0");
  }
  parent.Fail(o.Finish());
}

}  // namespace

absl::string_view CellTypeName(CellType type) { return kCellTypeNames[static_cast<int>(type)]; }
absl::string_view ActivationName(Activation a) { return kActivationNames[static_cast<int>(a)]; }
absl::string_view SquashName(Squash s) { return kSquashNames[static_cast<int>(s)]; }
absl::string_view FeedbackEntryName(FeedbackEntry e) { return kEntryNames[static_cast<int>(e)]; }

const std::vector<std::string>& AllCellTypeNames() {
  static const std::vector<std::string> names(kCellTypeNames.begin(), kCellTypeNames.end());
  return names;
}

std::vector<LayerGeometry> ComputeGeometry(const ArchSpec& spec) {
  std::vector<LayerGeometry> geometry;
  int channels = spec.input.channels, height = spec.input.height, width = spec.input.width;
  for (const LayerSpec& layer : spec.layers) {
    LayerGeometry g;
    g.in_channels = channels;
    g.in_height = height;
    g.in_width = width;
    // Odd kernels with padding kernel/2: out = floor((in - 1) / stride) + 1.
    g.conv_height = (height - 1) / layer.stride + 1;
    g.conv_width = (width - 1) / layer.stride + 1;
    g.out_height = layer.pool ? g.conv_height / 2 : g.conv_height;
    g.out_width = layer.pool ? g.conv_width / 2 : g.conv_width;
    g.out_channels = layer.channels;
    g.cell_channels = (layer.cell.type == CellType::kRgc && layer.cell.cell_channels > 0)
                          ? layer.cell.cell_channels
                          : layer.channels;
    geometry.push_back(g);
    channels = g.out_channels;
    height = g.out_height;
    width = g.out_width;
  }
  return geometry;
}

absl::Status ValidateArchSpec(const ArchSpec& spec) {
  const int num_layers = static_cast<int>(spec.layers.size());
  if (num_layers == 0) return PathError("layers", "must list at least one layer");
  if (spec.time.steps < num_layers + 1) {
    return PathError("time.steps",
                     absl::StrCat("must be at least layers + 1 = ", num_layers + 1,
                                  " (the readout first sees the image at step ", num_layers, ")"));
  }
  if (spec.time.image_off > spec.time.steps) {
    return PathError("time.image_off",
                     absl::StrCat("must be in [1, steps] = [1, ", spec.time.steps, "]"));
  }
  if (spec.time.loss_from_step >= 0 &&
      (spec.time.loss_from_step < num_layers || spec.time.loss_from_step >= spec.time.steps)) {
    return PathError("time.loss.from_step",
                     absl::StrCat("must be in [", num_layers, ", ", spec.time.steps - 1,
                                  "]: the readout first sees the image at step ", num_layers));
  }
  std::vector<LayerGeometry> geometry = ComputeGeometry(spec);
  for (int l = 0; l < num_layers; ++l) {
    if (geometry[l].out_height < 1 || geometry[l].out_width < 1) {
      return PathError(IndexPath("layers", l),
                       absl::StrCat("spatial size falls below 1x1 (input ", geometry[l].in_height,
                                    "x", geometry[l].in_width, ", stride ", spec.layers[l].stride,
                                    spec.layers[l].pool ? ", then 2x2 pool)" : ")"));
    }
  }
  for (size_t e = 0; e < spec.feedback.size(); ++e) {
    const FeedbackEdge& edge = spec.feedback[e];
    std::string path = IndexPath("feedback", e);
    if (edge.from < 0 || edge.from >= num_layers) {
      return PathError(JoinPath(path, "from"), absl::StrCat("names layer ", edge.from,
                                                            " but layers are 0..", num_layers - 1));
    }
    if (edge.to < 0 || edge.to >= num_layers) {
      return PathError(JoinPath(path, "to"), absl::StrCat("names layer ", edge.to,
                                                          " but layers are 0..", num_layers - 1));
    }
    if (edge.from <= edge.to) {
      return PathError(path, absl::StrCat("feedback must descend: from (", edge.from,
                                          ") must be greater than to (", edge.to, ")"));
    }
    for (size_t f = 0; f < e; ++f) {
      if (spec.feedback[f].from == edge.from && spec.feedback[f].to == edge.to) {
        return PathError(path, absl::StrCat("duplicate edge ", edge.from, " -> ", edge.to));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<ArchSpec> ParseArchSpec(const json& j) {
  ArchSpec spec;
  JsonObject o(j, "");
  o.String("name", &spec.name);
  if (const json* in = o.Get("input")) {
    JsonObject io(*in, "input");
    io.Int("channels", &spec.input.channels, 1, 64);
    io.Int("height", &spec.input.height, 1, 4096);
    io.Int("width", &spec.input.width, 1, 4096);
    o.Fail(io.Finish());
  }
  o.Int("num_classes", &spec.num_classes, 2, 100000);
  ParseTime(o, &spec.time);

  const json* layers = o.Get("layers");
  if (o.ok() && (layers == nullptr || !layers->is_array())) {
    o.Fail("layers", "is required: a list of layers");
  }
  if (o.ok()) {
    if (layers->size() > kMaxLayers) {
      o.Fail("layers", absl::StrCat("at most ", kMaxLayers, " layers"));
    }
    for (size_t l = 0; l < layers->size() && o.ok(); ++l) {
      LayerSpec layer;
      std::string path = IndexPath("layers", l);
      JsonObject lo((*layers)[l], path);
      lo.Int("channels", &layer.channels, 1, kMaxChannels);
      if (lo.ok() && !lo.Has("channels")) lo.Fail("channels", "is required");
      lo.OddInt("kernel", &layer.kernel, 1, kMaxKernel);
      lo.Int("stride", &layer.stride, 1, 4);
      lo.Bool("pool", &layer.pool);
      if (const json* cell = lo.Get("cell")) layer.cell = ParseCell(*cell, lo.PathOf("cell"), lo);
      o.Fail(lo.Finish());
      spec.layers.push_back(layer);
    }
  }

  if (const json* fb = o.Get("feedback")) {
    if (!fb->is_array()) o.Fail("feedback", "must be a list of {\"from\": j, \"to\": i}");
    for (size_t e = 0; o.ok() && e < fb->size(); ++e) {
      FeedbackEdge edge{-1, -1};
      JsonObject eo((*fb)[e], IndexPath("feedback", e));
      eo.Int("from", &edge.from, -1000000, 1000000);
      eo.Int("to", &edge.to, -1000000, 1000000);
      bool enabled = true;
      eo.Bool("enabled", &enabled);
      if (eo.ok() && (!eo.Has("from") || !eo.Has("to"))) {
        eo.Fail(eo.Has("from") ? "to" : "from", "is required");
      }
      o.Fail(eo.Finish());
      if (enabled) spec.feedback.push_back(edge);
    }
  }
  ParseTrain(o, &spec.train);
  RETURN_IF_ERROR(o.Finish());
  RETURN_IF_ERROR(ValidateArchSpec(spec));
  std::sort(spec.feedback.begin(), spec.feedback.end(),
            [](const FeedbackEdge& a, const FeedbackEdge& b) {
              return a.to != b.to ? a.to < b.to : a.from < b.from;
            });
  return spec;
}

absl::StatusOr<ArchSpec> ParseArchSpecText(absl::string_view text) {
  json j;
  RETURN_IF_ERROR(ParseJsonText(text, "spec", &j));
  return ParseArchSpec(j);
}

absl::StatusOr<ArchSpec> ReadArchSpecFile(const std::string& file) {
  json j;
  RETURN_IF_ERROR(ReadJsonFile(file, &j));
  absl::StatusOr<ArchSpec> spec = ParseArchSpec(j);
  if (!spec.ok()) {
    return absl::Status(spec.status().code(), absl::StrCat(file, ": ", spec.status().message()));
  }
  return spec;
}

json ToJson(const CellSpec& cell) {
  json j;
  j["type"] = std::string(CellTypeName(cell.type));
  const uint32_t mine = Bit(cell.type);
  for (const Knob& knob : Knobs()) {
    if (knob.types & mine) j[knob.name] = knob.write(cell);
  }
  if (cell.type == CellType::kRgc && cell.cell_channels == 0) j.erase("cell_channels");
  return j;
}

json ToJson(const ArchSpec& spec) {
  json j;
  if (!spec.name.empty()) j["name"] = spec.name;
  j["input"] = {{"channels", spec.input.channels},
                {"height", spec.input.height},
                {"width", spec.input.width}};
  j["num_classes"] = spec.num_classes;
  j["time"] = {{"steps", spec.time.steps}, {"image_off", spec.time.image_off}};
  j["time"]["loss"] =
      spec.time.loss_from_step < 0 ? json("last") : json{{"from_step", spec.time.loss_from_step}};
  j["layers"] = json::array();
  for (const LayerSpec& l : spec.layers) {
    j["layers"].push_back({{"channels", l.channels},
                           {"kernel", l.kernel},
                           {"stride", l.stride},
                           {"pool", l.pool},
                           {"cell", ToJson(l.cell)}});
  }
  j["feedback"] = json::array();
  for (const FeedbackEdge& e : spec.feedback)
    j["feedback"].push_back({{"from", e.from}, {"to", e.to}});
  const TrainSpec& t = spec.train;
  j["train"] = {{"optimizer", t.optimizer},
                {"lr", t.lr},
                {"momentum", t.momentum},
                {"nesterov", t.nesterov},
                {"weight_decay", t.weight_decay},
                {"batch_size", t.batch_size},
                {"schedule", t.schedule},
                {"step_size", t.step_size},
                {"gamma", t.gamma},
                {"clip_grad_norm", t.clip_grad_norm},
                {"seed", t.seed},
                {"precision", t.precision},
                {"channels_last", t.channels_last}};
  // Only when set: the canonical JSON of every spec written before the
  // option existed stays the same (checkpoints compare it).
  if (t.cuda_graphs != "auto") j["train"]["cuda_graphs"] = t.cuda_graphs;
  if (t.steps > 0) {
    j["train"]["steps"] = t.steps;
  } else {
    j["train"]["epochs"] = t.epochs;
  }
  return j;
}

}  // namespace convrnn
