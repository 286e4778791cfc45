package dispatch

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// benchYAML routes by team into a few receivers and groups by alertname
// and cluster, so 100k alerts spread over many groups.
const benchYAML = `
route:
  receiver: default
  group_by: [alertname, cluster]
  routes:
  - matchers: [team="db"]
    receiver: db
  - matchers: [team=~"web|api"]
    receiver: web
receivers: [{name: default}, {name: db}, {name: web}]
`

var teams = []string{"db", "web", "api", "infra"}

func benchAlert(i int, start time.Time) telemetry.Alert {
	return telemetry.Alert{
		Labels: telemetry.LabelsFromStrings(
			"alertname", "Alert"+strconv.Itoa(i%50),
			"cluster", "c"+strconv.Itoa((i/50)%40),
			"instance", "host-"+strconv.Itoa(i),
			"team", teams[i%len(teams)],
		),
		StartsAt: start,
		EndsAt:   start.Add(time.Hour),
	}
}

// BenchmarkPutUpdate measures changing one alert's status (an update of
// an alert already in its group, alternating firing and resolved) with
// n open alerts held. The cost must not grow with n.
func BenchmarkPutUpdate(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			f := newFixture(b, benchYAML, nil)
			alerts := make([]telemetry.Alert, n)
			for i := range alerts {
				alerts[i] = benchAlert(i, t0)
			}
			if err := f.d.Put(alerts, t0); err != nil {
				b.Fatal(err)
			}
			// Flush once so groups are past group_wait, as in steady state.
			f.d.Tick(context.Background(), t0.Add(time.Minute))
			now := t0.Add(2 * time.Minute)
			// The updates name alerts spread over all n, but are built
			// afresh, as a decoded request's are: what is measured is the
			// dispatcher's own lookups, not the benchmark reading cold
			// alerts out of a 100k slice.
			updates := make([]telemetry.Alert, 1024)
			for i := range updates {
				updates[i] = benchAlert((i*7919)%n, t0)
				if i%2 == 0 {
					updates[i].EndsAt = now
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := f.d.Put(updates[i%len(updates):i%len(updates)+1], now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPutNew measures inserting a new alert into an existing group
// with n open alerts held.
func BenchmarkPutNew(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			f := newFixture(b, benchYAML, func(o *Options) { o.MaxAlerts = n + b.N + 10 })
			alerts := make([]telemetry.Alert, n)
			for i := range alerts {
				alerts[i] = benchAlert(i, t0)
			}
			if err := f.d.Put(alerts, t0); err != nil {
				b.Fatal(err)
			}
			fresh := make([]telemetry.Alert, b.N)
			for i := range fresh {
				fresh[i] = benchAlert(n+i, t0)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := f.d.Put(fresh[i:i+1], t0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkFlush measures a full flush of every group with n alerts held
// (after group_wait, each group notifies once), per alert.
func BenchmarkFlush(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			alerts := make([]telemetry.Alert, n)
			for i := range alerts {
				alerts[i] = benchAlert(i, t0)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				f := newFixture(b, benchYAML, nil)
				if err := f.d.Put(alerts, t0); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				f.d.Tick(context.Background(), t0.Add(time.Minute))
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/alert")
		})
	}
}
