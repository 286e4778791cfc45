package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigilops/vigil/forecast"
	"github.com/vigilops/vigil/kedascaler"
)

func init() { extraEvalCommands = append(extraEvalCommands, newEvalScalerCmd) }

// newEvalScalerCmd returns `vigil eval scaler`, the predictive-scaling replay.
func newEvalScalerCmd() *cobra.Command {
	var (
		o         = kedascaler.DefaultReplayOptions()
		recurring bool
		asJSON    bool
		trace     bool
	)
	c := &cobra.Command{
		Use:   "scaler [--recurring] [--seed N] [--no-replicas] [--json]",
		Short: "Replay a simulated traffic surge under a reactive HPA and under Vigil's KEDA scaler",
		Long: `Simulate the shop (sim) for --history-days days of normal traffic and a
surge day on which edge traffic triples at --onset-hour (sim's traffic-surge
scenario), then run two autoscalers on the --service request rate every 15 s:
a reactive HPA on the observed rate, and the same HPA on the KEDA scaler's
served value, evaluated through the real scaler with its default metadata:

  - the forecast peak at quantile 0.9 over a horizon of the lead time plus
    one forecast step (3 minutes), never below the freshest value;
  - the last minutes re-read at 15 s; a rise that stands out of the noise
    over the last lead time (2 minutes) and over its freshest minute, and
    that the forecast made one lead time earlier did not expect, is
    extrapolated over the lead time at the pace of its freshest minute;
  - the value placed for the HPA's 10% tolerance band, knowing its replica
    count: at the top of the wanted replica bucket on a rise, the bottom on
    a fall out of the band, the middle when the count fits or the forecast
    falls by less than the band; when the wanted count is inside the band
    on a rise, the smallest step that clears it is taken only when its
    cost in replicas is below the expected shortfall it saves, priced at
    1/(1-quantile) per replica short; no hysteresis of the scaler's own on
    top of the band (--no-replicas turns all this off).

The HPA model uses Kubernetes' documented defaults: 15 s sync, 10%
tolerance, 300 s scale-down stabilisation, scale-up at most max(4 pods,
100%) per sync, no scale-up stabilisation; plus a metrics pipeline whose
newest 1-minute rate is 30 s old and pods that serve 90 s after creation.
A replica's capacity is --target requests/s.

Reported per window (the surge with an hour either side, and the whole
surge day): minutes during which ready capacity was below the load, and
replica-minutes (every pod, ready or starting). --recurring also injects the
same surge on every history day, so the forecaster can learn it.
--json prints {"onset","surge":{...},"day":{...},"fallbacks","model"}.

--trace first prints the surge window step by step (every 15 s: the load,
what the pipeline shows, the scaler's decision, both policies' ready and
total pods) and names why the predictive policy was short at each step where
it was, then the minutes per cause:

  released         a replica count that would have carried the load was
                   released in the previous 10 minutes;
  starting         enough pods exist but the new ones are not ready yet;
  ordered-too-few  the scaler asked the HPA for more, not enough;
  step-refused     the scaler wanted more than the current count but the
                   HPA's tolerance band only offered a coarser step, which
                   was judged not worth it;
  no-signal        the scaler saw no need for more;

each prefixed "surge:" in the first 15 minutes after the onset, "slow:"
elsewhere. The causes are read off the trace after the fact.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case o.HistoryDays < 1 || o.HistoryDays > 28:
				return usageError{fmt.Errorf("%s: --history-days %d is outside [1, 28]", cmd.CommandPath(), o.HistoryDays)}
			case o.OnsetHour < 0 || o.OnsetHour > 21:
				return usageError{fmt.Errorf("%s: --onset-hour %d is outside [0, 21]", cmd.CommandPath(), o.OnsetHour)}
			case !(o.TargetPerReplica > 0):
				return usageError{fmt.Errorf("%s: --target %g is not a positive request rate", cmd.CommandPath(), o.TargetPerReplica)}
			case trace && asJSON:
				return usageError{fmt.Errorf("%s: --trace prints text; it does not combine with --json", cmd.CommandPath())}
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			o.Recurring = recurring
			o.Forecaster = kedascaler.NewModelForecaster(forecast.DefaultOptions())
			var steps []kedascaler.ReplayStep // one surge day at most: 5760 steps
			if trace {
				o.Trace = func(s kedascaler.ReplayStep) { steps = append(steps, s) }
			}
			res, err := kedascaler.Replay(ctx, o)
			if err != nil {
				return fmt.Errorf("eval scaler: %w", err)
			}
			if trace {
				if err := writeScalerTrace(cmd.OutOrStdout(), steps, res, o); err != nil {
					return fmt.Errorf("eval scaler: write trace: %w", err)
				}
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			}
			return writeScalerTable(cmd.OutOrStdout(), res)
		},
	}
	f := c.Flags()
	f.Int64Var(&o.Seed, "seed", o.Seed, "simulation seed")
	f.IntVar(&o.HistoryDays, "history-days", o.HistoryDays, "days of normal traffic before the surge day")
	f.IntVar(&o.OnsetHour, "onset-hour", o.OnsetHour, "hour (UTC) of the surge day at which the surge starts")
	f.StringVar(&o.Service, "service", o.Service, "simulated service whose request rate is the load")
	f.Float64Var(&o.TargetPerReplica, "target", o.TargetPerReplica, "requests/s one replica carries (the ScaledObject's targetValue)")
	f.BoolVar(&recurring, "recurring", false, "inject the same surge on every history day too")
	f.BoolVar(&o.NoReplicas, "no-replicas", false, "hide the HPA's replica count from the scaler (no placing for the tolerance band)")
	f.BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	f.BoolVar(&trace, "trace", false, "print the surge window step by step, with the cause of every under-provisioned step")
	return c
}

func writeScalerTable(w io.Writer, res kedascaler.ReplayResult) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "surge onset %s, model %s\n", res.Onset.Format("Mon 2006-01-02 15:04"), res.Model)
	fmt.Fprintln(tw, "window\tpolicy\tunder-provisioned min\treplica-min\tpeak replicas")
	for _, win := range []struct {
		name string
		w    kedascaler.ReplayWindow
	}{{"surge", res.Surge}, {"day", res.Day}} {
		span := win.w.From.Format("Mon 15:04") + "-" + win.w.To.Format("Mon 15:04")
		for _, p := range []struct {
			name string
			r    kedascaler.PolicyResult
		}{{"reactive", win.w.Reactive}, {"predictive", win.w.Predictive}} {
			fmt.Fprintf(tw, "%s %s\t%s\t%.2f\t%.0f\t%d\n", win.name, span, p.name, p.r.UnderMinutes, p.r.ReplicaMinutes, p.r.PeakReplicas)
		}
		r, p := win.w.Reactive, win.w.Predictive
		fewer, more := 0.0, 0.0
		if r.UnderMinutes > 0 {
			fewer = 100 * (1 - p.UnderMinutes/r.UnderMinutes)
		}
		if r.ReplicaMinutes > 0 {
			more = 100 * (p.ReplicaMinutes/r.ReplicaMinutes - 1)
		}
		fmt.Fprintf(tw, "%s %s\tpredictive vs reactive\t%.0f%% fewer\t%+.1f%%\t\n", win.name, span, fewer, more)
	}
	if len(res.Fallbacks) > 0 {
		fmt.Fprintf(tw, "fallbacks: %v\n", res.Fallbacks)
	}
	return tw.Flush()
}

// releaseLookback is how far back a release counts as the cause of a
// shortfall: the HPA's default scale-down window (5 minutes) plus as long
// again, since a released replica is only missed when the load comes back.
const releaseLookback = 10 * time.Minute

// surgePhase is how long after the onset a shortfall is counted as the
// surge's own ramp rather than an ordinary slow rise.
const surgePhase = 15 * time.Minute

// shortCause names why the predictive policy was short at steps[i] (see
// the --trace help), or "" when it was not short.
func shortCause(steps []kedascaler.ReplayStep, i int, onset time.Time, target, tolerance float64) string {
	s := steps[i]
	if float64(s.PredictiveReady)*target >= s.Load {
		return ""
	}
	d := s.Decision
	rep := float64(d.Replicas)
	var cause string
	switch {
	case released(steps, i, target):
		cause = "released"
	case float64(s.PredictiveTotal)*target >= s.Load:
		cause = "starting"
	case d.Value > rep*target*(1+tolerance):
		cause = "ordered-too-few"
	case d.Guarded > rep*target:
		cause = "step-refused"
	default:
		cause = "no-signal"
	}
	if !s.Time.Before(onset) && s.Time.Before(onset.Add(surgePhase)) {
		return "surge:" + cause
	}
	return "slow:" + cause
}

// released reports whether a pod count that would have carried the load of
// steps[i] was scaled down from within releaseLookback before it.
func released(steps []kedascaler.ReplayStep, i int, target float64) bool {
	for j := i - 1; j >= 0 && steps[i].Time.Sub(steps[j].Time) <= releaseLookback; j-- {
		if steps[j].PredictiveTotal > steps[j+1].PredictiveTotal && float64(steps[j].PredictiveTotal)*target >= steps[i].Load {
			return true
		}
	}
	return false
}

// writeScalerTrace prints the surge window's steps and the predictive
// policy's under-provisioned minutes by cause.
func writeScalerTrace(w io.Writer, steps []kedascaler.ReplayStep, res kedascaler.ReplayResult, o kedascaler.ReplayOptions) error {
	tw := tabwriter.NewWriter(w, 0, 4, 1, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "time\tload\tobserved\tcurrent\tpeak\tramp\tguarded\tserved\thpa\tready\tpods\treactive ready\treactive pods\t guards\t short\t")
	minutes := map[string]float64{}
	dt := o.HPA.SyncPeriod.Minutes()
	for i, s := range steps {
		if s.Time.Before(res.Surge.From) || !s.Time.Before(res.Surge.To) {
			continue
		}
		d := s.Decision
		cause := shortCause(steps, i, res.Onset, o.TargetPerReplica, o.HPA.Tolerance)
		if cause != "" {
			minutes[cause] += dt
		}
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%d\t%d\t%d\t%d\t%d\t %s\t %s\t\n",
			s.Time.Format("15:04:05"), s.Load, s.Observed, d.Current, d.Peak, d.Ramp, d.Guarded, d.Value,
			d.Replicas, s.PredictiveReady, s.PredictiveTotal, s.ReactiveReady, s.ReactiveTotal,
			strings.Join(d.Guards, ","), cause)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	causes := make([]string, 0, len(minutes))
	total := 0.0
	for c, m := range minutes {
		causes = append(causes, c)
		total += m
	}
	slices.Sort(causes)
	var b strings.Builder
	fmt.Fprintf(&b, "predictive under-provisioned minutes by cause (surge window, %.2f in all):", total)
	for _, c := range causes {
		fmt.Fprintf(&b, " %s %.2f", c, minutes[c])
	}
	_, err := fmt.Fprintln(w, b.String())
	return err
}
