package app

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/vigilops/vigil/kedascaler/externalscaler"
)

// TestServeMetricDetectAndScaler runs the demo with metric detection and
// the KEDA scaler on, and checks both answer.
func TestServeMetricDetectAndScaler(t *testing.T) {
	cfg := testConfig(t)
	cfg.API.AnonymousRole = "viewer"
	cfg.Demo.Enabled, cfg.Demo.Speed = true, 7200
	cfg.KEDAScaler.Listen = "127.0.0.1:0"
	a, err := New(Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer a.Stop(ctx)
	base := "http://" + a.Addr().String()
	var band metricBandResponse
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		code, body := get(t, base+`/api/v1/metrics/band?series=http_requests_total&limit=100`, "")
		if code != 200 {
			t.Fatalf("band %d %s", code, body)
		}
		_ = json.Unmarshal(body, &band)
		if band.Total > 0 && len(band.Series[0].Points) > 30 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if band.Total == 0 || len(band.Series[0].Points) <= 30 {
		t.Fatalf("band = %d series", band.Total)
	}
	t.Logf("band: %d series, first %s with %d points", band.Total, band.Series[0].Metric, len(band.Series[0].Points))
	time.Sleep(5 * time.Second)
	code, body := get(t, base+`/api/v1/metrics/anomalies?limit=5`, "")
	t.Logf("anomalies %d %s", code, body[:min(len(body), 1500)])

	cc, err := grpc.NewClient(a.kedaScaler.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	c := pb.NewExternalScalerClient(cc)
	ref := &pb.ScaledObjectRef{Name: "frontend", Namespace: "shop", ScalerMetadata: map[string]string{
		"selector": `http_requests_total{service="frontend"}`, "targetValue": "20", "lookback": "1d", "step": "1m"}}
	m, err := c.GetMetrics(ctx, &pb.GetMetricsRequest{ScaledObjectRef: ref})
	t.Logf("GetMetrics = %v, %v", m, err)
	if err != nil {
		t.Fatal(err)
	}
	if v := m.MetricValues[0].MetricValueFloat; !(v > 0) {
		t.Fatalf("served %v", v)
	}
	code, body = get(t, base+`/metrics`, "")
	for _, line := range []string{"vigil_detect_metric_series ", "vigil_kedascaler_"} {
		if !contains(body, line) {
			t.Errorf("/metrics lacks %s", line)
		}
	}
}

func contains(b []byte, s string) bool { return strings.Contains(string(b), s) }
