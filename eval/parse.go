package eval

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/vigilops/vigil/logtemplate"
)

// Options configures ParseEval.
type Options struct {
	// Miner configures the template miner, the same for every system.
	Miner logtemplate.Options
	// Systems, when not empty, restricts the run to these system names.
	Systems []string
	// Logger receives one line per system.
	Logger *slog.Logger
}

// DefaultOptions returns the miner's defaults and a silent logger.
func DefaultOptions() Options {
	return Options{
		Miner:  logtemplate.DefaultOptions(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

func (o *Options) validate() error {
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return nil
}

// SystemResult is the score of one system.
type SystemResult struct {
	Name  string
	Lines int
	Scores
	// Mining is the time spent in Miner.Add over all lines, nothing else.
	Mining time.Duration
	// LinesPerSec is Lines / Mining.
	LinesPerSec float64
}

// Mean is the unweighted mean over systems, as Loghub reports it.
type Mean struct {
	GA, PA, FGA, FTA float64
}

// ParseReport is the result of ParseEval.
type ParseReport struct {
	Systems []SystemResult
	Mean    Mean
}

// ParseEval mines every system of a Loghub-2k style folder (one subfolder per
// system holding <Sys>_2k.log_structured.csv) with a fresh miner each, feeding
// only the Content column, and scores the final templates against the
// EventTemplate column with the Loghub-2.0 metrics.
func ParseEval(ctx context.Context, dir string, o Options) (*ParseReport, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	paths, err := FindSystems(dir)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, s := range o.Systems {
		want[s] = true
	}
	rep := &ParseReport{}
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ds, err := LoadDataset(p)
		if err != nil {
			return nil, err
		}
		if len(want) > 0 && !want[ds.Name] {
			continue
		}
		res, _, err := ParseSystem(ctx, ds, o.Miner)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ds.Name, err)
		}
		o.Logger.Info("parse eval", "system", res.Name, "lines", res.Lines,
			"ga", res.GA, "pa", res.PA, "fga", res.FGA, "fta", res.FTA,
			"templates", res.Predicted, "truth_templates", res.Truth, "lines_per_sec", res.LinesPerSec)
		rep.Systems = append(rep.Systems, res)
	}
	if len(rep.Systems) == 0 {
		return nil, fmt.Errorf("%w: none of the systems %v under %s", ErrNoData, o.Systems, dir)
	}
	n := float64(len(rep.Systems))
	for _, s := range rep.Systems {
		rep.Mean.GA += s.GA / n
		rep.Mean.PA += s.PA / n
		rep.Mean.FGA += s.FGA / n
		rep.Mean.FTA += s.FTA / n
	}
	return rep, nil
}

// ParseSystem mines one dataset with a fresh miner and scores it. It also
// returns the predicted template of every line: the final template of the
// cluster the line was assigned to, as offline evaluations of online parsers
// (Drain's included) report it.
func ParseSystem(ctx context.Context, ds *Dataset, mo logtemplate.Options) (SystemResult, []string, error) {
	m, err := logtemplate.New(mo)
	if err != nil {
		return SystemResult{}, nil, err
	}
	ids := make([]string, len(ds.Content))
	start := time.Now()
	for i, msg := range ds.Content {
		if i&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return SystemResult{}, nil, err
			}
		}
		ids[i] = m.Add(msg).TemplateID
	}
	mining := time.Since(start)

	pred := make([]string, len(ids))
	cache := map[string]string{}
	for i, id := range ids {
		t, ok := cache[id]
		if !ok {
			tpl, found := m.Lookup(id)
			if !found {
				// Evicted: cannot happen below MaxClusters; score the line
				// as unparsed rather than guess.
				tpl.Template = ""
			}
			t = tpl.Template
			cache[id] = t
		}
		pred[i] = t
	}
	res := SystemResult{
		Name:   ds.Name,
		Lines:  len(ds.Content),
		Scores: Score(ds.Truth, pred),
		Mining: mining,
	}
	if mining > 0 {
		res.LinesPerSec = float64(res.Lines) / mining.Seconds()
	}
	return res, pred, nil
}
