// ExportTrials streams: one small ServerWriteReactor per call that writes a
// TrialExporter's chunks (export.h) one at a time, each write started when
// the previous one completed (as the callback API requires), so a slow
// client holds one chunk in memory and no thread.
//
// A chunk is produced on the gRPC callback thread that completed the
// previous write: one page of indexed reads on the store's reader
// connections, never the single writer, so exports do not delay leases.
//
// A stream ends with OK after the last chunk, with the exporter's error
// (INVALID_ARGUMENT for a bad format, NOT_FOUND, ...), or with CANCELLED when
// the client goes away.
//
// Thread-safety: the reactor is driven by gRPC; the Coordinator is thread-safe.
#ifndef CONVRNN_SERVER_EXPORT_STREAM_H_
#define CONVRNN_SERVER_EXPORT_STREAM_H_

#include <grpcpp/grpcpp.h>

#include "proto/convrnn.pb.h"
#include "server/coordinator.h"

namespace convrnn::server {

// A reactor owned by gRPC (it deletes itself in OnDone).
grpc::ServerWriteReactor<v1::ExportChunk>* StartExportStream(Coordinator& coordinator,
                                                             const v1::ExportRequest& request);

}  // namespace convrnn::server

#endif  // CONVRNN_SERVER_EXPORT_STREAM_H_
