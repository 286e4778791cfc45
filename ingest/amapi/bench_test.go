package amapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-openapi/strfmt"
	"github.com/prometheus/alertmanager/api/v2/models"

	"github.com/vigilops/vigil/ingest"
	"github.com/vigilops/vigil/telemetry"
)

// benchBatchSize is Prometheus' notifier batch size (MaxBatchSize).
const benchBatchSize = 64

// benchBodies renders n batches of realistic alerts as Prometheus sends
// them, each alert distinct, so the State sees a working set of
// n*benchBatchSize fingerprints that are resent round after round.
func benchBodies(b *testing.B, n int, now time.Time) [][]byte {
	b.Helper()
	out := make([][]byte, n)
	for i := range out {
		batch := make(models.PostableAlerts, 0, benchBatchSize)
		for j := range benchBatchSize {
			k := i*benchBatchSize + j
			batch = append(batch, &models.PostableAlert{
				Annotations: models.LabelSet{
					"summary":     fmt.Sprintf("p99 latency of svc-%d above 500ms", k%50),
					"description": "The 99th percentile of request latency has been above 500ms for 10 minutes.",
					"runbook_url": "https://runbooks.example.com/HighLatency",
				},
				StartsAt: strfmt.DateTime(now.Add(-time.Hour)),
				EndsAt:   strfmt.DateTime(now.Add(4 * time.Minute)),
				Alert: models.Alert{
					GeneratorURL: strfmt.URI("http://prometheus:9090/graph?g0.expr=histogram_quantile%280.99%2C+rate%28x%5B5m%5D%29%29+%3E+0.5&g0.tab=1"),
					Labels: models.LabelSet{
						"alertname": []string{"HighLatency", "HighErrorRate", "PodCrashLooping", "DiskFull"}[k%4],
						"job":       fmt.Sprintf("svc-%d", k%50),
						"instance":  fmt.Sprintf("10.0.%d.%d:8080", k/250, k%250),
						"namespace": "prod",
						"severity":  []string{"page", "warning"}[k%2],
						"service":   fmt.Sprintf("svc-%d", k%50),
						"pod":       fmt.Sprintf("svc-%d-7d9f8c-%05d", k%50, k),
					},
				},
			})
		}
		body, err := json.Marshal(batch)
		if err != nil {
			b.Fatal(err)
		}
		out[i] = body
	}
	return out
}

var discardSink = ingest.SinkFuncs{AlertsFunc: func(context.Context, []telemetry.Alert) error { return nil }}

func benchReceiver(b *testing.B) (*Receiver, http.Handler) {
	b.Helper()
	r, err := New(Options{Sink: discardSink, Now: func() time.Time { return t0 }})
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	for _, rt := range r.Routes() {
		mux.Handle(rt.Pattern, rt.Handler)
	}
	return r, mux
}

// BenchmarkPostAlerts posts 64-alert batches through the routed handler
// (auth, instrumentation, decode, validation, state, sink).
func BenchmarkPostAlerts(b *testing.B) {
	_, h := benchReceiver(b)
	bodies := benchBodies(b, 16, t0)
	b.SetBytes(int64(len(bodies[0])))
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		i := n
		n++
		req := httptest.NewRequest("POST", "/api/v2/alerts", bytes.NewReader(bodies[i%len(bodies)]))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	b.ReportMetric(float64(n*benchBatchSize)/b.Elapsed().Seconds(), "alerts/s")
}

// BenchmarkPostAlertsHTTP is the same over loopback HTTP with a real client
// and keep-alive, as Prometheus connects: the figure for BENCHMARKS.md.
func BenchmarkPostAlertsHTTP(b *testing.B) {
	_, h := benchReceiver(b)
	srv := httptest.NewServer(h)
	defer srv.Close()
	client := srv.Client()
	bodies := benchBodies(b, 16, t0)
	url := srv.URL + "/api/v2/alerts"
	b.SetBytes(int64(len(bodies[0])))
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		i := n
		n++
		resp, err := client.Post(url, "application/json", bytes.NewReader(bodies[i%len(bodies)]))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	b.ReportMetric(float64(n*benchBatchSize)/b.Elapsed().Seconds(), "alerts/s")
}

// BenchmarkGetAlerts lists a State of 1,000 alerts, as amtool alert query
// does, with one filter.
func BenchmarkGetAlerts(b *testing.B) {
	_, h := benchReceiver(b)
	for _, body := range benchBodies(b, 16, t0) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("POST", "/api/v2/alerts", bytes.NewReader(body)))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", `/api/v2/alerts?filter=severity%3D%22page%22&active=true&silenced=false`, nil))
		if w.Code != 200 {
			b.Fatalf("status %d", w.Code)
		}
	}
}
