package rca

import (
	"math"
	"testing"
	"time"

	"github.com/vigilops/vigil/diagnose"
	"github.com/vigilops/vigil/telemetry"
)

func TestAddCallNetwork(t *testing.T) {
	t0 := time.Date(2022, 8, 22, 4, 0, 0, 0, time.UTC)
	pts := func(vs ...float64) []telemetry.Point {
		out := make([]telemetry.Point, len(vs))
		for i, v := range vs {
			out[i] = telemetry.Point{T: t0.Add(time.Duration(i) * time.Minute).UnixMilli(), V: v}
		}
		return out
	}
	normal := diagnose.Window{Start: t0, End: t0.Add(4 * time.Minute)}
	const edge = `{caller="frontend"}`
	tests := []struct {
		name   string
		series []diagnose.Series
		want   []float64 // points of checkoutservice's call_network; nil: none
	}{
		{
			name: "both ends of an edge give its network series",
			series: []diagnose.Series{
				{Service: "checkoutservice", Name: "call_latency_source" + edge, Kind: diagnose.KindLatency, Points: pts(0.2, 0.2, 0.2, 0.2, 0.6)},
				{Service: "checkoutservice", Name: "call_latency_destination" + edge, Kind: diagnose.KindLatency, Points: pts(0.2, 0.2, 0.2, 0.2, 0.2)},
			},
			want: []float64{0, 0, 0, 0, 2},
		},
		{
			name: "one end only gives none",
			series: []diagnose.Series{
				{Service: "checkoutservice", Name: "call_latency_source" + edge, Kind: diagnose.KindLatency, Points: pts(0.2, 0.2, 0.2, 0.2, 0.6)},
			},
		},
		{
			name: "the two ends of different edges are not paired",
			series: []diagnose.Series{
				{Service: "checkoutservice", Name: "call_latency_source" + edge, Kind: diagnose.KindLatency, Points: pts(0.2, 0.2, 0.2, 0.2, 0.6)},
				{Service: "checkoutservice", Name: `call_latency_destination{caller="other"}`, Kind: diagnose.KindLatency, Points: pts(0.2, 0.2, 0.2, 0.2, 0.2)},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := addCallNetwork(tt.series, normal)
			var net *diagnose.Series
			for i := range got {
				if got[i].Name == "call_network"+edge {
					net = &got[i]
				}
			}
			if tt.want == nil {
				if net != nil || len(got) != len(tt.series) {
					t.Fatalf("got %d series, want the %d given", len(got), len(tt.series))
				}
				return
			}
			if net == nil || net.Service != "checkoutservice" || net.Kind != diagnose.KindNetwork {
				t.Fatalf("no network series for checkoutservice in %v", got)
			}
			if len(net.Points) != len(tt.want) {
				t.Fatalf("%d points, want %d", len(net.Points), len(tt.want))
			}
			for i, w := range tt.want {
				if math.Abs(net.Points[i].V-w) > 1e-9 {
					t.Errorf("point %d = %g, want %g", i, net.Points[i].V, w)
				}
			}
		})
	}
}
