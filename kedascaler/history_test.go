package kedascaler

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vigilops/vigil/ingest/promsource"
	"github.com/vigilops/vigil/metricstore"
	"github.com/vigilops/vigil/telemetry"
)

func TestStoreHistory(t *testing.T) {
	mo := metricstore.DefaultOptions()
	mo.Logger = nil
	st, err := metricstore.New(mo)
	if err != nil {
		t.Fatal(err)
	}
	// Two pods' counters at 10 and 30 requests/s, the second reset once;
	// and a gauge.
	var samples []telemetry.Sample
	for i := range 60 {
		ts := t0.Add(time.Duration(i) * 15 * time.Second).UnixMilli()
		b := float64(i) * 15 * 30
		if i >= 30 {
			b = float64(i-30) * 15 * 30
		}
		samples = append(samples,
			telemetry.Sample{Labels: telemetry.LabelsFromStrings("__name__", "http_requests_total", "service", "frontend", "pod", "a"), T: ts, V: float64(i) * 15 * 10},
			telemetry.Sample{Labels: telemetry.LabelsFromStrings("__name__", "http_requests_total", "service", "frontend", "pod", "b"), T: ts, V: b},
			telemetry.Sample{Labels: telemetry.LabelsFromStrings("__name__", "queue_depth", "service", "frontend"), T: ts, V: 7},
		)
	}
	st.Append(samples)
	h := StoreHistory{Store: st}
	ctx := context.Background()

	pts, err := h.Range(ctx, Query{Kind: QuerySelector, Expr: `http_requests_total{service="frontend"}`}, t0, t0.Add(15*time.Minute), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) < 10 {
		t.Fatalf("%d points, want ~14", len(pts))
	}
	for _, p := range pts {
		// The minute of pod b's reset (7m30s) loses that interval's
		// increase, as Prometheus' rate would; every other minute sums to
		// 40/s.
		if ts := time.UnixMilli(p.T); ts.Sub(t0) != 7*time.Minute && (p.V < 39.9 || p.V > 40.1) {
			t.Fatalf("rate at %s = %g, want 40", ts, p.V)
		}
	}
	g, err := h.Range(ctx, Query{Kind: QuerySelector, Expr: `queue_depth`}, t0, t0.Add(15*time.Minute), time.Minute)
	if err != nil || len(g) == 0 || g[0].V != 7 {
		t.Fatalf("gauge = %v, %v; want 7s", g, err)
	}
	none, err := h.Range(ctx, Query{Kind: QuerySelector, Expr: `nothing_here`}, t0, t0.Add(time.Hour), time.Minute)
	if err != nil || len(none) != 0 {
		t.Fatalf("unknown series = %v, %v; want nothing", none, err)
	}
	if _, err := h.Range(ctx, Query{Kind: QueryPromQL, Expr: "up"}, t0, t0, time.Minute); !errors.Is(err, ErrWrongQueryKind) {
		t.Fatalf("PromQL on the store: %v, want ErrWrongQueryKind", err)
	}
}

func TestParseSelector(t *testing.T) {
	for _, tc := range []struct {
		in, name string
		n        int
		ok       bool
	}{
		{`http_requests_total{service="frontend",code=~"2.."}`, "http_requests_total", 3, true},
		{`up`, "up", 1, true},
		{`{__name__="up",job="x"}`, "up", 2, true},
		{`{}`, "", 0, false},
		{`9lives`, "", 0, false},
		{`up{service=}`, "", 0, false},
		{`up{`, "", 0, false},
	} {
		name, ms, err := ParseSelector(tc.in)
		if (err == nil) != tc.ok || err == nil && (name != tc.name || len(ms) != tc.n) {
			t.Errorf("ParseSelector(%q) = %q, %d matchers, %v", tc.in, name, len(ms), err)
		}
		if err != nil && !errors.Is(err, ErrInvalidMetadata) {
			t.Errorf("ParseSelector(%q) error %v does not name the selector key", tc.in, err)
		}
	}
}

func TestPromHistory(t *testing.T) {
	series := 1
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/query_range" || r.FormValue("query") != "sum(rate(x[1m]))" {
			http.Error(w, "unexpected "+r.URL.String(), http.StatusBadRequest)
			return
		}
		var res []string
		for i := range series {
			res = append(res, fmt.Sprintf(`{"metric":{"i":"%d"},"values":[[%d,"5"],[%d,"6"]]}`, i, t0.Unix(), t0.Unix()+60))
		}
		fmt.Fprintf(w, `{"status":"success","data":{"resultType":"matrix","result":[%s]}}`, strings.Join(res, ","))
	}))
	defer srv.Close()
	h := PromHistory{Client: &promsource.Client{URL: srv.URL}}
	q := Query{Kind: QueryPromQL, Expr: "sum(rate(x[1m]))"}
	pts, err := h.Range(context.Background(), q, t0, t0.Add(time.Minute), time.Minute)
	if err != nil || len(pts) != 2 || pts[1].V != 6 {
		t.Fatalf("Range = %v, %v; want two points", pts, err)
	}
	series = 2
	if _, err := h.Range(context.Background(), q, t0, t0.Add(time.Minute), time.Minute); err == nil || !strings.Contains(err.Error(), "2 series") {
		t.Fatalf("two series: %v, want an error asking to aggregate", err)
	}
}

// FuzzParseSelector: any input either parses into at least one matcher or
// fails with an error naming the selector key; never a panic.
func FuzzParseSelector(f *testing.F) {
	for _, s := range []string{`up`, `http_requests_total{service="frontend",code=~"2.."}`, `{a!="b"}`, `x{`, `{}`, `a{b="\"}"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, ms, err := ParseSelector(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidMetadata) {
				t.Fatalf("error %v is not a metadata error", err)
			}
			return
		}
		if len(ms) == 0 {
			t.Fatalf("%q parsed into no matchers", s)
		}
	})
}
