// The template tree behind a Space: the space JSON with every distribution
// replaced by a parameter node. Private to space.cc and space_mapping.cc.
//
// Thread-safety: immutable once built.
#ifndef CONVRNN_SEARCH_SPACE_NODE_H_
#define CONVRNN_SEARCH_SPACE_NODE_H_

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "search/space.h"

namespace convrnn::search {

struct Space::Node {
  enum class Kind { kLiteral, kObject, kArray, kParam, kFeedback };
  Kind kind = Kind::kLiteral;
  nlohmann::json literal;         // kLiteral
  std::vector<std::string> keys;  // kObject: keys of `children`
  std::vector<Node> children;     // object values, array items, or a categorical's branches
  int param = -1;                 // kParam
  // kParam categorical: branches are objects named by their literal "type".
  bool typed_branches = false;
};

}  // namespace convrnn::search

#endif  // CONVRNN_SEARCH_SPACE_NODE_H_
