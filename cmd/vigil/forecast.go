package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/spf13/cobra"

	"github.com/vigilops/vigil/forecast"
	"github.com/vigilops/vigil/internal/chart"
	"github.com/vigilops/vigil/telemetry"
)

func init() { extraCommands = append(extraCommands, newForecastCmd) }

// maxForecastSeries bounds how many series one Prometheus query may
// forecast at once.
const maxForecastSeries = 20

type forecastFlags struct {
	seriesFlags
	horizon, quantiles string
}

// newForecastCmd returns `vigil forecast`.
func newForecastCmd() *cobra.Command {
	var f forecastFlags
	c := &cobra.Command{
		Use:   "forecast [FILE.csv] [--prometheus URL --query Q] [--horizon 15m]",
		Short: "Forecast a metric with prediction bands",
		Long: `Fit the forecasting models to a series' history, choose one by a
rolling-origin backtest and forecast --horizon ahead with a prediction band.

History comes from a CSV file (timestamp,value per line, as in the NAB
corpus; timestamps "2006-01-02 15:04:05" UTC, RFC 3339 or Unix seconds;
rows in time order, one per timestamp, all with the header's number of
fields; a header naming "timestamp" and "value" picks those columns) or
from Prometheus: --prometheus URL --query Q reads the last --range of Q at
--step through /api/v1/query_range, and forecasts each series it returns.

The terminal shows the end of the history (●), the forecast (•) and the
band between the first and last --quantiles (░). --png FILE also writes a
chart. --json prints {"series":[{"labels","model","step","end","warnings",
"points":[{"t","mean","q":{"0.1":..}}]}]}.

Durations take Prometheus units (30s, 15m, 1h, 14d, 2w).`,
		Args: args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			return runForecast(cmd, a, f)
		},
	}
	fl := c.Flags()
	f.add(fl, "whose history to forecast")
	fl.StringVar(&f.horizon, "horizon", "15m", "how far ahead to forecast")
	fl.StringVar(&f.quantiles, "quantiles", "0.1,0.5,0.9", "comma-separated quantiles in (0,1) to report; the band spans the lowest to the highest")
	fl.BoolVar(&f.asJSON, "json", false, "print JSON instead of a chart")
	return c
}

// parseDur reads a Prometheus-style duration (1m, 14d, 2w).
func parseDur(flag, s string) (time.Duration, error) {
	d, err := model.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("--%s %q: want a positive duration like 15m, 1h or 14d", flag, s)
	}
	return time.Duration(d), nil
}

// parseQuantiles reads a comma-separated list of probabilities in (0,1).
func parseQuantiles(s string) ([]float64, error) {
	var qs []float64
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		q, err := strconv.ParseFloat(part, 64)
		if err != nil || !(q > 0 && q < 1) {
			return nil, fmt.Errorf("--quantiles: %q is not a probability in (0,1)", part)
		}
		qs = append(qs, q)
	}
	if len(qs) == 0 {
		return nil, fmt.Errorf("--quantiles: none given")
	}
	return qs, nil
}

func runForecast(cmd *cobra.Command, a []string, f forecastFlags) error {
	usage := func(err error) error {
		return usageError{fmt.Errorf("%s: %w (see %s --help)", cmd.CommandPath(), err, cmd.CommandPath())}
	}
	if err := f.check(a); err != nil {
		return usage(err)
	}
	horizon, err := parseDur("horizon", f.horizon)
	if err != nil {
		return usage(err)
	}
	qs, err := parseQuantiles(f.quantiles)
	if err != nil {
		return usage(err)
	}
	ctx := cmdContext(cmd)
	hs, err := f.load(ctx, cmd, "forecast", a, maxForecastSeries)
	if err != nil {
		return err
	}

	opts := forecast.DefaultOptions()
	opts.Horizon = horizon
	out := cmd.OutOrStdout()
	var results []forecastResult
	for i, h := range hs {
		m, err := forecast.Fit(ctx, h.points, opts)
		if err != nil {
			return fmt.Errorf("forecast %s: %w", h.name, err)
		}
		steps := max(1, int(math.Ceil(float64(horizon)/float64(m.Step()))))
		if steps > forecast.MaxForecastSteps {
			return usage(fmt.Errorf("--horizon %s is over 100,000 steps of %v", f.horizon, m.Step()))
		}
		fc := m.Forecast(steps)
		r := forecastResult{name: h.name, history: h.points, model: m, fc: fc, qs: qs}
		results = append(results, r)
		if f.png != "" {
			if err := writePNG(f.pngPath(i, len(hs)), r.chartOf(), f.pngWidth, f.pngHeight); err != nil {
				return fmt.Errorf("forecast: %w", err)
			}
		}
	}
	if f.asJSON {
		return writeForecastJSON(out, results)
	}
	for _, r := range results {
		if err := writeForecastText(out, r, f.width); err != nil {
			return err
		}
	}
	return nil
}

type forecastResult struct {
	name    string
	history []telemetry.Point
	model   *forecast.Model
	fc      *forecast.Forecast
	qs      []float64
}

// chartOf draws the end of the history (as much again as the forecast,
// and at least a day's worth) beside the forecast and its band.
func (r forecastResult) chartOf() chart.Chart {
	fc := r.fc
	span := max(time.Duration(len(fc.Mean))*fc.Step*3, 24*time.Hour)
	from := r.model.End().Add(-span).UnixMilli()
	var hist []chart.Point
	for _, p := range r.history {
		if p.T >= from {
			hist = append(hist, chart.Point{T: time.UnixMilli(p.T).UTC(), V: p.V})
		}
	}
	times := fc.Times()
	mean := make([]chart.Point, len(fc.Mean))
	for i, v := range fc.Mean {
		mean[i] = chart.Point{T: times[i], V: v}
	}
	lo, hi := minMax(r.qs)
	return chart.Chart{
		Title: fmt.Sprintf("%s: %s, step %v", r.name, r.model.Name(), r.model.Step()),
		Lines: []chart.Line{{Name: "history", Points: hist}, {Name: "forecast", Points: mean}},
		Bands: []chart.Band{{
			Name:  fmt.Sprintf("q%g-q%g", lo, hi),
			Times: times, Lo: fc.Quantile(lo), Hi: fc.Quantile(hi),
		}},
	}
}

func minMax(qs []float64) (float64, float64) {
	lo, hi := qs[0], qs[0]
	for _, q := range qs {
		lo, hi = min(lo, q), max(hi, q)
	}
	return lo, hi
}

func writeForecastText(w io.Writer, r forecastResult, width int) error {
	if err := chart.Text(w, r.chartOf(), width, 12); err != nil {
		return err
	}
	for _, warn := range r.model.Warnings() {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
	sc := r.model.Score()
	fmt.Fprintf(w, "backtest: MAE %s at %d steps ahead over %d forecasts (last-value baseline MAE %s), %d models tried\n",
		chart.FormatValue(sc.MAE), sc.Horizon, sc.Points, chart.FormatValue(sc.NaiveMAE), sc.Candidates)
	fmt.Fprintf(w, "%-20s %12s", "time", "mean")
	quant := make([][]float64, len(r.qs))
	for i, q := range r.qs {
		fmt.Fprintf(w, " %12s", "q"+strconv.FormatFloat(q, 'g', -1, 64))
		quant[i] = r.fc.Quantile(q)
	}
	fmt.Fprintln(w)
	times := r.fc.Times()
	// Long forecasts are shown at about 12 evenly spaced rows.
	every := max(1, len(times)/12)
	for i := range times {
		if i%every != 0 && i != len(times)-1 {
			continue
		}
		fmt.Fprintf(w, "%-20s %12s", times[i].Format("2006-01-02 15:04:05"), chart.FormatValue(r.fc.Mean[i]))
		for k := range r.qs {
			fmt.Fprintf(w, " %12s", chart.FormatValue(quant[k][i]))
		}
		fmt.Fprintln(w)
	}
	_, err := fmt.Fprintln(w)
	return err
}

type forecastJSONPoint struct {
	T    time.Time            `json:"t"`
	Mean jsonFloat            `json:"mean"`
	Q    map[string]jsonFloat `json:"q"`
}

// jsonFloat is a float that encodes NaN and infinities as null, which
// encoding/json refuses to encode.
type jsonFloat float64

func (f jsonFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

type forecastJSONSeries struct {
	Labels   string              `json:"labels"`
	Model    string              `json:"model"`
	Step     string              `json:"step"`
	End      time.Time           `json:"end"`
	Warnings []string            `json:"warnings"`
	Points   []forecastJSONPoint `json:"points"`
}

func writeForecastJSON(w io.Writer, rs []forecastResult) error {
	out := struct {
		Series []forecastJSONSeries `json:"series"`
	}{}
	for _, r := range rs {
		s := forecastJSONSeries{Labels: r.name, Model: r.model.Name(), Step: r.model.Step().String(),
			End: r.model.End(), Warnings: r.model.Warnings()}
		if s.Warnings == nil {
			s.Warnings = []string{}
		}
		quant := make([][]float64, len(r.qs))
		for i, q := range r.qs {
			quant[i] = r.fc.Quantile(q)
		}
		for i, t := range r.fc.Times() {
			p := forecastJSONPoint{T: t, Mean: jsonFloat(r.fc.Mean[i]), Q: map[string]jsonFloat{}}
			for k, q := range r.qs {
				p.Q[strconv.FormatFloat(q, 'g', -1, 64)] = jsonFloat(quant[k][i])
			}
			s.Points = append(s.Points, p)
		}
		out.Series = append(out.Series, s)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
