package promreg

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestRegister(t *testing.T) {
	opts := prometheus.CounterOpts{Name: "promreg_test_total", Help: "A test counter."}

	// A nil Registerer: the collector comes back as is.
	c0 := prometheus.NewCounter(opts)
	if got, err := Register(nil, c0); err != nil || got != c0 {
		t.Fatalf("Register(nil) = %v, %v; want the collector, nil", got, err)
	}

	reg := prometheus.NewRegistry()
	c1 := prometheus.NewCounter(opts)
	got1, err := Register[prometheus.Counter](reg, c1)
	if err != nil || got1 != c1 {
		t.Fatalf("first Register = %v, %v; want the collector, nil", got1, err)
	}

	// The same description again: the registered collector is reused.
	c2 := prometheus.NewCounter(opts)
	got2, err := Register[prometheus.Counter](reg, c2)
	if err != nil {
		t.Fatalf("second Register: %v", err)
	}
	if got2 != c1 {
		t.Fatal("second Register did not return the collector already registered")
	}
	got2.Inc()
	if n := testutilValue(t, reg); n != 1 {
		t.Fatalf("counter = %v after one Inc through the reused collector; want 1", n)
	}

	// A clashing collector of another shape: an error and the new collector.
	v := prometheus.NewCounterVec(opts, []string{"kind"})
	got3, err := Register(reg, v)
	if err == nil {
		t.Fatal("Register of a clashing CounterVec: want an error")
	}
	if got3 != v {
		t.Fatal("Register on error did not return the given collector")
	}
}

func testutilValue(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "promreg_test_total" {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatal("counter not gathered")
	return 0
}
