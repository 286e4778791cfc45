package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigilops/vigil/detect"
	"github.com/vigilops/vigil/forecast"
	"github.com/vigilops/vigil/internal/chart"
	"github.com/vigilops/vigil/telemetry"
)

func init() { extraCommands = append(extraCommands, newMetricsCmd) }

// maxDetectSeries bounds how many series one Prometheus query may bring
// to `vigil metrics detect`; each costs a detector and its points.
const maxDetectSeries = 50

// bandSkip is how many first points of a series draw no band: the
// detector has no scale yet, so its band is only the value itself.
const bandSkip = 30

// newMetricsCmd returns `vigil metrics`.
func newMetricsCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "metrics",
		Short: "Work with metric series",
		Args:  args(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			return usageError{fmt.Errorf("%s: name a subcommand (see %s --help)", c.CommandPath(), c.CommandPath())}
		},
	}
	c.AddCommand(newMetricsDetectCmd())
	return c
}

type metricsDetectFlags struct {
	prom, query, token  string
	rng, step           string
	png                 string
	pngWidth, pngHeight int
	width               int
	forDur              time.Duration
	threshold           float64
	asJSON              bool
	timeout             time.Duration
}

// newMetricsDetectCmd returns `vigil metrics detect`.
func newMetricsDetectCmd() *cobra.Command {
	var f metricsDetectFlags
	def := detect.DefaultSeriesOptions()
	c := &cobra.Command{
		Use:   "detect [FILE.csv] [--prometheus URL --query Q] [--range 14d]",
		Short: "Find anomalies in metric series with the streaming detector",
		Long: `Run the streaming metric detector (the one vigil serve runs) over each
series, point by point in time order, as if it were arriving live: every
point is judged only from the points before it.

Series come from a CSV file (timestamp,value per line, as in the NAB
corpus; timestamps "2006-01-02 15:04:05" UTC, RFC 3339 or Unix seconds) or
from Prometheus: --prometheus URL --query Q reads the last --range of Q at
--step through /api/v1/query_range, and judges each series it returns.

For each series the terminal shows the values (●), the band the detector
expected (░) and the anomalies (^ under the plot), then one line per
anomaly: its time window, kind (spike, level_shift, variance_change),
score and explanation. An anomaly is raised once a series has stayed
outside its usual band for --for. --png FILE also writes a chart (one
file per series, numbered, when there are several). --json prints
{"series":[{"labels","points":[{"t","v","expected","lower","upper",
"score"}],"anomalies":[{"start","end","kind","score","confidence",
"explanation"}],"warnings":[...]}]}.

Durations take Prometheus units (30s, 15m, 1h, 14d, 2w).`,
		Args: args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			return runMetricsDetect(cmd, a, f)
		},
	}
	fl := c.Flags()
	fl.StringVar(&f.prom, "prometheus", "", "Prometheus base URL, e.g. http://localhost:9090")
	fl.StringVar(&f.query, "query", "", "PromQL expression whose series to judge")
	fl.StringVar(&f.token, "bearer-token-file", "", "file holding a bearer token for Prometheus")
	fl.StringVar(&f.rng, "range", "14d", "how much Prometheus history to read")
	fl.StringVar(&f.step, "step", "1m", "Prometheus query resolution")
	fl.StringVar(&f.png, "png", "", "also write a PNG chart to this file")
	fl.IntVar(&f.pngWidth, "png-width", 1000, "PNG width in pixels")
	fl.IntVar(&f.pngHeight, "png-height", 400, "PNG height in pixels")
	fl.IntVar(&f.width, "width", 80, "terminal chart width in characters")
	fl.DurationVar(&f.forDur, "for", def.For, "how long a series must stay anomalous before an anomaly is raised")
	fl.Float64Var(&f.threshold, "threshold", def.Threshold, "likelihood in [0,1] at or above which a point counts as anomalous")
	fl.BoolVar(&f.asJSON, "json", false, "print JSON instead of charts")
	fl.DurationVar(&f.timeout, "timeout", 2*time.Minute, "give up on Prometheus after this long")
	return c
}

// detectInput is one series to judge.
type detectInput struct {
	name            string // shown in titles and JSON labels
	service, metric string // for the detector's explanations
	points          []telemetry.Point
}

func runMetricsDetect(cmd *cobra.Command, a []string, f metricsDetectFlags) error {
	usage := func(err error) error {
		return usageError{fmt.Errorf("%s: %w (see %s --help)", cmd.CommandPath(), err, cmd.CommandPath())}
	}
	fromFile := len(a) == 1
	switch {
	case fromFile && (f.prom != "" || f.query != ""):
		return usage(fmt.Errorf("give a CSV file or --prometheus with --query, not both"))
	case !fromFile && (f.prom == "" || f.query == ""):
		return usage(fmt.Errorf("give a CSV file, or --prometheus URL and --query Q"))
	case f.forDur < 0:
		return usage(fmt.Errorf("--for %v must not be negative", f.forDur))
	case !(f.threshold >= 0 && f.threshold <= 1):
		return usage(fmt.Errorf("--threshold %v is outside [0,1]", f.threshold))
	case f.png != "" && (f.pngWidth < chart.MinPNGSize || f.pngWidth > chart.MaxPNGSize ||
		f.pngHeight < chart.MinPNGSize || f.pngHeight > chart.MaxPNGSize):
		return usage(fmt.Errorf("--png-width and --png-height must be %d..%d", chart.MinPNGSize, chart.MaxPNGSize))
	}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	var ins []detectInput
	if fromFile {
		in, err := readDetectCSV(a[0])
		if err != nil {
			return err
		}
		ins = append(ins, in)
	} else {
		rng, err := parseDur("range", f.rng)
		if err != nil {
			return usage(err)
		}
		step, err := parseDur("step", f.step)
		if err != nil {
			return usage(err)
		}
		if rng/step > 1_000_000 {
			return usage(fmt.Errorf("--range %s at --step %s is over a million points", f.rng, f.step))
		}
		if ins, err = queryDetectSeries(ctx, f, rng, step); err != nil {
			return err
		}
	}

	results := make([]detectResult, 0, len(ins))
	for i, in := range ins {
		o := detect.DefaultSeriesOptions()
		o.Service, o.Metric = in.service, in.metric
		o.For, o.Threshold = f.forDur, f.threshold
		r := runSeriesDetector(in, o)
		results = append(results, r)
		if f.png != "" {
			path := f.png
			if len(ins) > 1 {
				path = numbered(f.png, i)
			}
			if err := writeDetectPNG(path, r, f.pngWidth, f.pngHeight); err != nil {
				return fmt.Errorf("metrics detect: %w", err)
			}
		}
	}
	out := cmd.OutOrStdout()
	if f.asJSON {
		return writeDetectJSON(out, results)
	}
	for _, r := range results {
		if err := writeDetectText(out, r, f.width); err != nil {
			return fmt.Errorf("metrics detect: %w", err)
		}
	}
	return nil
}

// readDetectCSV reads one NAB-style series; the metric is named after the
// file.
func readDetectCSV(path string) (detectInput, error) {
	fh, err := os.Open(path)
	if err != nil {
		return detectInput{}, fmt.Errorf("metrics detect: %w", err)
	}
	defer fh.Close()
	pts, err := forecast.ReadCSV(fh, 0)
	if err != nil {
		return detectInput{}, fmt.Errorf("metrics detect: read %s: %w", path, err)
	}
	base := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	return detectInput{name: path, metric: base, points: pts}, nil
}

// queryDetectSeries reads the query's series from Prometheus.
func queryDetectSeries(ctx context.Context, f metricsDetectFlags, rng, step time.Duration) ([]detectInput, error) {
	pc := &forecast.PromClient{URL: f.prom}
	if f.token != "" {
		b, err := os.ReadFile(f.token)
		if err != nil {
			return nil, fmt.Errorf("metrics detect: bearer token: %w", err)
		}
		pc.BearerToken = strings.TrimSpace(string(b))
	}
	qctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	// Evaluation ends at the command's own now: this is the edge of the
	// program, where reading the clock belongs.
	end := time.Now().UTC().Truncate(step)
	ss, err := pc.QueryRange(qctx, f.query, end.Add(-rng), end, step)
	if err != nil {
		return nil, fmt.Errorf("metrics detect: %s: %w", f.prom, err)
	}
	if len(ss) == 0 {
		return nil, fmt.Errorf("metrics detect: query %q returned no series", f.query)
	}
	if len(ss) > maxDetectSeries {
		return nil, fmt.Errorf("metrics detect: query %q returned %d series, at most %d: aggregate it (sum by ...) or add label matchers", f.query, len(ss), maxDetectSeries)
	}
	ins := make([]detectInput, 0, len(ss))
	for _, s := range ss {
		if len(s.Points) == 0 {
			continue
		}
		svc := s.Labels.Get("service")
		if svc == "" {
			svc = s.Labels.Get("job")
		}
		metric := s.MetricName()
		if metric == "" {
			metric = f.query
		}
		name := s.Labels.String()
		if len(s.Labels) == 0 {
			name = f.query
		}
		ins = append(ins, detectInput{name: name, service: svc, metric: metric, points: s.Points})
	}
	if len(ins) == 0 {
		return nil, fmt.Errorf("metrics detect: query %q returned series without points", f.query)
	}
	return ins, nil
}

// detectResult is one series judged: its points with the detector's
// judgement, and what it raised.
type detectResult struct {
	name      string
	points    []detectPoint
	anomalies []detect.Anomaly
	warnings  []string
}

type detectPoint struct {
	t                      time.Time
	v                      float64
	score                  float64
	expected, lower, upper float64
	judged                 bool // false for points the detector skipped
}

// runSeriesDetector feeds the series to a fresh detector in time order.
func runSeriesDetector(in detectInput, o detect.SeriesOptions) detectResult {
	d := detect.NewSeriesDetector(o)
	r := detectResult{name: in.name, points: make([]detectPoint, 0, len(in.points))}
	var last detect.SeriesScore
	for _, p := range in.points {
		t := time.UnixMilli(p.T).UTC()
		s := d.Observe(t, p.V)
		dp := detectPoint{t: t, v: p.V, score: s.Score, expected: s.Expected, lower: s.Lower, upper: s.Upper,
			judged: s.History > 0 || len(r.points) == 0}
		if !dp.judged {
			// A skipped point (NaN from Prometheus) has no band.
			dp.expected, dp.lower, dp.upper = math.NaN(), math.NaN(), math.NaN()
		}
		r.points = append(r.points, dp)
		if s.Anomaly != nil {
			r.anomalies = append(r.anomalies, *s.Anomaly)
		}
		last = s
	}
	if last.ShortHistory && last.Warning != "" {
		r.warnings = append(r.warnings, last.Warning)
	}
	// The detector pages only after a warm-up of a few hours' points;
	// say so rather than let an empty list read as "all normal".
	if len(in.points) < 4*bandSkip {
		r.warnings = append(r.warnings, fmt.Sprintf("only %d points: the detector needs about %d before it raises anomalies", len(in.points), 4*bandSkip))
	}
	if last.Drift {
		r.warnings = append(r.warnings, "at the end of the series the model no longer fits the recent data and is adapting")
	}
	return r
}

// kindOf is an anomaly's kind label (spike, level_shift, variance_change).
func kindOf(a detect.Anomaly) string {
	if k := a.Labels.Get("kind"); k != "" {
		return k
	}
	return string(a.Type)
}

// chartOf draws the values, the expected band after the warm-up and a mark
// at the start of each anomaly.
func (r detectResult) chartOf() chart.Chart {
	vals := make([]chart.Point, len(r.points))
	var bt []time.Time
	var lo, hi []float64
	for i, p := range r.points {
		vals[i] = chart.Point{T: p.t, V: p.v}
		if i >= bandSkip && p.judged {
			bt = append(bt, p.t)
			lo = append(lo, p.lower)
			hi = append(hi, p.upper)
		}
	}
	c := chart.Chart{
		Title: fmt.Sprintf("%s: %d points, %d anomalies", r.name, len(r.points), len(r.anomalies)),
		Lines: []chart.Line{{Name: "value", Points: vals}},
		Bands: []chart.Band{{Name: "expected", Times: bt, Lo: lo, Hi: hi}},
	}
	for _, a := range r.anomalies {
		c.Marks = append(c.Marks, a.Start)
	}
	return c
}

func writeDetectPNG(path string, r detectResult, w, h int) error {
	fh, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("png: %w", err)
	}
	if err := chart.PNG(fh, r.chartOf(), w, h); err != nil {
		fh.Close()
		return fmt.Errorf("png %s: %w", path, err)
	}
	if err := fh.Close(); err != nil {
		return fmt.Errorf("png %s: %w", path, err)
	}
	return nil
}

const detectTimeLayout = "2006-01-02 15:04:05"

func writeDetectText(w io.Writer, r detectResult, width int) error {
	if err := chart.Text(w, r.chartOf(), width, 12); err != nil {
		return err
	}
	for _, warn := range r.warnings {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
	if len(r.anomalies) == 0 {
		fmt.Fprintln(w, "no anomalies")
	}
	for _, a := range r.anomalies {
		fmt.Fprintf(w, "%s – %s  %-15s score %.2f  %s\n", a.Start.Format(detectTimeLayout), a.End.Format(detectTimeLayout),
			kindOf(a), a.Score, a.Explanation)
	}
	_, err := fmt.Fprintln(w)
	return err
}

type detectJSONPoint struct {
	T        time.Time `json:"t"`
	V        jsonFloat `json:"v"`
	Expected jsonFloat `json:"expected"`
	Lower    jsonFloat `json:"lower"`
	Upper    jsonFloat `json:"upper"`
	Score    jsonFloat `json:"score"`
}

type detectJSONAnomaly struct {
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
	Kind        string    `json:"kind"`
	Score       jsonFloat `json:"score"`
	Confidence  jsonFloat `json:"confidence"`
	Explanation string    `json:"explanation"`
}

type detectJSONSeries struct {
	Labels    string              `json:"labels"`
	Points    []detectJSONPoint   `json:"points"`
	Anomalies []detectJSONAnomaly `json:"anomalies"`
	Warnings  []string            `json:"warnings"`
}

func writeDetectJSON(w io.Writer, rs []detectResult) error {
	out := struct {
		Series []detectJSONSeries `json:"series"`
	}{Series: make([]detectJSONSeries, 0, len(rs))}
	for _, r := range rs {
		s := detectJSONSeries{Labels: r.name, Points: make([]detectJSONPoint, 0, len(r.points)),
			Anomalies: make([]detectJSONAnomaly, 0, len(r.anomalies)), Warnings: r.warnings}
		if s.Warnings == nil {
			s.Warnings = []string{}
		}
		for _, p := range r.points {
			s.Points = append(s.Points, detectJSONPoint{T: p.t, V: jsonFloat(p.v), Expected: jsonFloat(p.expected),
				Lower: jsonFloat(p.lower), Upper: jsonFloat(p.upper), Score: jsonFloat(p.score)})
		}
		for _, a := range r.anomalies {
			s.Anomalies = append(s.Anomalies, detectJSONAnomaly{Start: a.Start, End: a.End, Kind: kindOf(a),
				Score: jsonFloat(a.Score), Confidence: jsonFloat(a.Confidence), Explanation: a.Explanation})
		}
		out.Series = append(out.Series, s)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
