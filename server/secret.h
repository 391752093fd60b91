// Comparison of secrets (bearer tokens) shared by the gRPC services and the
// HTTP listener.
//
// Thread-safety: pure functions.
#ifndef CONVRNN_SERVER_SECRET_H_
#define CONVRNN_SERVER_SECRET_H_

#include <string_view>

namespace convrnn::server {

// Constant-time comparison, so response timing does not leak the token.
inline bool SameSecret(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace convrnn::server

#endif  // CONVRNN_SERVER_SECRET_H_
