// convrnn_export_reference: writes what the PyTorch reference
// (bench/reference/convrnn_ref.py) needs to check the C++ ConvRNN: a spec's
// parameters (by name), a fixed input batch, the logits of every step, the
// loss and every parameter's gradient.
//
// Output, one directory per case: index.json (label, canonical spec, and per
// tensor its file, shape and dtype) beside raw little-endian float32 / int64
// files. Raw files rather than torch::save because LibTorch 1.13's C++
// archives do not load in Python.
//
//   convrnn_export_reference --cases --out DIR    every built-in case (all
//                                                 eight cells, every feedback
//                                                 entry, the RGC's knobs)
//   convrnn_export_reference --spec F --out DIR   one spec
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "spec/arch_spec.h"
#include "worker/model/model.h"

namespace convrnn {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

struct Case {
  std::string label;
  json spec;
};

json Layer(int channels, const json& cell, bool pool = false, int stride = 1, int kernel = 3) {
  return {{"channels", channels},
          {"kernel", kernel},
          {"stride", stride},
          {"pool", pool},
          {"cell", cell}};
}

// Three layers on 12x12 images with feedback 2->0, 1->0 and 2->1. Variant
// "a": feedback enters layer 0 at the output and layer 1 at the cell, the
// image stays on, loss on the last step. Variant "b": feedback enters layer 0
// at the input and layer 1 at the output, layer 1 has stride 2, the image
// goes blank after step 3 (layer 0 then runs on its conv bias), loss from
// step 3 on.
json SmallSpec(const json& cell, char variant) {
  json c0 = cell, c1 = cell, c2 = cell;
  c0["feedback_entry"] = variant == 'a' ? "output" : "input";
  c1["feedback_entry"] = variant == 'a' ? "cell" : "output";
  json spec = {
      {"input", {{"channels", 1}, {"height", 12}, {"width", 12}}},
      {"num_classes", 5},
      {"layers",
       {Layer(4, c0), Layer(6, c1, /*pool=*/variant == 'a', /*stride=*/variant == 'a' ? 1 : 2),
        Layer(5, c2, /*pool=*/true)}},
      {"feedback", {{{"from", 2}, {"to", 0}}, {{"from", 1}, {"to", 0}}, {{"from", 2}, {"to", 1}}}}};
  if (variant == 'a') {
    spec["time"] = {{"steps", 6}, {"loss", "last"}};
  } else {
    spec["time"] = {{"steps", 7}, {"image_off", 3}, {"loss", {{"from_step", 3}}}};
  }
  return spec;
}

std::vector<Case> BuiltinCases() {
  std::vector<json> cells = {
      {{"type", "feedforward"}},
      {{"type", "feedforward"}, {"activation", "elu"}},
      {{"type", "time_decay"}, {"decay_init", 0.5}},
      {{"type", "time_decay"}, {"decay_init", -0.3}, {"activation", "tanh"}},
      {{"type", "simple_rnn"}},
      {{"type", "simple_rnn"}, {"recurrent_kernel", 5}, {"activation", "elu"}},
      {{"type", "gru"}},
      {{"type", "gru"}, {"recurrent_kernel", 1}},
      {{"type", "lstm"}},
      {{"type", "lstm"}, {"forget_bias", 0.5}, {"recurrent_kernel", 5}},
      {{"type", "ugrnn"}},
      {{"type", "ugrnn"}, {"forget_bias", -1.0}},
      {{"type", "intersection"}},
      {{"type", "intersection"}, {"forget_bias", 2.0}, {"recurrent_kernel", 1}},
      {{"type", "rgc"}},
      // The released "median" cell: separable 7x7 tau/gate convs, 0.922/0.701 gains.
      {{"type", "rgc"},
       {"tau_kernel", 7},
       {"gate_kernel", 7},
       {"tau_separable", true},
       {"gate_separable", true},
       {"tau_offset", 0.922},
       {"tau_multiplier", -0.922},
       {"gate_offset", 0.701},
       {"gate_multiplier", -0.701}},
      // Every other knob: narrower memory, separable inputs, tanh squashes,
      // biases, no bypass, cell_to_out, layer norm, other activations.
      {{"type", "rgc"},
       {"cell_channels", 3},
       {"ic_kernel", 5},
       {"io_kernel", 1},
       {"ic_separable", true},
       {"io_separable", true},
       {"tau_nonlinearity", "tanh"},
       {"gate_nonlinearity", "tanh"},
       {"tau_bias", 0.5},
       {"gate_bias", -0.5},
       {"out_residual", false},
       {"cell_to_out", true},
       {"layer_norm", true},
       {"cell_activation", "tanh"},
       {"out_activation", "relu"}},
  };
  std::vector<Case> cases;
  for (size_t i = 0; i < cells.size(); ++i) {
    for (char variant : {'a', 'b'}) {
      cases.push_back({cells[i]["type"].get<std::string>() + "_" + std::to_string(i) + variant,
                       SmallSpec(cells[i], variant)});
    }
  }
  return cases;
}

void WriteRaw(const fs::path& dir, const std::string& name, const torch::Tensor& t, json* entry) {
  torch::Tensor c = t.detach().contiguous().cpu();
  const std::string file = name + ".bin";
  std::ofstream out(dir / file, std::ios::binary);
  out.write(static_cast<const char*>(c.data_ptr()), static_cast<std::streamsize>(c.nbytes()));
  if (!out) throw std::runtime_error("cannot write " + (dir / file).string());
  *entry = {{"file", file},
            {"shape", c.sizes().vec()},
            {"dtype", c.scalar_type() == torch::kLong ? "int64" : "float32"}};
}

int Export(const Case& c, const fs::path& dir, int64_t seed, int64_t batch) {
  absl::StatusOr<ArchSpec> spec = ParseArchSpec(c.spec);
  if (!spec.ok()) {
    std::cerr << c.label << ": " << spec.status().message() << std::endl;
    return 2;
  }
  fs::create_directories(dir);
  torch::manual_seed(seed);
  ConvRnn model(*spec);
  // Non-zero everywhere (LibTorch initialises some biases and decays to
  // constants), so every weight's role is exercised.
  {
    torch::NoGradGuard no_grad;
    for (torch::Tensor& p : model->parameters()) p.add_(torch::randn_like(p) * 0.1);
  }
  const ArchSpec& s = *spec;
  torch::Tensor images = torch::randn({batch, s.input.channels, s.input.height, s.input.width});
  torch::Tensor labels = torch::randint(s.num_classes, {batch}, torch::kLong);
  torch::Tensor logits = model->forward(images);
  torch::Tensor loss = UnrolledLoss(logits, labels, s.time);
  loss.backward();

  json index = {{"label", c.label}, {"seed", seed}, {"spec", ToJson(s)}};
  json params = json::object(), grads = json::object();
  int k = 0;
  for (const auto& p : model->named_parameters()) {
    const std::string stem = "p" + std::to_string(k++);
    WriteRaw(dir, stem, p.value(), &params[p.key()]);
    torch::Tensor g = p.value().grad().defined() ? p.value().grad() : torch::zeros_like(p.value());
    WriteRaw(dir, stem + "_grad", g, &grads[p.key()]);
  }
  index["parameters"] = params;
  index["gradients"] = grads;
  WriteRaw(dir, "images", images, &index["images"]);
  WriteRaw(dir, "labels", labels, &index["labels"]);
  WriteRaw(dir, "logits", logits, &index["logits"]);
  WriteRaw(dir, "loss", loss, &index["loss"]);
  std::ofstream(dir / "index.json") << index.dump(1) << "\n";
  return 0;
}

}  // namespace
}  // namespace convrnn

int main(int argc, char** argv) {
  CLI::App app{"Export a C++ ConvRNN's weights, input and outputs for the PyTorch reference"};
  std::string spec_file, out;
  bool cases = false;
  int64_t seed = 1, batch = 3;
  app.add_option("--spec", spec_file, "Architecture spec (JSON)")->check(CLI::ExistingFile);
  app.add_flag("--cases", cases, "Export every built-in case, one sub-directory each");
  app.add_option("--out", out, "Output directory")->required();
  app.add_option("--seed", seed, "Seed of weights and input")->capture_default_str();
  app.add_option("--batch", batch, "Batch size of the input")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  torch::set_num_threads(1);
  try {
    if (cases) {
      int rc = 0;
      for (const convrnn::Case& c : convrnn::BuiltinCases()) {
        rc |= convrnn::Export(c, std::filesystem::path(out) / c.label, seed, batch);
        std::cout << std::filesystem::path(out) / c.label << "\n";
      }
      return rc;
    }
    if (spec_file.empty()) {
      std::cerr << "give --spec FILE or --cases" << std::endl;
      return 2;
    }
    std::ifstream in(spec_file);
    convrnn::Case c{std::filesystem::path(spec_file).stem().string(), nlohmann::json::parse(in)};
    int rc = convrnn::Export(c, out, seed, batch);
    if (rc == 0) std::cout << out << "\n";
    return rc;
  } catch (const std::exception& e) {
    std::cerr << "convrnn_export_reference: " << e.what() << std::endl;
    return 1;
  }
}
