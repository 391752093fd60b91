#include "util/remove_tree.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <string>

namespace convrnn {
namespace {

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

std::string MakeTemp() {
  std::string pattern = "/tmp/convrnn-remove-tree-XXXXXX";
  REQUIRE(mkdtemp(pattern.data()) != nullptr);
  return pattern;
}

TEST_CASE("RemoveTree deletes nested files and directories", "[util]") {
  const std::string root = MakeTemp();
  REQUIRE(mkdir((root + "/a").c_str(), 0755) == 0);
  REQUIRE(mkdir((root + "/a/b").c_str(), 0755) == 0);
  std::ofstream(root + "/top.bin") << "1";
  std::ofstream(root + "/a/b/deep.pt") << "2";
  REQUIRE(RemoveTree(root).ok());
  CHECK_FALSE(Exists(root));
}

TEST_CASE("RemoveTree removes links without following them", "[util]") {
  const std::string keep = MakeTemp(), root = MakeTemp();
  std::ofstream(keep + "/precious") << "keep me";
  REQUIRE(symlink(keep.c_str(), (root + "/link").c_str()) == 0);
  REQUIRE(RemoveTree(root).ok());
  CHECK_FALSE(Exists(root));
  CHECK(Exists(keep + "/precious"));  // the link's target is untouched
  REQUIRE(RemoveTree(keep).ok());
}

TEST_CASE("RemoveTree accepts a missing path and a plain file", "[util]") {
  CHECK(RemoveTree("/tmp/convrnn-remove-tree-never-created").ok());
  const std::string root = MakeTemp();
  std::ofstream(root + "/f") << "x";
  REQUIRE(RemoveTree(root + "/f").ok());
  CHECK_FALSE(Exists(root + "/f"));
  CHECK(Exists(root));
  REQUIRE(RemoveTree(root).ok());
}

TEST_CASE("RemoveTree names what it could not remove", "[util]") {
  // procfs refuses unlink to everyone, root included.
  const absl::Status s = RemoveTree("/proc/version");
  CHECK_FALSE(s.ok());
  CHECK(std::string(s.message()).find("cannot remove /proc/version") != std::string::npos);
  CHECK(Exists("/proc/version"));
}

}  // namespace
}  // namespace convrnn
