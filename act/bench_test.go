package act

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// BenchmarkMatch measures matching one situation (21 alerts) against the
// three testdata runbooks, as Trigger does for every incident update.
func BenchmarkMatch(b *testing.B) {
	rbs, err := LoadDir(filepath.Join("testdata", "runbooks"), nil)
	if err != nil {
		b.Fatal(err)
	}
	sit := &Situation{IncidentID: "i", Diagnosis: &Diagnosis{Service: "redis", Component: "memory", Confidence: 0.8}}
	for i := 0; i < 20; i++ {
		sit.Alerts = append(sit.Alerts, telemetry.Alert{Labels: telemetry.LabelsFromStrings("alertname", "Other", "service", "x")})
	}
	sit.Alerts = append(sit.Alerts, telemetry.Alert{Labels: telemetry.LabelsFromStrings("alertname", "RedisMemoryHigh", "service", "redis")})
	b.ReportAllocs()
	for b.Loop() {
		env := sit.Env()
		for _, rb := range rbs {
			if _, err := rb.matchEnv(env); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkGuardAcquire measures one admit and release.
func BenchmarkGuardAcquire(b *testing.B) {
	rb := mustRunbooks(b, "name: a\nrisk: low\nlevel: 4\nmatch: 'true'\nsteps: [{name: s, action: f.do}]\n")[0]
	o := DefaultGuardOptions()
	o.DryRun, o.MaxLevel, o.RunbookPerHour, o.GlobalPerHour = false, LevelAutoHigh, 1<<30, 1<<30
	g, err := NewGuard(o)
	if err != nil {
		b.Fatal(err)
	}
	now := t0
	plans := []Plan{{Targets: []string{"deployment/shop/redis"}, Replicas: &ReplicaChange{From: 2, To: 3}}}
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Millisecond)
		l, err := g.Acquire(context.Background(), Request{Runbook: rb, Mode: ModeAuto, Confidence: 1, Plans: plans, Now: now})
		if err != nil {
			b.Fatal(err)
		}
		l.Release()
	}
}
