package main

import (
	"encoding/json"
	"fmt"
	"image/png"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// detectJSONOut mirrors the --json output of `vigil metrics detect`.
type detectJSONOut struct {
	Series []struct {
		Labels string `json:"labels"`
		Points []struct {
			T        time.Time `json:"t"`
			V        *float64  `json:"v"`
			Expected *float64  `json:"expected"`
			Lower    *float64  `json:"lower"`
			Upper    *float64  `json:"upper"`
			Score    *float64  `json:"score"`
		} `json:"points"`
		Anomalies []struct {
			Start       time.Time `json:"start"`
			End         time.Time `json:"end"`
			Kind        string    `json:"kind"`
			Score       float64   `json:"score"`
			Confidence  float64   `json:"confidence"`
			Explanation string    `json:"explanation"`
		} `json:"anomalies"`
		Warnings []string `json:"warnings"`
	} `json:"series"`
}

// shiftStart and shiftEnd bound the two hours testdata/metrics/shift.csv
// sits 40 above its daily sine (noise sd 1).
var (
	shiftStart = time.Date(2026, 1, 7, 12, 0, 0, 0, time.UTC)
	shiftEnd   = time.Date(2026, 1, 7, 14, 0, 0, 0, time.UTC)
)

func TestMetricsDetectCSV(t *testing.T) {
	pngPath := filepath.Join(t.TempDir(), "shift.png")
	out, stderr, err := runVigil(t, "", "metrics", "detect", "testdata/metrics/shift.csv", "--png", pngPath)
	if err != nil {
		t.Fatalf("%v (stderr %q)", err, stderr)
	}
	for _, want := range []string{"testdata/metrics/shift.csv: 864 points", "● value", "░ expected", "^",
		"2026-01-07 12:", "warning: history is shorter than the two weeks"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "no anomalies") {
		t.Errorf("the two-hour shift went unreported:\n%s", out)
	}
	f, err := os.Open(pngPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("png: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1000 || b.Dy() != 400 {
		t.Errorf("png is %v, want 1000x400", b)
	}
}

func TestMetricsDetectCSVJSON(t *testing.T) {
	out, stderr, err := runVigil(t, "", "metrics", "detect", "testdata/metrics/shift.csv", "--json")
	if err != nil {
		t.Fatalf("%v (stderr %q)", err, stderr)
	}
	var rep detectJSONOut
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	if len(rep.Series) != 1 {
		t.Fatalf("want one series, got %d", len(rep.Series))
	}
	s := rep.Series[0]
	if s.Labels != "testdata/metrics/shift.csv" || len(s.Points) != 864 {
		t.Fatalf("series %q with %d points, want the file's 864", s.Labels, len(s.Points))
	}
	if len(s.Warnings) == 0 {
		t.Error("want the short-history warning")
	}
	// Every anomaly must lie in the shift: the rest of the file is a clean
	// sine, and the shift must be found.
	found := false
	for _, a := range s.Anomalies {
		if a.Start.Before(shiftStart) || a.Start.After(shiftEnd) {
			t.Errorf("false anomaly %v–%v: %s", a.Start, a.End, a.Explanation)
			continue
		}
		found = true
		if a.Kind == "" || a.Score <= 0 || a.Score > 1 || a.Explanation == "" || a.End.Before(a.Start) {
			t.Errorf("incomplete anomaly %+v", a)
		}
	}
	if !found {
		t.Errorf("the shift at %v was not reported: %+v", shiftStart, s.Anomalies)
	}
	// In the clean third morning the band holds the value and is ordered.
	checked := 0
	for _, p := range s.Points {
		if !p.T.Before(shiftStart) || p.T.Before(shiftStart.Add(-6*time.Hour)) {
			continue
		}
		if p.V == nil || p.Expected == nil || p.Lower == nil || p.Upper == nil || p.Score == nil {
			t.Fatalf("point at %v has nulls", p.T)
		}
		if *p.Lower > *p.Expected || *p.Expected > *p.Upper {
			t.Errorf("band at %v not ordered: %v %v %v", p.T, *p.Lower, *p.Expected, *p.Upper)
		}
		checked++
	}
	if checked != 72 {
		t.Errorf("checked %d points of the third morning, want 72", checked)
	}
}

// promServer answers query_range with one series per entry of labels,
// each a daily sine at the requested step with a jump in the last hours.
func promServer(t *testing.T, labels []string, queries *[]string) *httptest.Server {
	t.Helper()
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.URL.Path != "/api/v1/query_range" {
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		*queries = append(*queries, r.Form.Get("query"))
		start, _ := strconv.ParseFloat(r.Form.Get("start"), 64)
		end, _ := strconv.ParseFloat(r.Form.Get("end"), 64)
		step, _ := strconv.ParseFloat(r.Form.Get("step"), 64)
		var sb strings.Builder
		sb.WriteString(`{"status":"success","data":{"resultType":"matrix","result":[`)
		for k, l := range labels {
			if k > 0 {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, `{"metric":%s,"values":[`, l)
			for ts := start; ts <= end; ts += step {
				if ts > start {
					sb.WriteByte(',')
				}
				v := 50 + 10*math.Sin(2*math.Pi*ts/86400) + math.Sin(ts*7.3)
				if ts > end-3*3600 {
					v += 60
				}
				fmt.Fprintf(&sb, `[%v,"%v"]`, ts, v)
			}
			sb.WriteString(`]}`)
		}
		sb.WriteString(`]}}`)
		w.Write([]byte(sb.String()))
	}))
}

func TestMetricsDetectPrometheus(t *testing.T) {
	var queries []string
	srv := promServer(t, []string{`{"job":"api","service":"checkout"}`, `{"job":"web"}`}, &queries)
	defer srv.Close()
	out, stderr, err := runVigil(t, "", "metrics", "detect", "--prometheus", srv.URL,
		"--query", "sum by (job) (rate(http_requests_total[5m]))", "--range", "2d", "--step", "5m", "--json")
	if err != nil {
		t.Fatalf("%v (stderr %q)", err, stderr)
	}
	var rep detectJSONOut
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	if len(rep.Series) != 2 || rep.Series[0].Labels != `{job="api", service="checkout"}` || rep.Series[1].Labels != `{job="web"}` {
		t.Fatalf("want the api and web series: %s", out[:min(len(out), 500)])
	}
	for _, s := range rep.Series {
		if n := len(s.Points); n < 570 || n > 580 {
			t.Errorf("%s: %d points, want two days at 5m", s.Labels, n)
		}
		if len(s.Anomalies) == 0 {
			t.Errorf("%s: the jump in the last three hours was not found", s.Labels)
		}
		for _, a := range s.Anomalies {
			last := s.Points[len(s.Points)-1].T
			if a.Start.Before(last.Add(-3 * time.Hour)) {
				t.Errorf("%s: false anomaly at %v: %s", s.Labels, a.Start, a.Explanation)
			}
		}
	}
	if len(queries) == 0 || queries[0] != "sum by (job) (rate(http_requests_total[5m]))" {
		t.Errorf("queries sent: %q", queries)
	}
	// The terminal form charts each series.
	out, stderr, err = runVigil(t, "", "metrics", "detect", "--prometheus", srv.URL, "--query", "q", "--range", "2d", "--step", "5m")
	if err != nil {
		t.Fatalf("%v (stderr %q)", err, stderr)
	}
	if strings.Count(out, "● value") != 2 || !strings.Contains(out, `{job="web"}: `) {
		t.Errorf("want two charts:\n%s", out)
	}
}

func TestMetricsDetectPrometheusErrors(t *testing.T) {
	var queries []string
	empty := promServer(t, nil, &queries)
	defer empty.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"status":"error","errorType":"bad_data","error":"parse error at char 4"}`))
	}))
	defer failing.Close()
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()
	tests := []struct{ name, url, want string }{
		{"empty", empty.URL, `query "up" returned no series`},
		{"query error", failing.URL, "parse error at char 4"},
		{"unreachable", downURL, downURL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runVigil(t, "", "metrics", "detect", "--prometheus", tc.url, "--query", "up",
				"--range", "1h", "--step", "1m", "--timeout", "5s")
			if err == nil || !strings.Contains(err.Error(), tc.want) || exitCode(err) != exitError {
				t.Fatalf("err %v (exit %d), want an error mentioning %q", err, exitCode(err), tc.want)
			}
		})
	}
}

func TestMetricsDetectUsage(t *testing.T) {
	csv := "testdata/metrics/shift.csv"
	tests := []usageCase{
		{"unknown subcommand", []string{"metrics", "detectt"}, `unknown command "detectt"; did you mean detect?`},
		{"nothing", []string{"metrics", "detect"}, "give a CSV file, or --prometheus URL and --query Q"},
		{"both", []string{"metrics", "detect", csv, "--prometheus", "http://x", "--query", "up"}, "not both"},
		{"url without query", []string{"metrics", "detect", "--prometheus", "http://x"}, "--query"},
		{"bad range", []string{"metrics", "detect", "--prometheus", "http://x", "--query", "up", "--range", "soon"}, `--range "soon"`},
		{"bad step", []string{"metrics", "detect", "--prometheus", "http://x", "--query", "up", "--step", "0s"}, "--step"},
		{"too many points", []string{"metrics", "detect", "--prometheus", "http://x", "--query", "up", "--range", "100w", "--step", "1s"}, "over a million points"},
		{"bad threshold", []string{"metrics", "detect", csv, "--threshold", "1.5"}, "--threshold"},
		{"negative for", []string{"metrics", "detect", csv, "--for", "-1m"}, "--for"},
		{"bad png size", []string{"metrics", "detect", csv, "--png", "x.png", "--png-width", "99999"}, "--png-width"},
		{"two files", []string{"metrics", "detect", csv, csv}, "accepts at most 1 arg"},
	}
	checkUsageErrors(t, tests)
}

func TestMetricsDetectBadInput(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.csv")
	os.WriteFile(empty, []byte("timestamp,value\n"), 0o644)
	tests := []struct{ name, path, want string }{
		{"missing", filepath.Join(dir, "none.csv"), "no such file"},
		{"bad value", "testdata/metrics/badvalue.csv", `line 4: value "n/a"`},
		{"empty", empty, "no data rows"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runVigil(t, "", "metrics", "detect", tc.path)
			if err == nil || !strings.Contains(err.Error(), tc.want) || exitCode(err) != exitError {
				t.Fatalf("err %v (exit %d), want an error mentioning %q", err, exitCode(err), tc.want)
			}
		})
	}
}

func TestMetricsDetectShortSeries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "short.csv")
	os.WriteFile(path, []byte("2026-01-05 00:00:00,1\n2026-01-05 00:01:00,2\n2026-01-05 00:02:00,100\n"), 0o644)
	out, stderr, err := runVigil(t, "", "metrics", "detect", path)
	if err != nil {
		t.Fatalf("%v (stderr %q)", err, stderr)
	}
	if !strings.Contains(out, "warning: only 3 points") || !strings.Contains(out, "no anomalies") {
		t.Errorf("want the short-series warning and no anomalies:\n%s", out)
	}
}
