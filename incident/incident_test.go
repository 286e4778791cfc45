package incident

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func TestLifecycle(t *testing.T) {
	type step struct {
		op        string // ack, resolve, reopen
		wantErr   error
		wantState Status
		wantEntry string // substring of the entry; "" for none
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"ack then resolve", []step{
			{"ack", nil, StatusAcknowledged, "acknowledged by alice"},
			{"resolve", nil, StatusResolved, "resolved by alice"},
		}},
		{"ack twice is a no-op", []step{
			{"ack", nil, StatusAcknowledged, "acknowledged"},
			{"ack", nil, StatusAcknowledged, ""},
		}},
		{"resolved cannot be acknowledged", []step{
			{"resolve", nil, StatusResolved, "resolved"},
			{"ack", ErrTransition, StatusResolved, ""},
		}},
		{"resolve twice is a no-op", []step{
			{"resolve", nil, StatusResolved, "resolved"},
			{"resolve", nil, StatusResolved, ""},
		}},
		{"reopen clears the acknowledgement", []step{
			{"ack", nil, StatusAcknowledged, "acknowledged"},
			{"resolve", nil, StatusResolved, "resolved"},
			{"reopen", nil, StatusOpen, "reopened by alice: it is back"},
		}},
		{"open cannot be reopened", []step{
			{"reopen", ErrTransition, StatusOpen, ""},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inc := &Incident{ID: "i", Status: StatusOpen, OpenedAt: t0}
			for i, st := range tt.steps {
				a := Action{At: t0.Add(time.Duration(i+1) * time.Minute), By: "alice"}
				var (
					es  []Entry
					err error
				)
				switch st.op {
				case "ack":
					es, err = inc.Acknowledge(a)
				case "resolve":
					es, err = inc.Resolve(a)
				case "reopen":
					a.Text = "it is back"
					es, err = inc.Reopen(a)
				}
				if !errors.Is(err, st.wantErr) || (st.wantErr == nil && err != nil) {
					t.Fatalf("step %d %s: err %v, want %v", i, st.op, err, st.wantErr)
				}
				if inc.Status != st.wantState {
					t.Fatalf("step %d %s: status %s, want %s", i, st.op, inc.Status, st.wantState)
				}
				switch {
				case st.wantEntry == "" && len(es) > 0:
					t.Errorf("step %d %s: unexpected entries %+v", i, st.op, es)
				case st.wantEntry != "" && (len(es) != 1 || !strings.Contains(es[0].Text, st.wantEntry) || !es[0].Time.Equal(a.At)):
					t.Errorf("step %d %s: entries %+v, want one containing %q at %v", i, st.op, es, st.wantEntry, a.At)
				}
			}
			if inc.Status == StatusOpen && (!inc.AcknowledgedAt.IsZero() || !inc.ResolvedAt.IsZero()) {
				t.Errorf("open incident keeps ack/resolve times: %+v", inc)
			}
		})
	}
}

func TestQueryMatch(t *testing.T) {
	inc := &Incident{Status: StatusOpen, Services: []string{"cart", "checkout"}, OpenedAt: t0}
	tests := []struct {
		q    Query
		want bool
	}{
		{Query{}, true},
		{Query{Status: StatusOpen, Service: "cart"}, true},
		{Query{Status: StatusResolved}, false},
		{Query{Service: "car"}, false},
		{Query{From: t0}, true},
		{Query{To: t0}, false},
		{Query{From: t0.Add(time.Second)}, false},
	}
	for _, tt := range tests {
		if got := tt.q.Match(inc); got != tt.want {
			t.Errorf("%+v: got %v, want %v", tt.q, got, tt.want)
		}
	}
}

func TestLedger(t *testing.T) {
	reg := prometheus.NewRegistry()
	l := NewLedger(reg)
	for i := 0; i < 10; i++ {
		l.Signal(SignalAlert)
	}
	l.Signal(SignalAnomaly)
	a := &Incident{OpenedAt: t0}
	b := &Incident{OpenedAt: t0}
	l.Opened()
	l.Opened()
	a.AcknowledgedAt = t0.Add(2 * time.Minute)
	l.Acknowledged(a)
	b.AcknowledgedAt = t0.Add(4 * time.Minute)
	l.Acknowledged(b)
	a.ResolvedAt = t0.Add(30 * time.Minute)
	l.Resolved(a)
	l.Feedback("", TruePositive)
	l.Feedback("", FalsePositive)
	l.Feedback(FalsePositive, TruePositive) // a verdict changed
	s := l.Stats()
	if s.Signals[SignalAlert] != 10 || s.Opened != 2 || s.Active != 1 || s.Resolved != 1 {
		t.Errorf("counts %+v", s)
	}
	if s.MTTA != 3*time.Minute || s.MTTR != 30*time.Minute {
		t.Errorf("MTTA %v MTTR %v, want 3m and 30m", s.MTTA, s.MTTR)
	}
	if s.TruePositives != 2 || s.FalsePositives != 0 || s.Precision != 1 {
		t.Errorf("feedback %d/%d precision %v", s.TruePositives, s.FalsePositives, s.Precision)
	}
	if want := 1 - 2.0/11; math.Abs(s.NoiseReduction-want) > 1e-12 {
		t.Errorf("noise reduction %v, want %v", s.NoiseReduction, want)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			switch {
			case m.GetCounter() != nil:
				got[mf.GetName()] += m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				got[mf.GetName()] = m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				got[mf.GetName()] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	want := map[string]float64{
		"vigil_incident_signals_total": 11, "vigil_incident_opened_total": 2, "vigil_incident_active": 1,
		"vigil_incident_time_to_acknowledge_seconds": 2, "vigil_incident_time_to_resolve_seconds": 1,
		"vigil_incident_precision_ratio": 1, "vigil_incident_feedback_total": 3,
	}
	for name, v := range want {
		if got[name] != v {
			t.Errorf("%s = %v, want %v", name, got[name], v)
		}
	}
}
