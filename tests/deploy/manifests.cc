#include "tests/deploy/manifests.h"

#include <stdio.h>

#include <array>
#include <filesystem>
#include <regex>
#include <set>
#include <stdexcept>

namespace convrnn::deploy {
namespace {

bool AllNamed(const YAML::Node& list) {
  if (!list.IsSequence() || list.size() == 0) return false;
  for (const YAML::Node& item : list) {
    if (!item.IsMap() || !item["name"]) return false;
  }
  return true;
}

std::string Key(const YAML::Node& doc) {
  return doc["kind"].as<std::string>() + "/" + doc["metadata"]["name"].as<std::string>();
}

// Applies `images:` entries to every container image named `name`.
void SetImages(std::vector<YAML::Node>& docs, const YAML::Node& images) {
  for (YAML::Node doc : docs) {
    YAML::Node spec = Get(doc, {"spec", "template", "spec"});
    if (!spec.IsMap() || !spec["containers"]) continue;
    for (YAML::Node container : spec["containers"]) {
      for (const YAML::Node& image : images) {
        if (container["image"].as<std::string>() != image["name"].as<std::string>()) continue;
        container["image"] =
            image["newName"].as<std::string>() + ":" + image["newTag"].as<std::string>();
      }
    }
  }
}

}  // namespace

YAML::Node Get(const YAML::Node& node, std::initializer_list<const char*> path) {
  YAML::Node current = node;
  for (const char* key : path) {
    if (!current.IsMap() || !current[key]) return YAML::Node(YAML::NodeType::Undefined);
    current.reset(current[key]);  // rebind; `=` would overwrite the node itself
  }
  return current;
}

void StrategicMerge(YAML::Node base, const YAML::Node& patch) {
  for (const auto& entry : patch) {
    const std::string key = entry.first.as<std::string>();
    const YAML::Node& value = entry.second;
    YAML::Node target = base[key];
    if (value.IsMap() && target && target.IsMap()) {
      StrategicMerge(target, value);
    } else if (AllNamed(value) && AllNamed(target)) {
      for (const YAML::Node& item : value) {
        bool merged = false;
        for (YAML::Node existing : target) {
          if (existing["name"].as<std::string>() == item["name"].as<std::string>()) {
            StrategicMerge(existing, item);
            merged = true;
          }
        }
        if (!merged) target.push_back(YAML::Clone(item));
      }
    } else {
      base[key] = YAML::Clone(value);
    }
  }
}

std::vector<YAML::Node> RenderKustomization(const std::string& dir) {
  const std::filesystem::path root(dir);
  const YAML::Node kustomization = YAML::LoadFile((root / "kustomization.yaml").string());
  std::vector<YAML::Node> docs;
  for (const YAML::Node& resource : kustomization["resources"]) {
    const std::filesystem::path path = root / resource.as<std::string>();
    if (std::filesystem::is_directory(path)) {
      std::vector<YAML::Node> nested = RenderKustomization(path.string());
      docs.insert(docs.end(), nested.begin(), nested.end());
    } else {
      for (const YAML::Node& doc : YAML::LoadAllFromFile(path.string())) docs.push_back(doc);
    }
  }
  for (const YAML::Node& patch_ref : kustomization["patches"]) {
    const std::string file = (root / patch_ref["path"].as<std::string>()).string();
    const YAML::Node patch = YAML::LoadFile(file);
    bool applied = false;
    for (YAML::Node doc : docs) {
      if (Key(doc) == Key(patch)) {
        StrategicMerge(doc, patch);
        applied = true;
      }
    }
    if (!applied) throw std::runtime_error(file + ": patches no resource (" + Key(patch) + ")");
  }
  if (kustomization["images"]) SetImages(docs, kustomization["images"]);
  return docs;
}

std::vector<std::string> HelpFlags(const std::string& binary) {
  FILE* pipe = popen((binary + " --help 2>&1").c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("cannot run " + binary);
  std::string help;
  std::array<char, 4096> buffer;
  size_t n = 0;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) help.append(buffer.data(), n);
  pclose(pipe);
  std::set<std::string> flags;
  const std::regex flag("--[a-z][a-z0-9-]*");
  for (auto it = std::sregex_iterator(help.begin(), help.end(), flag); it != std::sregex_iterator();
       ++it) {
    flags.insert(it->str());
  }
  return {flags.begin(), flags.end()};
}

}  // namespace convrnn::deploy
