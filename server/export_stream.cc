#include "server/export_stream.h"

#include <memory>
#include <utility>

#include "server/export.h"
#include "server/proto_convert.h"

namespace convrnn::server {
namespace {

class ExportReactor final : public grpc::ServerWriteReactor<v1::ExportChunk> {
 public:
  ExportReactor(Coordinator& coordinator, const v1::ExportRequest& request) {
    absl::StatusOr<std::unique_ptr<TrialExporter>> exporter =
        TrialExporter::Open(coordinator, request.campaign_id(), request.format(), {});
    if (!exporter.ok()) {
      Finish(ToGrpcStatus(exporter.status()));
      return;
    }
    exporter_ = *std::move(exporter);
    chunk_.set_content_type(exporter_->content_type());
    WriteNext();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
      return;
    }
    chunk_.clear_content_type();
    WriteNext();
  }

  void OnDone() override { delete this; }

 private:
  void WriteNext() {
    absl::StatusOr<std::string> content = exporter_->Next();
    if (!content.ok()) {
      Finish(ToGrpcStatus(content.status()));
      return;
    }
    if (content->empty()) {
      Finish(grpc::Status::OK);
      return;
    }
    chunk_.set_content(*std::move(content));
    chunk_.set_trials(exporter_->trials_written());
    StartWrite(&chunk_);
  }

  std::unique_ptr<TrialExporter> exporter_;
  v1::ExportChunk chunk_;  // the write in flight
};

}  // namespace

grpc::ServerWriteReactor<v1::ExportChunk>* StartExportStream(Coordinator& coordinator,
                                                             const v1::ExportRequest& request) {
  return new ExportReactor(coordinator, request);
}

}  // namespace convrnn::server
