package detect

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

// The synthetic shop: three services with seasonal, noisy, Poisson traffic,
// a periodic bursty job, rare lines, and faults switched on at onset.

var streamStart = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC) // a Monday

type synthTemplate struct {
	service, id string
	level       telemetry.Level
	rate        float64 // lines per second at the daily mean
	seasonal    bool
	msg         func(r *rand.Rand) string
}

func lognormalMS(r *rand.Rand, median, sigma float64) string {
	return strconv.Itoa(int(median*math.Exp(sigma*r.NormFloat64())+0.5)) + "ms"
}

var synthTemplates = []synthTemplate{
	{"api", "api-req", telemetry.LevelInfo, 1.5, true, func(r *rand.Rand) string {
		return "request handled in " + lognormalMS(r, 35, 0.4) + " status=200 path=/items/" + strconv.Itoa(r.IntN(5000))
	}},
	{"api", "api-pay", telemetry.LevelInfo, 0.3, true, func(r *rand.Rand) string {
		return `payment provider answered status=200 body={"ok":true} provider=` + []string{"stripe", "adyen"}[r.IntN(2)]
	}},
	{"api", "api-cache", telemetry.LevelInfo, 0.2, false, func(r *rand.Rand) string {
		return "cache hit ratio " + strconv.FormatFloat(0.9+0.05*r.Float64(), 'f', 3, 64)
	}},
	{"api", "api-slow", telemetry.LevelWarn, 0.02, true, func(r *rand.Rand) string {
		return "slow query took " + lognormalMS(r, 800, 0.3)
	}},
	{"api", "api-timeout", telemetry.LevelError, 0.005, true, func(r *rand.Rand) string {
		return "upstream timeout after 5000ms host=db-" + strconv.Itoa(r.IntN(3))
	}},
	{"api", "api-reload", telemetry.LevelInfo, 1.0 / 2400, false, func(r *rand.Rand) string {
		return "config reloaded from /etc/api.yaml"
	}},
	{"worker", "wk-done", telemetry.LevelInfo, 0.5, true, func(r *rand.Rand) string {
		return "job " + strconv.Itoa(r.IntN(1e6)) + " done in " + lognormalMS(r, 120, 0.5)
	}},
	{"worker", "wk-retry", telemetry.LevelWarn, 0.01, true, func(r *rand.Rand) string {
		return "job " + strconv.Itoa(r.IntN(1e6)) + " retry attempt " + strconv.Itoa(1+r.IntN(3))
	}},
}

// synthFault changes the stream from onset until onset+dur.
type synthFault struct {
	onset, dur time.Duration
	// scale multiplies the rate of template id ("" for every template of
	// service).
	service, id string
	scale       float64
	// add emits extra lines of a template not in the catalogue.
	add *synthTemplate
	// rewrite changes messages of template id.
	rewrite func(r *rand.Rand, msg string) string
	// once emits one line of template id at onset with this message.
	once string
}

func (f *synthFault) active(el time.Duration) bool {
	return f != nil && el >= f.onset && el < f.onset+f.dur
}

func poisson(r *rand.Rand, lam float64) int {
	if lam <= 0 {
		return 0
	}
	if lam > 30 {
		return max(0, int(lam+math.Sqrt(lam)*r.NormFloat64()+0.5))
	}
	l, k, p := math.Exp(-lam), 0, 1.0
	for {
		p *= r.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

func seasonal(t time.Time) float64 {
	h := float64(t.Hour()) + float64(t.Minute())/60
	return 1 + 0.6*math.Sin(2*math.Pi*(h-9)/24)
}

// runStream emits span of the stream second by second to obs, calling tick
// every 10 s of stream time.
func runStream(seed uint64, span time.Duration, fault *synthFault, obs func(*telemetry.LogRecord), tick func(time.Time)) {
	r := rand.New(rand.NewPCG(seed, 7))
	var batch []telemetry.LogRecord
	emit := func(t time.Time, tp *synthTemplate, msg string) {
		batch = append(batch, telemetry.LogRecord{
			Time: t, Service: tp.service, Level: tp.level, Message: msg, TemplateID: tp.id,
			Raw: t.Format(time.RFC3339Nano) + " " + strings.ToUpper(tp.level.String()) + " " + msg,
		})
	}
	for el := time.Duration(0); el < span; el += time.Second {
		t := streamStart.Add(el)
		batch = batch[:0]
		for i := range synthTemplates {
			tp := &synthTemplates[i]
			lam := tp.rate
			if tp.seasonal {
				lam *= seasonal(t)
			}
			if fault.active(el) && fault.service == tp.service && (fault.id == "" || fault.id == tp.id) {
				lam *= fault.scale
			}
			for n := poisson(r, lam); n > 0; n-- {
				msg := tp.msg(r)
				if fault.active(el) && fault.rewrite != nil && fault.id == tp.id {
					msg = fault.rewrite(r, msg)
				}
				emit(t.Add(time.Duration(r.IntN(1000))*time.Millisecond), tp, msg)
			}
		}
		// The hourly export: 40 lines in the first 20 s of each hour, and
		// a heartbeat every 30 s.
		if t.Minute() == 0 && t.Second() < 20 {
			tp := &synthTemplate{service: "cron", id: "cron-row", level: telemetry.LevelInfo}
			for range 2 {
				emit(t.Add(time.Duration(r.IntN(1000))*time.Millisecond), tp, "report row "+strconv.Itoa(r.IntN(1e5))+" exported")
			}
		}
		if t.Second()%30 == 0 && !(fault.active(el) && fault.service == "cron" && fault.scale == 0) {
			emit(t, &synthTemplate{service: "cron", id: "cron-beat", level: telemetry.LevelInfo}, "heartbeat ok")
		}
		if fault != nil && fault.add != nil && fault.active(el) {
			for n := poisson(r, fault.add.rate); n > 0; n-- {
				emit(t.Add(time.Duration(r.IntN(1000))*time.Millisecond), fault.add, fault.add.msg(r))
			}
		}
		if fault != nil && fault.once != "" && el == fault.onset {
			for i := range synthTemplates {
				if synthTemplates[i].id == fault.id {
					emit(t.Add(500*time.Millisecond), &synthTemplates[i], fault.once)
				}
			}
		}
		slices.SortStableFunc(batch, func(a, b telemetry.LogRecord) int { return a.Time.Compare(b.Time) })
		for i := range batch {
			obs(&batch[i])
		}
		if el%(10*time.Second) == 0 {
			tick(t)
		}
	}
}

// collect runs detectors over the stream and returns what they found.
func collect(t testing.TB, seed uint64, span time.Duration, fault *synthFault, ds ...LogDetector) []Anomaly {
	var out []Anomaly
	runStream(seed, span, fault, func(rec *telemetry.LogRecord) {
		for _, d := range ds {
			out = append(out, d.Observe(rec)...)
		}
	}, func(now time.Time) {
		for _, d := range ds {
			out = append(out, d.Tick(now)...)
		}
	})
	for _, a := range out {
		if a.Score < 0 || a.Score > 1 || a.Confidence < 0 || a.Confidence > 1 || math.IsNaN(a.Score) {
			t.Errorf("score/confidence out of [0,1]: %+v", a)
		}
		if a.Explanation == "" || !strings.ContainsAny(a.Explanation, "0123456789") {
			t.Errorf("explanation without numbers: %+v", a)
		}
	}
	return out
}

func allDetectors() []LogDetector {
	return []LogDetector{
		NewFrequencyDetector(DefaultFrequencyOptions()),
		NewNewPatternDetector(DefaultNewPatternOptions()),
		NewContentDetector(DefaultContentOptions()),
		NewSilenceDetector(DefaultSilenceOptions()),
	}
}

func countByType(as []Anomaly) map[Type]int {
	m := map[Type]int{}
	for _, a := range as {
		m[a.Type]++
	}
	return m
}

// TestCleanStreamQuiet runs two simulated days of the clean, seasonal,
// noisy stream through every detector: at most one anomaly per type per day.
func TestCleanStreamQuiet(t *testing.T) {
	if testing.Short() {
		t.Skip("two simulated days")
	}
	const days = 2
	as := collect(t, 1, days*24*time.Hour, nil, allDetectors()...)
	counts := countByType(as)
	for _, typ := range []Type{TypeFrequency, TypeErrorBurst, TypeNewPattern, TypeContent, TypeSilence} {
		t.Logf("clean stream, %d days: %s: %d anomalies", days, typ, counts[typ])
		if counts[typ] > days {
			t.Errorf("%s: %d anomalies on the clean stream, want ≤ %d", typ, counts[typ], days)
		}
	}
	for _, a := range as {
		t.Logf("false positive: %s %s %s: %s", a.Start.Format(time.DateTime), a.Type, a.Service, a.Explanation)
	}
}

// TestFaultsDetected injects one fault per case after six hours of clean
// history and wants the matching anomaly within the deadline.
func TestFaultsDetected(t *testing.T) {
	onset := 6*time.Hour + 30*time.Minute
	tests := []struct {
		name     string
		fault    synthFault
		typ      Type
		service  string
		template string
		within   time.Duration
		contains []string
		minScore float64
	}{
		{name: "spike", fault: synthFault{onset: onset, dur: 10 * time.Minute, service: "api", id: "api-pay", scale: 20},
			typ: TypeFrequency, service: "api", template: "api-pay", within: 2 * time.Minute, contains: []string{"/h against", "±"}},
		{name: "drop", fault: synthFault{onset: onset, dur: 10 * time.Minute, service: "api", id: "api-req", scale: 0.02},
			typ: TypeFrequency, service: "api", template: "api-req", within: 4 * time.Minute, contains: []string{"/h against", "intervals"}},
		{name: "error burst", fault: synthFault{onset: onset, dur: 10 * time.Minute, service: "api", id: "api-timeout", scale: 300},
			typ: TypeErrorBurst, service: "api", within: 2 * time.Minute, contains: []string{"error lines", "/h against"}},
		{name: "new error template", fault: synthFault{onset: onset, dur: 10 * time.Minute, add: &synthTemplate{
			service: "api", id: "api-npe", level: telemetry.LevelError, rate: 0.5,
			msg: func(*rand.Rand) string { return "NullPointerException in CheckoutHandler.process line 42" }}},
			typ: TypeNewPattern, service: "api", template: "api-npe", within: 30 * time.Second, contains: []string{"new error template", "known templates"}, minScore: 0.8},
		{name: "numeric outlier", fault: synthFault{onset: onset, dur: time.Second, id: "api-req",
			once: "request handled in 50000ms status=200 path=/items/7"},
			typ: TypeContent, service: "api", template: "api-req", within: 2 * time.Second, contains: []string{"50,000ms", "is usual"}},
		{name: "new categorical value", fault: synthFault{onset: onset, dur: 10 * time.Minute, id: "api-pay",
			rewrite: func(r *rand.Rand, msg string) string {
				if r.IntN(2) == 0 {
					return msg
				}
				return strings.Replace(msg, `{"ok":true}`, `{"error":"rate_limited"}`, 1)
			}},
			typ: TypeContent, service: "api", template: "api-pay", within: 30 * time.Second, contains: []string{"rate_limited", "new value", `{\"ok\":true}`}},
		{name: "silence", fault: synthFault{onset: onset, dur: 30 * time.Minute, service: "worker", scale: 0},
			typ: TypeSilence, service: "worker", within: 3 * time.Minute, contains: []string{"no lines for", "expected"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := tt.fault
			as := collect(t, 2, onset+20*time.Minute, &f, allDetectors()...)
			at := streamStart.Add(onset)
			var hit *Anomaly
			for i, a := range as {
				if a.Type == tt.typ && a.Service == tt.service && (tt.template == "" || a.TemplateID == tt.template) &&
					!a.End.Before(at) && a.End.Sub(at) <= tt.within {
					hit = &as[i]
					break
				}
			}
			if hit == nil {
				for _, a := range as {
					if !a.End.Before(at) {
						t.Logf("after onset: %s %s %s %s: %s", a.End.Format(time.TimeOnly), a.Type, a.Service, a.TemplateID, a.Explanation)
					}
				}
				t.Fatalf("no %s anomaly for %s/%s within %v of onset", tt.typ, tt.service, tt.template, tt.within)
			}
			t.Logf("caught after %v: score %.2f: %s", hit.End.Sub(at), hit.Score, hit.Explanation)
			for _, c := range tt.contains {
				if !strings.Contains(hit.Explanation, c) {
					t.Errorf("explanation %q lacks %q", hit.Explanation, c)
				}
			}
			if hit.Score < math.Max(tt.minScore, 0.5) {
				t.Errorf("score %.2f, want ≥ %.2f", hit.Score, math.Max(tt.minScore, 0.5))
			}
			// Before onset the stream is clean.
			for _, a := range as {
				if a.End.Before(at) {
					t.Errorf("before onset: %s %s %s: %s", a.Type, a.Service, a.TemplateID, a.Explanation)
				}
			}
		})
	}
}

// fakeDetector is a hand-written LogDetector whose behaviour is its Func
// fields.
type fakeDetector struct {
	ObserveFunc func(*telemetry.LogRecord) []Anomaly
	TickFunc    func(time.Time) []Anomaly
}

func (f *fakeDetector) Name() string { return "fake" }
func (f *fakeDetector) Observe(rec *telemetry.LogRecord) []Anomaly {
	if f.ObserveFunc == nil {
		return nil
	}
	return f.ObserveFunc(rec)
}
func (f *fakeDetector) Tick(now time.Time) []Anomaly {
	if f.TickFunc == nil {
		return nil
	}
	return f.TickFunc(now)
}

// TestLogDetectorsDedup: a detector that reports every error line of one
// template raises one anomaly per cooldown through LogDetectors, and a
// ten-minute spike raises one frequency anomaly.
func TestLogDetectorsDedup(t *testing.T) {
	onset := 6 * time.Hour
	f := synthFault{onset: onset, dur: 10 * time.Minute, service: "api", id: "api-pay", scale: 20}
	var raw int
	fake := &fakeDetector{ObserveFunc: func(rec *telemetry.LogRecord) []Anomaly {
		if rec.TemplateID != "api-timeout" {
			return nil
		}
		raw++
		return []Anomaly{{Type: TypeSequence, Service: rec.Service, TemplateID: rec.TemplateID, Score: 0.6, Confidence: 1,
			Explanation: "fake 1", Start: rec.Time, End: rec.Time}}
	}}
	o := DefaultLogDetectorsOptions()
	o.Extra = []LogDetector{fake}
	ld := NewLogDetectors(o)
	span := onset + 30*time.Minute
	as := collect(t, 3, span, &f, ld)
	counts := countByType(as)
	wantFake := int(span/o.Cooldown) + 1
	if counts[TypeSequence] > wantFake || counts[TypeSequence] == 0 || raw <= counts[TypeSequence] {
		t.Errorf("fake detector: %d raw, %d through LogDetectors, want ≤ %d through", raw, counts[TypeSequence], wantFake)
	}
	var spikes int
	for _, a := range as {
		if a.Type == TypeFrequency && a.TemplateID == "api-pay" {
			spikes++
		}
	}
	if spikes != 1 {
		t.Errorf("LogDetectors raised %d frequency anomalies for one spike, want 1", spikes)
	}
	if ld.Suppressed() == 0 {
		t.Error("nothing suppressed")
	}
	if len(ld.Samples()) == 0 {
		t.Error("no log-derived samples")
	}
}

func BenchmarkLogDetectorsObserve(b *testing.B) {
	var recs []telemetry.LogRecord
	runStream(4, 3*time.Hour, nil, func(rec *telemetry.LogRecord) { recs = append(recs, *rec) }, func(time.Time) {})
	ld := NewLogDetectors(DefaultLogDetectorsOptions())
	b.ReportAllocs()
	b.ResetTimer()
	span := recs[len(recs)-1].Time.Sub(recs[0].Time) + time.Second
	for i := 0; i < b.N; i++ {
		k := i % len(recs)
		rec := recs[k]
		rec.Time = rec.Time.Add(time.Duration(i/len(recs)) * span)
		ld.Observe(&rec)
	}
}
