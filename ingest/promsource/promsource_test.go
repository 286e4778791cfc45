package promsource

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilops/vigil/ingest"
	"github.com/vigilops/vigil/internal/syncbuf"
	"github.com/vigilops/vigil/telemetry"
)

var t0 = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)

func newSource(t testing.TB, url string, mod func(*Options)) (*Source, *syncbuf.Buffer) {
	t.Helper()
	var logs syncbuf.Buffer
	opts := DefaultOptions()
	opts.URL = url
	opts.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts.Registerer = prometheus.NewRegistry()
	if mod != nil {
		mod(&opts)
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s, &logs
}

func serve(t *testing.T, h http.Handler) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// checkGrid asserts that points are exactly the step grid over [from, to]
// with the fake's values for series i.
func checkGrid(t *testing.T, f *fakeProm, i int, pts []telemetry.Point, from, to int64, step int64) {
	t.Helper()
	want := int((to-from)/step + 1)
	if len(pts) != want {
		t.Fatalf("series %d: %d points, want %d", i, len(pts), want)
	}
	for j, p := range pts {
		if p.T != from+int64(j)*step || p.V != f.value(i, p.T) {
			t.Fatalf("series %d point %d: %+v, want t=%d v=%v", i, j, p, from+int64(j)*step, f.value(i, from+int64(j)*step))
		}
	}
}

func TestBackfillChunked(t *testing.T) {
	f := newFakeProm()
	s, _ := newSource(t, serve(t, f), nil)
	from, to := t0, t0.Add(14*24*time.Hour)
	got, err := s.Backfill(context.Background(), "up", from, to)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d series", len(got))
	}
	if ls := got[0].Labels.String(); ls != `{__name__="up", instance="a:9090", job="api", service="api"}` {
		t.Fatalf("labels %s", ls)
	}
	for i := range got {
		checkGrid(t, f, i, got[i].Points, from.UnixMilli(), to.UnixMilli(), 60_000)
	}
	reqs := f.reqs()
	if len(reqs) != 2 {
		t.Fatalf("%d requests for 20,161 points, want 2", len(reqs))
	}
	for _, r := range reqs {
		start, _ := parseSeconds(r.start)
		end, _ := parseSeconds(r.end)
		if (end-start)/60_000+1 > 11_000 || r.step != "60" || r.method != "GET" || r.query != "up" {
			t.Fatalf("request %+v", r)
		}
		if r.timeout != "119" {
			t.Errorf("timeout parameter %q", r.timeout)
		}
	}
}

func TestBackfillAlignsToStep(t *testing.T) {
	f := newFakeProm()
	s, _ := newSource(t, serve(t, f), nil)
	got, err := s.Backfill(context.Background(), "up", t0.Add(30*time.Second), t0.Add(10*time.Minute+30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	checkGrid(t, f, 0, got[0].Points, t0.Add(time.Minute).UnixMilli(), t0.Add(10*time.Minute).UnixMilli(), 60_000)
}

func TestBackfillShrinksChunks(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Options, *fakeProm)
	}{
		{"prometheus max samples", func(_ *Options, f *fakeProm) { f.maxSamples = 5000 }},
		{"response bytes", func(o *Options, _ *fakeProm) { o.MaxResponseBytes = 100 << 10 }},
		{"points above prometheus limit", func(o *Options, _ *fakeProm) { o.MaxPoints = 50_000 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeProm()
			var opts Options
			tc.mod(&opts, f)
			s, logs := newSource(t, serve(t, f), func(o *Options) {
				if opts.MaxResponseBytes != 0 {
					o.MaxResponseBytes = opts.MaxResponseBytes
				}
				if opts.MaxPoints != 0 {
					o.MaxPoints = opts.MaxPoints
				}
			})
			from, to := t0, t0.Add(14*24*time.Hour)
			got, err := s.Backfill(context.Background(), "up", from, to)
			if err != nil {
				t.Fatal(err)
			}
			for i := range got {
				checkGrid(t, f, i, got[i].Points, from.UnixMilli(), to.UnixMilli(), 60_000)
			}
			if !strings.Contains(logs.String(), "shorter chunks") {
				t.Error("shrinking not logged")
			}
		})
	}
}

func TestQueryErrors(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		timeout time.Duration
		check   func(error) bool
		message string
	}{
		{"bad_data", func(w http.ResponseWriter, _ *http.Request) {
			apiErr(w, 400, "bad_data", `1:4: parse error: unexpected "}"`)
		}, 0, func(err error) bool {
			var e *APIError
			return errors.As(err, &e) && e.StatusCode == 400 && e.Type == "bad_data"
		}, "parse error"},
		{"unavailable html", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(503)
			w.Write([]byte("<html>Service Unavailable</html>"))
		}, 0, func(err error) bool {
			var e *APIError
			return errors.As(err, &e) && e.StatusCode == 503 && e.Type == ""
		}, "Service Unavailable"},
		{"error status with 200", func(w http.ResponseWriter, _ *http.Request) {
			apiErr(w, 200, "execution", "boom")
		}, 0, func(err error) bool {
			var e *APIError
			return errors.As(err, &e) && e.Type == "execution"
		}, "boom"},
		{"bad json", func(w http.ResponseWriter, _ *http.Request) {
			w.Write([]byte(`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,2]]}]}}`))
		}, 0, func(err error) bool { return errors.Is(err, ErrBadResponse) }, "quoted string"},
		{"not json", func(w http.ResponseWriter, _ *http.Request) {
			w.Write([]byte(`hello`))
		}, 0, func(err error) bool { return errors.Is(err, ErrBadResponse) }, "invalid character"},
		{"vector", func(w http.ResponseWriter, _ *http.Request) {
			w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[]}}`))
		}, 0, func(err error) bool { return errors.Is(err, ErrBadResponse) }, `"vector"`},
		{"unsorted points", func(w http.ResponseWriter, _ *http.Request) {
			w.Write([]byte(`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"x"},"values":[[2,"1"],[1,"1"]]}]}}`))
		}, 0, func(err error) bool { return errors.Is(err, ErrBadResponse) }, "time order"},
		{"timeout", func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}, 50 * time.Millisecond, func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }, "deadline"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url := serve(t, tc.handler)
			s, _ := newSource(t, url, func(o *Options) {
				if tc.timeout != 0 {
					o.Timeout = tc.timeout
				}
			})
			_, err := s.Backfill(context.Background(), "rate(x[5m])", t0, t0.Add(time.Hour))
			if err == nil || !tc.check(err) {
				t.Fatalf("err = %v", err)
			}
			msg := err.Error()
			for _, want := range []string{tc.message, `"rate(x[5m])"`, url + "/api/v1/query_range"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not mention %q", msg, want)
				}
			}
		})
	}
}

func TestAuthAndHeaders(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Options)
		want func(http.Header) bool
	}{
		{"bearer", func(o *Options) { o.BearerToken = "tok" }, func(h http.Header) bool { return h.Get("Authorization") == "Bearer tok" }},
		{"basic", func(o *Options) { o.BasicAuth = BasicAuth{"u", "p"} }, func(h http.Header) bool { return h.Get("Authorization") == "Basic dTpw" }},
		{"headers", func(o *Options) { o.Headers = map[string]string{"X-Scope-OrgID": "team-a"} }, func(h http.Header) bool {
			return h.Get("X-Scope-OrgID") == "team-a" && h.Get("Authorization") == ""
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeProm()
			s, _ := newSource(t, serve(t, f), tc.mod)
			if _, err := s.Backfill(context.Background(), "up", t0, t0.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			if h := f.reqs()[0].header; !tc.want(h) {
				t.Fatalf("headers %v", h)
			}
		})
	}
}

func TestLongQueryIsPosted(t *testing.T) {
	f := newFakeProm()
	s, _ := newSource(t, serve(t, f)+"/", nil)
	q := "up" + strings.Repeat(" or up", 1000)
	if _, err := s.Backfill(context.Background(), q, t0, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if r := f.reqs()[0]; r.method != "POST" || r.query != q {
		t.Fatalf("method %s, query intact %v", r.method, r.query == q)
	}
}

func TestResultWithoutName(t *testing.T) {
	f := newFakeProm()
	f.series = []map[string]string{{"job": "api"}, {}}
	s, _ := newSource(t, serve(t, f), nil)
	got, err := s.Backfill(context.Background(), "sum by (job) (rate(x[5m]))", t0, t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`{__query__="sum by (job) (rate(x[5m]))"}`,
		`{__query__="sum by (job) (rate(x[5m]))", job="api", service="api"}`,
	}
	for i, s := range got {
		if s.Labels.String() != want[i] || !s.Labels.Valid() {
			t.Errorf("series %d: %s, want %s", i, s.Labels, want[i])
		}
	}
}

func TestOptions(t *testing.T) {
	for _, o := range []Options{{}, {URL: "ftp://x"}, {URL: "http://"}, {URL: "http://x", Step: -1}, {URL: "http://x", MaxPoints: -1}} {
		if _, err := New(o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	s, err := New(Options{URL: "http://prom:9090"})
	if err != nil {
		t.Fatal(err)
	}
	if s.opts.Step != time.Minute || s.opts.Backfill != 14*24*time.Hour || s.opts.MaxPoints != 11_000 || s.Name() != "promsource" {
		t.Fatalf("defaults: %+v", s.opts)
	}
	if err := s.Start(context.Background()); err == nil {
		t.Fatal("Start without Sink or queries")
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// collector is a Sink recording samples, optionally refusing some calls.
type collector struct {
	mu      sync.Mutex
	samples []telemetry.Sample
	refuse  int // calls to answer with ErrBackpressure first
}

func (c *collector) sink() ingest.Sink {
	return ingest.SinkFuncs{SamplesFunc: func(_ context.Context, ss []telemetry.Sample) error {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.refuse > 0 {
			c.refuse--
			return ingest.ErrBackpressure
		}
		c.samples = append(c.samples, ss...)
		return nil
	}}
}

// byJob groups delivered points by the job label.
func (c *collector) byJob() map[string][]telemetry.Point {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string][]telemetry.Point{}
	for _, s := range c.samples {
		out[s.Labels.Get("job")] = append(out[s.Labels.Get("job")], telemetry.Point{T: s.T, V: s.V})
	}
	return out
}

// TestLoop drives Start's loop on a fake clock: the backfill, periodic
// pulls, a failing Prometheus with backoff, and the catch-up without gap
// or duplicate.
func TestLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeProm()
		f.warnings = []string{"PromQL info: metric might not be a counter"}
		var c collector
		c.refuse = 2 // the first delivery meets backpressure twice
		s, logs := newSource(t, "http://prometheus.test:9090", func(o *Options) {
			o.HTTPClient = &http.Client{Transport: handlerTransport{f}}
			o.Queries = []string{"up"}
			o.Backfill = time.Hour
			o.MaxPoints = 20 // so that the backfill takes several chunks
			o.Sink = c.sink()
		})
		start := time.Now() // the bubble's clock: 2000-01-01T00:00:00Z
		if err := s.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		defer s.Stop(context.Background())
		if err := s.Start(context.Background()); err == nil {
			t.Fatal("second Start succeeded")
		}
		// Let the backpressure retries (100ms, then 200ms) run out.
		time.Sleep(time.Second)
		synctest.Wait()
		from := start.Add(-time.Hour).UnixMilli()
		got := c.byJob()
		checkGrid(t, f, 0, got["api"], from, start.UnixMilli(), 60_000)
		checkGrid(t, f, 1, got["db"], from, start.UnixMilli(), 60_000)
		for _, want := range []string{"backfill progress", "backfill complete", "prometheus warning", "might not be a counter"} {
			if !strings.Contains(logs.String(), want) {
				t.Errorf("log lacks %q", want)
			}
		}

		time.Sleep(time.Minute) // t+1m: one new point
		synctest.Wait()
		checkGrid(t, f, 0, c.byJob()["api"], from, start.Add(time.Minute).UnixMilli(), 60_000)

		f.setFail(func(*http.Request) (int, string) { return 503, "down for maintenance" })
		time.Sleep(time.Minute) // t+2m: fails, retry at t+3m
		synctest.Wait()
		time.Sleep(time.Minute) // t+3m: fails again, retry at t+5m
		synctest.Wait()
		f.setFail(nil)
		n := len(f.reqs())
		time.Sleep(time.Minute) // t+4m: backing off
		synctest.Wait()
		if len(f.reqs()) != n {
			t.Fatal("pulled while backing off")
		}
		time.Sleep(time.Minute) // t+5m: catches up t+2m..t+5m
		synctest.Wait()
		got = c.byJob()
		checkGrid(t, f, 0, got["api"], from, start.Add(5*time.Minute).UnixMilli(), 60_000)
		checkGrid(t, f, 1, got["db"], from, start.Add(5*time.Minute).UnixMilli(), 60_000)
		if l := logs.String(); !strings.Contains(l, "down for maintenance") || !strings.Contains(l, "http://prometheus.test:9090/api/v1/query_range") || !strings.Contains(l, "failures=2") {
			t.Errorf("failure log: %s", l)
		}
		if err := s.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestStopWhileBackfilling(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeProm()
		block := make(chan struct{})
		f.setFail(func(r *http.Request) (int, string) {
			select {
			case <-block:
			case <-r.Context().Done():
			}
			return 0, ""
		})
		var c collector
		s, _ := newSource(t, "http://p.test", func(o *Options) {
			o.HTTPClient = &http.Client{Transport: handlerTransport{f}}
			o.Queries = []string{"up", "down"}
			o.Sink = c.sink()
		})
		if err := s.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if err := s.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		close(block)
	})
}
