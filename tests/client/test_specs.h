// Fixtures shared by the client tests: a spec with several cell types and
// feedback, and trials that carry it.
#ifndef CONVRNN_TESTS_CLIENT_TEST_SPECS_H_
#define CONVRNN_TESTS_CLIENT_TEST_SPECS_H_

#include <string>

namespace convrnn::client::testing {

// Four layers (feedforward, gru, rgc entering at its cell, lstm) and two
// feedback edges: 3 -> 1 and 2 -> 0.
inline const char* kFeedbackSpec = R"json({
  "input": {"channels": 1, "height": 28, "width": 28},
  "num_classes": 10,
  "time": {"steps": 8, "image_off": 6, "loss": "last"},
  "layers": [
    {"channels": 16, "kernel": 5, "stride": 1, "pool": true, "cell": {"type": "feedforward"}},
    {"channels": 32, "kernel": 3, "pool": false,
     "cell": {"type": "gru", "recurrent_kernel": 3, "feedback_entry": "input"}},
    {"channels": 32, "kernel": 3, "pool": true,
     "cell": {"type": "rgc", "cell_channels": 16, "tau_kernel": 7, "gate_kernel": 5,
              "tau_separable": true, "feedback_entry": "cell"}},
    {"channels": 64, "kernel": 3, "pool": false, "cell": {"type": "lstm"}}
  ],
  "feedback": [{"from": 3, "to": 1}, {"from": 2, "to": 0}],
  "train": {"optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": true,
            "weight_decay": 5e-4, "batch_size": 128, "epochs": 2,
            "schedule": "cosine", "clip_grad_norm": 1.0, "seed": 0}
})json";

// A plain two-layer feedforward network.
inline const char* kSmallSpec = R"json({
  "input": {"channels": 1, "height": 28, "width": 28},
  "num_classes": 10,
  "time": {"steps": 4, "image_off": 4, "loss": "last"},
  "layers": [
    {"channels": 8, "kernel": 3, "cell": {"type": "feedforward"}},
    {"channels": 8, "kernel": 3, "cell": {"type": "time_decay"}}
  ]
})json";

}  // namespace convrnn::client::testing

#endif  // CONVRNN_TESTS_CLIENT_TEST_SPECS_H_
