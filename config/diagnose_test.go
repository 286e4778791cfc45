package config

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// collect runs a section's validate and returns the problems as "key: msg".
func sectionProblems(validate func(add func(key, format string, args ...any))) []string {
	var out []string
	validate(func(key, format string, args ...any) {
		out = append(out, key+": "+fmt.Sprintf(format, args...))
	})
	return out
}

func TestDiagnoseValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(d *Diagnose)
		want   string // "" for valid
	}{
		{"defaults", func(*Diagnose) {}, ""},
		{"edges ok", func(d *Diagnose) { d.Edges = [][]string{{"frontend", "catalog"}} }, ""},
		{"negative delay", func(d *Diagnose) { d.Delay = Duration(-time.Second) }, "diagnose.delay: -1s is outside"},
		{"long delay", func(d *Diagnose) { d.Delay = Duration(2 * time.Hour) }, "diagnose.delay"},
		{"short normal", func(d *Diagnose) { d.NormalWindow = Duration(time.Minute) }, "diagnose.normal_window: 1m is outside 5m..7d"},
		{"lead", func(d *Diagnose) { d.Lead = Duration(-time.Minute) }, "diagnose.lead"},
		{"max series", func(d *Diagnose) { d.MaxSeries = 0 }, "diagnose.max_series: 0 is outside"},
		{"queue", func(d *Diagnose) { d.QueueSize = 0 }, "diagnose.queue_size"},
		{"edge pair", func(d *Diagnose) { d.Edges = [][]string{{"a", "b"}, {"a"}} }, "diagnose.edges[1]: want a pair"},
		{"edge empty", func(d *Diagnose) { d.Edges = [][]string{{"", "b"}} }, "diagnose.edges[0]"},
		{"external", func(d *Diagnose) { d.External = []string{"stripe", ""} }, "diagnose.external[1]: empty service name"},
		{"hosts", func(d *Diagnose) { d.Hosts = map[string]string{"redis": ""} }, "diagnose.hosts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := defaultDiagnose()
			tt.change(&d)
			ps := sectionProblems(d.validate)
			if tt.want == "" {
				if len(ps) > 0 {
					t.Fatalf("want valid, got %q", ps)
				}
				return
			}
			if len(ps) != 1 || !strings.HasPrefix(ps[0], tt.want) {
				t.Fatalf("got %q, want one problem starting %q", ps, tt.want)
			}
		})
	}
}

func TestDiagnoseEdgePairs(t *testing.T) {
	d := Diagnose{Edges: [][]string{{"a", "b"}, {"bad"}, {"b", "c"}}}
	got := d.EdgePairs()
	if len(got) != 2 || got[0] != [2]string{"a", "b"} || got[1] != [2]string{"b", "c"} {
		t.Fatalf("EdgePairs = %v", got)
	}
}
