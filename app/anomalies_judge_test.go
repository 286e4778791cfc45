package app

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/copilot"
	"github.com/vigilops/vigil/detect"
)

// TestBorderlineAnomaliesAreJudged: borderline anomalies get the copilot's
// judgement attached once it is in; clear ones are not sent; a full queue
// leaves anomalies unjudged rather than blocking detection.
func TestBorderlineAnomaliesAreJudged(t *testing.T) {
	asked := make(chan detect.Anomaly, 10)
	s := &anomalyStage{
		log:  slog.New(slog.DiscardHandler),
		m:    newAnomalyMetrics(prometheus.NewRegistry()),
		size: 3,
		judge: func(_ context.Context, a detect.Anomaly) copilot.Judgement {
			asked <- a
			return copilot.Judgement{IsAnomaly: a.Service == "real", Confidence: 0.9, Explanation: "checked", Source: "model m"}
		},
		toJudge: make(chan judgeJob, 2),
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s.record(context.Background(), []detect.Anomaly{
		{Service: "clear", Score: 0.95, End: at},
		{Service: "real", Score: 0.5, End: at},
		{Service: "noise", Score: 0.4, End: at},
		{Service: "overflow", Score: 0.45, End: at}, // the queue holds 2
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.judging(ctx) }()
	for i := 0; i < 2; i++ {
		select {
		case a := <-asked:
			if a.Service != "real" && a.Service != "noise" {
				t.Errorf("%s was sent for judgement", a.Service)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no judgement asked")
		}
	}
	// Wait for the worker to attach the second judgement.
	deadline := time.Now().Add(5 * time.Second)
	for {
		vs, _ := s.query(anomalyFilter{limit: 10})
		got := map[string]*copilot.Judgement{}
		for _, v := range vs {
			got[v.Service] = v.Judgement
		}
		if got["noise"] != nil || time.Now().After(deadline) {
			// The ring holds 3: "clear" was overwritten by "overflow".
			if len(vs) != 3 || got["real"] == nil || !got["real"].IsAnomaly || got["noise"] == nil || got["noise"].IsAnomaly || got["overflow"] != nil {
				t.Errorf("views %+v", vs)
			}
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
}
