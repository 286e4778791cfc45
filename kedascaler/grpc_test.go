package kedascaler

import (
	"context"
	"errors"
	"io"
	"math"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	pb "github.com/vigilops/vigil/kedascaler/externalscaler"
)

// dial serves r's scaler on an in-memory listener and returns a client
// generated from the proto.
func dial(t *testing.T, r *rig) pb.ExternalScalerClient {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	gs := grpc.NewServer()
	r.s.Register(gs)
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	cc, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return pb.NewExternalScalerClient(cc)
}

func ref(meta map[string]string) *pb.ScaledObjectRef {
	return &pb.ScaledObjectRef{Name: "frontend", Namespace: "shop", ScalerMetadata: meta}
}

func TestGRPCUnary(t *testing.T) {
	r := newRig(t, nil)
	r.fc.mean, r.fc.lift = func(t time.Time) float64 { return 100 + t.Sub(t0).Minutes() }, 0.1
	c := dial(t, r)
	ctx := context.Background()

	spec, err := c.GetMetricSpec(ctx, ref(md(KeyTargetValue, "12.5", KeyMetricName, "frontend-rps")))
	if err != nil {
		t.Fatal(err)
	}
	if len(spec.MetricSpecs) != 1 || spec.MetricSpecs[0].MetricName != "frontend-rps" ||
		spec.MetricSpecs[0].TargetSizeFloat != 12.5 || spec.MetricSpecs[0].TargetSize != 13 {
		t.Fatalf("GetMetricSpec = %v", spec)
	}

	got, err := c.GetMetrics(ctx, &pb.GetMetricsRequest{ScaledObjectRef: ref(md()), MetricName: "s0-frontend-rps"})
	if err != nil {
		t.Fatal(err)
	}
	want := 115 * 1.1
	if len(got.MetricValues) != 1 || got.MetricValues[0].MetricName != "s0-frontend-rps" ||
		math.Abs(got.MetricValues[0].MetricValueFloat-want) > 1e-9 || got.MetricValues[0].MetricValue != 127 {
		t.Fatalf("GetMetrics = %v, want %g under the asked name", got, want)
	}
	got, err = c.GetMetrics(ctx, &pb.GetMetricsRequest{ScaledObjectRef: ref(md(KeyMetricName, "own"))})
	if err != nil || got.MetricValues[0].MetricName != "own" {
		t.Fatalf("GetMetrics without a name = %v, %v; want the spec's name", got, err)
	}

	for _, tc := range []struct {
		threshold string
		want      bool
	}{{"200", false}, {"100", true}} {
		act, err := c.IsActive(ctx, ref(md(KeyActivationThreshold, tc.threshold)))
		if err != nil || act.Result != tc.want {
			t.Fatalf("IsActive(threshold %s) = %v, %v; want %v", tc.threshold, act, err, tc.want)
		}
	}
	if n := metric(t, r.reg, "vigil_kedascaler_rpcs_total", "method", "GetMetrics", "code", "OK"); n != 2 {
		t.Fatalf("rpcs_total{GetMetrics,OK} = %g, want 2", n)
	}
}

func TestGRPCInvalidArgument(t *testing.T) {
	r := newRig(t, nil)
	c := dial(t, r)
	ctx := context.Background()
	bad := ref(md(KeyQuantile, "1.5"))
	calls := map[string]func() error{
		"IsActive":      func() error { _, err := c.IsActive(ctx, bad); return err },
		"GetMetricSpec": func() error { _, err := c.GetMetricSpec(ctx, bad); return err },
		"GetMetrics": func() error {
			_, err := c.GetMetrics(ctx, &pb.GetMetricsRequest{ScaledObjectRef: bad})
			return err
		},
		"GetMetrics without ref": func() error { _, err := c.GetMetrics(ctx, &pb.GetMetricsRequest{}); return err },
		"StreamIsActive": func() error {
			st, err := c.StreamIsActive(ctx, bad)
			if err != nil {
				return err
			}
			_, err = st.Recv()
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			err := call()
			if status.Code(err) != codes.InvalidArgument {
				t.Fatalf("code %v (%v), want InvalidArgument", status.Code(err), err)
			}
			if name != "GetMetrics without ref" && !strings.Contains(status.Convert(err).Message(), `"quantile"`) {
				t.Fatalf("message %q does not name the key", status.Convert(err).Message())
			}
		})
	}
	if n := metric(t, r.reg, "vigil_kedascaler_rpcs_total", "method", "IsActive", "code", "InvalidArgument"); n != 1 {
		t.Fatalf("rpcs_total{IsActive,InvalidArgument} = %g, want 1", n)
	}
}

func TestGRPCNoData(t *testing.T) {
	r := newRig(t, nil)
	r.hist.upTo = t0.Add(-365 * 24 * time.Hour)
	c := dial(t, r)
	_, err := c.GetMetrics(context.Background(), &pb.GetMetricsRequest{ScaledObjectRef: ref(md())})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("code %v (%v), want NotFound", status.Code(err), err)
	}
	r.hist.set(func(h *fnHistory) { h.err = errors.New("prometheus down") })
	_, err = c.IsActive(context.Background(), ref(md(KeyHorizon, "5m")))
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("code %v (%v), want Unavailable", status.Code(err), err)
	}
}

func TestGRPCStream(t *testing.T) {
	r := newRig(t, func(o *Options) { o.StreamInterval = 5 * time.Millisecond })
	c := dial(t, r)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	meta := md(KeyActivationThreshold, "150", KeyMaxChange, "0", KeyStabilization, "0")
	st, err := c.StreamIsActive(ctx, ref(meta))
	if err != nil {
		t.Fatal(err)
	}
	recv := func() bool {
		t.Helper()
		m, err := st.Recv()
		if err != nil {
			t.Fatalf("Recv: %v", err)
		}
		return m.Result
	}
	if recv() {
		t.Fatal("first message active with a value of 100 under threshold 150")
	}
	// Load arrives: the next message must say active, and only one message
	// is sent for the change however many ticks pass.
	r.hist.set(func(h *fnHistory) { h.value = constant(300) })
	r.fc.set(func(f *bandForecaster) { f.mean = constant(300) })
	for i := 0; ; i++ {
		r.clk.Add(time.Minute)
		if recv() {
			break
		}
		if i > 100 {
			t.Fatal("stream never turned active")
		}
	}
	// And back: inactive again once the load leaves.
	r.hist.set(func(h *fnHistory) { h.value = constant(20) })
	r.fc.set(func(f *bandForecaster) { f.mean = constant(20) })
	r.clk.Add(time.Minute)
	if recv() {
		t.Fatal("stream still active after the load left")
	}

	if n := metric(t, r.reg, "vigil_kedascaler_streams_active"); n != 1 {
		t.Fatalf("streams_active = %g while open, want 1", n)
	}
	cancel()
	if _, err := st.Recv(); status.Code(err) != codes.Canceled && !errors.Is(err, io.EOF) {
		t.Fatalf("Recv after cancel = %v, want Canceled", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for metric(t, r.reg, "vigil_kedascaler_streams_active") != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the server's stream handler did not return after the client cancelled")
		}
		time.Sleep(time.Millisecond)
	}
	if n := metric(t, r.reg, "vigil_kedascaler_rpcs_total", "method", "StreamIsActive", "code", "OK"); n != 1 {
		t.Fatalf("rpcs_total{StreamIsActive,OK} = %g, want 1", n)
	}
}
