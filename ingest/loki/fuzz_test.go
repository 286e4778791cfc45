package loki

import (
	"reflect"
	"sort"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/vigilops/vigil/telemetry"
)

func FuzzLokiJSON(f *testing.F) {
	for _, s := range jsonSeeds() {
		f.Add([]byte(s))
	}
	f.Add(benchJSON(benchStreams(2, 3)))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkJSONAgainstReference(t, data)
	})
}

func FuzzLokiProto(f *testing.F) {
	f.Add(AppendPushRequest(nil, benchStreams(2, 2)))
	f.Add(AppendPushRequest(nil, []Stream{{Labels: `{a="b", c="d\"\n"}`, Entries: []Entry{
		{Time: t0, Line: "x", StructuredMetadata: []telemetry.Label{{Name: "k", Value: "v"}}},
		{Time: time.Unix(-5, 7), Line: ""},
	}}}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := decodeConfig{maxLine: 1 << 20, maxEntries: 1 << 20, serviceLabels: DefaultServiceLabels()}
		b := newBatch(cfg, 0)
		if err := decodeProto(b, data); err != nil {
			return
		}
		if got, want := len(b.recs)+b.res.RejectedCount(), protoSizeHint(data, 0); got != want {
			t.Fatalf("kept %d + rejected %d, but the request has %d entries", len(b.recs), b.res.RejectedCount(), want)
		}
		// Every kept record survives our encoder and decoder unchanged.
		streams := make([]Stream, len(b.recs))
		for i, r := range b.recs {
			if !r.Labels.Valid() {
				t.Fatalf("labels not sorted and unique: %v", r.Labels)
			}
			if r.Service != serviceOf(r.Labels, cfg.serviceLabels, "") {
				t.Fatalf("service %q for labels %v", r.Service, r.Labels)
			}
			e := Entry{Time: r.Time, Line: r.Raw}
			for k, v := range r.Fields {
				e.StructuredMetadata = append(e.StructuredMetadata, telemetry.Label{Name: k, Value: v})
			}
			sort.Slice(e.StructuredMetadata, func(i, j int) bool { return e.StructuredMetadata[i].Name < e.StructuredMetadata[j].Name })
			streams[i] = Stream{Labels: r.Labels.String(), Entries: []Entry{e}}
		}
		again := newBatch(cfg, 0)
		if err := decodeProto(again, AppendPushRequest(nil, streams)); err != nil {
			t.Fatalf("re-encoded request: %v", err)
		}
		if again.res.RejectedCount() != 0 || len(again.recs) != len(b.recs) {
			t.Fatalf("re-encoded request: kept %d of %d, rejected %+v", len(again.recs), len(b.recs), again.res.Rejected)
		}
		for i := range b.recs {
			x, y := b.recs[i], again.recs[i]
			if len(x.Fields) == 0 && len(y.Fields) == 0 {
				x.Fields, y.Fields = nil, nil
			}
			if !x.Time.Equal(y.Time) || x.Raw != y.Raw || x.Service != y.Service || !x.Labels.Equal(y.Labels) || !reflect.DeepEqual(x.Fields, y.Fields) {
				t.Fatalf("record %d changed through encode/decode:\n%+v\n%+v", i, x, y)
			}
		}
	})
}

func FuzzLokiLabels(f *testing.F) {
	for _, s := range []string{
		`{}`, `{job="x"}`, `{job="x", app="y",}`, `{a="\"\\\n\t\u00e9\x41\101"}`, "{a=`raw`}",
		`{a=~"x"}`, `{a="1",a="2"}`, `{a=""}`, "{\n a = \"b\" }", `{a="\xff"}`, `{1="x"}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ls, err := ParseLabels(s)
		if err != nil {
			return
		}
		if !ls.Valid() {
			t.Fatalf("%q: labels not sorted and unique: %v", s, ls)
		}
		for _, l := range ls {
			if !validName(l.Name) || l.Value == "" || !utf8.ValidString(l.Value) {
				t.Fatalf("%q: bad label %q=%q", s, l.Name, l.Value)
			}
		}
		back, err := ParseLabels(ls.String())
		if err != nil || !back.Equal(ls) {
			t.Fatalf("%q: round trip of %s gives %v, %v", s, ls, back, err)
		}
	})
}
