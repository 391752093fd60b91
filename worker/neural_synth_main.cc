// convrnn-neural-synth: writes a synthetic recording file (docs/neural-data.md)
// whose responses are a fixed random linear read-out of a teacher ConvRNN's
// layer features over time plus Gaussian noise of known variance
// (synthetic.h). Stimuli are the first --images images of the data
// spec's test split (Fashion-MNIST by default).
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <string>
#include <vector>

#include "spec/arch_spec.h"
#include "spec/data_spec.h"
#include "util/exit_code.h"
#include "worker/data/data.h"
#include "worker/neural/recordings.h"
#include "worker/neural/score.h"
#include "worker/neural/synthetic.h"
#include "worker/neural_standalone.h"
#include "worker/train/trainer.h"

namespace {

int Fail(const absl::Status& status) {
  std::cerr << "convrnn-neural-synth: " << status.message() << std::endl;
  return convrnn::ExitCodeFor(status);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"convrnn-neural-synth: synthetic neural recordings from a teacher ConvRNN"};
  std::string spec_file, out, checkpoint, data_file;
  int images = 400;
  int threads = 0;
  bool float_stimuli = false;
  convrnn::SyntheticOptions options;
  app.add_option("--spec", spec_file, "Teacher architecture spec (JSON)")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--out", out, "HDF5 file to write")->required();
  app.add_option("--checkpoint", checkpoint,
                 "Teacher weights (checkpoint.pt or its directory); default: seeded random init");
  app.add_option("--data", data_file,
                 "Data spec for stimuli and normalisation (default: Fashion-MNIST)")
      ->check(CLI::ExistingFile);
  app.add_option("--images", images, "Stimuli: the first N test images")->capture_default_str();
  app.add_option("--regions", options.regions, "Region names")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--region-layers", options.region_layers,
                 "Teacher layer read by each region (default: spread over the layers)")
      ->delimiter(',');
  app.add_option("--sites-per-region", options.sites_per_region)->capture_default_str();
  app.add_option("--reps", options.repetitions, "Repetitions per image")->capture_default_str();
  app.add_option("--noise", options.noise_sd, "Noise SD per repetition (signal variance 1)")
      ->capture_default_str();
  app.add_option("--missing", options.missing, "Fraction of repetitions set to NaN")
      ->capture_default_str();
  app.add_option("--offset", options.step_offset, "Bin b reads teacher step b + offset")
      ->capture_default_str();
  app.add_option("--bins", options.bins,
                 "Bins (default: the teacher's steps from --offset on; "
                 "more bins extend the teacher's steps)");
  app.add_option("--seed", options.seed, "Seeds the teacher init, read-outs and noise")
      ->capture_default_str();
  app.add_option("--threads", threads, "Intra-op threads");
  app.add_flag("--float-stimuli", float_stimuli, "Store stimuli as float32 instead of uint8");
  CLI11_PARSE(app, argc, argv);

  absl::StatusOr<convrnn::ArchSpec> spec = convrnn::ReadArchSpecFile(spec_file);
  if (!spec.ok()) return Fail(spec.status());
  convrnn::DataSpec data_spec;
  if (!data_file.empty()) {
    absl::StatusOr<convrnn::DataSpec> parsed = convrnn::ReadDataSpecFile(data_file);
    if (!parsed.ok()) return Fail(parsed.status());
    data_spec = *parsed;
  }
  absl::StatusOr<convrnn::Datasets> data = convrnn::LoadDatasets(data_spec);
  if (!data.ok()) return Fail(data.status());
  const convrnn::ImageSet& source = data->test.size() > 0 ? data->test : data->val;
  if (images < 1 || images > source.size()) {
    return Fail(absl::InvalidArgumentError("--images must be in [1, " +
                                           std::to_string(source.size()) + "]"));
  }
  torch::set_num_threads(threads > 0 ? threads : convrnn::DefaultThreads(1));
  options.features.mean = data->mean;
  options.features.stddev = data->stddev;
  torch::manual_seed(options.seed);
  convrnn::ConvRnn teacher(
      options.bins > 0 ? convrnn::SpecForBins(*spec, options.bins, options.step_offset) : *spec);
  if (!checkpoint.empty()) {
    if (absl::Status s = convrnn::LoadModelWeights(checkpoint, *teacher); !s.ok()) return Fail(s);
  }
  torch::Tensor stimuli = source.images.slice(0, 0, images).to(torch::kFloat32).div(255.0);
  absl::StatusOr<convrnn::NeuralData> made =
      convrnn::MakeSyntheticNeuralData(*teacher, stimuli, options);
  if (!made.ok()) return Fail(made.status());
  if (absl::Status s = convrnn::WriteNeuralData(out, *made, !float_stimuli); !s.ok())
    return Fail(s);
  std::cerr << "convrnn-neural-synth: wrote " << out << ": " << made->Describe() << std::endl;
  return convrnn::kExitOk;
}
