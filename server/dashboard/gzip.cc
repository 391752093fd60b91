#include "server/dashboard/gzip.h"

#include <zlib.h>

namespace convrnn::server::dashboard {

std::string Gzip(std::string_view data, int level) {
  z_stream z{};
  // 15 + 16: a gzip header and trailer around the deflate stream.
  if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return "";
  std::string out(deflateBound(&z, data.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return rc == Z_STREAM_END ? out : "";
}

void SendMaybeGzipped(const httplib::Request& req, httplib::Response& res, const std::string& plain,
                      const std::string& gzipped, const char* content_type) {
  const bool gzip =
      !gzipped.empty() && req.get_header_value("Accept-Encoding").find("gzip") != std::string::npos;
  res.set_header("Vary", "Accept-Encoding");
  if (gzip) res.set_header("Content-Encoding", "gzip");
  res.set_content(gzip ? gzipped : plain, content_type);
}

}  // namespace convrnn::server::dashboard
