package logtemplate

import (
	"strings"
	"testing"
)

// FuzzMinerAdd feeds the lines of the input, one by one, to a small Miner
// (so that eviction and merging are exercised). After every Add: no panic,
// one parameter per "<*>" of the template, and Match of the same message
// returns the same template ID.
func FuzzMinerAdd(f *testing.F) {
	for _, s := range []string{
		"session closed for user cyrus\nsession closed for user news\nsession closed for user test\nsession closed for user mail",
		"served block to 10.0.0.1:50010\nserved block to /10.0.0.2\nserved block to host",
		"stored 5.2 KB in memory\nstored 384 B in memory\n\"GET /a HTTP/1.1\" x",
		"Fan ( 1 2 **** )\nFan ( 1 2 3 )\n()\n(a)\n<*> <*>\na<*\n*>b",
		"user=a x\nuser=b x\nuser=c x\nuser=d x\nuser= x\nuser x",
		"\x00 \xff\n\t\n  \n" + strings.Repeat("w ", 40),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, input string) {
		o := DefaultOptions()
		o.MaxClusters = 8
		o.MaxTokens = 12
		o.CacheSize = 16
		m, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(input, "\n") {
			got := m.Add(line)
			if got.TemplateID == "" {
				t.Fatalf("%q: empty template ID", line)
			}
			if n := strings.Count(got.Template, wildcard); n != len(got.Params) {
				t.Fatalf("%q: template %q has %d <*>, %d params %q", line, got.Template, n, len(got.Params), got.Params)
			}
			mt, ok := m.Match(line)
			if !ok || mt.TemplateID != got.TemplateID || mt.Template != got.Template {
				t.Fatalf("%q: Add gave %s %q, Match %s %q %v", line, got.TemplateID, got.Template, mt.TemplateID, mt.Template, ok)
			}
			if len(mt.Params) != len(got.Params) {
				t.Fatalf("%q: Match params %q, Add params %q", line, mt.Params, got.Params)
			}
			if tpl, ok := m.Lookup(got.TemplateID); !ok || tpl.Template != got.Template {
				t.Fatalf("%q: Lookup(%s) = %q %v", line, got.TemplateID, tpl.Template, ok)
			}
		}
		if m.Len() > o.MaxClusters {
			t.Fatalf("%d templates > MaxClusters %d", m.Len(), o.MaxClusters)
		}
		data, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		r, _ := New(o)
		if err := r.UnmarshalBinary(data); err != nil {
			t.Fatalf("restore own state: %v", err)
		}
	})
}
