package app

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/vigilops/vigil/config"
	pb "github.com/vigilops/vigil/kedascaler/externalscaler"
	"github.com/vigilops/vigil/metricstore"
	"github.com/vigilops/vigil/telemetry"
)

// ksConfig is the kedascaler section as config's defaults set it, on an
// ephemeral loopback port (config.Config has no kedascaler section until
// the stage is glued in).
func ksConfig() config.KEDAScaler {
	return config.KEDAScaler{Listen: "127.0.0.1:0", History: config.KEDAHistoryStore,
		StreamInterval: config.Duration(15 * time.Second), MinEvalInterval: config.Duration(10 * time.Second),
		MaxObjects: 1000, RefitEvery: config.Duration(24 * time.Hour), Replicas: config.KEDAReplicasAuto}
}

// ksDaily is the request rate of the synthetic shop: 50/s at night, 150/s
// in the afternoon.
func ksDaily(t time.Time) float64 {
	h := float64(t.Unix()%86400) / 3600
	return 100 - 50*math.Cos(2*math.Pi*(h-3)/24)
}

// ksStore is a series store holding four days of ksDaily per minute,
// ending on day four at 10:00 while the load rises, and that end time.
func ksStore(t *testing.T) (*metricstore.Store, time.Time) {
	t.Helper()
	mo := metricstore.DefaultOptions()
	mo.Logger = nil
	st, err := metricstore.New(mo)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	ls := telemetry.LabelsFromStrings("__name__", "shop_requests_per_second", "service", "frontend")
	var samples []telemetry.Sample
	const minutes = 3*1440 + 600
	for i := 0; i <= minutes; i++ {
		ts := start.Add(time.Duration(i) * time.Minute)
		samples = append(samples, telemetry.Sample{Labels: ls, T: ts.UnixMilli(), V: ksDaily(ts)})
	}
	st.Append(samples)
	return st, start.Add(minutes * time.Minute)
}

// startKEDAScaler starts the stage over ksStore and returns a client and
// the evaluation time.
func startKEDAScaler(t *testing.T) (*kedaScalerStage, pb.ExternalScalerClient, *grpc.ClientConn, time.Time) {
	t.Helper()
	st, now := ksStore(t)
	s, err := newKEDAScalerStage(kedaScalerDeps{Config: ksConfig(), Metrics: st, Now: func() time.Time { return now },
		Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	cc, err := grpc.NewClient(s.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return s, pb.NewExternalScalerClient(cc), cc, now
}

func TestKEDAScalerStage(t *testing.T) {
	s, c, cc, now := startKEDAScaler(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	meta := map[string]string{
		"scalerAddress": "vigil:9381",
		"selector":      `shop_requests_per_second{service="frontend"}`,
		"targetValue":   "20",
		"horizon":       "15m",
		"lookback":      "3d",
		"step":          "5m",
		"metricName":    "frontend-rps",
	}
	ref := &pb.ScaledObjectRef{Name: "frontend", Namespace: "shop", ScalerMetadata: meta}

	spec, err := c.GetMetricSpec(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if len(spec.MetricSpecs) != 1 || spec.MetricSpecs[0].MetricName != "frontend-rps" || spec.MetricSpecs[0].TargetSizeFloat != 20 {
		t.Fatalf("GetMetricSpec = %v", spec)
	}
	got, err := c.GetMetrics(ctx, &pb.GetMetricsRequest{ScaledObjectRef: ref, MetricName: "s0-frontend-rps"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.MetricValues) != 1 {
		t.Fatalf("GetMetrics = %v", got)
	}
	v := got.MetricValues[0].MetricValueFloat
	// The load rises over the next 15 minutes: the served value must
	// anticipate it (above the current load, near the load to come), and
	// come from the forecast, not the fallback to the current value.
	dec, err := s.scaler.Evaluate(ctx, "shop", "frontend", meta)
	if err != nil {
		t.Fatal(err)
	}
	cur, ahead := ksDaily(now), ksDaily(now.Add(15*time.Minute))
	t.Logf("served %.2f at %s (load now %.2f, in 15m %.2f; model %s)", v, now.Format("15:04"), cur, ahead, dec.Model)
	if dec.Fallback != "" || !(v > cur) || !(v >= 0.98*ahead && v <= 1.2*ahead) {
		t.Fatalf("served %g (fallback %q), want a forecast above the current %.1f and near the coming %.1f", v, dec.Fallback, cur, ahead)
	}
	act, err := c.IsActive(ctx, ref)
	if err != nil || !act.Result {
		t.Fatalf("IsActive = %v, %v; want active", act, err)
	}

	bad := []struct {
		name string
		edit func(m map[string]string)
	}{
		{"no target", func(m map[string]string) { delete(m, "targetValue") }},
		{"misspelt key", func(m map[string]string) { m["scaleDownStabilisation"] = "5m" }},
		{"promql on the store", func(m map[string]string) { delete(m, "selector"); m["query"] = "sum(rate(x[1m]))" }},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			m := map[string]string{}
			for k, v := range meta {
				m[k] = v
			}
			tt.edit(m)
			r := &pb.ScaledObjectRef{Name: "bad", Namespace: "shop", ScalerMetadata: m}
			_, err := c.GetMetrics(ctx, &pb.GetMetricsRequest{ScaledObjectRef: r})
			if status.Code(err) != codes.InvalidArgument {
				t.Fatalf("GetMetrics = %v, want InvalidArgument", err)
			}
			if tt.name == "promql on the store" {
				// The metadata is well formed; only the history refuses it.
				if !strings.Contains(err.Error(), "selector") {
					t.Fatalf("GetMetrics = %v, want the fix (selector) named", err)
				}
				return
			}
			if _, err := c.GetMetricSpec(ctx, r); status.Code(err) != codes.InvalidArgument {
				t.Fatalf("GetMetricSpec = %v, want InvalidArgument", err)
			}
		})
	}

	h, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || h.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health = %v, %v", h, err)
	}
}

// TestKEDAScalerStopEndsStreams: KEDA keeps StreamIsActive open for as
// long as it likes; Stop must not wait for it beyond its grace.
func TestKEDAScalerStopEndsStreams(t *testing.T) {
	s, c, _, _ := startKEDAScaler(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ref := &pb.ScaledObjectRef{Name: "frontend", Namespace: "shop", ScalerMetadata: map[string]string{
		"selector": `shop_requests_per_second`, "targetValue": "20", "lookback": "2d", "step": "5m"}}
	stream, err := c.StreamIsActive(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatalf("first verdict: %v", err)
	}
	sctx, scancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer scancel()
	if err := s.Stop(sctx); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err == nil {
		t.Fatal("the stream is still open after Stop")
	}
}

func TestNewKEDAScalerStageConfig(t *testing.T) {
	tests := []struct {
		name string
		edit func(c *config.KEDAScaler)
		want string
	}{
		{"store without the series store", func(*config.KEDAScaler) {}, "series store"},
		{"prometheus without url", func(c *config.KEDAScaler) { c.History = config.KEDAHistoryPrometheus }, "prometheus_url"},
		{"unknown history", func(c *config.KEDAScaler) { c.History = "influx" }, `"influx"`},
		{"bad interval", func(c *config.KEDAScaler) {
			c.History, c.PrometheusURL, c.StreamInterval = config.KEDAHistoryPrometheus, "http://p:9090", 0
		}, "stream interval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ksConfig()
			tt.edit(&c)
			_, err := newKEDAScalerStage(kedaScalerDeps{Config: c})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
	// Prometheus history needs no series store.
	c := ksConfig()
	c.History, c.PrometheusURL = config.KEDAHistoryPrometheus, "http://prometheus:9090"
	s, err := newKEDAScalerStage(kedaScalerDeps{Config: c})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}
