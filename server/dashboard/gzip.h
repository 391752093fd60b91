// gzip (RFC 1952) of a document, for responses the dashboard compresses
// itself: once per snapshot or asset, instead of per request (cpp-httplib
// would Brotli-compress each large reply at its slowest setting).
//
// Thread-safety: pure function.
#ifndef CONVRNN_SERVER_DASHBOARD_GZIP_H_
#define CONVRNN_SERVER_DASHBOARD_GZIP_H_

#include <httplib.h>

#include <string>
#include <string_view>

namespace convrnn::server::dashboard {

// `level` 1 (fastest) to 9 (smallest).
std::string Gzip(std::string_view data, int level);

// Sends `plain`, or `gzipped` with Content-Encoding: gzip when the request
// accepts it. `content_type` must be one cpp-httplib does not compress
// again (e.g. "application/json; charset=utf-8").
void SendMaybeGzipped(const httplib::Request& req, httplib::Response& res, const std::string& plain,
                      const std::string& gzipped, const char* content_type);

}  // namespace convrnn::server::dashboard

#endif  // CONVRNN_SERVER_DASHBOARD_GZIP_H_
