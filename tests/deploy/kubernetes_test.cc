// Offline validation of deploy/kubernetes: each overlay renders (resources,
// patches, images), every cross-reference resolves (PVCs, Secrets and the
// keys the containers read, volume mounts, Services and their selectors and
// ports, the StatefulSet's headless Service, probe ports, the workers'
// --server address), every container argument is a flag the binary's --help
// lists, images name a registry and a version, pods request resources and
// run as the image's user. Then the same checks catch each defect the old
// manifests had.
#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "tests/deploy/manifests.h"

namespace convrnn::deploy {
namespace {

const std::string kSource = CONVRNN_SOURCE_DIR;
const std::string kKube = kSource + "/deploy/kubernetes";

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string S(const YAML::Node& node) { return node ? node.as<std::string>() : ""; }

struct Checker {
  std::vector<YAML::Node> docs;
  std::map<std::string, std::vector<std::string>> flags;  // by command
  std::string secrets_doc;                                // README: how secrets are made
  std::vector<std::string> problems;

  void Problem(const std::string& what) { problems.push_back(what); }

  bool Has(const std::string& kind, const std::string& name) const {
    for (const YAML::Node& d : docs) {
      if (S(d["kind"]) == kind && S(d["metadata"]["name"]) == name) return true;
    }
    return false;
  }
  const YAML::Node* Find(const std::string& kind, const std::string& name) const {
    for (const YAML::Node& d : docs) {
      if (S(d["kind"]) == kind && S(d["metadata"]["name"]) == name) return &d;
    }
    return nullptr;
  }

  // A Secret is either in the manifests or created as the README says, with `key`.
  void CheckSecretKey(const std::string& where, const std::string& secret, const std::string& key) {
    if (Has("Secret", secret)) return;
    for (absl::string_view line : absl::StrSplit(secrets_doc, '\n')) {
      if (absl::StrContains(line, "kubectl create secret") &&
          absl::StrContains(line, " " + secret + " ") &&
          (key.empty() || absl::StrContains(line, "--from-file=" + key + "="))) {
        return;
      }
    }
    Problem(absl::StrCat(where, ": secret ", secret, (key.empty() ? "" : " key " + key),
                         " is neither defined nor created in deploy/kubernetes/README.md"));
  }

  void CheckPod(const std::string& where, const YAML::Node& workload) {
    const YAML::Node pod = Get(workload, {"spec", "template", "spec"});
    std::map<std::string, YAML::Node> volumes;
    for (const YAML::Node& v : pod["volumes"]) volumes[S(v["name"])] = v;
    const YAML::Node templates = Get(workload, {"spec", "volumeClaimTemplates"});
    for (const YAML::Node& t : templates.IsSequence() ? templates : YAML::Node()) {
      volumes[S(t["metadata"]["name"])] = YAML::Node();
    }
    for (const auto& [name, v] : volumes) {
      if (!v) continue;
      const std::string claim = S(Get(v, {"persistentVolumeClaim", "claimName"}));
      if (!claim.empty() && !Has("PersistentVolumeClaim", claim)) {
        Problem(where + ": PVC " + claim + " not defined");
      }
      if (v["secret"]) {
        CheckSecretKey(where, S(v["secret"]["secretName"]), "");
        for (const YAML::Node& item : v["secret"]["items"]) {
          CheckSecretKey(where, S(v["secret"]["secretName"]), S(item["key"]));
        }
      }
      if (v["configMap"] && !Has("ConfigMap", S(v["configMap"]["name"]))) {
        Problem(where + ": ConfigMap " + S(v["configMap"]["name"]) + " not defined");
      }
    }
    if (S(Get(pod, {"securityContext", "runAsUser"})) != "999" ||
        S(Get(pod, {"securityContext", "fsGroup"})) != "999") {
      Problem(where + ": must run as the image's user (runAsUser 999) with fsGroup 999");
    }
    for (const YAML::Node& c : pod["containers"]) CheckContainer(where, c, volumes);
  }

  void CheckContainer(const std::string& where, const YAML::Node& c,
                      const std::map<std::string, YAML::Node>& volumes) {
    const std::string image = S(c["image"]);
    const std::vector<std::string> parts = absl::StrSplit(image, '/');
    if (parts.size() < 2 || !absl::StrContains(parts[0], '.') ||
        !absl::StrContains(parts.back(), ':') || absl::EndsWith(image, ":latest")) {
      Problem(where + ": image " + image + " names no registry or no version");
    }
    if (!Get(c, {"resources", "requests", "cpu"}) || !Get(c, {"resources", "requests", "memory"}) ||
        !Get(c, {"resources", "limits", "cpu"})) {
      Problem(where + ": no CPU/memory requests and CPU limit");
    }
    std::map<std::string, std::string> mounts;  // path -> volume
    for (const YAML::Node& m : c["volumeMounts"]) {
      if (volumes.count(S(m["name"])) == 0)
        Problem(where + ": mount of unknown volume " + S(m["name"]));
      mounts[S(m["mountPath"])] = S(m["name"]);
    }
    std::set<std::string> ports;
    for (const YAML::Node& p : c["ports"]) {
      ports.insert(S(p["name"]));
      ports.insert(S(p["containerPort"]));
    }
    for (const char* probe : {"startupProbe", "readinessProbe", "livenessProbe"}) {
      const YAML::Node port = Get(c, {probe, "httpGet"}) ? Get(c, {probe, "httpGet", "port"})
                                                         : Get(c, {probe, "grpc", "port"});
      if (c[probe] && ports.count(S(port)) == 0) Problem(where + ": " + probe + " on unknown port");
    }
    const std::string command = c["command"] ? S(c["command"][0]) : "";
    if (flags.count(command) == 0) {
      Problem(where + ": command " + command + " is not one of the binaries");
      return;
    }
    const std::vector<std::string>& known = flags.at(command);
    const YAML::Node args = c["args"];
    for (size_t i = 0; i < args.size(); ++i) {
      const std::string arg = S(args[i]);
      if (absl::StartsWith(arg, "--")) {
        if (std::find(known.begin(), known.end(), arg) == known.end()) {
          Problem(where + ": " + command + " has no flag " + arg);
        }
      } else if (absl::StartsWith(arg, "/")) {
        CheckPathArg(where, arg, mounts, volumes);
      } else if (i > 0 && S(args[i - 1]) == "--server") {
        CheckServerAddress(where, arg);
      }
    }
  }

  // A file or directory argument lies on a mounted volume (with its key,
  // for a secret).
  void CheckPathArg(const std::string& where, const std::string& path,
                    const std::map<std::string, std::string>& mounts,
                    const std::map<std::string, YAML::Node>& volumes) {
    for (const auto& [mount, volume] : mounts) {
      if (path != mount && !absl::StartsWith(path, mount + "/")) continue;
      const YAML::Node v = volumes.at(volume);
      if (v && v["secret"]) {
        const std::string key = path.substr(mount.size() + 1);
        CheckSecretKey(where, S(v["secret"]["secretName"]), key);
        bool listed = !v["secret"]["items"];
        for (const YAML::Node& item : v["secret"]["items"]) listed |= S(item["path"]) == key;
        if (!listed) Problem(where + ": " + path + " is not among the secret's items");
      }
      return;
    }
    Problem(where + ": " + path + " is on no mounted volume");
  }

  void CheckServerAddress(const std::string& where, const std::string& address) {
    const std::vector<std::string> hp = absl::StrSplit(address, ':');
    const YAML::Node* service = hp.size() == 2 ? Find("Service", hp[0]) : nullptr;
    bool port = false;
    if (service != nullptr) {
      for (const YAML::Node& p : (*service)["spec"]["ports"]) port |= S(p["port"]) == hp[1];
    }
    if (!port) Problem(where + ": --server " + address + " is no Service port");
  }

  void CheckService(const YAML::Node& service) {
    const std::string where = "Service/" + S(service["metadata"]["name"]);
    bool selected = false;
    for (const YAML::Node& d : docs) {
      const YAML::Node labels = Get(d, {"spec", "template", "metadata", "labels"});
      if (!labels) continue;
      bool all = true;
      for (const auto& kv : service["spec"]["selector"]) {
        all &= S(labels[S(kv.first)]) == S(kv.second);
      }
      if (!all) continue;
      selected = true;
      for (const YAML::Node& p : service["spec"]["ports"]) {
        bool found = false;
        for (const YAML::Node& c : Get(d, {"spec", "template", "spec", "containers"})) {
          for (const YAML::Node& cp : c["ports"]) {
            found |=
                S(cp["name"]) == S(p["targetPort"]) || S(cp["containerPort"]) == S(p["targetPort"]);
          }
        }
        if (!found) Problem(where + ": targetPort " + S(p["targetPort"]) + " is no container port");
      }
    }
    if (!selected) Problem(where + ": selects no pods");
  }

  void Run() {
    for (const YAML::Node& d : docs) {
      const std::string kind = S(d["kind"]), where = kind + "/" + S(d["metadata"]["name"]);
      if (kind == "Service") CheckService(d);
      if (kind == "Deployment" || kind == "StatefulSet") CheckPod(where, d);
      if (kind == "StatefulSet") {
        const YAML::Node* governing = Find("Service", S(d["spec"]["serviceName"]));
        if (governing == nullptr || S((*governing)["spec"]["clusterIP"]) != "None") {
          Problem(where + ": serviceName must name a headless Service");
        }
        for (const YAML::Node& c : Get(d, {"spec", "template", "spec", "containers"})) {
          if (!c["startupProbe"]) Problem(where + ": no startupProbe");
        }
      }
    }
  }
};

Checker CheckerFor(const std::string& overlay) {
  Checker checker;
  checker.docs = RenderKustomization(kKube + "/overlays/" + overlay);
  // Each --help once: the worker loads LibTorch, which takes seconds.
  static const auto* const kFlags = new std::map<std::string, std::vector<std::string>>{
      {"convrnn-server", HelpFlags(std::string(CONVRNN_BINARY_DIR) + "/server/convrnn-server")},
      {"convrnn-worker", HelpFlags(std::string(CONVRNN_BINARY_DIR) + "/worker/convrnn-worker")}};
  checker.flags = *kFlags;
  checker.secrets_doc = ReadText(kKube + "/README.md");
  REQUIRE(checker.flags["convrnn-server"].size() > 5);
  REQUIRE(checker.flags["convrnn-worker"].size() > 5);
  return checker;
}

YAML::Node Doc(Checker& checker, const std::string& kind, const std::string& name) {
  for (YAML::Node d : checker.docs) {
    if (S(d["kind"]) == kind && S(d["metadata"]["name"]) == name) return d;
  }
  FAIL("no " << kind << "/" << name);
  return {};
}

YAML::Node WorkerContainer(Checker& checker) {
  return Doc(checker, "Deployment", "convrnn-worker")["spec"]["template"]["spec"]["containers"][0];
}

TEST_CASE("Every Kubernetes overlay renders and validates", "[deploy]") {
  for (const std::string overlay : {"cpu", "gpu"}) {
    Checker checker = CheckerFor(overlay);
    checker.Run();
    INFO(overlay << ":\n" << absl::StrJoin(checker.problems, "\n"));
    CHECK(checker.problems.empty());
    CHECK(checker.docs.size() == 6);
    std::string devices;
    const YAML::Node args = WorkerContainer(checker)["args"];
    for (size_t i = 0; i + 1 < args.size(); ++i) {
      if (S(args[i]) == "--devices") devices = S(args[i + 1]);
    }
    const YAML::Node limits = WorkerContainer(checker)["resources"]["limits"];
    if (overlay == "gpu") {
      CHECK(devices == "cuda:0");
      CHECK(S(limits["nvidia.com/gpu"]) == "1");
      CHECK(absl::EndsWith(S(WorkerContainer(checker)["image"]), "-cuda"));
    } else {
      CHECK(devices == "cpu");
      CHECK_FALSE(limits["nvidia.com/gpu"]);
    }
  }
}

TEST_CASE("The pods run as the image's pinned user", "[deploy]") {
  const std::string dockerfile = ReadText(kSource + "/deploy/Dockerfile");
  CHECK(absl::StrContains(dockerfile, "--uid 999"));
  CHECK(absl::StrContains(dockerfile, "--gid 999"));
}

TEST_CASE("The validation catches the old manifests' defects", "[deploy]") {
  auto problems_after = [](auto&& mutate) {
    Checker checker = CheckerFor("cpu");
    mutate(checker);
    checker.Run();
    return absl::StrJoin(checker.problems, "\n");
  };
  // The checkpoint PVC referenced but never created.
  CHECK(absl::StrContains(problems_after([](Checker& c) {
                            for (auto it = c.docs.begin(); it != c.docs.end(); ++it) {
                              if (S((*it)["metadata"]["name"]) == "convrnn-checkpoints") {
                                c.docs.erase(it);
                                break;
                              }
                            }
                          }),
                          "PVC convrnn-checkpoints not defined"));
  // A serviceName that is not headless.
  CHECK(absl::StrContains(problems_after([](Checker& c) {
                            Doc(c, "StatefulSet", "convrnn-server")["spec"]["serviceName"] =
                                "convrnn-server";
                          }),
                          "headless"));
  // No fsGroup on the workers.
  CHECK(
      absl::StrContains(problems_after([](Checker& c) {
                          Doc(c, "Deployment", "convrnn-worker")["spec"]["template"]["spec"].remove(
                              "securityContext");
                        }),
                        "fsGroup"));
  // An image without registry, a flag the binary lacks, no requests, a
  // secret key nobody creates, a wrong --server port.
  CHECK(absl::StrContains(
      problems_after([](Checker& c) { WorkerContainer(c)["image"] = "convrnn-search:latest"; }),
      "names no registry"));
  CHECK(absl::StrContains(
      problems_after([](Checker& c) { WorkerContainer(c)["args"].push_back("--gpus"); }),
      "has no flag --gpus"));
  CHECK(
      absl::StrContains(problems_after([](Checker& c) { WorkerContainer(c).remove("resources"); }),
                        "no CPU/memory requests"));
  CHECK(absl::StrContains(
      problems_after([](Checker& c) { WorkerContainer(c)["args"][7] = "/secrets/token/password"; }),
      "convrnn-token key password"));
  CHECK(absl::StrContains(
      problems_after([](Checker& c) { WorkerContainer(c)["args"][1] = "convrnn-server:50052"; }),
      "is no Service port"));
  // gRPC probes (no TLS) on a port the container does not have.
  CHECK(absl::StrContains(problems_after([](Checker& c) {
                            Doc(c, "StatefulSet",
                                "convrnn-server")["spec"]["template"]["spec"]["containers"][0]
                                                 ["startupProbe"]["httpGet"]["port"] = "metrics";
                          }),
                          "startupProbe on unknown port"));
}

TEST_CASE("Strategic merge: maps merge, named lists merge by name", "[deploy]") {
  YAML::Node base = YAML::Load(
      "spec: {containers: [{name: a, image: x, args: [1]}, {name: b, image: y}], replicas: 2}");
  StrategicMerge(base, YAML::Load("spec: {containers: [{name: a, args: [2, 3]}, {name: c}]}"));
  CHECK(S(base["spec"]["replicas"]) == "2");
  CHECK(base["spec"]["containers"].size() == 3);
  CHECK(S(base["spec"]["containers"][0]["image"]) == "x");
  CHECK(base["spec"]["containers"][0]["args"].size() == 2);
}

}  // namespace
}  // namespace convrnn::deploy
