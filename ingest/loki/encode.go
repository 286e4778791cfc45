package loki

import (
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/vigilops/vigil/telemetry"
)

// Stream is one stream of a push request, as AppendPushRequest encodes it.
type Stream struct {
	// Labels is the label set in text, as Promtail sends it:
	// {app="api", job="x"}. telemetry.Labels.String writes this form.
	Labels  string
	Entries []Entry
}

// Entry is one log line of a Stream.
type Entry struct {
	Time               time.Time
	Line               string
	StructuredMetadata []telemetry.Label
}

// AppendPushRequest appends the protobuf encoding of a logproto.PushRequest
// holding streams to dst, field for field as Promtail and Grafana Alloy
// write it (the timestamp is always present, empty strings are omitted).
// Senders snappy-compress the result (block format) before posting it with
// Content-Type application/x-protobuf. It exists for tests, benchmarks and
// the simulator; the receiver never encodes.
func AppendPushRequest(dst []byte, streams []Stream) []byte {
	for i := range streams {
		s := &streams[i]
		dst = protowire.AppendTag(dst, fieldStreams, protowire.BytesType)
		dst = protowire.AppendVarint(dst, uint64(streamSize(s)))
		if s.Labels != "" {
			dst = protowire.AppendTag(dst, fieldLabels, protowire.BytesType)
			dst = protowire.AppendString(dst, s.Labels)
		}
		for j := range s.Entries {
			e := &s.Entries[j]
			dst = protowire.AppendTag(dst, fieldEntries, protowire.BytesType)
			dst = protowire.AppendVarint(dst, uint64(entrySize(e)))
			sec, nanos := e.Time.Unix(), int32(e.Time.Nanosecond())
			dst = protowire.AppendTag(dst, fieldTimestamp, protowire.BytesType)
			dst = protowire.AppendVarint(dst, uint64(timestampSize(sec, nanos)))
			if sec != 0 {
				dst = protowire.AppendTag(dst, fieldSeconds, protowire.VarintType)
				dst = protowire.AppendVarint(dst, uint64(sec))
			}
			if nanos != 0 {
				dst = protowire.AppendTag(dst, fieldNanos, protowire.VarintType)
				dst = protowire.AppendVarint(dst, uint64(int64(nanos)))
			}
			if e.Line != "" {
				dst = protowire.AppendTag(dst, fieldLine, protowire.BytesType)
				dst = protowire.AppendString(dst, e.Line)
			}
			for _, l := range e.StructuredMetadata {
				dst = protowire.AppendTag(dst, fieldMetadata, protowire.BytesType)
				dst = protowire.AppendVarint(dst, uint64(pairSize(l)))
				dst = appendStringField(dst, fieldName, l.Name)
				dst = appendStringField(dst, fieldValue, l.Value)
			}
		}
	}
	return dst
}

func appendStringField(dst []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return dst
	}
	dst = protowire.AppendTag(dst, num, protowire.BytesType)
	return protowire.AppendString(dst, s)
}

func stringFieldSize(s string) int {
	if s == "" {
		return 0
	}
	return 1 + protowire.SizeBytes(len(s))
}

func streamSize(s *Stream) int {
	n := stringFieldSize(s.Labels)
	for j := range s.Entries {
		n += 1 + protowire.SizeBytes(entrySize(&s.Entries[j]))
	}
	return n
}

func entrySize(e *Entry) int {
	sec, nanos := e.Time.Unix(), int32(e.Time.Nanosecond())
	n := 1 + protowire.SizeBytes(timestampSize(sec, nanos))
	n += stringFieldSize(e.Line)
	for _, l := range e.StructuredMetadata {
		n += 1 + protowire.SizeBytes(pairSize(l))
	}
	return n
}

func timestampSize(sec int64, nanos int32) int {
	n := 0
	if sec != 0 {
		n += 1 + protowire.SizeVarint(uint64(sec))
	}
	if nanos != 0 {
		n += 1 + protowire.SizeVarint(uint64(int64(nanos)))
	}
	return n
}

func pairSize(l telemetry.Label) int { return stringFieldSize(l.Name) + stringFieldSize(l.Value) }
