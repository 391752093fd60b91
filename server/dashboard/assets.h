// The dashboard's files, embedded in the binary at build time
// (embed_assets.cmake writes assets.cc from assets/ and Debian's Chart.js),
// so the server needs nothing from the disk or the network to serve them.
//
// Thread-safety: immutable.
#ifndef CONVRNN_SERVER_DASHBOARD_ASSETS_H_
#define CONVRNN_SERVER_DASHBOARD_ASSETS_H_

#include <string_view>
#include <vector>

namespace convrnn::server::dashboard {

struct Asset {
  const char* path;          // URL path: "/", "/app.js", ...
  std::string_view content;  // the file's bytes
  const char* content_type;  // "text/html; charset=utf-8", ...
};

const std::vector<Asset>& Assets();

}  // namespace convrnn::server::dashboard

#endif  // CONVRNN_SERVER_DASHBOARD_ASSETS_H_
