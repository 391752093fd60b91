// convrnn_train_bench: training throughput and memory of the C++ worker's
// own training path (convrnn::Train: prefetching BatchLoader, forward,
// UnrolledLoss, backward, sync-free gradient clipping, SGD Nesterov step).
//
// Throughput mode (default): synthetic uint8 images, an epoch of
// `--warmup` batches, then epochs until `--steps` timed batches are done.
// The first epoch (the warm-up: oneDNN primitive creation, allocator growth)
// is excluded; prints one JSON line with images/s, ms per step, CPU time per
// wall second (user + sys of the whole process: >1 means several busy
// threads) and peak RSS (VmHWM).
//
// --device cuda:0 (with --precision bf16, --channels-last) times the same
// path on a GPU. CPU time and RSS are then of the host process only.
// --cuda-graphs auto|on|off (train.cuda_graphs: whole steps replayed as one
// CUDA graph; the first 3 steps and the capture fall in the warm-up epoch
// when --warmup >= 4) and --device-data auto|on|off (batches gathered on the
// training device, or made by the host loader thread) pick the variant; the
// JSON line says which ran ("cuda_graphs", "graph_replays", "device_data").
//
// Memory mode (--memory-steps N): trains N steps and prints RSS after step
// 100 and after step N, and their growth.
//
// bench/run_train_bench.sh runs this beside bench/reference/convrnn_ref.py.
#include <sys/resource.h>
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "spec/arch_spec.h"
#include "worker/data/data.h"
#include "worker/train/openmp_policy.h"
#include "worker/train/trainer.h"

namespace convrnn {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// Kilobytes of a /proc/self/status field (VmRSS, VmHWM).
double StatusMiB(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stod(line.substr(field.size() + 1)) / 1024.0;
  }
  return -1;
}

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_utime.tv_usec * 1e-6 + u.ru_stime.tv_sec +
         u.ru_stime.tv_usec * 1e-6;
}

Datasets SyntheticData(const ArchSpec& spec, int64_t images) {
  Datasets d;
  d.channels = spec.input.channels;
  d.height = spec.input.height;
  d.width = spec.input.width;
  d.num_classes = spec.num_classes;
  d.mean.assign(d.channels, 0.5f);
  d.stddev.assign(d.channels, 0.25f);
  torch::manual_seed(1);
  d.train.images = torch::randint(256, {images, d.channels, d.height, d.width}, torch::kUInt8);
  d.train.labels = torch::randint(spec.num_classes, {images}, torch::kLong);
  d.description = "synthetic";
  return d;  // val and test empty: no evaluation between epochs
}

struct Flags {
  std::string spec_file;
  std::string cell;
  int batch = 64;
  int threads = 1;
  int warmup = 2;
  int steps = 4;
  int64_t memory_steps = 0;
  std::string device = "cpu";
  std::string precision = "fp32";
  bool channels_last = false;
  std::string cuda_graphs = "auto";
  std::string device_data = "auto";
};

int Run(const Flags& f) {
  absl::StatusOr<ArchSpec> parsed = ReadArchSpecFile(f.spec_file);
  if (!parsed.ok()) {
    std::cerr << parsed.status().message() << std::endl;
    return 2;
  }
  ArchSpec spec = *parsed;
  if (!f.cell.empty()) {
    const auto& names = AllCellTypeNames();
    auto it = std::find(names.begin(), names.end(), f.cell);
    if (it == names.end()) {
      std::cerr << "unknown cell type " << f.cell << std::endl;
      return 2;
    }
    for (LayerSpec& l : spec.layers) {
      l.cell = CellSpec();
      l.cell.type = static_cast<CellType>(it - names.begin());
    }
  }
  spec.train.batch_size = f.batch;
  spec.train.epochs = 1;
  spec.train.precision = f.precision;
  spec.train.channels_last = f.channels_last;
  spec.train.cuda_graphs = f.cuda_graphs;
  const bool memory = f.memory_steps > 0;
  // Throughput: epochs of `warmup` batches; memory: one long epoch of 20 batches repeated.
  const int64_t per_epoch = memory ? 20 : f.warmup;
  const int64_t timed_epochs = memory ? 0 : (f.steps + per_epoch - 1) / per_epoch;
  spec.train.steps = memory ? f.memory_steps : per_epoch * (1 + timed_epochs);
  Datasets data = SyntheticData(spec, per_epoch * f.batch);

  TrainerOptions options;
  options.threads = f.threads;
  options.prefetch = 2;
  options.device = f.device;
  options.device_data = f.device_data;
  std::vector<double> epoch_wall, epoch_cpu;
  options.on_epoch = [&](const EpochMetrics&) {
    epoch_wall.push_back(std::chrono::duration<double>(Clock::now().time_since_epoch()).count());
    epoch_cpu.push_back(CpuSeconds());
    return true;
  };
  double rss_100 = -1, rss_end = -1;
  options.on_step = [&](int64_t step) {  // every 20 steps
    if (step == 100) rss_100 = StatusMiB("VmRSS");
    if (step == f.memory_steps) rss_end = StatusMiB("VmRSS");
  };
  const auto start = Clock::now();
  absl::StatusOr<TrainResult> result = Train(spec, data, options);
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();
  if (!result.ok()) {
    std::cerr << result.status().message() << std::endl;
    return 1;
  }
  json line = {{"impl", "c++"},
               {"cell", f.cell.empty() ? "spec" : f.cell},
               {"batch", f.batch},
               {"threads", torch::get_num_threads()},
               {"device", f.device},
               {"precision", f.precision},
               {"channels_last", f.channels_last},
               {"peak_rss_mib", StatusMiB("VmHWM")},
               {"params", result->params},
               {"cuda_graphs", result->cuda_graphs},
               {"graph_replays", result->graph_replays},
               {"device_data", result->device_data}};
  if (!result->eager_reason.empty()) line["eager_reason"] = result->eager_reason;
  if (memory) {
    line["steps"] = f.memory_steps;
    line["rss_step100_mib"] = rss_100;
    line["rss_end_mib"] = rss_end;
    line["growth_percent"] = 100.0 * (rss_end - rss_100) / rss_100;
    line["step_ms"] = 1000.0 * wall / f.memory_steps;
  } else {
    const int64_t timed = per_epoch * timed_epochs;
    const double seconds = epoch_wall.back() - epoch_wall.front();
    line["steps"] = timed;
    line["images_per_sec"] = timed * f.batch / seconds;
    line["step_ms"] = 1000.0 * seconds / timed;
    line["cpu_per_wall"] = (epoch_cpu.back() - epoch_cpu.front()) / seconds;
  }
  std::cout << line.dump() << std::endl;
  return 0;
}

}  // namespace
}  // namespace convrnn

int main(int argc, char** argv) {
  // As convrnn-worker does (worker/main.cc): passive OpenMP waiting unless
  // OMP_WAIT_POLICY is set; bench/run_train_bench.sh sets it for both sides.
  convrnn::UsePassiveOpenMpWait(argv);
  CLI::App app{"Training throughput and memory of the C++ ConvRNN trainer"};
  convrnn::Flags f;
  app.add_option("--spec", f.spec_file, "Architecture spec (bench/train_spec.json)")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--cell", f.cell, "Replace every layer's cell by this type (default knobs)");
  app.add_option("--batch", f.batch)->capture_default_str();
  app.add_option("--threads", f.threads, "Intra-op threads")->capture_default_str();
  app.add_option("--warmup", f.warmup, "Warm-up steps, excluded")->capture_default_str();
  app.add_option("--steps", f.steps, "Timed steps (rounded up to whole warm-up-sized epochs)")
      ->capture_default_str();
  app.add_option("--device", f.device, "cpu or cuda:N")->capture_default_str();
  app.add_option("--precision", f.precision, "fp32, or bf16 (autocast; CUDA only)")
      ->check(CLI::IsMember({"fp32", "bf16"}))
      ->capture_default_str();
  app.add_flag("--channels-last", f.channels_last, "Channels-last memory format (CUDA only)");
  app.add_option("--cuda-graphs", f.cuda_graphs, "train.cuda_graphs: auto, on or off")
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->capture_default_str();
  app.add_option("--device-data", f.device_data,
                 "Batches on the training device (on), from the host loader (off), or auto")
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->capture_default_str();
  app.add_option("--memory-steps", f.memory_steps,
                 "Memory mode: train this many steps, print RSS growth from step 100");
  CLI11_PARSE(app, argc, argv);
  return convrnn::Run(f);
}
