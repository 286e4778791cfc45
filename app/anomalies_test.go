package app

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/bus"
	"github.com/vigilops/vigil/detect"
	"github.com/vigilops/vigil/telemetry"
)

// publishTimed publishes JSON lines of svc, one per entry of msgs, at the
// given times.
func publishTimed(t *testing.T, b bus.Bus, svc string, level string, at []time.Time, msg func(i int) string) {
	t.Helper()
	batch := make([]telemetry.LogRecord, len(at))
	for i, ts := range at {
		raw := fmt.Sprintf(`{"time":%q,"level":%q,"msg":%q}`, ts.UTC().Format(time.RFC3339), level, msg(i))
		batch[i] = telemetry.LogRecord{Service: svc, Raw: raw, Labels: telemetry.Labels{{Name: "service", Value: svc}}}
	}
	if err := b.Publish(context.Background(), bus.Message{Topic: bus.TopicLogs, Key: svc, Value: batch}); err != nil {
		t.Fatal(err)
	}
}

func getAnomalies(t *testing.T, base, query string) (int, anomaliesResponse, string) {
	t.Helper()
	code, body := get(t, base+"/api/v1/anomalies"+query, "")
	var resp anomaliesResponse
	if code == 200 {
		if err := json.Unmarshal(body, &resp); err != nil {
			t.Fatalf("decode %s: %v", body, err)
		}
	}
	return code, resp, string(body)
}

// TestAnomaliesStage sends a service's steady INFO line for two hours of
// record time, then an ERROR line never seen before, and wants the
// new-pattern anomaly served by the API, and the log-derived series in the
// series store.
func TestAnomaliesStage(t *testing.T) {
	clk := &testClock{}
	a, _ := startLogsApp(t, t.TempDir(), clk)
	defer a.Stop(context.Background())
	base := "http://" + a.Addr().String()

	// Record time ends an hour before the wall clock, so the series store
	// keeps the samples; the detectors only ever see record time.
	start := time.Now().Add(-3 * time.Hour).Truncate(time.Minute)
	// One line every 3s for 2h: the new-pattern detector warms up after an
	// hour and 2,000 lines without a new template.
	const warm = 2400
	at := make([]time.Time, warm)
	for i := range at {
		at[i] = start.Add(time.Duration(i) * 3 * time.Second)
	}
	publishTimed(t, a.bus, "checkout", "info", at, func(i int) string { return fmt.Sprintf("cart updated items %d", i%9) })
	errAt := start.Add(warm * 3 * time.Second)
	publishTimed(t, a.bus, "checkout", "error", []time.Time{errAt}, func(int) string {
		return "database connection refused by primary"
	})

	var found detect.Anomaly
	deadline := time.Now().Add(15 * time.Second)
	for found.Type == "" {
		_, resp, _ := getAnomalies(t, base, "?service=checkout&type=new_pattern")
		for _, an := range resp.Anomalies {
			if an.Labels.Get("level") == "error" {
				found = an.Anomaly
			}
		}
		if found.Type != "" {
			break
		}
		if time.Now().After(deadline) {
			_, all, _ := getAnomalies(t, base, "")
			t.Fatalf("no new_pattern error anomaly for checkout; all anomalies: %+v", all)
		}
		// The logs stage holds a stream's last entry until the join
		// timeout passes on its (test) clock.
		clk.Advance(time.Second)
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("anomaly: %s", found.Explanation)
	if found.Service != "checkout" || found.TemplateID == "" || !found.Start.Equal(errAt) {
		t.Errorf("anomaly %+v", found)
	}
	if !strings.Contains(found.Explanation, "new error template") || !strings.Contains(found.Explanation, "checkout") {
		t.Errorf("explanation %q", found.Explanation)
	}
	if len(found.Examples) != 1 || !strings.Contains(found.Examples[0], "database connection refused") {
		t.Errorf("examples %q", found.Examples)
	}

	t.Run("filters", func(t *testing.T) {
		tests := []struct {
			name, query string
			wantSome    bool
		}{
			{"other service", "?service=cart", false},
			{"other type", "?service=checkout&type=silence", false},
			{"since before", "?type=new_pattern&since=" + url.QueryEscape(errAt.Add(-time.Minute).Format(time.RFC3339)), true},
			{"since after", "?type=new_pattern&since=" + url.QueryEscape(errAt.Add(time.Minute).Format(time.RFC3339)), false},
			{"limit", "?limit=1", true},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				code, resp, body := getAnomalies(t, base, tt.query)
				if code != 200 {
					t.Fatalf("%d %s", code, body)
				}
				if got := len(resp.Anomalies) > 0; got != tt.wantSome {
					t.Fatalf("got %d anomalies, want some: %v: %s", len(resp.Anomalies), tt.wantSome, body)
				}
				if strings.Contains(tt.query, "limit=1") && len(resp.Anomalies) != 1 {
					t.Fatalf("limit=1 gave %d", len(resp.Anomalies))
				}
			})
		}
	})

	t.Run("bad params", func(t *testing.T) {
		for _, tt := range []struct{ query, param string }{
			{"?limit=abc", "limit"},
			{"?limit=0", "limit"},
			{"?limit=10001", "limit"},
			{"?since=yesterday", "since"},
		} {
			code, _, body := getAnomalies(t, base, tt.query)
			if code != 400 || !strings.Contains(body, tt.param) {
				t.Errorf("%s: %d %s", tt.query, code, body)
			}
		}
	})

	if n := metricValue(t, a.reg, `vigil_detect_anomalies_total{type="new_pattern"}`); n < 1 {
		t.Errorf("vigil_detect_anomalies_total{type=new_pattern} = %v", n)
	}
	if n := metricValue(t, a.reg, "vigil_detect_observed_lines_total"); n != warm+1 {
		t.Errorf("vigil_detect_observed_lines_total = %v, want %d", n, warm+1)
	}

	// The tick (1s, wall clock) closes the log-metric intervals up to the
	// newest record time and publishes their samples.
	deadline = time.Now().Add(10 * time.Second)
	for {
		_, body := get(t, base+"/api/v1/series?match="+url.QueryEscape(`{__name__="`+detect.MetricLogLines+`",service="checkout"}`), "")
		if strings.Contains(string(body), detect.MetricLogLines) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s series: %s", detect.MetricLogLines, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestAnomalyRing checks the ring's bound and its newest-first order.
func TestAnomalyRing(t *testing.T) {
	s := &anomalyStage{size: 3, log: slog.New(slog.DiscardHandler), m: newAnomalyMetrics(prometheus.NewRegistry())}
	t0 := time.Date(2024, 10, 10, 0, 0, 0, 0, time.UTC)
	for i := range 5 {
		s.record(context.Background(), []detect.Anomaly{{Type: detect.TypeNewPattern, Service: "s", TemplateID: fmt.Sprint(i), Start: t0, End: t0.Add(time.Duration(i) * time.Minute)}})
	}
	tests := []struct {
		name string
		f    anomalyFilter
		want []string
	}{
		{"all", anomalyFilter{limit: 10}, []string{"4", "3", "2"}},
		{"limit", anomalyFilter{limit: 2}, []string{"4", "3"}},
		{"since", anomalyFilter{limit: 10, since: t0.Add(3 * time.Minute)}, []string{"4", "3"}},
		{"service", anomalyFilter{limit: 10, service: "x"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, total := s.query(tt.f)
			var ids []string
			for _, a := range got {
				ids = append(ids, a.TemplateID)
			}
			if fmt.Sprint(ids) != fmt.Sprint(tt.want) {
				t.Fatalf("got %v, want %v", ids, tt.want)
			}
			if tt.f.limit >= 3 && total != len(tt.want) {
				t.Fatalf("total %d", total)
			}
		})
	}
}
