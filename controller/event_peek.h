// An agent's event as the controller relays it: the bytes the agent sent, forwarded to the CLI
// unparsed (EventRelay, relay.h), and the little the controller must know of them, read from the
// protobuf wire format without building the message.
//
// Why: with the eBPF engine an event is a batch of up to thousands of hits (Event.batch). Parsing
// it into a v1::Event and serializing it again cost the controller ~3 us of CPU per hit here
// (allocations for every string of every hit: 85% of its CPU in the relay), on the cores the
// traced service needs when the controller shares its node; reading the few fields below costs a
// small fraction of that, and the bytes themselves are passed on by reference (gRPC slices).
//
// The wire format (protobuf encoding): a message is a sequence of (tag, value), tag = field
// number << 3 | wire type; a sub-message is wire type 2, a varint length and that many bytes.
// Event (proto/kdbg/v1/types.proto): armed = 10, hit = 11, ended = 13, batch = 15;
// HitEvent.returned = 10 (varint); EventBatch.events = 1.
#pragma once

#include <cstdint>
#include <optional>

#include "absl/status/statusor.h"
#include "grpcpp/support/byte_buffer.h"
#include "kdbg/v1/types.pb.h"

namespace kdbg::controller {

struct EventPeek {
  // HitEvents that are calls (HitEvent.returned unset), the event's own and its batch's.
  int64_t hits = 0;
  std::optional<v1::ArmedEvent> armed;
  std::optional<v1::EndedEvent> ended;
};

// What `event` (a serialized v1::Event) holds; InvalidArgument when it is not a well-formed
// Event. Fields it does not know are skipped, as a parser would. It reads each field as written:
// a protobuf encoder (the agent's) writes a field once, and a singular field written twice, which
// a parser would merge into one, counts twice here.
absl::StatusOr<EventPeek> PeekEvent(const grpc::ByteBuffer& event);

// `message` serialized, as gRPC would for a typed call.
grpc::ByteBuffer SerializeMessage(const google::protobuf::Message& message);
inline grpc::ByteBuffer SerializeEvent(const v1::Event& event) { return SerializeMessage(event); }

// A serialized message parsed into `out` (the buffer is left as it was); false when malformed.
bool ParseBytes(const grpc::ByteBuffer& bytes, google::protobuf::Message* out);

}  // namespace kdbg::controller
