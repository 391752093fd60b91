// Neural predictivity: the HDF5 format, the ceiling, PLS / ridge, and the
// whole scorer against synthetic recordings from a known teacher network.
#include "tests/torch_catch.h"

#include <hdf5.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "worker/data/data.h"
#include "worker/model/model.h"
#include "worker/neural/fit.h"
#include "worker/neural/recordings.h"
#include "worker/neural/score.h"
#include "worker/neural/synthetic.h"

namespace convrnn {
namespace {

using nlohmann::json;

std::string TempFile(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("convrnn_neural_test_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

// Two recurrent layers (time_decay cells keep image information after the
// image is gone); the image is shown for 3 of 8 steps.
json TeacherSpec(const std::string& cell = "time_decay") {
  json c = {{"type", cell}};
  if (cell == "time_decay") c["decay_init"] = 0.7;
  return {{"input", {{"channels", 1}, {"height", 28}, {"width", 28}}},
          {"num_classes", 10},
          {"time", {{"steps", 8}, {"image_off", 3}}},
          {"layers",
           {{{"channels", 8}, {"kernel", 5}, {"stride", 2}, {"pool", true}, {"cell", c}},
            {{"channels", 16}, {"kernel", 3}, {"pool", true}, {"cell", c}}}}};
}

ConvRnn MakeModel(const json& spec_json, uint64_t seed) {
  absl::StatusOr<ArchSpec> spec = ParseArchSpec(spec_json);
  REQUIRE(spec.ok());
  torch::manual_seed(seed);
  return ConvRnn(*spec);
}

// The first n Fashion-MNIST test images, [n, 1, 28, 28] on the [0, 1] scale.
torch::Tensor Stimuli(int64_t n) {
  absl::StatusOr<torch::Tensor> images =
      ReadIdxFile("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz");
  REQUIRE(images.ok());
  return images->slice(0, 0, n).unsqueeze(1).to(torch::kFloat32).div(255.0);
}

// The teacher of the synthetic recordings: TeacherSpec at the random init of
// `seed`, then trained briefly to classify Fashion-MNIST (Adam, lr 0.01,
// `steps` batches of 32 test images 1000..4999, so never the 400 stimuli).
// Its init is "an untrained network of the same shape" (issue 5).
ConvRnn TrainedTeacher(uint64_t seed, int steps = 400) {
  ConvRnn model = MakeModel(TeacherSpec(), seed);
  const std::string dir = "/usr/share/datasets/fashion-mnist/";
  absl::StatusOr<torch::Tensor> images = ReadIdxFile(dir + "t10k-images-idx3-ubyte.gz");
  absl::StatusOr<torch::Tensor> labels = ReadIdxFile(dir + "t10k-labels-idx1-ubyte.gz");
  REQUIRE(images.ok());
  REQUIRE(labels.ok());
  torch::Tensor x = images->slice(0, 1000, 5000).unsqueeze(1).to(torch::kFloat32).div(255.0);
  x = (x - x.mean()) / x.std();
  torch::Tensor y = labels->slice(0, 1000, 5000).to(torch::kInt64);
  torch::optim::Adam adam(model->parameters(), torch::optim::AdamOptions(0.01));
  torch::Generator gen = at::detail::createCPUGenerator(seed);
  model->train();
  for (int step = 0; step < steps; ++step) {
    torch::Tensor batch = torch::randint(x.size(0), {32}, gen, torch::kInt64);
    torch::Tensor loss = UnrolledLoss(model->forward(x.index_select(0, batch)),
                                      y.index_select(0, batch), model->spec().time);
    adam.zero_grad();
    loss.backward();
    adam.step();
  }
  model->eval();
  return model;
}

NeuralData MakeTeacherData(ConvRnnImpl& teacher, uint64_t seed) {
  SyntheticOptions options;
  options.sites_per_region = 16;
  options.repetitions = 4;
  options.noise_sd = 1.0;  // true reliability 1 / (1 + 1/4) = 0.8
  options.seed = seed;
  absl::StatusOr<NeuralData> made = MakeSyntheticNeuralData(teacher, Stimuli(400), options);
  REQUIRE(made.ok());
  return *std::move(made);
}

ConvRnn& Teacher() {
  static ConvRnn* teacher = new ConvRnn(TrainedTeacher(/*seed=*/1));
  return *teacher;
}

const NeuralData& TeacherData() {
  static const NeuralData* data = new NeuralData(MakeTeacherData(*Teacher(), /*seed=*/5));
  return *data;
}

NeuralScore ScoreOf(ConvRnnImpl& model, const NeuralData& data, uint64_t seed = 3,
                    NeuralMethod method = NeuralMethod::kPls) {
  NeuralScoreOptions options;
  options.seed = seed;
  options.fit.method = method;
  absl::StatusOr<NeuralScore> score = ScoreModel(model, data, options);
  REQUIRE(score.ok());
  return *score;
}

NeuralScore Score(const json& spec, uint64_t model_seed, const NeuralData& data, uint64_t seed = 3,
                  NeuralMethod method = NeuralMethod::kPls) {
  ConvRnn model = MakeModel(spec, model_seed);
  return ScoreOf(*model, data, seed, method);
}

// How far below the trained teacher its untrained init scores at least
// (median normalised r). Over teacher seeds 1..5 (the hidden test below) the
// trained teacher scored 0.982..0.988 and its init 0.822..0.863: gaps
// 0.12..0.16. (A second random init, not trained, scored 0.83 against a
// random-init teacher: random features predict each other well, so only
// training makes the teacher's features its own.)
constexpr double kUntrainedMargin = 0.1;

double LateMedian(const RegionScore& region, int from_bin) {
  std::vector<double> late(region.bin_median_normalized.begin() + from_bin,
                           region.bin_median_normalized.end());
  std::sort(late.begin(), late.end());
  return late[late.size() / 2];
}

TEST_CASE("the split-half ceiling recovers the true reliability", "[neural]") {
  torch::manual_seed(0);
  const int64_t reps = 6, n = 300, sites = 40;
  for (double noise_sd : {1.2, 3.0}) {
    torch::Tensor signal = torch::randn({1, n, sites, 2});
    torch::Tensor responses = signal + noise_sd * torch::randn({reps, n, sites, 2});
    const double truth = 1.0 / (1.0 + noise_sd * noise_sd / reps);
    torch::Tensor ceiling = SplitHalfReliability(responses, /*splits=*/10, /*seed=*/1);
    INFO("noise sd " << noise_sd << " truth " << truth << " estimate "
                     << ceiling.mean().item<double>());
    CHECK(std::abs(ceiling.mean().item<double>() - truth) < 0.05);
  }
  SECTION("missing repetitions are skipped, not propagated") {
    torch::Tensor responses = torch::randn({1, n, sites, 1}) + torch::randn({reps, n, sites, 1});
    responses.masked_fill_(torch::rand(responses.sizes()) < 0.1, NAN);
    torch::Tensor ceiling = SplitHalfReliability(responses, 5, 1);
    CHECK(torch::isfinite(ceiling).all().item<bool>());
    CHECK(std::abs(ceiling.mean().item<double>() - 1.0 / (1.0 + 1.0 / (reps * 0.9))) < 0.07);
  }
}

TEST_CASE("PLS and ridge recover a known low-rank linear map", "[neural]") {
  torch::manual_seed(0);
  const int64_t n = 300, f = 40, m = 12;
  torch::Tensor x = torch::randn({n, f}, torch::kFloat64);
  torch::Tensor b = torch::randn({f, 3}, torch::kFloat64).mm(torch::randn({3, m}, torch::kFloat64));
  torch::Tensor y = x.mm(b) + 0.05 * torch::randn({n, m}, torch::kFloat64);
  std::vector<int> fold = AssignFolds(n, 5, 1);
  for (NeuralMethod method : {NeuralMethod::kPls, NeuralMethod::kRidge}) {
    FitOptions options;
    options.method = method;
    torch::Tensor pred = CrossValidatedPredictions(x, y, fold, 5, options);
    CHECK(PearsonColumns(pred, y).min().item<double>() > 0.99);
  }
  // With as many components as features PLS is least squares: checks the
  // SIMPLS deflation, not just the fit.
  torch::Tensor xc = x - x.mean(0), yc = y - y.mean(0);
  torch::Tensor coef = PlsCoefficients(xc, yc, static_cast<int>(f));
  torch::Tensor ols = torch::linalg_solve(xc.t().mm(xc), xc.t().mm(yc), /*left=*/true);
  CHECK(((coef - ols).norm() / ols.norm()).item<double>() < 1e-6);
  CHECK(((coef - b).norm() / b.norm()).item<double>() < 0.05);
}

// The ridge fit as first written: a full SVD of the standardised training
// features per fit, every penalty's leave-one-out error in float64. The
// scorer's faster fit must choose the same penalties and predict the same.
torch::Tensor ReferenceRidge(const torch::Tensor& x_train, const torch::Tensor& y_train,
                             const torch::Tensor& x_test, const std::vector<double>& alphas) {
  torch::Tensor mean = x_train.mean(0), sd = x_train.std(0, /*unbiased=*/false);
  torch::Tensor xs = (x_train - mean) / sd, xt = (x_test - mean) / sd;
  torch::Tensor y_mean = y_train.mean(0), yc = y_train - y_mean;
  auto [u, sv, vh] = torch::linalg_svd(xs, /*full_matrices=*/false);
  torch::Tensor uty = u.t().mm(yc), s2 = sv.square();
  torch::Tensor best_err = torch::full({yc.size(1)}, INFINITY, torch::kFloat64);
  torch::Tensor best_alpha = torch::zeros({yc.size(1)}, torch::kFloat64);
  for (double alpha : alphas) {
    torch::Tensor d = s2 / (s2 + alpha);
    torch::Tensor h = u.square().mv(d).clamp_max(1 - 1e-9);
    torch::Tensor err = ((yc - u.mm(d.unsqueeze(1) * uty)) / (1 - h).unsqueeze(1)).square().mean(0);
    torch::Tensor better = err < best_err;
    best_err = torch::where(better, err, best_err);
    best_alpha = torch::where(better, torch::full_like(best_alpha, alpha), best_alpha);
  }
  torch::Tensor shrink = sv.unsqueeze(1) / (s2.unsqueeze(1) + best_alpha.unsqueeze(0));
  return xt.mm(vh.t().mm(shrink * uty)) + y_mean;
}

TEST_CASE("ridge matches a direct SVD fit, with fewer or more features than images", "[neural]") {
  torch::manual_seed(0);
  FitOptions options;
  options.method = NeuralMethod::kRidge;
  for (int64_t f : {30, 200}) {
    const int64_t n = 120, m = 50;
    // Correlated features, sites from strong signal to none, so that every
    // penalty from 1e-2 to 1e6 is someone's best.
    torch::Tensor x =
        torch::randn({n + 40, 10}, torch::kFloat64).mm(torch::randn({10, f}, torch::kFloat64)) +
        0.3 * torch::randn({n + 40, f}, torch::kFloat64) + 2.0;
    torch::Tensor signal = torch::linspace(0, 2, m, torch::kFloat64);
    torch::Tensor y = x.mm(torch::randn({f, m}, torch::kFloat64)) / std::sqrt(f) * signal +
                      torch::randn({n + 40, m}, torch::kFloat64);
    torch::Tensor x_train = x.slice(0, 0, n), x_test = x.slice(0, n);
    torch::Tensor y_train = y.slice(0, 0, n);
    torch::Tensor ours = FitPredict(x_train, y_train, x_test, options);
    torch::Tensor ref = ReferenceRidge(x_train, y_train, x_test, options.ridge_alphas);
    INFO("features " << f << " max difference " << (ours - ref).abs().max().item<double>());
    CHECK(torch::allclose(ours, ref, /*rtol=*/1e-7, /*atol=*/1e-9));
  }
}

TEST_CASE("the teacher scores near its ceiling, others lower", "[neural]") {
  const NeuralData& data = TeacherData();
  NeuralScore teacher = ScoreOf(*Teacher(), data);
  INFO(ToJson(teacher).dump());
  CHECK(teacher.median_normalized > 0.9);
  REQUIRE(teacher.regions.size() == 2);
  CHECK(teacher.regions[0].region == "V4");
  CHECK(teacher.regions[0].best_layer == 0);
  CHECK(teacher.regions[1].best_layer == 1);
  CHECK(std::abs(teacher.regions[0].median_ceiling - 0.8) < 0.05);

  // The same network before training (the teacher's own init).
  NeuralScore untrained = Score(TeacherSpec(), 1, data);
  INFO(ToJson(untrained).dump());
  CHECK(untrained.median_normalized < teacher.median_normalized - kUntrainedMargin);

  // The image is gone from step 3; layer 1 sees the blank from step 4.
  NeuralScore feedforward = Score(TeacherSpec("feedforward"), 1, data);
  INFO(ToJson(feedforward).dump());
  const int late = 5;
  CHECK(LateMedian(feedforward.regions[1], late) < LateMedian(teacher.regions[1], late) - 0.3);
  // Once the image is gone a feedforward network carries no information:
  // its score is zero, not negative.
  CHECK(std::abs(LateMedian(feedforward.regions[1], late)) < 0.1);
}

// Hidden (~30 s): the trained-vs-untrained gap over five teacher
// seeds; run with `convrnn_neural_test "[.neural-seeds]"`.
TEST_CASE("a trained teacher beats its own init for every seed", "[.neural-seeds]") {
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    ConvRnn teacher = TrainedTeacher(seed);
    NeuralData data = MakeTeacherData(*teacher, seed + 4);
    const double trained = ScoreOf(*teacher, data).median_normalized;
    const double untrained = Score(TeacherSpec(), seed, data).median_normalized;
    WARN("seed " << seed << ": trained " << trained << ", untrained " << untrained << ", gap "
                 << trained - untrained);
    CHECK(trained > 0.9);
    CHECK(untrained < trained - kUntrainedMargin);
  }
}

TEST_CASE("scores are reproducible for a seed", "[neural]") {
  const NeuralData& data = TeacherData();
  NeuralScore a = Score(TeacherSpec(), 2, data, /*seed=*/9, NeuralMethod::kRidge);
  NeuralScore b = Score(TeacherSpec(), 2, data, /*seed=*/9, NeuralMethod::kRidge);
  CHECK(torch::equal(torch::nan_to_num(a.r), torch::nan_to_num(b.r)));
  CHECK(torch::equal(torch::nan_to_num(a.ceiling), torch::nan_to_num(b.ceiling)));
  CHECK(a.median_normalized == b.median_normalized);
  NeuralScore c = Score(TeacherSpec(), 2, data, /*seed=*/10, NeuralMethod::kRidge);
  CHECK_FALSE(torch::equal(torch::nan_to_num(a.r), torch::nan_to_num(c.r)));  // other folds
}

TEST_CASE("neural files round-trip and malformed ones are refused clearly", "[neural]") {
  NeuralData data;
  torch::manual_seed(0);
  data.stimuli = torch::rand({6, 1, 5, 5});
  data.responses = torch::randn({3, 6, 4, 2});
  data.responses[0][0][0][0] = NAN;
  data.regions = {"V4", "V4", "IT", "IT"};
  data.bin_start_ms = {70, 80};
  const std::string file = TempFile("ok.h5");
  REQUIRE(WriteNeuralData(file, data).ok());
  absl::StatusOr<NeuralData> read = ReadNeuralData(file);
  REQUIRE(read.ok());
  CHECK(read->regions == data.regions);
  CHECK(read->bin_start_ms == data.bin_start_ms);
  CHECK(torch::allclose(read->stimuli, data.stimuli, 0, 1.0 / 255));
  CHECK(torch::equal(torch::nan_to_num(read->responses), torch::nan_to_num(data.responses)));
  CHECK(read->Describe() == "6 images 1x5x5, 4 sites (V4 2, IT 2), 2 bins, 3 reps");

  auto refused = [](const NeuralData& bad, const std::string& needle) {
    const std::string f = TempFile("bad.h5");
    REQUIRE(WriteNeuralData(f, bad, /*uint8_stimuli=*/false).ok());
    absl::StatusOr<NeuralData> r = ReadNeuralData(f);
    REQUIRE_FALSE(r.ok());
    INFO(r.status().message());
    CHECK(std::string(r.status().message()).find(f) != std::string::npos);
    CHECK(std::string(r.status().message()).find(needle) != std::string::npos);
    std::filesystem::remove(f);
  };
  NeuralData bad = data;
  bad.responses = torch::randn({3, 5, 4, 2});
  refused(bad, "/responses: has 5 images");
  bad = data;
  bad.responses = torch::randn({6, 4, 2});
  refused(bad, "/responses: expected R x N x S x B");
  bad = data;
  bad.regions = {"V4", "IT"};
  refused(bad, "/sites/region: expected 4 strings");
  bad = data;
  bad.bin_start_ms = {80, 70};
  refused(bad, "/bins/start_ms: not increasing");
  bad = data;
  bad.responses = torch::full({3, 6, 4, 2}, NAN);
  refused(bad, "/responses: every value is NaN");

  // A file without /responses, written directly.
  const std::string partial = TempFile("partial.h5");
  {
    hid_t fid = H5Fcreate(partial.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dims[3] = {2, 3, 3};
    hid_t space = H5Screate_simple(3, dims, nullptr);
    hid_t ds =
        H5Dcreate2(fid, "stimuli", H5T_STD_U8LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    std::vector<uint8_t> pixels(18, 7);
    H5Dwrite(ds, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, pixels.data());
    H5Dclose(ds);
    H5Sclose(space);
    H5Fclose(fid);
  }
  absl::StatusOr<NeuralData> r = ReadNeuralData(partial);
  REQUIRE_FALSE(r.ok());
  CHECK(std::string(r.status().message()) ==
        partial + ": /responses: missing (see docs/neural-data.md for the layout)");

  const std::string text = TempFile("text.h5");
  std::ofstream(text) << "not hdf5";
  r = ReadNeuralData(text);
  REQUIRE_FALSE(r.ok());
  CHECK(std::string(r.status().message()).find("not an HDF5 file") != std::string::npos);
  CHECK(ReadNeuralData(TempFile("absent.h5")).status().code() == absl::StatusCode::kNotFound);
  for (const std::string& f : {file, partial, text}) std::filesystem::remove(f);
}

TEST_CASE("synthetic data reports its true reliability", "[neural]") {
  const NeuralData& data = TeacherData();
  REQUIRE(data.true_reliability.defined());
  // V4 reads layer 0, computing from step 0; IT reads layer 1, from step 1.
  CHECK(data.true_reliability[0][0].item<float>() == Approx(0.8));
  CHECK(data.true_reliability[16][0].item<float>() == 0.0f);
  CHECK(data.true_reliability[16][1].item<float>() == Approx(0.8));
  CHECK(data.bin_start_ms.front() == 70.0);
  CHECK(data.bins() == 8);
}

}  // namespace
}  // namespace convrnn
