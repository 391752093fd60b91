#include "client/spec_render.h"

#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/format.h"

namespace convrnn::client {
namespace {

std::string Kernel(int k, bool separable) { return absl::StrCat(k, separable ? "s" : ""); }

std::string KnobValue(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "on" : "off";
  if (v.is_number()) return FormatNumber(v.get<double>());
  return v.dump();
}

// Graphviz double-quoted string: escape backslashes and quotes, keep "\n".
std::string DotQuote(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

std::string LayerConv(const LayerSpec& l) {
  std::string s = absl::StrCat("conv ", l.channels, "ch ", l.kernel, "x", l.kernel);
  if (l.stride != 1) absl::StrAppend(&s, " /", l.stride);
  if (l.pool) absl::StrAppend(&s, " + pool 2x2");
  return s;
}

}  // namespace

std::string CellSummary(const CellSpec& c) {
  std::vector<std::string> knobs;
  switch (c.type) {
    case CellType::kFeedforward:
      knobs.push_back(std::string(ActivationName(c.activation)));
      break;
    case CellType::kTimeDecay:
      knobs.push_back(absl::StrCat("decay0=", FormatNumber(c.decay_init)));
      break;
    case CellType::kSimpleRnn:
    case CellType::kGru:
      knobs.push_back(absl::StrCat("k=", c.recurrent_kernel));
      break;
    case CellType::kLstm:
    case CellType::kUgrnn:
    case CellType::kIntersection:
      knobs.push_back(absl::StrCat("k=", c.recurrent_kernel));
      knobs.push_back(absl::StrCat("fbias=", FormatNumber(c.forget_bias)));
      break;
    case CellType::kRgc:
      if (c.cell_channels > 0) knobs.push_back(absl::StrCat("c=", c.cell_channels));
      knobs.push_back(absl::StrCat("tau=", Kernel(c.tau_kernel, c.tau_separable)));
      knobs.push_back(absl::StrCat("gate=", Kernel(c.gate_kernel, c.gate_separable)));
      if (c.out_residual) knobs.push_back("res");
      if (c.layer_norm) knobs.push_back("ln");
      break;
  }
  return absl::StrCat(CellTypeName(c.type), "(", absl::StrJoin(knobs, " "), ")");
}

std::string ArchSummary(const ArchSpec& spec) {
  std::vector<std::string> cells;
  for (const LayerSpec& l : spec.layers) cells.push_back(std::string(CellTypeName(l.cell.type)));
  std::string s = absl::StrJoin(cells, ">");
  if (!spec.feedback.empty()) {
    std::vector<std::string> edges;
    for (const FeedbackEdge& e : spec.feedback) edges.push_back(absl::StrCat(e.from, "->", e.to));
    absl::StrAppend(&s, " fb ", absl::StrJoin(edges, ","));
  }
  return s;
}

void DescribeSpec(const ArchSpec& spec, std::ostream& out) {
  if (!spec.name.empty()) out << "Name: " << spec.name << '\n';
  out << "Input: " << spec.input.channels << "x" << spec.input.height << "x" << spec.input.width
      << ", " << spec.num_classes << " classes\n";
  out << "Time: " << spec.time.steps << " steps, image on steps 0-" << spec.time.image_off - 1
      << ", loss "
      << (spec.time.loss_from_step < 0
              ? std::string("on the last step")
              : absl::StrCat("averaged from step ", spec.time.loss_from_step))
      << '\n';

  const std::vector<LayerGeometry> geometry = ComputeGeometry(spec);
  out << "Layers (" << spec.layers.size() << "):\n";
  for (size_t i = 0; i < spec.layers.size(); ++i) {
    const LayerSpec& l = spec.layers[i];
    const LayerGeometry& g = geometry[i];
    out << "  L" << i << ": " << LayerConv(l) << " -> " << g.out_channels << "x" << g.out_height
        << "x" << g.out_width << '\n';
    nlohmann::json knobs = ToJson(l.cell);
    std::vector<std::string> parts;
    for (const auto& [key, value] : knobs.items()) {
      if (key != "type") parts.push_back(absl::StrCat(key, "=", KnobValue(value)));
    }
    out << "      cell " << CellTypeName(l.cell.type);
    if (!parts.empty()) out << ": " << absl::StrJoin(parts, " ");
    out << '\n';
  }
  out << "Readout: global average pool of L" << spec.layers.size() - 1 << ", linear to "
      << spec.num_classes << " classes\n";

  out << "Feedback (" << spec.feedback.size() << "):";
  if (spec.feedback.empty()) out << " none";
  out << '\n';
  for (const FeedbackEdge& e : spec.feedback) {
    out << "  L" << e.from << " -> L" << e.to << " (enters at the "
        << FeedbackEntryName(spec.layers[e.to].cell.feedback_entry) << ")\n";
  }

  const TrainSpec& t = spec.train;
  std::vector<std::string> train = {t.optimizer, absl::StrCat("lr=", FormatNumber(t.lr))};
  if (t.optimizer == "sgd") {
    train.push_back(absl::StrCat("momentum=", FormatNumber(t.momentum)));
    if (t.nesterov) train.push_back("nesterov");
  }
  train.push_back(absl::StrCat("weight_decay=", FormatNumber(t.weight_decay)));
  train.push_back(absl::StrCat("batch=", t.batch_size));
  train.push_back(t.steps > 0 ? absl::StrCat(t.steps, " steps")
                              : absl::StrCat(t.epochs, " epochs"));
  std::string schedule = t.schedule;
  if (t.schedule == "step") {
    absl::StrAppend(&schedule, "(every ", t.step_size, " x", FormatNumber(t.gamma), ")");
  }
  train.push_back(absl::StrCat("schedule=", schedule));
  if (t.clip_grad_norm > 0) train.push_back(absl::StrCat("clip=", FormatNumber(t.clip_grad_norm)));
  train.push_back(absl::StrCat("seed=", t.seed));
  if (t.precision != "fp32") train.push_back(t.precision);
  if (t.channels_last) train.push_back("channels_last");
  out << "Training: " << absl::StrJoin(train, " ") << '\n';
}

std::string SpecToDot(const ArchSpec& spec, const std::string& name) {
  std::ostringstream out;
  out << "digraph " << name << " {\n";
  out << "  rankdir=BT;\n";
  out << "  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n";
  out << "  edge [fontname=\"Helvetica\", fontsize=10];\n";
  out << "  image [shape=ellipse, label="
      << DotQuote(absl::StrCat("image\n", spec.input.channels, "x", spec.input.height, "x",
                               spec.input.width))
      << "];\n";
  for (size_t i = 0; i < spec.layers.size(); ++i) {
    const LayerSpec& l = spec.layers[i];
    out << "  L" << i << " [label="
        << DotQuote(absl::StrCat("L", i, ": ", LayerConv(l), "\n", CellSummary(l.cell))) << "];\n";
  }
  out << "  readout [shape=ellipse, label="
      << DotQuote(absl::StrCat("readout\navgpool + linear ", spec.num_classes)) << "];\n";

  out << "  image -> L0;\n";
  for (size_t i = 1; i < spec.layers.size(); ++i) out << "  L" << i - 1 << " -> L" << i << ";\n";
  out << "  L" << spec.layers.size() - 1 << " -> readout;\n";
  for (const FeedbackEdge& e : spec.feedback) {
    out << "  L" << e.from << " -> L" << e.to << " [style=dashed, constraint=false, label="
        << DotQuote(std::string(FeedbackEntryName(spec.layers[e.to].cell.feedback_entry)))
        << "];\n";
  }
  out << "}\n";
  return out.str();
}

}  // namespace convrnn::client
