#include "util/posix_fs.h"

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

TEST_CASE("ListDirectory lists entries sorted, with their kinds, links followed", "[util]") {
  const std::string root = MakeTemp();
  REQUIRE(mkdir((root + "/b_dir").c_str(), 0755) == 0);
  std::ofstream(root + "/c.png") << "x";
  std::ofstream(root + "/a.txt") << "y";
  REQUIRE(symlink((root + "/b_dir").c_str(), (root + "/d_link").c_str()) == 0);
  REQUIRE(symlink((root + "/nowhere").c_str(), (root + "/e_dangling").c_str()) == 0);
  absl::StatusOr<std::vector<DirEntry>> entries = ListDirectory(root);
  REQUIRE(entries.ok());
  REQUIRE(entries->size() == 4);  // the dangling link is skipped
  CHECK((*entries)[0].name == "a.txt");
  CHECK((*entries)[0].is_regular_file);
  CHECK((*entries)[1].name == "b_dir");
  CHECK((*entries)[1].is_directory);
  CHECK((*entries)[2].name == "c.png");
  CHECK((*entries)[3].name == "d_link");
  CHECK((*entries)[3].is_directory);
  CHECK_FALSE((*entries)[3].is_regular_file);
  REQUIRE(RemoveTree(root).ok());
}

TEST_CASE("ListDirectory names a path it cannot open", "[util]") {
  const absl::StatusOr<std::vector<DirEntry>> missing =
      ListDirectory("/tmp/convrnn-list-never-created");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == absl::StatusCode::kNotFound);
  CHECK(std::string(missing.status().message()).find("/tmp/convrnn-list-never-created") !=
        std::string::npos);
  CHECK_FALSE(ListDirectory("/proc/version").ok());  // a file, not a directory
}

}  // namespace
}  // namespace convrnn
