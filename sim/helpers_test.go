package sim

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"hash"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// evening is a weekday start two hours before the evening peak, so faults
// injected at peakOnset hit a busy shop.
var (
	evening   = time.Date(2026, 1, 5, 17, 0, 0, 0, time.UTC)
	peakOnset = time.Date(2026, 1, 5, 19, 0, 0, 0, time.UTC)
)

func newSim(t testing.TB, o Options) *Sim {
	t.Helper()
	s, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// run advances a fresh simulation to `to` in one-hour chunks and returns
// everything it emitted.
func run(t testing.TB, o Options, to time.Time) Batch {
	t.Helper()
	s := newSim(t, o)
	var all Batch
	for s.Now().Before(to) {
		next := minTime(s.Now().Add(time.Hour), to)
		b := s.Advance(next)
		all.Logs = append(all.Logs, b.Logs...)
		all.Samples = append(all.Samples, b.Samples...)
		all.Alerts = append(all.Alerts, b.Alerts...)
		all.Events = append(all.Events, b.Events...)
	}
	return all
}

// digest hashes a batch stream, one hash per kind so that chunked and
// single Advance calls hash the same.
type digest struct {
	h                           [4]hash.Hash
	logs, samples, alerts, evts int
}

func newDigest() *digest {
	return &digest{h: [4]hash.Hash{sha256.New(), sha256.New(), sha256.New(), sha256.New()}}
}

func (d *digest) add(b *Batch) {
	var buf [8]byte
	w := func(h hash.Hash, s string) { h.Write([]byte(s)); h.Write([]byte{0}) }
	n := func(h hash.Hash, v int64) { binary.LittleEndian.PutUint64(buf[:], uint64(v)); h.Write(buf[:]) }
	for _, l := range b.Logs {
		n(d.h[0], l.Time.UnixNano())
		w(d.h[0], l.Service)
		w(d.h[0], l.Labels.String())
		w(d.h[0], l.Raw)
	}
	for _, s := range b.Samples {
		w(d.h[1], s.Labels.String())
		n(d.h[1], s.T)
		n(d.h[1], int64(math.Float64bits(s.V)))
	}
	for _, a := range b.Alerts {
		j, _ := json.Marshal(a)
		w(d.h[2], string(j))
	}
	for _, e := range b.Events {
		j, _ := json.Marshal(e)
		w(d.h[3], string(j))
	}
	d.logs += len(b.Logs)
	d.samples += len(b.Samples)
	d.alerts += len(b.Alerts)
	d.evts += len(b.Events)
}

func (d *digest) sum() string {
	var out []byte
	for _, h := range d.h {
		out = h.Sum(out)
	}
	return string(out)
}

// series selects samples of one metric whose labels include all of match.
func series(b *Batch, name string, match ...string) []telemetry.Sample {
	var out []telemetry.Sample
	for _, s := range b.Samples {
		if s.Labels.Get("__name__") != name {
			continue
		}
		ok := true
		for i := 0; i+1 < len(match); i += 2 {
			if s.Labels.Get(match[i]) != match[i+1] {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, s)
		}
	}
	return out
}

func inWindow(ms int64, from, to time.Time) bool {
	return ms >= from.UnixMilli() && ms < to.UnixMilli()
}

// mean averages samples in [from, to).
func mean(ss []telemetry.Sample, from, to time.Time) float64 {
	var sum float64
	var n int
	for _, s := range ss {
		if inWindow(s.T, from, to) {
			sum += s.V
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}

// increase sums the increase of counter samples (possibly several series)
// over [from, to).
func increase(ss []telemetry.Sample, from, to time.Time) float64 {
	first := map[string]float64{}
	last := map[string]float64{}
	for _, s := range ss {
		if !inWindow(s.T, from, to) {
			continue
		}
		k := s.Labels.String()
		if _, ok := first[k]; !ok {
			first[k] = s.V
		}
		last[k] = s.V
	}
	var sum float64
	for k, v := range last {
		sum += v - first[k]
	}
	return sum
}

// errRatio is the 5xx share of one service's requests over [from, to).
func errRatio(b *Batch, svc string, from, to time.Time) float64 {
	ss := series(b, "http_requests_total", "service", svc)
	all := increase(ss, from, to)
	var five []telemetry.Sample
	for _, s := range ss {
		if strings.HasPrefix(s.Labels.Get("code"), "5") {
			five = append(five, s)
		}
	}
	bad := increase(five, from, to)
	if all == 0 {
		return 0
	}
	return bad / all
}

// logsOf returns the raw lines of one service in [from, to).
func logsOf(b *Batch, svc string, from, to time.Time) []string {
	var out []string
	for _, l := range b.Logs {
		if l.Service == svc && !l.Time.Before(from) && l.Time.Before(to) {
			out = append(out, l.Raw)
		}
	}
	return out
}

func countContaining(lines []string, sub string) int {
	n := 0
	for _, l := range lines {
		if strings.Contains(l, sub) {
			n++
		}
	}
	return n
}
