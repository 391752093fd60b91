// Human views of one architecture spec: a readable description and a
// Graphviz diagram. Pure functions of the spec, testable without a server.
//
// Thread-safety: pure functions.
#ifndef CONVRNN_CLIENT_SPEC_RENDER_H_
#define CONVRNN_CLIENT_SPEC_RENDER_H_

#include <ostream>
#include <string>

#include "spec/arch_spec.h"

namespace convrnn::client {

// The cell's type and its key knobs, short: "rgc(c=32 tau=7s gate=7s res)".
std::string CellSummary(const CellSpec& cell);
// One line for a whole network: "rgc(..) > gru(k=3) > feedforward | fb 2>0 3>1".
std::string ArchSummary(const ArchSpec& spec);

// Input, time, every layer (conv, pool, output shape, cell and all its
// knobs), the feedback edges with their entry points, and training settings.
void DescribeSpec(const ArchSpec& spec, std::ostream& out);

// A Graphviz digraph named `name` (an identifier): an `image` node, one node
// `L<i>` per layer labelled with channels/kernel/stride/pool and its cell,
// a `readout` node; feedforward edges solid, feedback edges
// `L<from> -> L<to>` dashed and labelled with the target's entry point.
std::string SpecToDot(const ArchSpec& spec, const std::string& name);

}  // namespace convrnn::client

#endif  // CONVRNN_CLIENT_SPEC_RENDER_H_
