package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vigilops/vigil/forecast"
	"github.com/vigilops/vigil/ingest/promsource"
	"github.com/vigilops/vigil/internal/chart"
	"github.com/vigilops/vigil/telemetry"
)

// seriesFlags are what `vigil forecast` and `vigil metrics detect` share:
// where the series come from (a NAB-style CSV file, or a Prometheus query
// over a range) and how the result is shown (terminal chart, PNG, JSON).
type seriesFlags struct {
	prom, query, token  string
	rng, step           string
	png                 string
	pngWidth, pngHeight int
	width               int
	asJSON              bool
	unordered           bool
	timeout             time.Duration
}

// add declares the flags; what completes "PromQL expression ...".
func (f *seriesFlags) add(fl *pflag.FlagSet, what string) {
	fl.StringVar(&f.prom, "prometheus", "", "Prometheus base URL, e.g. http://localhost:9090")
	fl.StringVar(&f.query, "query", "", "PromQL expression "+what)
	fl.StringVar(&f.token, "bearer-token-file", "", "file holding a bearer token for Prometheus")
	fl.StringVar(&f.rng, "range", "14d", "how much Prometheus history to read")
	fl.StringVar(&f.step, "step", "1m", "Prometheus query resolution")
	fl.StringVar(&f.png, "png", "", "also write a PNG chart to this file (numbered when there are several series)")
	fl.IntVar(&f.pngWidth, "png-width", 1000, "PNG width in pixels")
	fl.IntVar(&f.pngHeight, "png-height", 400, "PNG height in pixels")
	fl.IntVar(&f.width, "width", 80, "terminal chart width in characters")
	fl.DurationVar(&f.timeout, "timeout", 2*time.Minute, "give up on Prometheus after this long")
	fl.BoolVar(&f.unordered, "unordered", false, "accept a CSV file whose rows are out of time order or repeat a timestamp: sort them and keep the last value per timestamp (a warning names the first such row)")
}

// check reports what is wrong with the flags and arguments as given.
func (f *seriesFlags) check(a []string) error {
	fromFile := len(a) == 1
	switch {
	case fromFile && (f.prom != "" || f.query != ""):
		return fmt.Errorf("give a CSV file or --prometheus with --query, not both")
	case !fromFile && (f.prom == "" || f.query == ""):
		return fmt.Errorf("give a CSV file, or --prometheus URL and --query Q")
	case f.png != "" && (f.pngWidth < chart.MinPNGSize || f.pngWidth > chart.MaxPNGSize ||
		f.pngHeight < chart.MinPNGSize || f.pngHeight > chart.MaxPNGSize):
		return fmt.Errorf("--png-width and --png-height must be %d..%d", chart.MinPNGSize, chart.MaxPNGSize)
	}
	return nil
}

// inputSeries is one series to work on.
type inputSeries struct {
	name   string
	labels telemetry.Labels // none for a CSV file
	points []telemetry.Point
}

// load reads the series: the CSV file in a, or the query's series from
// Prometheus (at most maxSeries). name prefixes errors; usage problems
// come back as usageError.
func (f *seriesFlags) load(ctx context.Context, cmd *cobra.Command, name string, a []string, maxSeries int) ([]inputSeries, error) {
	if len(a) == 1 {
		fh, err := os.Open(a[0])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		defer fh.Close()
		// Strict: a row out of time order, repeated or of the wrong shape
		// is an error naming its line, never a point dropped unseen. With
		// --unordered the rows are sorted and one value kept per timestamp,
		// and a warning names the first row out of order.
		pts, err := forecast.ReadCSVWith(fh, forecast.DefaultCSVOptions())
		if errors.Is(err, forecast.ErrUnordered) {
			if !f.unordered {
				return nil, fmt.Errorf("%s: read %s: %w (--unordered sorts the rows and keeps one value per timestamp)", name, a[0], err)
			}
			first := err
			if _, err = fh.Seek(0, io.SeekStart); err == nil {
				o := forecast.DefaultCSVOptions()
				o.Unordered = true
				pts, err = forecast.ReadCSVWith(fh, o)
			}
			if err == nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s: %v; --unordered: rows sorted by time, one value kept per timestamp (%d points)\n", a[0], first, len(pts))
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%s: read %s: %w", name, a[0], err)
		}
		return []inputSeries{{name: a[0], points: pts}}, nil
	}
	usage := func(err error) error {
		return usageError{fmt.Errorf("%s: %w (see %s --help)", cmd.CommandPath(), err, cmd.CommandPath())}
	}
	rng, err := parseDur("range", f.rng)
	if err != nil {
		return nil, usage(err)
	}
	step, err := parseDur("step", f.step)
	if err != nil {
		return nil, usage(err)
	}
	if rng/step > 1_000_000 {
		return nil, usage(fmt.Errorf("--range %s at --step %s is over a million points", f.rng, f.step))
	}
	pc := &promsource.Client{URL: f.prom}
	if f.token != "" {
		b, err := os.ReadFile(f.token)
		if err != nil {
			return nil, fmt.Errorf("%s: bearer token: %w", name, err)
		}
		pc.BearerToken = strings.TrimSpace(string(b))
	}
	qctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	// The range ends at the command's own now: this is the edge of the
	// program, where reading the clock belongs.
	end := time.Now().UTC().Truncate(step)
	ss, err := pc.QueryRange(qctx, f.query, end.Add(-rng), end, step)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", name, f.prom, err)
	}
	if len(ss) == 0 {
		return nil, fmt.Errorf("%s: query %q returned no series", name, f.query)
	}
	if len(ss) > maxSeries {
		return nil, fmt.Errorf("%s: query %q returned %d series, at most %d: aggregate it (sum by ...) or add label matchers", name, f.query, len(ss), maxSeries)
	}
	out := make([]inputSeries, 0, len(ss))
	for _, s := range ss {
		n := s.Labels.String()
		if len(s.Labels) == 0 {
			n = f.query
		}
		out = append(out, inputSeries{name: n, labels: s.Labels, points: s.Points})
	}
	return out, nil
}

// pngPath is where series i of n is drawn: the --png path itself for one
// series, numbered before the extension for several.
func (f *seriesFlags) pngPath(i, n int) string {
	if n > 1 {
		return numbered(f.png, i)
	}
	return f.png
}

// numbered inserts -i before a path's extension: chart.png -> chart-1.png.
func numbered(path string, i int) string {
	if dot := strings.LastIndex(path, "."); dot > strings.LastIndex(path, "/") {
		return fmt.Sprintf("%s-%d%s", path[:dot], i, path[dot:])
	}
	return fmt.Sprintf("%s-%d", path, i)
}

// writePNG draws c into a new file at path.
func writePNG(path string, c chart.Chart, w, h int) error {
	fh, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("png: %w", err)
	}
	if err := chart.PNG(fh, c, w, h); err != nil {
		fh.Close()
		return fmt.Errorf("png %s: %w", path, err)
	}
	if err := fh.Close(); err != nil {
		return fmt.Errorf("png %s: %w", path, err)
	}
	return nil
}
