package main

import (
	"context"
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

	"github.com/vigilops/vigil/forecast"
	"github.com/vigilops/vigil/internal/chart"
)

// writeSeriesCSV writes days of a daily sine at step in NAB's layout.
func writeSeriesCSV(t *testing.T, path string, days int, step time.Duration) {
	t.Helper()
	var sb strings.Builder
	sb.WriteString("timestamp,value\n")
	t0 := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	n := int(time.Duration(days) * 24 * time.Hour / step)
	for i := 0; i < n; i++ {
		tm := t0.Add(time.Duration(i) * step)
		v := 100 + 30*math.Sin(2*math.Pi*float64(tm.Hour()*60+tm.Minute())/1440) + float64(i%7)
		fmt.Fprintf(&sb, "%s,%.3f\n", tm.Format("2006-01-02 15:04:05"), v)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestForecastCSV(t *testing.T) {
	dir := t.TempDir()
	csv := filepath.Join(dir, "cpu.csv")
	writeSeriesCSV(t, csv, 9, 5*time.Minute)
	pngPath := filepath.Join(dir, "cpu.png")
	out, stderr, err := runVigil(t, "", "forecast", csv, "--horizon", "1h", "--png", pngPath)
	if err != nil {
		t.Fatalf("%v (stderr %q)", err, stderr)
	}
	for _, want := range []string{"step 5m0s", "● history", "░ q0.1-q0.9",
		"warning: weekly seasonality needs 14 days of history, have 9d: using daily only",
		"backtest: MAE", "(last-value baseline MAE ", "q0.5", "2026-01-14 00:55:00"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	f, err := os.Open(pngPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("--png wrote no PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1000 || b.Dy() != 400 {
		t.Errorf("PNG is %v, want 1000x400", b)
	}
}

type forecastJSONOut struct {
	Series []struct {
		Labels   string   `json:"labels"`
		Model    string   `json:"model"`
		Step     string   `json:"step"`
		Warnings []string `json:"warnings"`
		Points   []struct {
			T    time.Time          `json:"t"`
			Mean float64            `json:"mean"`
			Q    map[string]float64 `json:"q"`
		} `json:"points"`
	} `json:"series"`
}

func TestForecastCSVJSON(t *testing.T) {
	csv := filepath.Join(t.TempDir(), "cpu.csv")
	writeSeriesCSV(t, csv, 3, time.Minute)
	out, stderr, err := runVigil(t, "", "forecast", csv, "--horizon", "15m", "--quantiles", "0.05,0.95", "--json")
	if err != nil {
		t.Fatalf("%v (stderr %q)", err, stderr)
	}
	var rep forecastJSONOut
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	if len(rep.Series) != 1 || len(rep.Series[0].Points) != 15 || rep.Series[0].Step != "1m0s" {
		t.Fatalf("want one series of 15 one-minute points: %s", out)
	}
	for _, p := range rep.Series[0].Points {
		if p.Q["0.05"] > p.Q["0.95"] || math.IsNaN(p.Mean) {
			t.Errorf("point %v: band %v..%v around %v", p.T, p.Q["0.05"], p.Q["0.95"], p.Mean)
		}
	}
}

func TestForecastPrometheus(t *testing.T) {
	var queries []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.URL.Path != "/api/v1/query_range" {
			http.Error(w, "bad", 400)
			return
		}
		queries = append(queries, r.Form.Get("query"))
		start, _ := strconv.ParseFloat(r.Form.Get("start"), 64)
		end, _ := strconv.ParseFloat(r.Form.Get("end"), 64)
		step, _ := strconv.ParseFloat(r.Form.Get("step"), 64)
		var sb strings.Builder
		sb.WriteString(`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"job":"api"},"values":[`)
		for ts := start; ts <= end; ts += step {
			if ts > start {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, `[%v,"%v"]`, ts, 50+10*math.Sin(ts/3600))
		}
		sb.WriteString(`]}]}}`)
		w.Write([]byte(sb.String()))
	}))
	defer srv.Close()
	out, stderr, err := runVigil(t, "", "forecast", "--prometheus", srv.URL, "--query", "sum(rate(http_requests_total[5m]))",
		"--range", "2d", "--step", "5m", "--horizon", "30m", "--json")
	if err != nil {
		t.Fatalf("%v (stderr %q)", err, stderr)
	}
	var rep forecastJSONOut
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	if len(rep.Series) != 1 || rep.Series[0].Labels != `{job="api"}` || len(rep.Series[0].Points) != 6 {
		t.Fatalf("want the api series with 6 five-minute points: %s", out)
	}
	if len(queries) == 0 || queries[0] != "sum(rate(http_requests_total[5m]))" {
		t.Errorf("queries sent: %q", queries)
	}
}

func TestForecastUsage(t *testing.T) {
	csv := filepath.Join(t.TempDir(), "cpu.csv")
	writeSeriesCSV(t, csv, 2, 5*time.Minute)
	tests := []usageCase{
		{"nothing", []string{"forecast"}, "give a CSV file, or --prometheus URL and --query Q"},
		{"both", []string{"forecast", csv, "--prometheus", "http://x", "--query", "up"}, "not both"},
		{"url without query", []string{"forecast", "--prometheus", "http://x"}, "--query"},
		{"bad horizon", []string{"forecast", csv, "--horizon", "soon"}, `--horizon "soon"`},
		{"bad quantile", []string{"forecast", csv, "--quantiles", "0.5,1.5"}, `"1.5" is not a probability`},
		{"bad png size", []string{"forecast", csv, "--png", "x.png", "--png-width", "99999"}, "--png-width"},
		{"bad range", []string{"forecast", "--prometheus", "http://x", "--query", "up", "--range", "-1d"}, "--range"},
		{"two files", []string{"forecast", csv, csv}, "accepts at most 1 arg"},
	}
	checkUsageErrors(t, tests)
}

func TestForecastBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("timestamp,value\n2026-01-01 00:00:00,abc\n"), 0o644)
	short := filepath.Join(dir, "short.csv")
	os.WriteFile(short, []byte("2026-01-01 00:00:00,1\n2026-01-01 00:01:00,2\n"), 0o644)
	tests := []struct{ name, path, want string }{
		{"missing", filepath.Join(dir, "none.csv"), "no such file"},
		{"bad value", bad, `line 2: value "abc"`},
		{"short", short, "history too short"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runVigil(t, "", "forecast", tc.path)
			if err == nil || !strings.Contains(err.Error(), tc.want) || exitCode(err) != exitError {
				t.Fatalf("err %v (exit %d), want an error mentioning %q", err, exitCode(err), tc.want)
			}
		})
	}
}

// TestForecastBacktestLine checks that the number in parentheses is the
// last-value baseline's MAE, not a value of the series.
func TestForecastBacktestLine(t *testing.T) {
	csv := filepath.Join(t.TempDir(), "cpu.csv")
	writeSeriesCSV(t, csv, 9, 5*time.Minute)
	out, stderr, err := runVigil(t, "", "forecast", csv, "--horizon", "1h")
	if err != nil {
		t.Fatalf("%v (stderr %q)", err, stderr)
	}
	fh, err := os.Open(csv)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	pts, err := forecast.ReadCSVWith(fh, forecast.DefaultCSVOptions())
	if err != nil {
		t.Fatal(err)
	}
	o := forecast.DefaultOptions()
	o.Horizon = time.Hour
	m, err := forecast.Fit(context.Background(), pts, o)
	if err != nil {
		t.Fatal(err)
	}
	sc := m.Score()
	want := fmt.Sprintf("backtest: MAE %s at %d steps ahead over %d forecasts (last-value baseline MAE %s),",
		chart.FormatValue(sc.MAE), sc.Horizon, sc.Points, chart.FormatValue(sc.NaiveMAE))
	if !strings.Contains(out, want) {
		t.Errorf("output lacks %q:\n%s", want, out)
	}
	if strings.Contains(out, "(last value:") {
		t.Errorf("output labels the baseline's MAE as the last value:\n%s", out)
	}
}
