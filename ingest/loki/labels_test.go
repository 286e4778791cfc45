package loki

import (
	"errors"
	"testing"

	"github.com/vigilops/vigil/telemetry"
)

func TestParseLabels(t *testing.T) {
	tests := []struct {
		in   string
		want telemetry.Labels // nil with ok: empty set
		ok   bool
	}{
		{`{}`, nil, true},
		{` { } `, nil, true},
		{`{job="x"}`, telemetry.LabelsFromStrings("job", "x"), true},
		{`{job="x", app="y"}`, telemetry.LabelsFromStrings("app", "y", "job", "x"), true},
		{"{\n\tjob = \"x\" ,\r\n app=\"y\",\n}", telemetry.LabelsFromStrings("app", "y", "job", "x"), true},
		{`{_a="1",B9="2"}`, telemetry.LabelsFromStrings("_a", "1", "B9", "2"), true},
		{`{a="say \"hi\"", b="back\\slash", c="nl\n tab\t", d="\u00e9\U0001F600", e="\303\251", f="\x41"}`,
			telemetry.LabelsFromStrings("a", `say "hi"`, "b", `back\slash`, "c", "nl\n tab\t", "d", "é😀", "e", "é", "f", "A"), true},
		{"{a=`raw \\n \"x\"`}", telemetry.LabelsFromStrings("a", `raw \n "x"`), true},
		{`{a="", b="kept"}`, telemetry.LabelsFromStrings("b", "kept"), true},
		{`{a="日本語 🙂"}`, telemetry.LabelsFromStrings("a", "日本語 🙂"), true},
		{"{a=\"raw\ttab\"}", telemetry.LabelsFromStrings("a", "raw\ttab"), true},

		{``, nil, false},
		{`job="x"`, nil, false},
		{`{job="x"`, nil, false},
		{`{job="x",`, nil, false},
		{`{job="x"} trailing`, nil, false},
		{`{job=x}`, nil, false},
		{`{job='x'}`, nil, false},
		{`{1job="x"}`, nil, false},
		{`{service.name="x"}`, nil, false},
		{`{job!="x"}`, nil, false},
		{`{job=~"x"}`, nil, false},
		{`{job=="x"}`, nil, false},
		{`{a="1" b="2"}`, nil, false},
		{`{a="1",,b="2"}`, nil, false},
		{`{,}`, nil, false},
		{`{a="1", a="2"}`, nil, false},
		{`{a="unterminated}`, nil, false},
		{"{a=`unterminated}", nil, false},
		{"{a=\"new\nline\"}", nil, false},
		{`{a="\q"}`, nil, false},
		{`{a="\xff"}`, nil, false},
		{"{a=\"\xff\"}", nil, false},
		{"{a=\"\xff\\n\"}", nil, false},
		{"{a=`\xff`}", nil, false},
		{`{a="x\"}`, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseLabels(tc.in)
			if !tc.ok {
				if !errors.Is(err, errBadLabels) {
					t.Fatalf("got %v, %v; want a bad label set error", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(tc.want) || !got.Valid() {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			// What telemetry.Labels.String prints reads back the same.
			back, err := ParseLabels(got.String())
			if err != nil || !back.Equal(got) {
				t.Fatalf("round trip of %s: %v, %v", got, back, err)
			}
		})
	}
}
