package telemetry

import (
	"encoding/json"
	"testing"

	"github.com/prometheus/common/model"
)

func TestFingerprintMatchesPrometheus(t *testing.T) {
	cases := []map[string]string{
		{},
		{"alertname": "HighLatency"},
		{"alertname": "HighLatency", "service": "checkout", "severity": "page"},
		{"a": "", "b": "x"},
		{"__name__": "http_requests_total", "job": "api", "le": "0.5", "unicode": "zürich ☃"},
	}
	for _, m := range cases {
		ls := LabelsFromMap(m)
		ms := model.LabelSet{}
		for k, v := range m {
			if v != "" {
				ms[model.LabelName(k)] = model.LabelValue(v)
			}
		}
		if got, want := uint64(ls.Fingerprint()), uint64(ms.Fingerprint()); got != want {
			t.Errorf("%v: fingerprint %x, prometheus %x", m, got, want)
		}
		if got, want := ls.Fingerprint().String(), ms.Fingerprint().String(); got != want {
			t.Errorf("%v: string %s, prometheus %s", m, got, want)
		}
	}
}

func TestFingerprintAllocationFree(t *testing.T) {
	ls := LabelsFromStrings("alertname", "X", "service", "cart", "severity", "warning")
	if n := testing.AllocsPerRun(100, func() { _ = ls.Fingerprint() }); n != 0 {
		t.Fatalf("Fingerprint allocates %v times", n)
	}
}

func TestParseFingerprintRoundTrip(t *testing.T) {
	for _, f := range []Fingerprint{0, 1, 0xdeadbeef, 0xffffffffffffffff} {
		got, err := ParseFingerprint(f.String())
		if err != nil || got != f {
			t.Errorf("%d: got %d, %v", f, got, err)
		}
		if len(f.String()) != 16 {
			t.Errorf("%d: %q not 16 digits", f, f.String())
		}
	}
}

func TestLabelsWith(t *testing.T) {
	ls := LabelsFromStrings("b", "2", "d", "4")
	tests := []struct {
		name, value, want string
	}{
		{"a", "1", `{a="1", b="2", d="4"}`},
		{"c", "3", `{b="2", c="3", d="4"}`},
		{"e", "5", `{b="2", d="4", e="5"}`},
		{"b", "9", `{b="9", d="4"}`},
		{"b", "", `{d="4"}`},
		{"zz", "", `{b="2", d="4"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			got := ls.With(tc.name, tc.value)
			if got.String() != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
			if !got.Valid() {
				t.Errorf("result %s not valid", got)
			}
		})
	}
	if ls.String() != `{b="2", d="4"}` {
		t.Errorf("receiver modified: %s", ls)
	}
}

func TestLabelsJSONRoundTrip(t *testing.T) {
	ls := LabelsFromStrings("a", `q"uote`, "b", "<tag>&", "c", "line\nbreak", "d", "plain")
	b, err := json.Marshal(ls)
	if err != nil {
		t.Fatal(err)
	}
	var back Labels
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("unmarshal %s: %v", b, err)
	}
	if !back.Equal(ls) {
		t.Fatalf("round trip: %s -> %s", ls, back)
	}
	if err := json.Unmarshal([]byte(`{"a":1}`), &back); err == nil {
		t.Fatal("non-string label value accepted")
	}
}

func TestParseLevel(t *testing.T) {
	tests := map[string]Level{
		"INFO": LevelInfo, "Warning": LevelWarn, "ERR": LevelError, "crit": LevelFatal,
		"panic": LevelFatal, "debug": LevelDebug, "30": LevelInfo, "": LevelUnknown, "bogus": LevelUnknown,
	}
	for in, want := range tests {
		if got := ParseLevel(in); got != want {
			t.Errorf("ParseLevel(%q) = %v, want %v", in, got, want)
		}
	}
}

func BenchmarkFingerprint(b *testing.B) {
	ls := LabelsFromStrings("alertname", "HighLatency", "service", "checkout", "severity", "page", "namespace", "shop")
	b.ReportAllocs()
	for b.Loop() {
		_ = ls.Fingerprint()
	}
}
