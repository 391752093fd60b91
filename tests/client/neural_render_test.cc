// `convrnn score` and the neural part of `convrnn show`, from wire messages.
#include "client/neural_render.h"

#include <catch2/catch.hpp>
#include <sstream>
#include <string>

namespace convrnn::client {
namespace {

using nlohmann::json;

json Report() {
  return json::parse(R"({
    "method": "pls", "data": "48 images 1x28x28, 16 sites (V4 8, IT 8), 3 bins, 4 reps",
    "layers": [0, 1], "bin_steps": [-1, 1, 2], "bin_start_ms": [70, 80, 90],
    "median_r": 0.41, "median_normalized": 0.52, "seconds": 1.5,
    "regions": [
      {"region": "V4", "sites": 8, "best_layer": 0, "median_r": 0.5, "median_normalized": 0.6,
       "median_ceiling": 0.8, "bin_median_r": [null, 0.5, 0.45],
       "bin_median_normalized": [null, 0.6, 0.55], "layer_median_r": [0.5, 0.3]},
      {"region": "IT", "sites": 8, "best_layer": 1, "median_r": 0.33, "median_normalized": null,
       "median_ceiling": 0.7, "bin_median_r": [null, 0.2, 0.33],
       "bin_median_normalized": [null, null, 0.4], "layer_median_r": [0.1, 0.33]}]})");
}

TEST_CASE("a neural report prints regions, bins and layers", "[client]") {
  std::ostringstream out;
  PrintNeuralReport(Report(), out);
  const std::string text = out.str();
  INFO(text);
  CHECK(text.find("Neural predictivity (pls; 48 images") == 0);
  CHECK(text.find("best layer") != std::string::npos);
  CHECK(text.find("V4") != std::string::npos);
  CHECK(text.find("0.600") != std::string::npos);  // V4 normalised
  CHECK(text.find("Per time bin") != std::string::npos);
  CHECK(text.find("IT norm") != std::string::npos);
  CHECK(text.find("Per layer") != std::string::npos);
  CHECK(text.find("layer 1") != std::string::npos);
  CHECK(text.find("null") == std::string::npos);  // undefined medians print as "-"

  // A report missing parts prints what it has.
  std::ostringstream partial;
  PrintNeuralReport(json::object(), partial);
  CHECK(partial.str().find("Neural predictivity") == 0);
}

TEST_CASE("neural scores as JSON and as show text", "[client]") {
  v1::NeuralScore done;
  done.set_id(3);
  done.set_trial_id(7);
  done.set_state(v1::SCORE_STATE_COMPLETED);
  done.set_neural_json(R"({"file":"/data/rec.h5","method":"pls"})");
  done.set_result_json(Report().dump());
  json j = ToJson(done);
  CHECK(j["state"] == "completed");
  CHECK(j["neural"]["file"] == "/data/rec.h5");
  CHECK(j["result"]["median_r"] == 0.41);
  CHECK_FALSE(j.contains("error"));

  google::protobuf::RepeatedPtrField<v1::NeuralScore> scores;
  *scores.Add() = done;
  v1::NeuralScore* failed = scores.Add();
  failed->set_id(4);
  failed->set_state(v1::SCORE_STATE_FAILED);
  failed->set_neural_json(R"({"file":"/data/other.h5","method":"ridge"})");
  failed->set_error("no checkpoint at /ckpt/trial-7/checkpoint.pt");
  CHECK(ToJson(*failed)["error"] == "no checkpoint at /ckpt/trial-7/checkpoint.pt");
  std::ostringstream out;
  PrintNeuralScores(scores, out);
  const std::string text = out.str();
  CHECK(text.find("Neural score 3: completed, /data/rec.h5 (pls)") != std::string::npos);
  CHECK(text.find("Neural score 4: failed, /data/other.h5 (ridge)") != std::string::npos);
  CHECK(text.find("error: no checkpoint") != std::string::npos);
}

}  // namespace
}  // namespace convrnn::client
