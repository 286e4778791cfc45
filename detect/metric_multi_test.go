package detect

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func TestIsolationForestScoresOutliersHigher(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	data := make([][]float64, 1000)
	for i := range data {
		data[i] = []float64{rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64()}
	}
	f := NewIsolationForest(3, 100, 256, 1)
	if f.Score(data[0], nil) != 0 {
		t.Fatal("unfitted forest scored a point")
	}
	f.Fit(data)
	tests := []struct {
		name   string
		x      []float64
		driver int
	}{
		{"outlier in feature 0", []float64{8, 0, 0}, 0},
		{"outlier in feature 1", []float64{0, -8, 0}, 1},
		{"outlier in feature 2", []float64{0.3, 0, 9}, 2},
	}
	normal := f.Score([]float64{0, 0, 0}, nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			attr := make([]float64, 3)
			s := f.Score(tc.x, attr)
			if s <= normal+0.1 {
				t.Errorf("score %.3f not clearly above a central point's %.3f", s, normal)
			}
			best := 0
			for i := range attr {
				if attr[i] > attr[best] {
					best = i
				}
			}
			if best != tc.driver || attr[best] < 0.5 {
				t.Errorf("attribution %v, want feature %d to lead with >= 0.5", attr, tc.driver)
			}
		})
	}
}

func TestMultiDetectorNamesDriver(t *testing.T) {
	m, err := NewMultiDetector(DefaultMultiOptions("checkout", "cpu", "memory", "latency", "errors"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Observe(mtT0, []float64{1, 2}); !errors.Is(err, ErrMetricCount) {
		t.Fatalf("2 values for 4 metrics: err %v, want ErrMetricCount", err)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	var found []Anomaly
	var driver string
	for i := 0; i < 3000; i++ {
		tm := mtT0.Add(time.Duration(i) * time.Minute)
		load := 1 + 0.3*math.Sin(float64(i)/200)
		cpu := 40*load + rng.NormFloat64()
		mem := 60 + 0.5*rng.NormFloat64()
		lat := 0.2*load + 0.01*rng.NormFloat64()
		errs := 0.01 + 0.002*rng.NormFloat64()
		if i >= 2500 && i < 2520 {
			lat = 2.0 // latency alone goes wrong
		}
		s, err := m.Observe(tm, []float64{cpu, mem, lat, errs})
		if err != nil {
			t.Fatal(err)
		}
		if i == 2505 {
			driver = s.Driver
			t.Logf("score during the incident %.3f, contributions %.2f", s.Score, s.Contributions)
		}
		if s.Anomaly != nil {
			found = append(found, *s.Anomaly)
		}
	}
	if driver != "latency" {
		t.Errorf("driver during the latency incident = %q, want latency", driver)
	}
	inc := 0
	for _, a := range found {
		if a.Start.Before(mtT0.Add(2490 * time.Minute)) {
			t.Errorf("anomaly before the incident: %+v", a)
		} else {
			inc++
			t.Logf("%s", a.Explanation)
		}
	}
	if inc != 1 {
		t.Errorf("%d anomalies for the incident, want 1", inc)
	}
}

func TestMultiOptionsValidate(t *testing.T) {
	if _, err := NewMultiDetector(MultiOptions{}); err == nil {
		t.Fatal("no metrics accepted")
	}
}

func BenchmarkIsolationForestScore(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	data := make([][]float64, 2048)
	for i := range data {
		data[i] = []float64{rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64()}
	}
	f := NewIsolationForest(4, 100, 256, 1)
	f.Fit(data)
	attr := make([]float64, 4)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f.Score(data[i&2047], attr)
	}
}

// BenchmarkMultiObserve is one point of four metrics, refits included.
func BenchmarkMultiObserve(b *testing.B) {
	m, err := NewMultiDetector(DefaultMultiOptions("svc", "cpu", "memory", "latency", "errors"))
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	vals := []float64{0, 0, 0, 0}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range vals {
			vals[j] = rng.NormFloat64()
		}
		if _, err := m.Observe(mtT0.Add(time.Duration(i)*time.Minute), vals); err != nil {
			b.Fatal(err)
		}
	}
}
