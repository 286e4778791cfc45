package correlate

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/vigilops/vigil/detect"
	"github.com/vigilops/vigil/telemetry"
)

// A storm is a synthetic day of alerts, anomalies and change events over a
// 24-service shop, with injected faults that spread to the callers of the
// failing service, flapping alerts, Alertmanager-style re-sends, repeated
// anomalies and background noise that belongs to no fault. Each signal
// carries its ground truth, for scoring the correlator; the correlator
// itself is only ever given the Signal.

// StormOptions shape a storm. The zero value of a field takes its default.
type StormOptions struct {
	Seed     uint64
	Start    time.Time
	Duration time.Duration // default 24h
	// Faults is the number of injected faults (default 20).
	Faults int
	// NoisePerHour is the rate of background noise items (default 30): a
	// short alert, a flapping alert, a lone anomaly, or a deploy followed
	// by a small anomaly.
	NoisePerHour float64
}

// StormTruth is one injected fault.
type StormTruth struct {
	Root     string
	Onset    time.Time
	End      time.Time
	Affected []string
}

// StormSignal is a signal with its ground truth: the index of the fault
// it belongs to, or -1 for noise.
type StormSignal struct {
	Signal Signal
	Truth  int
}

// Storm is a generated storm, signals in time order.
type Storm struct {
	Services []string
	Edges    [][2]string
	Truths   []StormTruth
	Signals  []StormSignal
}

// stormEdges is the shop's call graph, caller first: an edge tier, a
// gateway, two dozen services and the data stores they share.
var stormEdges = [][2]string{
	{"edge-proxy", "web"}, {"edge-proxy", "mobile-bff"}, {"web", "api-gateway"}, {"mobile-bff", "api-gateway"},
	{"api-gateway", "auth"}, {"api-gateway", "catalog"}, {"api-gateway", "search"}, {"api-gateway", "cart"},
	{"api-gateway", "checkout"}, {"api-gateway", "reviews"}, {"auth", "users"}, {"users", "postgres-main"},
	{"catalog", "pricing"}, {"catalog", "redis-cache"}, {"catalog", "postgres-main"}, {"search", "elasticsearch"},
	{"search", "recommendations"}, {"recommendations", "redis-cache"}, {"cart", "redis-cache"}, {"cart", "pricing"},
	{"checkout", "payments"}, {"checkout", "orders"}, {"checkout", "inventory"}, {"orders", "postgres-orders"},
	{"orders", "kafka"}, {"inventory", "postgres-orders"}, {"shipping", "kafka"}, {"notifications", "kafka"},
	{"notifications", "email"}, {"payments", "kafka"}, {"reviews", "postgres-main"}, {"pricing", "redis-cache"},
}

// rootAlerts are the cause-level alerts a failing service raises, by the
// kind of service; symptom alerts are what its callers raise.
var (
	rootAlertsByService = map[string][]string{
		"postgres-main": {"PostgresTooManyConnections", "PostgresReplicationLag"}, "postgres-orders": {"PostgresTooManyConnections", "PostgresSlowQueries"},
		"redis-cache": {"RedisMemoryHigh", "RedisEvictions"}, "kafka": {"KafkaConsumerLag", "KafkaUnderReplicatedPartitions"},
		"elasticsearch": {"ElasticsearchHeapHigh", "ElasticsearchClusterYellow"},
	}
	appRootAlerts  = []string{"PodCrashLooping", "HighMemoryUsage", "ThreadPoolExhausted", "DiskSpaceLow"}
	symptomAlerts  = []string{"HighLatency", "HighErrorRate", "UpstreamTimeouts"}
	noiseAlerts    = []string{"HighLatency", "PodRestarted", "CertificateExpiringSoon", "HighCPUUsage", "DiskSpaceLow", "HighErrorRate"}
	noiseTemplates = []string{"GC pause <*> ms", "cache miss for key <*>", "slow request <*> took <*> ms", "retrying request to <*>"}
)

// GenerateStorm builds a storm. It is deterministic in o.
func GenerateStorm(o StormOptions) (*Storm, error) {
	if o.Duration == 0 {
		o.Duration = 24 * time.Hour
	}
	if o.Faults == 0 {
		o.Faults = 20
	}
	if o.NoisePerHour == 0 {
		o.NoisePerHour = 30
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	}
	if o.Faults < 0 || o.NoisePerHour < 0 || o.Duration < time.Hour {
		return nil, fmt.Errorf("storm: faults %d and noise %v must not be negative, duration %v at least 1h", o.Faults, o.NoisePerHour, o.Duration)
	}
	g := &stormGen{rng: rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15)), graph: NewGraph(stormEdges)}
	seen := map[string]bool{}
	for _, e := range stormEdges {
		for _, s := range e {
			if !seen[s] {
				seen[s] = true
				g.st.Services = append(g.st.Services, s)
			}
		}
	}
	slices.Sort(g.st.Services)
	g.st.Edges = slices.Clone(stormEdges)
	g.scheduleFaults(o)
	for i := range g.st.Truths {
		g.fault(i)
	}
	g.noise(o)
	slices.SortStableFunc(g.st.Signals, func(a, b StormSignal) int { return a.Signal.Time.Compare(b.Signal.Time) })
	return &g.st, nil
}

type stormGen struct {
	rng   *rand.Rand
	graph *Graph
	st    Storm
	seq   int
}

func (g *stormGen) pick(xs []string) string { return xs[g.rng.IntN(len(xs))] }

func (g *stormGen) between(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(g.rng.Int64N(int64(hi-lo)+1))
}

func (g *stormGen) callers(svc string) []string {
	var out []string
	for _, e := range stormEdges {
		if e[1] == svc {
			out = append(out, e[0])
		}
	}
	return out
}

// scheduleFaults spaces onsets 35-95 minutes apart and keeps faults that
// overlap in time on services that are not connected, so that each fault is
// one incident a person would recognise.
func (g *stormGen) scheduleFaults(o StormOptions) {
	t := o.Start.Add(20 * time.Minute)
	for i := 0; i < o.Faults; i++ {
		for attempt := 0; ; attempt++ {
			root := g.pick(g.st.Services)
			tr := StormTruth{Root: root, Onset: t, End: t.Add(g.between(15*time.Minute, 45*time.Minute))}
			tr.Affected = append([]string{root}, g.callers(root)...)
			for _, c := range g.callers(root) {
				tr.Affected = append(tr.Affected, g.callers(c)...)
			}
			slices.Sort(tr.Affected)
			tr.Affected = slices.Compact(tr.Affected)
			if attempt < 100 && g.clashes(tr) {
				continue
			}
			g.st.Truths = append(g.st.Truths, tr)
			break
		}
		t = t.Add(g.between(35*time.Minute, 95*time.Minute))
		if t.After(o.Start.Add(o.Duration - time.Hour)) {
			break
		}
	}
}

// clashes reports whether tr overlaps in time (with an hour's margin) a
// fault whose affected services touch its own.
func (g *stormGen) clashes(tr StormTruth) bool {
	for _, o := range g.st.Truths {
		if tr.Onset.After(o.End.Add(time.Hour)) {
			continue
		}
		for _, a := range tr.Affected {
			for _, b := range o.Affected {
				if _, ok := g.graph.Connected(a, b); ok || a == b {
					return true
				}
			}
		}
	}
	return false
}

func (g *stormGen) add(s Signal, truth int) {
	g.st.Signals = append(g.st.Signals, StormSignal{Signal: s, Truth: truth})
}

// alert emits an alert firing from start to end as Alertmanager receives
// it: a send every 90s with EndsAt four intervals ahead, then one resolved
// send.
func (g *stormGen) alert(name, svc, pod, severity string, start, end time.Time, truth int) {
	ls := telemetry.LabelsFromStrings("alertname", name, "service", svc, "instance", pod, "severity", severity)
	a := telemetry.Alert{Labels: ls, StartsAt: start,
		Annotations: telemetry.LabelsFromStrings("summary", name+" on "+svc+" "+pod)}
	for t := start; t.Before(end); t = t.Add(90 * time.Second) {
		a.EndsAt = t.Add(6 * time.Minute)
		g.add(AlertSignal(&a, t), truth)
	}
	a.EndsAt = end
	g.add(AlertSignal(&a, end), truth)
}

// flap emits an alert that fires and resolves several times.
func (g *stormGen) flap(name, svc, pod, severity string, start, until time.Time, truth int) {
	t := start
	for t.Before(until) {
		up := g.between(2*time.Minute, 5*time.Minute)
		g.alert(name, svc, pod, severity, t, t.Add(up), truth)
		t = t.Add(up + g.between(time.Minute, 3*time.Minute))
	}
}

func (g *stormGen) anomaly(typ detect.Type, svc, tmplID, tmpl string, score float64, at time.Time, truth int) {
	a := detect.Anomaly{Type: typ, Service: svc, TemplateID: tmplID, Template: tmpl, Score: score, Confidence: 0.9,
		Start: at.Add(-time.Minute), End: at, Explanation: "synthetic"}
	g.add(AnomalySignal(&a), truth)
}

func (g *stormGen) pod(svc string) string { return svc + "-" + strconv.Itoa(g.rng.IntN(6)) }

// fault emits the signals of fault i: cause alerts and anomalies on the
// root, symptoms on its callers and, less often, on theirs.
func (g *stormGen) fault(i int) {
	tr := g.st.Truths[i]
	root := tr.Root
	names := rootAlertsByService[root]
	if names == nil {
		names = appRootAlerts
	}
	nRoot := 1 + g.rng.IntN(2)
	for k := 0; k < nRoot; k++ {
		name := g.pick(names)
		for p := 0; p < 1+g.rng.IntN(3); p++ {
			start := tr.Onset.Add(g.between(0, 2*time.Minute))
			end := tr.End.Add(g.between(0, 3*time.Minute))
			if k == 0 && p == 0 && g.rng.IntN(2) == 0 {
				g.flap(name, root, g.pod(root), "critical", start, end, i)
				continue
			}
			g.alert(name, root, g.pod(root), g.pick([]string{"critical", "warning"}), start, end, i)
		}
	}
	tmplID := "t" + strconv.Itoa(g.rng.IntN(1000))
	for t := tr.Onset.Add(time.Minute); t.Before(tr.End); t = t.Add(time.Minute) {
		g.anomaly(detect.TypeErrorBurst, root, tmplID, "connection to <*> failed: <*>", 0.85+0.14*g.rng.Float64(), t, i)
	}
	g.anomaly(detect.TypeNewPattern, root, tmplID+"n", "unexpected state <*> in <*>", 0.9, tr.Onset.Add(2*time.Minute), i)
	for _, c := range g.callers(root) {
		if g.rng.Float64() < 0.9 {
			g.symptoms(c, tr, g.between(time.Minute, 4*time.Minute), i)
		}
		for _, cc := range g.callers(c) {
			if g.rng.Float64() < 0.4 {
				g.symptoms(cc, tr, g.between(3*time.Minute, 6*time.Minute), i)
			}
		}
	}
}

func (g *stormGen) symptoms(svc string, tr StormTruth, delay time.Duration, i int) {
	start := tr.Onset.Add(delay)
	end := tr.End.Add(g.between(time.Minute, 3*time.Minute))
	for k := 0; k < 1+g.rng.IntN(2); k++ {
		g.alert(g.pick(symptomAlerts), svc, g.pod(svc), g.pick([]string{"warning", "warning", "critical"}), start.Add(g.between(0, time.Minute)), end, i)
	}
	for t := start; t.Before(end); t = t.Add(time.Minute) {
		g.anomaly(detect.TypeFrequency, svc, "lat", "request to <*> took <*> ms", 0.7+0.2*g.rng.Float64(), t, i)
	}
}

// noise emits background signals that belong to no fault.
func (g *stormGen) noise(o StormOptions) {
	n := int(o.NoisePerHour * o.Duration.Hours())
	for k := 0; k < n; k++ {
		at := o.Start.Add(time.Duration(g.rng.Int64N(int64(o.Duration))))
		svc := g.pick(g.st.Services)
		sev := g.pick([]string{"warning", "warning", "info", "info", "warning", "critical"})
		if sev == "critical" && g.rng.IntN(4) > 0 {
			sev = "warning" // a few noisy criticals, as real rule sets have
		}
		switch r := g.rng.Float64(); {
		case r < 0.5:
			g.alert(g.pick(noiseAlerts), svc, g.pod(svc), sev, at, at.Add(g.between(90*time.Second, 8*time.Minute)), -1)
		case r < 0.6:
			g.flap(g.pick(noiseAlerts), svc, g.pod(svc), sev, at, at.Add(g.between(5*time.Minute, 12*time.Minute)), -1)
		case r < 0.85:
			tmpl := g.pick(noiseTemplates)
			g.anomaly(detect.TypeFrequency, svc, "n"+strconv.Itoa(g.rng.IntN(50)), tmpl, 0.4+0.4*g.rng.Float64(), at, -1)
		default:
			g.seq++
			ev := telemetry.Event{ID: "deploy-" + strconv.Itoa(g.seq), Kind: telemetry.EventDeploy, Time: at, Service: svc,
				Summary: svc + " v1." + strconv.Itoa(g.seq)}
			g.add(EventSignal(&ev), -1)
			g.anomaly(detect.TypeNewPattern, svc, "d"+strconv.Itoa(g.seq), "starting <*> version <*>", 0.5+0.25*g.rng.Float64(),
				at.Add(g.between(time.Minute, 5*time.Minute)), -1)
		}
	}
}
