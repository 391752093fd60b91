// Kubernetes manifests as the validation test reads them: every YAML
// document of a kustomization (its resources, recursively), with its
// strategic-merge patches and image overrides applied, the way
// `kubectl apply -k` renders them (the subset our manifests use).
//
// Thread-safety: pure functions.
#ifndef CONVRNN_TESTS_DEPLOY_MANIFESTS_H_
#define CONVRNN_TESTS_DEPLOY_MANIFESTS_H_

#include <yaml-cpp/yaml.h>

#include <initializer_list>
#include <string>
#include <vector>

namespace convrnn::deploy {

// node[path[0]][path[1]]..., or an undefined node when any step is missing
// (yaml-cpp throws when a missing key is indexed further).
YAML::Node Get(const YAML::Node& node, std::initializer_list<const char*> path);

// Renders the kustomization in `dir` (a directory holding kustomization.yaml).
// Throws YAML::Exception or std::runtime_error on a malformed or missing file.
std::vector<YAML::Node> RenderKustomization(const std::string& dir);

// Merges `patch` into `base` like a strategic-merge patch: maps merge key by
// key, lists of maps that all carry `name` merge element by name, anything
// else is replaced.
void StrategicMerge(YAML::Node base, const YAML::Node& patch);

// The flags ("--name") a binary's --help lists.
std::vector<std::string> HelpFlags(const std::string& binary);

}  // namespace convrnn::deploy

#endif  // CONVRNN_TESTS_DEPLOY_MANIFESTS_H_
