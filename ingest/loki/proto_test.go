package loki

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/vigilops/vigil/ingest"
	"github.com/vigilops/vigil/telemetry"
)

func testConfig() decodeConfig {
	return decodeConfig{maxLine: 64, maxEntries: 1000, serviceLabels: DefaultServiceLabels()}
}

// Message builders for hand-made protobuf.
func msg(fields ...[]byte) []byte {
	var b []byte
	for _, f := range fields {
		b = append(b, f...)
	}
	return b
}

func bytesField(num protowire.Number, v []byte) []byte {
	b := protowire.AppendTag(nil, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func strField(num protowire.Number, s string) []byte { return bytesField(num, []byte(s)) }

func varintField(num protowire.Number, v uint64) []byte {
	b := protowire.AppendTag(nil, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func tsMsg(sec int64, nanos int32) []byte {
	return msg(varintField(fieldSeconds, uint64(sec)), varintField(fieldNanos, uint64(int64(nanos))))
}

func TestProtoRoundTrip(t *testing.T) {
	streams := []Stream{
		{Labels: `{app="api", job="default/api"}`, Entries: []Entry{
			{Time: t0, Line: "first"},
			{Time: time.Unix(0, 0).UTC(), Line: ""},
			{Time: time.Date(1969, 7, 20, 20, 17, 40, 999999999, time.UTC), Line: "before the epoch"},
			{Time: t0, Line: "meta", StructuredMetadata: []telemetry.Label{{Name: "trace_id", Value: "abc"}, {Name: "empty", Value: ""}}},
		}},
		{Labels: `{container="db"}`, Entries: []Entry{{Time: t0.Add(time.Hour), Line: "héllo\n🙂"}}},
		{Labels: `{container="empty stream"}`},
	}
	b := newBatch(testConfig(), 0)
	if err := decodeProto(b, AppendPushRequest(nil, streams)); err != nil {
		t.Fatal(err)
	}
	if b.res.RejectedCount() != 0 {
		t.Fatalf("rejected %+v", b.res.Rejected)
	}
	var want []telemetry.LogRecord
	for _, s := range streams {
		ls, _ := ParseLabels(s.Labels)
		for _, e := range s.Entries {
			r := telemetry.LogRecord{Time: e.Time, Raw: e.Line, Labels: ls, Service: serviceOf(ls, DefaultServiceLabels(), "")}
			if len(e.StructuredMetadata) > 0 {
				r.Fields = map[string]string{}
				for _, l := range e.StructuredMetadata {
					r.Fields[l.Name] = l.Value
				}
			}
			want = append(want, r)
		}
	}
	if !reflect.DeepEqual(b.recs, want) {
		t.Fatalf("got  %+v\nwant %+v", b.recs, want)
	}
	if got := protoSizeHint(AppendPushRequest(nil, streams), 0); got != 5 {
		t.Errorf("size hint %d, want 5", got)
	}
}

func TestProtoDecode(t *testing.T) {
	goodEntry := msg(bytesField(fieldTimestamp, tsMsg(1, 2)), strField(fieldLine, "ok"))
	unknown := msg(varintField(9, 7), strField(10, "x"), protowire.AppendTag(nil, 11, protowire.Fixed64Type), make([]byte, 8),
		protowire.AppendTag(nil, 12, protowire.StartGroupType), varintField(1, 1), protowire.AppendTag(nil, 12, protowire.EndGroupType))
	tests := []struct {
		name     string
		body     []byte
		raws     []string
		rejected []ingest.Rejection
		err      bool
	}{
		{
			name: "empty request",
		},
		{
			name: "entries before labels, hash, unknown fields everywhere",
			body: msg(unknown, bytesField(fieldStreams, msg(
				bytesField(fieldEntries, msg(unknown, goodEntry)),
				varintField(fieldHash, 12345),
				strField(fieldLabels, `{job="x"}`),
				unknown,
				bytesField(fieldEntries, msg(bytesField(fieldTimestamp, msg(unknown, tsMsg(3, 4))), strField(fieldLine, "second"), bytesField(fieldMetadata, msg(unknown, strField(fieldName, "k"), strField(fieldValue, "v")))))),
			), unknown),
			raws: []string{"ok", "second"},
		},
		{
			name: "last labels field wins, timestamps merge",
			body: bytesField(fieldStreams, msg(
				strField(fieldLabels, `{bad`),
				strField(fieldLabels, `{job="x"}`),
				bytesField(fieldEntries, msg(bytesField(fieldTimestamp, varintField(fieldSeconds, 5)), bytesField(fieldTimestamp, varintField(fieldNanos, 6)), strField(fieldLine, "merged"))),
			)),
			raws: []string{"merged"},
		},
		{
			name: "bad entries rejected alone",
			body: bytesField(fieldStreams, msg(
				strField(fieldLabels, `{job="x"}`),
				bytesField(fieldEntries, goodEntry),
				bytesField(fieldEntries, []byte{0xff}),
				bytesField(fieldEntries, strField(fieldLine, "no timestamp")),
				bytesField(fieldEntries, msg(bytesField(fieldTimestamp, tsMsg(1, -1)), strField(fieldLine, "negative nanos"))),
				bytesField(fieldEntries, msg(bytesField(fieldTimestamp, tsMsg(1, 1e9)), strField(fieldLine, "nanos too big"))),
				bytesField(fieldEntries, msg(bytesField(fieldTimestamp, tsMsg(maxTimestampSeconds+1, 0)), strField(fieldLine, "year 10000"))),
				bytesField(fieldEntries, msg(bytesField(fieldTimestamp, tsMsg(1, 0)), varintField(fieldLine, 3))),
				bytesField(fieldEntries, msg(bytesField(fieldTimestamp, strField(fieldSeconds, "x")), strField(fieldLine, "ts field type"))),
				bytesField(fieldEntries, msg(bytesField(fieldTimestamp, tsMsg(1, 0)), bytesField(fieldMetadata, varintField(fieldName, 1)))),
				bytesField(fieldEntries, msg(bytesField(fieldTimestamp, tsMsg(1, 0)), strField(fieldLine, string(make([]byte, 65))))),
				bytesField(fieldEntries, goodEntry),
			)),
			raws: []string{"ok", "ok"},
			rejected: []ingest.Rejection{
				{Index: 1, Reason: "malformed entry: unexpected EOF"},
				{Index: 2, Reason: "entry has no timestamp"},
				{Index: 3, Reason: "timestamp nanos -1 out of range [0, 1e9)"},
				{Index: 4, Reason: "timestamp nanos 1000000000 out of range [0, 1e9)"},
				{Index: 5, Reason: "timestamp seconds 253402300800 out of range"},
				{Index: 6, Reason: "malformed entry: field 2 has wire type 0"},
				{Index: 7, Reason: "malformed timestamp: field 1 has wire type 2"},
				{Index: 8, Reason: "malformed structured metadata: field 1 has wire type 0"},
				{Index: 9, Reason: "line is 65 bytes, limit 64"},
			},
		},
		{
			name: "bad labels reject the stream, missing labels are the empty set",
			body: msg(bytesField(fieldStreams, msg(strField(fieldLabels, `job="x"`), bytesField(fieldEntries, goodEntry), bytesField(fieldEntries, goodEntry))),
				bytesField(fieldStreams, msg(bytesField(fieldEntries, msg(bytesField(fieldTimestamp, nil), strField(fieldLine, "no labels"))))),
				bytesField(fieldStreams, msg(strField(fieldLabels, `{a="b"}`), bytesField(fieldEntries, goodEntry)))),
			raws: []string{"no labels", "ok"},
			rejected: []ingest.Rejection{
				{Index: 0, Reason: "bad label set: expected '{' at offset 0"},
				{Index: 1, Reason: "bad label set: expected '{' at offset 0"},
			},
		},
		{name: "truncated request", body: bytesField(fieldStreams, goodEntry)[:5], err: true},
		{name: "streams of the wrong type", body: varintField(fieldStreams, 1), err: true},
		{name: "stream framing broken", body: bytesField(fieldStreams, []byte{0x12, 0x05, 0x00}), err: true},
		{name: "entries of the wrong type", body: bytesField(fieldStreams, varintField(fieldEntries, 1)), err: true},
		{name: "field zero", body: []byte{0x00, 0x00}, err: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBatch(testConfig(), 0)
			err := decodeProto(b, tc.body)
			if tc.err {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("err = %v, want ErrMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var raws []string
			for _, r := range b.recs {
				raws = append(raws, r.Raw)
				if r.Labels.Get("job") != "x" && r.Labels.Get("a") != "b" && r.Raw != "no labels" {
					t.Errorf("record %q has labels %v", r.Raw, r.Labels)
				}
			}
			if !reflect.DeepEqual(raws, tc.raws) {
				t.Errorf("raws %q, want %q", raws, tc.raws)
			}
			if !reflect.DeepEqual(b.res.Rejected, tc.rejected) {
				t.Errorf("rejected:\n%+v\nwant\n%+v", b.res.Rejected, tc.rejected)
			}
		})
	}
}
