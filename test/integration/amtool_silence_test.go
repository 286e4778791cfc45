//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/pkg/labels"

	"github.com/vigilops/vigil/config"
	"github.com/vigilops/vigil/correlate/dispatch"
	"github.com/vigilops/vigil/correlate/silence"
	"github.com/vigilops/vigil/ingest"
	"github.com/vigilops/vigil/ingest/amapi"
	"github.com/vigilops/vigil/internal/syncbuf"
	"github.com/vigilops/vigil/telemetry"
)

// TestAmtoolSilenceAgainstVigil runs the real amtool's silence commands
// against Vigil's Alertmanager API (receiver plus silences) and checks the
// silence state after each.
func TestAmtoolSilenceAgainstVigil(t *testing.T) {
	bin := requireBinary(t, "amtool")
	sils, err := silence.New(silence.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	opts := amapi.DefaultOptions()
	opts.Sink = ingest.SinkFuncs{AlertsFunc: func(context.Context, []telemetry.Alert) error { return nil }}
	opts.Silences = sils
	rcv, err := amapi.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	for _, r := range rcv.Routes() {
		mux.Handle(r.Pattern, r.Handler)
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()
	home := t.TempDir()
	amtool := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, append([]string{"--alertmanager.url=" + srv.URL}, args...)...)
		cmd.Env = []string{"HOME=" + home, "PATH=/usr/bin:/bin", "USER=it"}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("amtool %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
		}
		return strings.TrimSpace(string(out))
	}

	id := amtool("silence", "add", "alertname=X", "-c", "comment", "-d", "1h")
	s, err := sils.Get(id)
	if err != nil {
		t.Fatalf("silence add printed %q: %v", id, err)
	}
	if s.State(time.Now()) != silence.StateActive || s.Comment != "comment" {
		t.Fatalf("after add: %s %+v", s.State(time.Now()), s)
	}
	if got := amtool("silence", "query", "-q"); got != id {
		t.Errorf("query -q: %q, want %q", got, id)
	}
	if got := amtool("silence", "query", "alertname=X"); !strings.Contains(got, id) || !strings.Contains(got, "comment") {
		t.Errorf("query alertname=X:\n%s", got)
	}
	if got := amtool("silence", "query", "alertname=Y", "-q"); got != "" {
		t.Errorf("query alertname=Y: %q", got)
	}
	amtool("silence", "expire", id)
	if s, _ := sils.Get(id); s.State(time.Now()) != silence.StateExpired {
		t.Errorf("after expire: %s", s.State(time.Now()))
	}
	if got := amtool("silence", "query", "-q"); got != "" {
		t.Errorf("query after expire: %q", got)
	}
	if got := amtool("silence", "query", "--expired", "-q"); got != id {
		t.Errorf("query --expired: %q", got)
	}
}

// parityYAML is shared by the real Alertmanager and Vigil. Timers are
// short so the real one finishes in seconds.
const parityYAML = `
route:
  receiver: hook
  group_by: [scenario, alertname]
  group_wait: 1s
  group_interval: 3s
  repeat_interval: 1h
  routes:
  - matchers: [scenario="repeat"]
    repeat_interval: 7s
  - matchers: [scenario="continue", severity="page"]
    receiver: pager
    continue: true
  - matchers: [scenario="continue"]
    receiver: tickets
  - matchers: [scenario="quiet"]
    receiver: quiet
receivers:
- name: quiet
  webhook_configs: [{url: "URL/quiet", send_resolved: false}]
- name: hook
  webhook_configs: [{url: "URL/hook"}]
- name: pager
  webhook_configs: [{url: "URL/pager"}]
- name: tickets
  webhook_configs: [{url: "URL/tickets"}]
inhibit_rules:
- source_matchers: [severity="critical"]
  target_matchers: [severity="warning"]
  equal: [scenario, cluster]
`

// parityPush is alerts sent at an offset: end > 0 resolves them at that
// offset (sent at that time with endsAt then).
type parityPush struct {
	at       time.Duration
	scenario string
	name     string
	kv       []string
	resolve  bool
	// ago, when set, backdates startsAt on the first push.
	ago time.Duration
}

var parityPushes = []parityPush{
	{0, "basic", "A", nil, false, 0},
	{0, "join", "A", []string{"instance", "1"}, false, 0},
	{2 * time.Second, "join", "A", []string{"instance", "2"}, false, 0},
	{0, "resolve", "A", nil, false, 0},
	{2 * time.Second, "resolve", "A", nil, true, 0},
	{0, "repeat", "A", nil, false, 0},
	{0, "continue", "A", []string{"severity", "page"}, false, 0},
	{0, "inhibit", "Down", []string{"severity", "critical", "cluster", "eu"}, false, 0},
	{0, "inhibit", "Slow", []string{"severity", "warning", "cluster", "eu", "instance", "eu"}, false, 0},
	{0, "inhibit", "Slow", []string{"severity", "warning", "cluster", "us", "instance", "us"}, false, 0},
	{5 * time.Second, "inhibit", "Down", []string{"severity", "critical", "cluster", "eu"}, true, 0},
	{0, "silence", "A", nil, false, 0},
	{0, "flap", "A", nil, false, 0},
	{500 * time.Millisecond, "flap", "A", nil, true, 0},
	// An alert already older than group_wait goes out at once.
	{0, "old", "A", nil, false, time.Minute},
	// Without send_resolved, one of two resolving sends nothing; the last
	// one resolving sends the all-resolved notification.
	{0, "quiet", "A", []string{"instance", "1"}, false, 0},
	{0, "quiet", "A", []string{"instance", "2"}, false, 0},
	{2 * time.Second, "quiet", "A", []string{"instance", "1"}, true, 0},
	{5 * time.Second, "quiet", "A", []string{"instance", "2"}, true, 0},
}

// paritySilenceEnd is when the silence on scenario="silence" ends.
const paritySilenceEnd = 5 * time.Second

const parityHorizon = 21 * time.Second

// seen is one notification as observed: offset, receiver, scenario and the
// alerts by state.
type seen struct {
	at       time.Duration
	receiver string
	scenario string
	firing   string
	resolved string
}

func (s seen) key() string {
	return fmt.Sprintf("%s %s firing=%s resolved=%s", s.scenario, s.receiver, s.firing, s.resolved)
}

func alertLabels(p parityPush) telemetry.Labels {
	return telemetry.LabelsFromStrings(append([]string{"alertname", p.name, "scenario", p.scenario}, p.kv...)...)
}

func alertID(ls map[string]string) string {
	if i := ls["instance"]; i != "" {
		return ls["alertname"] + "/" + i
	}
	return ls["alertname"]
}

// TestAlertmanagerParity runs the same scenarios through a real
// Alertmanager 0.25 (webhook receivers on loopback) and through Vigil's
// dispatcher on a simulated clock, and requires the same notifications
// at the same offsets (within 700ms: the real one runs on wall-clock
// timers and HTTP).
func TestAlertmanagerParity(t *testing.T) {
	if testing.Short() {
		t.Skip("takes about 25s")
	}
	bin := requireBinary(t, "prometheus-alertmanager")

	var mu sync.Mutex
	var start time.Time
	var got []seen
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var msg struct {
			Receiver    string            `json:"receiver"`
			GroupLabels map[string]string `json:"groupLabels"`
			Alerts      []struct {
				Status string            `json:"status"`
				Labels map[string]string `json:"labels"`
			} `json:"alerts"`
		}
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &msg); err != nil {
			t.Errorf("webhook body %s: %v", b, err)
			return
		}
		var f, res []string
		for _, a := range msg.Alerts {
			if a.Status == "resolved" {
				res = append(res, alertID(a.Labels))
			} else {
				f = append(f, alertID(a.Labels))
			}
		}
		sort.Strings(f)
		sort.Strings(res)
		mu.Lock()
		got = append(got, seen{at: time.Since(start), receiver: msg.Receiver, scenario: msg.GroupLabels["scenario"], firing: strings.Join(f, ","), resolved: strings.Join(res, ",")})
		mu.Unlock()
	}))
	defer hook.Close()

	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfgPath, []byte(strings.ReplaceAll(parityYAML, "URL", hook.URL)), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	cmd := exec.Command(bin, "--config.file="+cfgPath, "--storage.path="+dir, "--web.listen-address="+addr, "--cluster.listen-address=", "--log.level=warn")
	var amLog syncbuf.Buffer
	cmd.Stderr = &amLog
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("alertmanager log:\n%s", amLog.String())
		}
	}()
	base := "http://" + addr
	for i := 0; ; i++ {
		resp, err := http.Get(base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if i > 100 {
			t.Fatalf("alertmanager not ready:\n%s", amLog.String())
		}
		time.Sleep(100 * time.Millisecond)
	}

	post := func(path string, body any) {
		b, _ := json.Marshal(body)
		resp, err := http.Post(base+path, "application/json", strings.NewReader(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		rb, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("POST %s: %d %s", path, resp.StatusCode, rb)
		}
	}

	mu.Lock()
	start = time.Now()
	mu.Unlock()
	post("/api/v2/silences", map[string]any{
		"matchers": []map[string]any{{"name": "scenario", "value": "silence", "isRegex": false, "isEqual": true}},
		"startsAt": start.UTC().Format(time.RFC3339Nano), "endsAt": start.Add(paritySilenceEnd).UTC().Format(time.RFC3339Nano),
		"createdBy": "it", "comment": "parity",
	})
	pushes := append([]parityPush(nil), parityPushes...)
	sort.SliceStable(pushes, func(i, j int) bool { return pushes[i].at < pushes[j].at })
	firstStart := map[string]time.Time{}
	for _, p := range pushes {
		time.Sleep(time.Until(start.Add(p.at)))
		ls := alertLabels(p)
		now := time.Now()
		k := ls.String()
		if _, ok := firstStart[k]; !ok {
			firstStart[k] = now.Add(-p.ago)
		}
		a := map[string]any{"labels": ls.Map(), "startsAt": firstStart[k].UTC().Format(time.RFC3339Nano), "endsAt": now.Add(time.Hour).UTC().Format(time.RFC3339Nano)}
		if p.resolve {
			a["endsAt"] = now.UTC().Format(time.RFC3339Nano)
		}
		post("/api/v2/alerts", []any{a})
	}
	time.Sleep(time.Until(start.Add(parityHorizon)))
	mu.Lock()
	real := append([]seen(nil), got...)
	mu.Unlock()

	sim := simulateParity(t)
	byScenario := func(list []seen) map[string][]seen {
		m := map[string][]seen{}
		for _, s := range list {
			m[s.scenario] = append(m[s.scenario], s)
		}
		for _, l := range m {
			sort.SliceStable(l, func(i, j int) bool {
				if d := l[i].at - l[j].at; d > 300*time.Millisecond || d < -300*time.Millisecond {
					return l[i].at < l[j].at
				}
				return l[i].key() < l[j].key()
			})
		}
		return m
	}
	rm, sm := byScenario(real), byScenario(sim)
	scenarios := map[string]bool{}
	for _, p := range parityPushes {
		scenarios[p.scenario] = true
	}
	for sc := range scenarios {
		t.Run(sc, func(t *testing.T) {
			r, s := rm[sc], sm[sc]
			ok := len(r) == len(s)
			for i := 0; ok && i < len(r); i++ {
				d := r[i].at - s[i].at
				ok = r[i].key() == s[i].key() && d < 700*time.Millisecond && d > -700*time.Millisecond
			}
			if !ok {
				t.Errorf("alertmanager:\n%s\nvigil:\n%s", render(r), render(s))
			} else {
				t.Logf("%d notifications agree:\n%s", len(r), render(r))
			}
		})
	}
}

func render(l []seen) string {
	var b strings.Builder
	for _, s := range l {
		fmt.Fprintf(&b, "  %6.2fs %s\n", s.at.Seconds(), s.key())
	}
	return b.String()
}

// simulateParity runs the scenarios through Vigil's dispatcher on a
// simulated clock.
func simulateParity(t *testing.T) []seen {
	t.Helper()
	cfg, err := config.ParseAlertmanagerConfig([]byte(strings.ReplaceAll(parityYAML, "URL", "http://127.0.0.1:1")))
	if err != nil {
		t.Fatal(err)
	}
	built, err := dispatch.FromConfig(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	inh := built.Inhibitor
	sils, _ := silence.New(silence.DefaultOptions())
	t0 := time.Date(2024, 5, 6, 10, 0, 0, 0, time.UTC)
	m, _ := labels.NewMatcher(labels.MatchEqual, "scenario", "silence")
	if _, err := sils.Set(context.Background(), silence.Silence{Matchers: labels.Matchers{m}, StartsAt: t0, EndsAt: t0.Add(paritySilenceEnd), CreatedBy: "it", Comment: "parity"}, t0); err != nil {
		t.Fatal(err)
	}
	var out []seen
	o := dispatch.DefaultOptions()
	built.Apply(&o)
	o.Silences = sils
	o.Notifier = dispatch.NotifierFunc(func(_ context.Context, n dispatch.Notification) error {
		// What an integration does with send_resolved: false, as
		// Alertmanager's: drop resolved alerts, and an all-resolved
		// notification altogether.
		if !built.SendResolved(n.Receiver) {
			if len(n.Firing) == 0 {
				return nil
			}
			n.Resolved = nil
		}
		ids := func(as []telemetry.Alert) string {
			var s []string
			for _, a := range as {
				s = append(s, alertID(a.Labels.Map()))
			}
			sort.Strings(s)
			return strings.Join(s, ",")
		}
		out = append(out, seen{at: n.At.Sub(t0), receiver: n.Receiver, scenario: n.GroupLabels.Get("scenario"), firing: ids(n.Firing), resolved: ids(n.Resolved)})
		return nil
	})
	d, err := dispatch.New(o)
	if err != nil {
		t.Fatal(err)
	}
	pushes := append([]parityPush(nil), parityPushes...)
	sort.SliceStable(pushes, func(i, j int) bool { return pushes[i].at < pushes[j].at })
	firstStart := map[string]time.Time{}
	pi := 0
	end := t0.Add(parityHorizon)
	for {
		now := end.Add(time.Nanosecond)
		if pi < len(pushes) {
			now = t0.Add(pushes[pi].at)
		}
		if next, ok := d.Next(); ok && next.Before(now) {
			now = next
		}
		if now.After(end) {
			break
		}
		for pi < len(pushes) && !t0.Add(pushes[pi].at).After(now) {
			p := pushes[pi]
			ls := alertLabels(p)
			k := ls.String()
			if _, ok := firstStart[k]; !ok {
				firstStart[k] = now.Add(-p.ago)
			}
			a := telemetry.Alert{Labels: ls, StartsAt: firstStart[k], EndsAt: now.Add(time.Hour)}
			if p.resolve {
				a.EndsAt = now
			}
			inh.Put(a)
			if err := d.Put([]telemetry.Alert{a}, now); err != nil {
				t.Fatal(err)
			}
			pi++
		}
		d.Tick(context.Background(), now)
	}
	return out
}
