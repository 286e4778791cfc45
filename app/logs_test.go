package app

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/bus"
	"github.com/vigilops/vigil/logparse"
	"github.com/vigilops/vigil/logtemplate"
	"github.com/vigilops/vigil/store"
	"github.com/vigilops/vigil/telemetry"
)

// testClock is a wall clock that tests can move forward, so that Joiner
// timeouts pass without sleeping through them.
type testClock struct {
	mtx sync.Mutex
	off time.Duration
}

func (c *testClock) Now() time.Time {
	c.mtx.Lock()
	defer c.mtx.Unlock()
	return time.Now().Add(c.off)
}

func (c *testClock) Advance(d time.Duration) {
	c.mtx.Lock()
	c.off += d
	c.mtx.Unlock()
}

// parsedSink collects what the logs stage publishes.
type parsedSink struct {
	mtx  sync.Mutex
	recs []telemetry.LogRecord
}

func subscribeParsed(t *testing.T, b bus.Bus) *parsedSink {
	t.Helper()
	ps := &parsedSink{}
	_, err := b.Subscribe(bus.TopicParsedLogs, bus.SubscribeOptions{Name: "test"}, bus.Handle(func(_ context.Context, _ string, rs []telemetry.LogRecord) error {
		ps.mtx.Lock()
		ps.recs = append(ps.recs, rs...)
		ps.mtx.Unlock()
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// wait returns the records once there are n, failing after a deadline.
// With a clock, it moves the clock on while it waits: the last entry of a
// stream waits for a line that might continue it, and a quiet stream
// delivers it once the join timeout has passed.
func (ps *parsedSink) wait(t *testing.T, n int, clk *testClock) []telemetry.LogRecord {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ps.mtx.Lock()
		got := append([]telemetry.LogRecord(nil), ps.recs...)
		ps.mtx.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d parsed records, want %d: %+v", len(got), n, got)
		}
		if clk != nil {
			clk.Advance(time.Minute)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkoutLines returns a run of checkout's log in several formats, with
// a Java stack trace; n varies the values, not the shapes.
func checkoutLines(n int) []string {
	return []string{
		fmt.Sprintf(`{"time":"2024-10-10T13:55:36Z","level":"error","msg":"payment failed for order %d","order":"%d"}`, n, n),
		fmt.Sprintf(`{"time":"2024-10-10T13:55:37Z","level":"error","msg":"payment failed for order %d"}`, n+1),
		fmt.Sprintf(`level=info msg="cart updated" items=%d`, n%7),
		fmt.Sprintf("2024-10-10 13:55:38 ERROR [main] c.e.Shop - order %d failed", n+2),
		"java.lang.IllegalStateException: card declined",
		"\tat c.e.Shop.pay(Shop.java:42)",
		"\tat c.e.Shop.checkout(Shop.java:17)",
		fmt.Sprintf("2024-10-10 13:55:39 ERROR [main] c.e.Shop - order %d failed", n+3),
		fmt.Sprintf(`level=info msg="cart updated" items=%d`, n%5+10),
	}
}

// checkoutEntries is how many entries checkoutLines makes: the two trace
// lines and the exception join the line before them.
const checkoutEntries = 6

func startLogsApp(t *testing.T, dir string, clk *testClock) (*App, *parsedSink) {
	t.Helper()
	cfg := testConfig(t)
	cfg.DataDir = dir
	cfg.API.AnonymousRole = "viewer"
	a, err := New(Options{Config: cfg, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return a, subscribeParsed(t, a.bus)
}

func publishLines(t *testing.T, b bus.Bus, svc string, lines []string) []telemetry.LogRecord {
	t.Helper()
	batch := make([]telemetry.LogRecord, len(lines))
	for i, l := range lines {
		batch[i] = telemetry.LogRecord{Service: svc, Raw: l, Labels: telemetry.Labels{{Name: "service", Value: svc}}}
	}
	if err := b.Publish(context.Background(), bus.Message{Topic: bus.TopicLogs, Key: svc, Value: batch}); err != nil {
		t.Fatal(err)
	}
	return batch
}

// checkCheckout checks the parsed entries of checkoutLines and returns
// the template IDs by entry.
func checkCheckout(t *testing.T, recs []telemetry.LogRecord) []string {
	t.Helper()
	if len(recs) != checkoutEntries {
		t.Fatalf("got %d entries, want %d: %+v", len(recs), checkoutEntries, recs)
	}
	wantFormats := []string{"json", "json", "logfmt", "logback", "logback", "logfmt"}
	wantLevels := []telemetry.Level{telemetry.LevelError, telemetry.LevelError, telemetry.LevelInfo, telemetry.LevelError, telemetry.LevelError, telemetry.LevelInfo}
	ids := make([]string, len(recs))
	for i, r := range recs {
		if r.Format != wantFormats[i] || r.Level != wantLevels[i] || r.Message == "" || r.TemplateID == "" {
			t.Errorf("entry %d: format %q level %v message %q template %q; want format %q level %v", i, r.Format, r.Level, r.Message, r.TemplateID, wantFormats[i], wantLevels[i])
		}
		ids[i] = r.TemplateID
	}
	if ids[0] != ids[1] || ids[2] != ids[5] || ids[3] != ids[4] {
		t.Errorf("same shapes got different templates: %v", ids)
	}
	if ids[0] == ids[2] || ids[0] == ids[3] || ids[2] == ids[3] {
		t.Errorf("different shapes share a template: %v", ids)
	}
	trace := recs[3]
	if !strings.Contains(trace.Fields[logparse.FieldStack], "Shop.java:42") || trace.Fields[logparse.FieldExceptionType] != "java.lang.IllegalStateException" {
		t.Errorf("stack trace not joined onto its head: %+v", trace)
	}
	return ids
}

func getTemplates(t *testing.T, a *App, svc string) templatesResponse {
	t.Helper()
	code, body := get(t, "http://"+a.Addr().String()+"/api/v1/templates?service="+svc, "")
	if code != http.StatusOK {
		t.Fatalf("GET templates: %d %s", code, body)
	}
	var tr templatesResponse
	if err := json.Unmarshal(body, &tr); err != nil {
		t.Fatal(err)
	}
	return tr
}

func templateByID(ts []logtemplate.Template, id string) (logtemplate.Template, bool) {
	for _, tp := range ts {
		if tp.ID == id {
			return tp, true
		}
	}
	return logtemplate.Template{}, false
}

func TestLogsStage(t *testing.T) {
	dir := t.TempDir()
	clk := &testClock{}
	a, ps := startLogsApp(t, dir, clk)

	batch := publishLines(t, a.bus, "checkout", checkoutLines(1000))
	ids := checkCheckout(t, ps.wait(t, checkoutEntries, clk))
	for i, r := range batch {
		if r.Format != "" || r.TemplateID != "" || r.Message != "" {
			t.Fatalf("the shared batch was written to: record %d is %+v", i, r)
		}
	}

	// A Loki push reaches the stage too.
	push := `{"streams":[{"stream":{"service_name":"cart"},"values":[["1728568536000000000","level=warn msg=\"slow redis\" took=120ms"]]}]}`
	resp, err := http.Post("http://"+a.Addr().String()+"/loki/api/v1/push", "application/json", strings.NewReader(push))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("loki push: %s", resp.Status)
	}
	cart := ps.wait(t, checkoutEntries+1, clk)[checkoutEntries]
	if cart.Service != "cart" || cart.Format != "logfmt" || cart.Level != telemetry.LevelWarn || cart.Message != "slow redis" || cart.TemplateID == "" {
		t.Errorf("loki record: %+v", cart)
	}

	tr := getTemplates(t, a, "checkout")
	if tp, ok := templateByID(tr.Templates, ids[0]); !ok || tp.Count != 2 || len(tp.Examples) == 0 {
		t.Errorf("template %s in the API: %+v (found %v)", ids[0], tp, ok)
	}
	if tr.Total != 3 {
		t.Errorf("checkout has %d templates, want 3: %+v", tr.Total, tr.Templates)
	}
	code, body := get(t, "http://"+a.Addr().String()+"/api/v1/templates", "")
	if code != http.StatusOK || !strings.Contains(string(body), `"service":"cart"`) {
		t.Errorf("service list: %d %s", code, body)
	}
	if code, _ := get(t, "http://"+a.Addr().String()+"/api/v1/templates?service=nope", ""); code != http.StatusNotFound {
		t.Errorf("unknown service: %d, want 404", code)
	}
	if code, _ := get(t, "http://"+a.Addr().String()+"/api/v1/templates?service=checkout&limit=0", ""); code != http.StatusBadRequest {
		t.Errorf("limit=0: %d, want 400", code)
	}
	for name, want := range map[string]float64{
		`vigil_logs_parsed_total{format="json"}`:    2,
		`vigil_logs_parsed_total{format="logback"}`: 2,
		`vigil_logs_new_templates_total`:            4,
		`vigil_logs_templates{service="checkout"}`:  3,
		`vigil_logs_templates{service="cart"}`:      1,
	} {
		if got := metricValue(t, a.reg, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if err := a.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}

	// A restart on the same data directory names the same shapes alike.
	b, ps2 := startLogsApp(t, dir, clk)
	defer b.Stop(context.Background())
	publishLines(t, b.bus, "checkout", checkoutLines(5000))
	again := checkCheckout(t, ps2.wait(t, checkoutEntries, clk))
	if strings.Join(again, " ") != strings.Join(ids, " ") {
		t.Errorf("template IDs changed across a restart: %v, then %v", ids, again)
	}
	if tp, ok := templateByID(getTemplates(t, b, "checkout").Templates, ids[0]); !ok || tp.Count != 4 {
		t.Errorf("restored template %s: %+v, want count 4", ids[0], tp)
	}
	if tr := getTemplates(t, b, "cart"); tr.Total != 1 {
		t.Errorf("cart templates after restart: %+v", tr)
	}
}

// memState is a StateStore in memory.
type memState struct {
	mtx sync.Mutex
	m   map[string][]byte
}

func (s *memState) PutState(_ context.Context, k string, v []byte) error {
	s.mtx.Lock()
	defer s.mtx.Unlock()
	s.m[k] = append([]byte(nil), v...)
	return nil
}

func (s *memState) GetState(_ context.Context, k string) ([]byte, error) {
	s.mtx.Lock()
	defer s.mtx.Unlock()
	v, ok := s.m[k]
	if !ok {
		return nil, store.ErrNotFound
	}
	return v, nil
}

func newTestStage(t *testing.T, b bus.Bus, st store.StateStore) *logStage {
	t.Helper()
	p, err := logparse.New(logparse.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	s := &logStage{
		log: slog.New(slog.DiscardHandler), bus: b, state: st, parser: p, minerO: logtemplate.DefaultOptions(),
		now: time.Now, m: newLogMetrics(prometheus.NewRegistry()), services: map[string]*serviceLogs{},
	}
	if err := s.restore(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestLogsStageBoundsServices(t *testing.T) {
	s := newTestStage(t, bus.NewLocal(bus.DefaultLocalOptions()), &memState{m: map[string][]byte{}})
	for i := range logsMaxServices {
		if sl := s.service(fmt.Sprintf("svc-%d", i)); sl.name != fmt.Sprintf("svc-%d", i) {
			t.Fatalf("service %d got miner %q", i, sl.name)
		}
	}
	for _, svc := range []string{"one-too-many", "another", logsIndexName} {
		if sl := s.service(svc); sl.name != logsOtherService {
			t.Errorf("service %q beyond the bound got miner %q, want %q", svc, sl.name, logsOtherService)
		}
	}
	if sl := s.service("svc-7"); sl.name != "svc-7" {
		t.Errorf("a known service moved to %q", sl.name)
	}
	if n := len(s.list()); n != logsMaxServices+1 {
		t.Errorf("%d miners, want %d", n, logsMaxServices+1)
	}
}

// TestLogsStageFreezesOnStop checks the invariant that only saved
// template IDs leave the stage: after the final save, lines still
// drained from the bus match known templates but start none.
func TestLogsStageFreezesOnStop(t *testing.T) {
	ctx := context.Background()
	b := bus.NewLocal(bus.DefaultLocalOptions())
	defer b.Close(ctx)
	st := &memState{m: map[string][]byte{}}
	s := newTestStage(t, b, st)
	ps := subscribeParsed(t, b)
	line := func(raw string) []telemetry.LogRecord {
		return []telemetry.LogRecord{{Service: "api", Raw: raw}}
	}
	if err := s.handle(ctx, "api", line("level=info msg=\"request served\" status=200")); err != nil {
		t.Fatal(err)
	}
	// Stop delivers the entry the stream's Joiner holds.
	if err := s.stop(ctx); err != nil {
		t.Fatal(err)
	}
	first := ps.wait(t, 1, nil)[0]
	if first.TemplateID == "" {
		t.Fatalf("no template: %+v", first)
	}
	for _, raw := range []string{"level=info msg=\"request served\" status=503", "level=error msg=\"disk full\" free=0"} {
		if err := s.handle(ctx, "api", line(raw)); err != nil {
			t.Fatal(err)
		}
	}
	got := ps.wait(t, 3, nil)
	if got[1].TemplateID != first.TemplateID || got[2].TemplateID != "" || got[2].Format != "logfmt" {
		t.Errorf("after stop: %+v", got[1:])
	}

	// What was saved restores.
	r := newTestStage(t, b, st)
	if n := r.service("api").miner.Len(); n != 1 {
		t.Errorf("restored %d templates, want 1", n)
	}
}

// metricValue returns the value of a counter or gauge written
// name{label="value"} (one label at most), or -1 when there is none.
func metricValue(t *testing.T, reg prometheus.Gatherer, series string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			id := mf.GetName()
			for _, l := range m.GetLabel() {
				id += fmt.Sprintf("{%s=%q}", l.GetName(), l.GetValue())
			}
			if id != series {
				continue
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return -1
}
