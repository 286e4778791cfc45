package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigilops/vigil/sim"
)

func newSimCmd() *cobra.Command {
	var (
		scenario, out, start string
		days                 float64
		seed                 int64
		step, onset, dur     time.Duration
		logScale             float64
		list                 bool
	)
	c := &cobra.Command{
		Use:   "sim --scenario NAME --days N --out DIR",
		Short: "Write a simulated shop's telemetry with an injected fault, and its ground truth",
		Long: `Simulate a microservice shop (frontend, api-gateway, checkout, catalog, cart,
payments and its external provider, postgres, redis, a cron worker) and write
its telemetry to DIR: raw logs per service, metrics (OpenMetrics and CSV),
wire payloads (Alertmanager API v2, Loki push, events) and truth.json with the
injected fault's root cause, onset, end and causal chain.

The same seed and flags always produce byte-identical output.

  vigil sim --list
  vigil sim --scenario redis-memory --days 7 --out ./out/redis`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if list {
				return listScenarios(cmd.OutOrStdout())
			}
			if out == "" || scenario == "" {
				return usageError{fmt.Errorf("sim: --scenario and --out are required (see vigil sim --list for scenarios)")}
			}
			if days <= 0 || days > 366 {
				return usageError{fmt.Errorf("sim: --days %g is outside (0, 366]", days)}
			}
			// Checked here rather than left to sim.New, whose errors speak of
			// "fault 0", a name the user never gave.
			if err := checkScenario(scenario); err != nil {
				return usageError{fmt.Errorf("sim: %w", err)}
			}
			switch {
			case onset < 0:
				return usageError{fmt.Errorf("sim: --onset %s must not be negative", onset)}
			case dur < 0:
				return usageError{fmt.Errorf("sim: --duration %s must not be negative", dur)}
			case step < 0:
				return usageError{fmt.Errorf("sim: --step %s must not be negative", step)}
			}
			o := sim.DefaultOptions()
			o.Seed, o.LogScale = seed, logScale
			if step > 0 {
				o.Step = step
			}
			if start != "" {
				t, err := time.Parse(time.RFC3339, start)
				if err != nil {
					return usageError{fmt.Errorf("sim: --start %q is not an RFC 3339 time", start)}
				}
				o.Start = t.UTC()
			}
			span := time.Duration(days * float64(24*time.Hour))
			if scenario != "none" {
				at := onset
				if at == 0 {
					// Default: 14:00 on the last simulated day, after as much
					// clean history as the run has.
					at = span - 10*time.Hour
					if at < span/2 {
						at = span / 2
					}
				}
				if at >= span {
					return usageError{fmt.Errorf("sim: --onset %s is not before the end of the run (%s)", at, span)}
				}
				o.Faults = []sim.Fault{{Scenario: scenario, Onset: o.Start.Add(at), Duration: dur}}
			}
			s, err := sim.New(o)
			if err != nil {
				return usageError{fmt.Errorf("sim: %w", err)}
			}
			began := time.Now()
			prog := newProgress(cmd.ErrOrStderr(), "simulating")
			sum, err := sim.Export(cmd.Context(), s, o.Start.Add(span), out, prog.update)
			prog.done()
			if err != nil {
				return fmt.Errorf("sim: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s in %s: %d log lines, %d samples in %d series, %d alert sends, %d events\n",
				out, time.Since(began).Round(time.Millisecond), sum.Logs, sum.Samples, sum.Series, sum.AlertSends, sum.Events)
			return nil
		},
	}
	fl := c.Flags()
	fl.StringVar(&scenario, "scenario", "", "fault to inject (none for a clean run; see --list)")
	fl.Float64Var(&days, "days", 1, "simulated days to write")
	fl.StringVar(&out, "out", "", "output directory")
	fl.Int64Var(&seed, "seed", 1, "random seed; the same seed gives the same output")
	fl.StringVar(&start, "start", "", "simulated start time, RFC 3339 (default 2026-01-05T00:00:00Z, a Monday)")
	fl.DurationVar(&step, "step", 0, "metric resolution (default 30s)")
	fl.DurationVar(&onset, "onset", 0, "fault onset after the start (default 14:00 on the last day)")
	fl.DurationVar(&dur, "duration", 0, "fault duration (default: the scenario's own)")
	fl.Float64Var(&logScale, "log-scale", 1, "multiply log volume by this factor")
	fl.BoolVar(&list, "list", false, "list the scenarios and exit")
	return c
}

// checkScenario reports a --scenario the simulator does not know, with
// the names it does.
func checkScenario(name string) error {
	var names []string
	for _, s := range sim.Scenarios() {
		if s.Name == name {
			return nil
		}
		names = append(names, s.Name)
	}
	return fmt.Errorf("--scenario %q is not a known scenario (known: %s; see vigil sim --list)", name, strings.Join(names, ", "))
}

func listScenarios(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tROOT CAUSE\tDURATION\tDESCRIPTION")
	for _, s := range sim.Scenarios() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Name, s.RootCause, s.DefaultDuration, s.Description)
	}
	return tw.Flush()
}

// progress prints a one-line progress indicator: redrawn in place on a
// terminal, a line every 10% otherwise (CI logs).
type progress struct {
	w        io.Writer
	label    string
	tty      bool
	lastPct  int
	lastDraw time.Time
}

func newProgress(w io.Writer, label string) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &progress{w: w, label: label, tty: tty, lastPct: -1}
}

func (p *progress) update(done, total time.Duration) {
	if total <= 0 {
		return
	}
	pct := int(100 * done / total)
	if p.tty {
		if pct == p.lastPct && time.Since(p.lastDraw) < 200*time.Millisecond {
			return
		}
		bar := strings.Repeat("#", pct/5) + strings.Repeat(".", 20-pct/5)
		fmt.Fprintf(p.w, "\r%s [%s] %3d%%", p.label, bar, pct)
		p.lastDraw = time.Now()
	} else if pct/10 != p.lastPct/10 {
		fmt.Fprintf(p.w, "%s %d%%\n", p.label, pct)
	}
	p.lastPct = pct
}

func (p *progress) done() {
	if p.tty && p.lastPct >= 0 {
		fmt.Fprintln(p.w)
	}
}
