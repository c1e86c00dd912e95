#include "controller/event_peek.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"
#include "grpcpp/impl/codegen/proto_utils.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "grpcpp/support/proto_buffer_writer.h"

namespace kdbg::controller {
namespace {

using google::protobuf::internal::WireFormatLite;
using google::protobuf::io::CodedInputStream;

// Calls `field(number, tag)` for each field of the message `in` is limited to (or of the whole
// stream), which returns false when the field is malformed; a field it did not read (`*read`
// left false) is skipped. True when the message ended where it should.
template <typename Field>
bool ForEachField(CodedInputStream& in, Field&& field) {
  while (uint32_t tag = in.ReadTag()) {
    bool read = false;
    if (!field(WireFormatLite::GetTagFieldNumber(tag), tag, &read)) return false;
    if (!read && !WireFormatLite::SkipField(&in, tag)) return false;
  }
  return in.ConsumedEntireMessage();
}

bool IsMessage(uint32_t tag) {
  return WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED;
}

// Reads a length-delimited sub-message with `body`, which reads it through ForEachField.
template <typename Body>
bool InMessage(CodedInputStream& in, Body&& body) {
  uint32_t length = 0;
  if (!in.ReadVarint32(&length)) return false;
  CodedInputStream::Limit limit = in.PushLimit(static_cast<int>(length));
  bool ok = body();
  in.PopLimit(limit);
  return ok;
}

// A sub-message parsed whole (armed and ended: once per session).
template <typename Message>
bool ParseMessage(CodedInputStream& in, std::optional<Message>* out) {
  uint32_t length = 0;
  std::string bytes;
  if (!in.ReadVarint32(&length) || !in.ReadString(&bytes, static_cast<int>(length))) return false;
  out->emplace();
  return (*out)->ParseFromString(bytes);
}

// One HitEvent: +1 to `hits` unless it is a return.
bool CountHit(CodedInputStream& in, int64_t* hits) {
  bool returned = false;
  bool ok = InMessage(in, [&] {
    return ForEachField(in, [&](int number, uint32_t tag, bool* read) {
      if (number != v1::HitEvent::kReturnedFieldNumber ||
          WireFormatLite::GetTagWireType(tag) != WireFormatLite::WIRETYPE_VARINT) {
        return true;
      }
      uint64_t v = 0;
      *read = true;
      if (!in.ReadVarint64(&v)) return false;
      returned = v != 0;
      return true;
    });
  });
  if (ok && !returned) ++*hits;
  return ok;
}

// The fields of an Event this file reads; `nested` for one inside a batch (never a batch).
bool ReadEvent(CodedInputStream& in, EventPeek* peek, bool nested) {
  return ForEachField(in, [&](int number, uint32_t tag, bool* read) {
    if (!IsMessage(tag)) return true;
    switch (number) {
      case v1::Event::kHitFieldNumber:
        *read = true;
        return CountHit(in, &peek->hits);
      case v1::Event::kBatchFieldNumber:
        if (nested) return true;
        *read = true;
        return InMessage(in, [&] {
          return ForEachField(in, [&](int inner, uint32_t inner_tag, bool* inner_read) {
            if (inner != v1::EventBatch::kEventsFieldNumber || !IsMessage(inner_tag)) return true;
            *inner_read = true;
            return InMessage(in, [&] { return ReadEvent(in, peek, /*nested=*/true); });
          });
        });
      case v1::Event::kArmedFieldNumber:
        if (nested) return true;
        *read = true;
        return ParseMessage(in, &peek->armed);
      case v1::Event::kEndedFieldNumber:
        if (nested) return true;
        *read = true;
        return ParseMessage(in, &peek->ended);
      default:
        return true;
    }
  });
}

}  // namespace

absl::StatusOr<EventPeek> PeekEvent(const grpc::ByteBuffer& event) {
  grpc::ByteBuffer bytes(event);  // shares the slices; the reader needs a mutable buffer
  grpc::ProtoBufferReader reader(&bytes);
  CodedInputStream in(&reader);
  EventPeek peek;
  if (!reader.status().ok() || !ReadEvent(in, &peek, /*nested=*/false)) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a well-formed kdbg.v1.Event (", event.Length(), " bytes)"));
  }
  return peek;
}

grpc::ByteBuffer SerializeMessage(const google::protobuf::Message& message) {
  grpc::ByteBuffer bytes;
  bool own = false;
  // Fails only for a message over 2 GB, which none of kdbg's is (the agent caps a batch at 0.5 MB).
  (void)grpc::GenericSerialize<grpc::ProtoBufferWriter, google::protobuf::Message>(message, &bytes,
                                                                                   &own);
  return bytes;
}

bool ParseBytes(const grpc::ByteBuffer& bytes, google::protobuf::Message* out) {
  grpc::ByteBuffer copy(bytes);
  grpc::ProtoBufferReader reader(&copy);
  return reader.status().ok() && out->ParseFromZeroCopyStream(&reader);
}

}  // namespace kdbg::controller
