package act

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	rbs := mustRunbooks(t, "name: r\nrisk: low\nlevel: 2\nmatch: 'true'\nsteps: [{name: s, action: f.do}]\n")
	s, _, _ := testService(t, rbs, map[string]Executor{"f": &fakeExec{}}, func(o *Options) { o.Registerer = reg })
	s.EngageKillSwitch(context.Background(), "root", "test")
	a, err := s.RequestApproval(context.Background(), "r", nil, "", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Approve(context.Background(), a.ID, "bob", ""); err != nil {
		t.Fatal(err)
	}
	s.Wait()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += "{" + l.GetName() + "=" + l.GetValue() + "}"
			}
			switch {
			case m.Counter != nil:
				got[key] = m.Counter.GetValue()
			case m.Gauge != nil:
				got[key] = m.Gauge.GetValue()
			}
		}
	}
	want := map[string]float64{
		"vigil_act_guard_denials_total{reason=kill_switch}": 1,
		"vigil_act_executions_total{outcome=denied}":        1,
		"vigil_act_killswitch_engaged":                      1,
		"vigil_act_approvals_pending":                       0,
		"vigil_act_executions_running":                      0,
		"vigil_act_escalations_total":                       1,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
}
