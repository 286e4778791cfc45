package inhibit

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/config"
	"github.com/vigilops/vigil/telemetry"
)

var t0 = time.Date(2024, 5, 6, 10, 0, 0, 0, time.UTC)

func alert(end time.Duration, kv ...string) telemetry.Alert {
	return telemetry.Alert{Labels: telemetry.LabelsFromStrings(kv...), StartsAt: t0, EndsAt: t0.Add(end)}
}

func TestInhibitions(t *testing.T) {
	rules, err := RulesFromConfig([]config.InhibitRule{
		{SourceMatchers: []string{`severity="critical"`}, TargetMatchers: []string{`severity="warning"`}, Equal: []string{"cluster"}},
		// Both sides match alertname=~"Node.*": such alerts must not
		// inhibit each other.
		{SourceMatch: map[string]string{"kind": "node"}, TargetMatchRE: map[string]string{"kind": "node|pod"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	in, err := New(rules, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	src := alert(time.Hour, "alertname", "Down", "severity", "critical", "cluster", "eu")
	nodeA := alert(time.Hour, "alertname", "NodeA", "kind", "node")
	in.Put(src, nodeA)
	now := t0.Add(time.Minute)
	tests := []struct {
		name string
		ls   telemetry.Labels
		want string // rule name, "" for none
	}{
		{"same cluster", telemetry.LabelsFromStrings("alertname", "Slow", "severity", "warning", "cluster", "eu"), "inhibit_rules[0]"},
		{"other cluster", telemetry.LabelsFromStrings("alertname", "Slow", "severity", "warning", "cluster", "us"), ""},
		{"no cluster vs eu", telemetry.LabelsFromStrings("alertname", "Slow", "severity", "warning"), ""},
		{"not a target", telemetry.LabelsFromStrings("alertname", "Other", "severity", "info", "cluster", "eu"), ""},
		{"pod under node", telemetry.LabelsFromStrings("alertname", "Pod", "kind", "pod"), "inhibit_rules[1]"},
		{"two-sided: node vs node", telemetry.LabelsFromStrings("alertname", "NodeB", "kind", "node"), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := in.Inhibitions(tc.ls, now)
			switch {
			case tc.want == "" && len(got) > 0:
				t.Errorf("inhibited: %v", got)
			case tc.want != "" && (len(got) != 1 || got[0].Rule != tc.want):
				t.Errorf("got %v, want %s", got, tc.want)
			}
		})
	}
	target := telemetry.LabelsFromStrings("alertname", "Slow", "severity", "warning", "cluster", "eu")
	if ids := in.InhibitedBy(target, now); len(ids) != 1 || ids[0] != src.Fingerprint().String() {
		t.Errorf("InhibitedBy %v", ids)
	}
	if rs := in.Mutes(target, now); len(rs) != 1 || !strings.Contains(rs[0], "via rule inhibit_rules[0]") {
		t.Errorf("Mutes %v", rs)
	}
	// The source resolves: no more inhibition, and GC drops it.
	res := src
	res.EndsAt = now
	in.Put(res)
	if got := in.Inhibitions(target, now); len(got) != 0 {
		t.Errorf("inhibited by a resolved source: %v", got)
	}
	before := in.Len()
	if n := in.GC(now); n != 1 || in.Len() != before-1 {
		t.Errorf("GC removed %d, len %d -> %d", n, before, in.Len())
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	rules, _ := RulesFromConfig([]config.InhibitRule{{SourceMatchers: []string{`severity="critical"`}}})
	in, err := New(rules, Options{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	in.Put(alert(time.Hour, "alertname", "Down", "severity", "critical"), alert(time.Hour, "alertname", "Other"))
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 1 || mfs[0].GetName() != "vigil_inhibit_sources" || mfs[0].GetMetric()[0].GetGauge().GetValue() != 1 {
		t.Errorf("metrics %v %v", mfs, err)
	}
	if _, err := New(rules, Options{Registerer: reg}); err == nil {
		t.Error("registering twice succeeded")
	}
}

func TestRulesFromConfigErrors(t *testing.T) {
	if _, err := RulesFromConfig([]config.InhibitRule{{SourceMatchers: []string{"a=~("}}}); err == nil || !strings.Contains(err.Error(), "inhibit_rules[0] source") {
		t.Errorf("got %v", err)
	}
}

// BenchmarkInhibitions measures a target lookup with many sources held.
func BenchmarkInhibitions(b *testing.B) {
	rules, _ := RulesFromConfig([]config.InhibitRule{{SourceMatchers: []string{`severity="critical"`}, TargetMatchers: []string{`severity="warning"`}, Equal: []string{"cluster"}}})
	in, err := New(rules, DefaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 10_000; i++ {
		in.Put(alert(time.Hour, "alertname", "Down", "severity", "critical", "cluster", "c"+string(rune('a'+i%26))+string(rune('a'+i/26%26)), "i", string(rune(i))))
	}
	target := telemetry.LabelsFromStrings("alertname", "Slow", "severity", "warning", "cluster", "zz-none")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		in.Inhibitions(target, t0)
	}
}
