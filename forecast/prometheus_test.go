package forecast

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilops/vigil/telemetry"
)

func TestDecodeQueryRange(t *testing.T) {
	body := `{"status":"success","data":{"resultType":"matrix","result":[
		{"metric":{"__name__":"up","job":"api"},"values":[[1700000000,"1"],[1700000060.5,"NaN"],[1700000120,"2.5"]]},
		{"metric":{"job":"db"},"values":[]}]}}`
	ss, err := DecodeQueryRange([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 2 {
		t.Fatalf("%d series, want 2", len(ss))
	}
	if got := ss[0].Labels.Get("job"); got != "api" {
		t.Errorf("job label %q", got)
	}
	if len(ss[0].Points) != 2 || ss[0].Points[0].T != 1700000000000 || ss[0].Points[1].V != 2.5 {
		t.Errorf("points %v: want NaN left out", ss[0].Points)
	}
	if len(ss[1].Points) != 0 {
		t.Errorf("empty series has points %v", ss[1].Points)
	}
}

func TestDecodeQueryRangeErrors(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"not json", `<html>`, "decode answer"},
		{"error status", `{"status":"error","errorType":"bad_data","error":"parse error at char 3"}`, "bad_data: parse error"},
		{"vector", `{"status":"success","data":{"resultType":"vector","result":[]}}`, `result type "vector"`},
		{"bad value", `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"x"]]}]}}`, `value "x"`},
		{"number value", `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,2]]}]}}`, "not a string"},
		{"bad time", `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[["a","1"]]}]}}`, "bad timestamp"},
		{"short pair", `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1]]}]}}`, "series 0 point 0"},
		{"time order", `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[2,"1"],[1,"1"]]}]}}`, "not increasing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeQueryRange([]byte(tc.body))
			if !errors.Is(err, ErrPrometheus) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want ErrPrometheus mentioning %q", err, tc.want)
			}
		})
	}
}

// fakeProm answers query_range with a ramp (value = Unix seconds / 60)
// for every requested instant, recording the requests.
type fakeProm struct {
	mu    sync.Mutex
	calls []string
	token string
}

func (f *fakeProm) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/api/v1/query_range" {
		http.NotFound(w, r)
		return
	}
	if f.token != "" && r.Header.Get("Authorization") != "Bearer "+f.token {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, "no token")
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	f.mu.Lock()
	f.calls = append(f.calls, r.Form.Get("start")+".."+r.Form.Get("end"))
	f.mu.Unlock()
	if r.Form.Get("query") == "bad(" {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"status":"error","errorType":"bad_data","error":"unexpected end of input"}`)
		return
	}
	start, _ := strconv.ParseFloat(r.Form.Get("start"), 64)
	end, _ := strconv.ParseFloat(r.Form.Get("end"), 64)
	step, _ := strconv.ParseFloat(r.Form.Get("step"), 64)
	var sb strings.Builder
	sb.WriteString(`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"job":"x"},"values":[`)
	for t, first := start, true; t <= end; t += step {
		if !first {
			sb.WriteByte(',')
		}
		first = false
		fmt.Fprintf(&sb, `[%v,"%v"]`, t, t/60)
	}
	sb.WriteString(`]}]}}`)
	fmt.Fprint(w, sb.String())
}

func TestPromClient(t *testing.T) {
	fp := &fakeProm{token: "s3cret"}
	srv := httptest.NewServer(fp)
	defer srv.Close()
	c := &PromClient{URL: srv.URL + "/", BearerToken: "s3cret", MaxPointsPerRequest: 100}
	end := time.Unix(1_700_000_000, 0)
	start := end.Add(-249 * time.Minute)
	ss, err := c.QueryRange(context.Background(), "up", start, end, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 1 || len(ss[0].Points) != 250 {
		t.Fatalf("got %d series, %d points; want 1 series of 250 joined from chunks", len(ss), len(ss[0].Points))
	}
	for i := 1; i < len(ss[0].Points); i++ {
		if ss[0].Points[i].T-ss[0].Points[i-1].T != 60_000 {
			t.Fatalf("points %d and %d are not a minute apart", i-1, i)
		}
	}
	if len(fp.calls) != 3 {
		t.Errorf("%d requests (%v), want 3 chunks of at most 100 points", len(fp.calls), fp.calls)
	}

	t.Run("api error", func(t *testing.T) {
		_, err := c.QueryRange(context.Background(), "bad(", start, end, time.Minute)
		if !errors.Is(err, ErrPrometheus) || !strings.Contains(err.Error(), "unexpected end of input") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("unauthorised", func(t *testing.T) {
		c2 := *c
		c2.BearerToken = ""
		_, err := c2.QueryRange(context.Background(), "up", start, end, time.Minute)
		if !errors.Is(err, ErrPrometheus) || !strings.Contains(err.Error(), "401") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("too large", func(t *testing.T) {
		c2 := *c
		c2.MaxResponseBytes = 100
		if _, err := c2.QueryRange(context.Background(), "up", start, end, time.Minute); !errors.Is(err, ErrPrometheus) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("bad range", func(t *testing.T) {
		if _, err := c.QueryRange(context.Background(), "up", end, start, time.Minute); err == nil {
			t.Fatal("accepted end before start")
		}
		if _, err := c.QueryRange(context.Background(), "up", start, end, 0); err == nil {
			t.Fatal("accepted step 0")
		}
	})
}

func FuzzDecodeQueryRange(f *testing.F) {
	f.Add([]byte(`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"a":"b"},"values":[[1,"1"],[2,"+Inf"]]}]}}`))
	f.Add([]byte(`{"status":"error","errorType":"timeout","error":"query timed out"}`))
	f.Add([]byte(`{"status":"success","data":{"resultType":"matrix","result":[{"values":[[1e300,"1"]]}]}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ss, err := DecodeQueryRange(body)
		if err != nil {
			return
		}
		for _, s := range ss {
			for i := 1; i < len(s.Points); i++ {
				if s.Points[i].T <= s.Points[i-1].T {
					t.Fatal("timestamps not increasing")
				}
			}
		}
	})
}

// FuzzFit checks that any history either fits or fails with an error, and
// that a fitted model's forecasts are finite and ordered.
func FuzzFit(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}, uint16(60))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255}, uint16(1))
	f.Fuzz(func(t *testing.T, vals []byte, stepS uint16) {
		if len(vals) > 4000 {
			return
		}
		step := int64(stepS%3600+1) * 1000
		pts := make([]telemetryPoint, 0, len(vals))
		var tm int64
		for i, b := range vals {
			tm += step * int64(1+int(b)%3*boolInt(i%7 == 0))
			pts = append(pts, telemetryPoint{T: tm, V: float64(int(b) - 128)})
		}
		type res struct {
			m   *Model
			err error
		}
		ch := make(chan res, 1)
		go func() {
			m, err := Fit(context.Background(), pts, DefaultOptions())
			ch <- res{m, err}
		}()
		var m *Model
		select {
		case r := <-ch:
			if r.err != nil {
				return
			}
			m = r.m
		case <-time.After(10 * time.Second):
			t.Fatalf("Fit of %d points, step %d ms, took over 10 s", len(pts), step)
		}
		fc := m.Forecast(10)
		lo, hi := fc.Quantile(0.05), fc.Quantile(0.95)
		for i := range fc.Mean {
			if !finiteF(fc.Mean[i]) || lo[i] > hi[i] {
				t.Fatalf("step %d: mean %v, band %v..%v", i, fc.Mean[i], lo[i], hi[i])
			}
		}
	})
}

type telemetryPoint = telemetry.Point

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func finiteF(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
