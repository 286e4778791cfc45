package loki

import (
	"strconv"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/vigilops/vigil/telemetry"
)

// Field numbers of Loki's logproto push messages (pkg/push/push.proto):
//
//	PushRequest      { repeated StreamAdapter streams = 1; }
//	StreamAdapter    { string labels = 1; repeated EntryAdapter entries = 2; uint64 hash = 3; }
//	EntryAdapter     { google.protobuf.Timestamp timestamp = 1; string line = 2;
//	                   repeated LabelPairAdapter structuredMetadata = 3; }
//	LabelPairAdapter { string name = 1; string value = 2; }
//	Timestamp        { int64 seconds = 1; int32 nanos = 2; }
//
// Newer Loki versions add fields (PushRequest.format, EntryAdapter.parsed);
// unknown fields are skipped, as protobuf requires.
const (
	fieldStreams = 1

	fieldLabels  = 1
	fieldEntries = 2
	fieldHash    = 3

	fieldTimestamp = 1
	fieldLine      = 2
	fieldMetadata  = 3

	fieldName  = 1
	fieldValue = 2

	fieldSeconds = 1
	fieldNanos   = 2
)

// The range google.protobuf.Timestamp allows: 0001-01-01 to 9999-12-31.
const (
	minTimestampSeconds = -62135596800
	maxTimestampSeconds = 253402300799
)

// decodeProto reads a decompressed logproto.PushRequest into b. Broken
// framing of the request or of a stream refuses the whole request, because
// the entries after it could not be numbered; a broken entry (its bytes are
// length-delimited, so the framing around it holds) is rejected alone.
func decodeProto(b *batch, data []byte) error {
	pd := protoDecoder{b: b}
	for len(data) > 0 {
		num, typ, n := protowire.ConsumeTag(data)
		if n < 0 {
			return malformed("protobuf: %v", protowire.ParseError(n))
		}
		data = data[n:]
		if num != fieldStreams {
			if n = protowire.ConsumeFieldValue(num, typ, data); n < 0 {
				return malformed("protobuf: field %d: %v", num, protowire.ParseError(n))
			}
			data = data[n:]
			continue
		}
		if typ != protowire.BytesType {
			return malformed("protobuf: streams field has wire type %d", typ)
		}
		v, n := protowire.ConsumeBytes(data)
		if n < 0 {
			return malformed("protobuf: stream %d: %v", b.streams, protowire.ParseError(n))
		}
		data = data[n:]
		if err := pd.stream(v); err != nil {
			return err
		}
	}
	return nil
}

// protoSizeHint counts the entries of a push request, cheaply (entries are
// skipped by their length), so that the records are allocated once.
func protoSizeHint(data []byte, maxEntries int) int {
	total := 0
	for len(data) > 0 {
		num, typ, n := protowire.ConsumeTag(data)
		if n < 0 {
			break
		}
		data = data[n:]
		if num != fieldStreams || typ != protowire.BytesType {
			if n = protowire.ConsumeFieldValue(num, typ, data); n < 0 {
				break
			}
			data = data[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(data)
		if n < 0 {
			break
		}
		data = data[n:]
		for len(v) > 0 {
			num, typ, n := protowire.ConsumeTag(v)
			if n < 0 {
				break
			}
			v = v[n:]
			if n = protowire.ConsumeFieldValue(num, typ, v); n < 0 {
				break
			}
			v = v[n:]
			if num == fieldEntries {
				total++
			}
		}
	}
	if maxEntries > 0 && total > maxEntries {
		total = maxEntries
	}
	return total
}

type protoDecoder struct {
	b    *batch
	meta [][2][]byte // scratch: one entry's structured metadata
}

func (pd *protoDecoder) stream(v []byte) error {
	b := pd.b
	b.beginStream()
	si := b.streamIndex()
	// First pass: the labels (the last occurrence wins, as protobuf says),
	// and a check of the framing so that entries can be numbered.
	var labels []byte
	for p := v; len(p) > 0; {
		num, typ, n := protowire.ConsumeTag(p)
		if n < 0 {
			return malformed("protobuf: stream %d: %v", si, protowire.ParseError(n))
		}
		p = p[n:]
		if (num == fieldLabels || num == fieldEntries) && typ != protowire.BytesType {
			return malformed("protobuf: stream %d: field %d has wire type %d", si, num, typ)
		}
		if num == fieldLabels {
			labels, n = protowire.ConsumeBytes(p)
		} else {
			n = protowire.ConsumeFieldValue(num, typ, p)
		}
		if n < 0 {
			return malformed("protobuf: stream %d: field %d: %v", si, num, protowire.ParseError(n))
		}
		p = p[n:]
	}
	// One string per stream; the labels are substrings of it. A stream
	// without labels (protobuf omits the empty string) has the empty set,
	// as a JSON stream without "stream" does.
	var ls telemetry.Labels
	var labelErr error
	if len(labels) > 0 {
		ls, labelErr = ParseLabels(string(labels))
	}
	for p := v; len(p) > 0; {
		num, typ, n := protowire.ConsumeTag(p)
		p = p[n:]
		if num != fieldEntries {
			p = p[protowire.ConsumeFieldValue(num, typ, p):]
			continue
		}
		e, n := protowire.ConsumeBytes(p)
		p = p[n:]
		idx, ok := b.nextEntry()
		if ok && labelErr == nil {
			pd.entry(idx, e)
		}
	}
	b.endStream(ls, labelErr)
	return nil
}

// entry decodes one EntryAdapter, appending a record or rejecting it.
func (pd *protoDecoder) entry(idx int, e []byte) {
	b := pd.b
	var (
		sec      int64
		nanos    int32
		tsSeen   bool
		line     []byte
		meta     = pd.meta[:0]
		problem  string
		problemR = reasonBadEntry
	)
	defer func() { pd.meta = meta[:0] }()
	for len(e) > 0 && problem == "" {
		num, typ, n := protowire.ConsumeTag(e)
		if n < 0 {
			problem = "malformed entry: " + protowire.ParseError(n).Error()
			break
		}
		e = e[n:]
		if num <= fieldMetadata && typ != protowire.BytesType {
			problem = "malformed entry: field " + strconv.Itoa(int(num)) + " has wire type " + strconv.Itoa(int(typ))
			break
		}
		var v []byte
		if num <= fieldMetadata {
			v, n = protowire.ConsumeBytes(e)
		} else {
			n = protowire.ConsumeFieldValue(num, typ, e)
		}
		if n < 0 {
			problem = "malformed entry: " + protowire.ParseError(n).Error()
			break
		}
		e = e[n:]
		switch num {
		case fieldTimestamp:
			// Embedded messages merge when repeated: fields of a later
			// occurrence override those of an earlier one.
			tsSeen = true
			if err := decodeTimestamp(v, &sec, &nanos); err != "" {
				problem = "malformed timestamp: " + err
			}
		case fieldLine:
			line = v
		case fieldMetadata:
			var kv [2][]byte
			if err := decodePair(v, &kv); err != "" {
				problem = "malformed structured metadata: " + err
			}
			meta = append(meta, kv)
		}
	}
	switch {
	case problem != "":
	case !tsSeen:
		problem, problemR = "entry has no timestamp", reasonBadTimestamp
	case nanos < 0 || nanos >= 1e9:
		problem, problemR = "timestamp nanos "+strconv.Itoa(int(nanos))+" out of range [0, 1e9)", reasonBadTimestamp
	case sec < minTimestampSeconds || sec > maxTimestampSeconds:
		problem, problemR = "timestamp seconds "+strconv.FormatInt(sec, 10)+" out of range", reasonBadTimestamp
	}
	if problem != "" {
		b.rejectEntry(idx, problemR, problem)
		return
	}
	if b.lineTooLong(idx, len(line)) {
		return
	}
	rec := telemetry.LogRecord{Time: time.Unix(sec, int64(nanos)).UTC(), Raw: string(line)}
	if len(meta) > 0 {
		rec.Fields = make(map[string]string, len(meta))
		for _, kv := range meta {
			if len(kv[0]) > 0 {
				rec.Fields[string(kv[0])] = string(kv[1])
			}
		}
	}
	b.recs = append(b.recs, rec)
}

func decodeTimestamp(v []byte, sec *int64, nanos *int32) string {
	for len(v) > 0 {
		num, typ, n := protowire.ConsumeTag(v)
		if n < 0 {
			return protowire.ParseError(n).Error()
		}
		v = v[n:]
		if (num == fieldSeconds || num == fieldNanos) && typ != protowire.VarintType {
			return "field " + strconv.Itoa(int(num)) + " has wire type " + strconv.Itoa(int(typ))
		}
		var x uint64
		if num == fieldSeconds || num == fieldNanos {
			x, n = protowire.ConsumeVarint(v)
		} else {
			n = protowire.ConsumeFieldValue(num, typ, v)
		}
		if n < 0 {
			return protowire.ParseError(n).Error()
		}
		v = v[n:]
		switch num {
		case fieldSeconds:
			*sec = int64(x)
		case fieldNanos:
			*nanos = int32(x)
		}
	}
	return ""
}

func decodePair(v []byte, kv *[2][]byte) string {
	for len(v) > 0 {
		num, typ, n := protowire.ConsumeTag(v)
		if n < 0 {
			return protowire.ParseError(n).Error()
		}
		v = v[n:]
		if (num == fieldName || num == fieldValue) && typ != protowire.BytesType {
			return "field " + strconv.Itoa(int(num)) + " has wire type " + strconv.Itoa(int(typ))
		}
		var x []byte
		if num == fieldName || num == fieldValue {
			x, n = protowire.ConsumeBytes(v)
		} else {
			n = protowire.ConsumeFieldValue(num, typ, v)
		}
		if n < 0 {
			return protowire.ParseError(n).Error()
		}
		v = v[n:]
		switch num {
		case fieldName:
			kv[0] = x
		case fieldValue:
			kv[1] = x
		}
	}
	return ""
}
