// spec/: the torch-free contract between every part of convrnn-search.
//
// What a trial is, as typed C++ parsed from the JSON of DESIGN.md §7, with
// validation that names the key path of anything wrong:
//   arch_spec.h   one concrete ConvRNN and how to train it (ArchSpec)
//   data_spec.h   which dataset a trial trains on and how it is prepared
//   neural_spec.h the neural-predictivity section (what to score against)
//   cost.h        parameter count and FLOPs of a spec without building it
//   checkpoint_path.h  where a trial's checkpoint lives under a shared root
// Nothing here links LibTorch, gRPC or SQLite, so search/, server/ and
// client/ read and check specs without the model; worker/ turns them into
// networks and training runs.
//
// Thread-safety: plain values and pure functions; safe to share const.
#ifndef CONVRNN_SPEC_SPEC_H_
#define CONVRNN_SPEC_SPEC_H_

#include "spec/arch_spec.h"        // IWYU pragma: export
#include "spec/checkpoint_path.h"  // IWYU pragma: export
#include "spec/cost.h"             // IWYU pragma: export
#include "spec/data_spec.h"        // IWYU pragma: export
#include "spec/neural_spec.h"      // IWYU pragma: export

#endif  // CONVRNN_SPEC_SPEC_H_
