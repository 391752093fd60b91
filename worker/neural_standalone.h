// `convrnn-worker --spec FILE --checkpoint C --neural FILE.h5`: score one
// trained architecture against neural recordings without a server and print
// one JSON line (score.h's ToJson plus "event": "neural") on stdout.
// Also the helpers the synthetic-data tool shares with it.
//
// Thread-safety: runs on the calling thread.
#ifndef CONVRNN_WORKER_NEURAL_STANDALONE_H_
#define CONVRNN_WORKER_NEURAL_STANDALONE_H_

#include <string>

#include "absl/status/status.h"
#include "worker/standalone.h"

namespace torch {
namespace nn {
class Module;
}
}  // namespace torch

namespace convrnn {

// Returns the process exit status (0, 1, or 2 for bad input).
// REQUIRES: !config.neural_file.empty().
int RunNeuralStandalone(const StandaloneConfig& config);

// Loads only the model weights of a trainer checkpoint (`checkpoint.pt`, or
// a directory holding one) into `model`. NotFound / DataLoss naming the file.
absl::Status LoadModelWeights(const std::string& checkpoint, torch::nn::Module& model);

}  // namespace convrnn

#endif  // CONVRNN_WORKER_NEURAL_STANDALONE_H_
