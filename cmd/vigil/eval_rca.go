package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/vigilops/vigil/diagnose"
	"github.com/vigilops/vigil/eval/rca"
)

func init() { extraEvalCommands = append(extraEvalCommands, newEvalRCACmd) }

// newEvalRCACmd returns `vigil eval rca`, the root-cause ranking benchmark.
func newEvalRCACmd() *cobra.Command {
	var data string
	var asJSON, misses, groups bool
	c := &cobra.Command{
		Use:   "rca --data DIR [--json]",
		Short: "Score root-cause ranking on labelled microservice datasets",
		Long: `Rank the root cause of every labelled case under DIR with the default
diagnoser (one configuration for all datasets) and score the rankings:

  AC@k   fraction of cases whose true root cause is among the top k
  Avg@5  mean of AC@1..AC@5

DIR is the rca datasets folder (or one of petshop/, rcd-sockshop/, nezha/):
PetShop (low and high traffic; the temporal scenarios, which lack normal
data in this copy, are reported apart as petshop-temporal), the RCD Sock
Shop data (no call graph: ranked without one) and Nezha's OnlineBoutique
faults (metrics only). The fault time is given, as RCAEval does. The
n-sigma and BARO baselines are scored on the same inputs.

--groups adds a row per kind of case (Nezha's fault types, PetShop's
traffic scenarios, Sock Shop's cpu and mem faults) to show where the
ranking wins and loses; --misses lists the cases whose root cause was not
ranked first, with the truth's place.

--json prints {"datasets":[{"name","cases","ac1","ac3","avg5","note",
"groups":{"<group>":{"cases","ac1","ac3","avg5"}},
"baselines":{"nsigma":{...},"baro":{...}}}]}.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if data == "" {
				return usageError{fmt.Errorf("%s: --data DIR is required (see %s --help)", cmd.CommandPath(), cmd.CommandPath())}
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			d, err := diagnose.New(diagnose.DefaultOptions())
			if err != nil {
				return fmt.Errorf("eval rca: %w", err)
			}
			reps, err := rca.Run(ctx, data, d)
			if err != nil {
				return fmt.Errorf("eval rca: %w", err)
			}
			if asJSON {
				return writeRCAJSON(cmd.OutOrStdout(), reps)
			}
			return writeRCATable(cmd.OutOrStdout(), reps, misses, groups)
		},
	}
	c.Flags().StringVar(&data, "data", "", "rca datasets folder, e.g. datasets/rca")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	c.Flags().BoolVar(&misses, "misses", false, "list the cases whose root cause was not ranked first")
	c.Flags().BoolVar(&groups, "groups", false, "add a row per kind of case (fault type, scenario)")
	return c
}

type rcaJSONScore struct {
	Cases int     `json:"cases"`
	AC1   float64 `json:"ac1"`
	AC3   float64 `json:"ac3"`
	Avg5  float64 `json:"avg5"`
}

type rcaJSONDataset struct {
	Name string `json:"name"`
	rcaJSONScore
	Note      string                  `json:"note,omitempty"`
	Groups    map[string]rcaJSONScore `json:"groups,omitempty"`
	Baselines map[string]rcaJSONScore `json:"baselines"`
}

func rcaScore(s rca.Score) rcaJSONScore {
	return rcaJSONScore{Cases: s.Cases, AC1: s.AC[0], AC3: s.AC[2], Avg5: s.Avg5}
}

func writeRCAJSON(w io.Writer, reps []rca.DatasetReport) error {
	out := struct {
		Datasets []rcaJSONDataset `json:"datasets"`
	}{Datasets: make([]rcaJSONDataset, 0, len(reps))}
	for _, r := range reps {
		d := rcaJSONDataset{Name: r.Name, rcaJSONScore: rcaScore(r.Vigil), Note: r.Note, Baselines: map[string]rcaJSONScore{}}
		for name, s := range r.Baselines {
			d.Baselines[name] = rcaScore(s)
		}
		for name, s := range r.Vigil.Groups {
			if d.Groups == nil {
				d.Groups = map[string]rcaJSONScore{}
			}
			d.Groups[name] = rcaScore(s)
		}
		out.Datasets = append(out.Datasets, d)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func writeRCATable(w io.Writer, reps []rca.DatasetReport, misses, groups bool) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "dataset\tranker\tcases\tAC@1\tAC@3\tAvg@5\t")
	for _, r := range reps {
		rows := []struct {
			name string
			s    rca.Score
		}{{"vigil", r.Vigil}, {"n-sigma", r.Baselines["nsigma"]}, {"baro", r.Baselines["baro"]}}
		for _, row := range rows {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%.3f\t%.3f\t%.3f\t\n", r.Name, row.name, row.s.Cases, row.s.AC[0], row.s.AC[2], row.s.Avg5)
		}
		if groups {
			for _, g := range slices.Sorted(maps.Keys(r.Vigil.Groups)) {
				gs := r.Vigil.Groups[g]
				fmt.Fprintf(tw, "%s/%s\tvigil\t%d\t%.3f\t%.3f\t%.3f\t\n", r.Name, g, gs.Cases, gs.AC[0], gs.AC[2], gs.Avg5)
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range reps {
		if r.Note != "" {
			fmt.Fprintf(w, "note: %s: %s\n", r.Name, r.Note)
		}
	}
	if misses {
		for _, r := range reps {
			for _, m := range r.Vigil.Misses {
				place := "not ranked"
				if m.Rank > 0 {
					place = fmt.Sprintf("ranked %d", m.Rank)
				}
				fmt.Fprintf(w, "miss: %s %s: truth %s (%s), top %v\n", r.Name, m.Case, m.Truth, place, m.Top)
			}
		}
	}
	return nil
}
