package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigilops/vigil/detect"
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
	// No RunE: newRootCmd's markGroups gives every group the same bare
	// call (help) and unknown-subcommand error.
	c := &cobra.Command{
		Use:   "metrics",
		Short: "Work with metric series",
	}
	c.AddCommand(newMetricsDetectCmd())
	return c
}

type metricsDetectFlags struct {
	seriesFlags
	forDur    time.Duration
	threshold float64
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
corpus; timestamps "2006-01-02 15:04:05" UTC, RFC 3339 or Unix seconds;
rows in time order, one per timestamp, all with the header's number of
fields; a header naming "timestamp" and "value" picks those columns) or
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
	f.add(fl, "whose series to judge")
	fl.DurationVar(&f.forDur, "for", def.For, "how long a series must stay anomalous before an anomaly is raised")
	fl.Float64Var(&f.threshold, "threshold", def.Threshold, "likelihood in [0,1] at or above which a point counts as anomalous")
	fl.BoolVar(&f.asJSON, "json", false, "print JSON instead of charts")
	return c
}

func runMetricsDetect(cmd *cobra.Command, a []string, f metricsDetectFlags) error {
	usage := func(err error) error {
		return usageError{fmt.Errorf("%s: %w (see %s --help)", cmd.CommandPath(), err, cmd.CommandPath())}
	}
	if err := f.check(a); err != nil {
		return usage(err)
	}
	switch {
	case f.forDur < 0:
		return usage(fmt.Errorf("--for %v must not be negative", f.forDur))
	case !(f.threshold >= 0 && f.threshold <= 1):
		return usage(fmt.Errorf("--threshold %v is outside [0,1]", f.threshold))
	}
	ins, err := f.load(cmdContext(cmd), cmd, "metrics detect", a, maxDetectSeries)
	if err != nil {
		return err
	}
	ins = slices.DeleteFunc(ins, func(in inputSeries) bool { return len(in.points) == 0 })
	if len(ins) == 0 {
		return fmt.Errorf("metrics detect: query %q returned series without points", f.query)
	}

	results := make([]detectResult, 0, len(ins))
	for i, in := range ins {
		o := detect.DefaultSeriesOptions()
		o.Service, o.Metric = seriesIdentity(in, f.query)
		o.For, o.Threshold = f.forDur, f.threshold
		r := runSeriesDetector(in, o)
		results = append(results, r)
		if f.png != "" {
			if err := writePNG(f.pngPath(i, len(ins)), r.chartOf(), f.pngWidth, f.pngHeight); err != nil {
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

// seriesIdentity names the service and metric a series is about, for the
// detector's explanations: its service (or job) and metric name labels, the
// query when it has no name, or the file's name for a CSV file.
func seriesIdentity(in inputSeries, query string) (service, metric string) {
	if len(in.labels) == 0 && query == "" {
		return "", strings.TrimSuffix(filepath.Base(in.name), filepath.Ext(in.name))
	}
	service = in.labels.Get("service")
	if service == "" {
		service = in.labels.Get("job")
	}
	metric = in.labels.Get(telemetry.MetricNameLabel)
	if metric == "" {
		metric = query
	}
	return service, metric
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
func runSeriesDetector(in inputSeries, o detect.SeriesOptions) detectResult {
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
