package app

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilops/vigil/bus"
	"github.com/vigilops/vigil/telemetry"
)

// TestSLOAlertsRouteAndServe feeds the series store an error rate far over
// a 99.9% objective, evaluates the SLOs, and checks that GET /api/v1/slos
// shows the spent budget and that the burn-rate alert reached the alerts
// topic (the Alertmanager API lists it, the dispatcher routed it).
func TestSLOAlertsRouteAndServe(t *testing.T) {
	dir := t.TempDir()
	spec := filepath.Join(dir, "spec.yaml")
	if err := os.WriteFile(spec, []byte(`slos:
  - name: checkout-availability
    service: checkout
    objective: 99.9
    bad: http_requests_total{service="checkout",code=~"5.."}
    total: http_requests_total{service="checkout"}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	cfg := testConfig(t)
	cfg.SLO.Spec = spec
	cfg.API.AnonymousRole = "viewer"
	a, err := New(Options{Config: cfg, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer a.Stop(ctx)
	base := "http://" + a.Addr().String()

	if code, body := get(t, base+"/api/v1/slos", ""); code != 200 || !strings.Contains(string(body), `"slos"`) {
		t.Fatalf("slos before evaluation: %d %s", code, body)
	}
	// Two hours of counters: half the requests fail.
	ok := telemetry.LabelsFromMap(map[string]string{"__name__": "http_requests_total", "service": "checkout", "code": "200"})
	bad := telemetry.LabelsFromMap(map[string]string{"__name__": "http_requests_total", "service": "checkout", "code": "500"})
	var ss []telemetry.Sample
	for i := 0; i <= 240; i++ {
		ts := now.Add(-2 * time.Hour).Add(time.Duration(i) * 30 * time.Second).UnixMilli()
		ss = append(ss, telemetry.Sample{Labels: ok, T: ts, V: float64(50 * i)}, telemetry.Sample{Labels: bad, T: ts, V: float64(50 * i)})
	}
	if err := a.bus.Publish(ctx, bus.Message{Topic: bus.TopicSamples, Value: ss}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "samples in the series store", 5*time.Second, func() bool {
		_, body := get(t, base+"/api/v1/series?match="+url.QueryEscape(`{__name__="http_requests_total"}`), "")
		return strings.Count(string(body), `"code"`) >= 2
	})
	a.evaluateSLO(ctx, a.alerting)

	_, body := get(t, base+"/api/v1/slos", "")
	var st struct {
		SLOs []struct {
			SLO             string   `json:"slo"`
			BudgetRemaining *float64 `json:"budget_remaining"`
		} `json:"slos"`
	}
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	if len(st.SLOs) != 1 || st.SLOs[0].BudgetRemaining == nil || *st.SLOs[0].BudgetRemaining >= 0 {
		t.Fatalf("want one SLO with its budget overspent, got %s", body)
	}
	waitFor(t, "the burn-rate alert in the Alertmanager API", 5*time.Second, func() bool {
		_, body := get(t, base+"/api/v2/alerts", "")
		return strings.Contains(string(body), "SLOBurnRate")
	})
	waitFor(t, "the dispatcher to hold the burn-rate alert", 5*time.Second, func() bool {
		_, body := get(t, base+"/api/v2/alerts/groups", "")
		return strings.Contains(string(body), "SLOBurnRate")
	})
}
