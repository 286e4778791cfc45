package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigilops/vigil/detect"
	"github.com/vigilops/vigil/eval"
)

// newEvalCmd returns `vigil eval`, the benchmark harnesses.
func newEvalCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "eval",
		Short: "Score Vigil's analyses against public labelled datasets",
	}
	var data string
	var asJSON bool
	parse := &cobra.Command{
		Use:   "parse --data DIR [--json]",
		Short: "Score the log template miner on a Loghub-2k style folder",
		Long: `Mine the templates of every system of a Loghub-2k style folder (one
subfolder per system holding <Sys>_2k.log_structured.csv) with the default
miner options, feeding only the Content column, and score them against the
EventTemplate column with the Loghub-2.0 metrics:

  GA   grouping accuracy: lines whose predicted group is exactly a true one
  PA   parsing accuracy: lines whose predicted template string is the true one
  FGA  F1 over groups
  FTA  F1 over templates (right group members and right string)

lines/s times the mining alone. --json prints
{"systems":[{"name","ga","pa","fga","fta","lines_per_sec"}],"mean":{...}}.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if data == "" {
				return usageError{fmt.Errorf("%s: --data DIR is required (see %s --help)", cmd.CommandPath(), cmd.CommandPath())}
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			rep, err := eval.ParseEval(ctx, data, eval.DefaultOptions())
			if err != nil {
				return fmt.Errorf("eval parse: %w", err)
			}
			if asJSON {
				return writeParseJSON(cmd.OutOrStdout(), rep)
			}
			return writeParseTable(cmd.OutOrStdout(), rep)
		},
	}
	parse.Flags().StringVar(&data, "data", "", "Loghub-2k style folder, e.g. datasets/loghub-2k")
	parse.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	c.AddCommand(parse, newEvalHDFSCmd())
	for _, mk := range extraEvalCommands {
		c.AddCommand(mk())
	}
	return c
}

// newEvalHDFSCmd returns `vigil eval hdfs`, the log sequence anomaly benchmark.
func newEvalHDFSCmd() *cobra.Command {
	var data string
	var asJSON bool
	c := &cobra.Command{
		Use:   "hdfs --data DIR [--json]",
		Short: "Score the log sequence model on HDFS block sessions",
		Long: `Train the sequence model (default options) on the normal sessions of the
training split and judge every session of the test split. DIR holds
HDFS_100k.sessions.csv (BlockId,Label,Split,EventIdSequence), or DeepLog's
files hdfs_train, hdfs_test_normal and hdfs_test_abnormal (one session of
space-separated event keys per line; either test file may be absent);
--data may also name a sessions CSV directly.

Anomalous sessions are the positive class. The output also gives the
ceiling of any detector that sees only the event sequence, computed from
the test labels: test sessions with one sequence get one verdict, so where
normal and anomalous sessions share a sequence some must be wrong. The
first bound is the best F1 of any set of test sequences flagged; the second
also leaves unflagged the sequences of normal training sessions, as a
detector trained on them must. --json prints
{"precision","recall","f1","tp","fp","fn","sequence_f1_bound",
"trained_sequence_f1_bound","anomalous_with_normal_training_sequence"}.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if data == "" {
				return usageError{fmt.Errorf("%s: --data DIR is required (see %s --help)", cmd.CommandPath(), cmd.CommandPath())}
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			rep, err := eval.HDFSEval(ctx, data, detect.DefaultSequenceOptions())
			if err != nil {
				return fmt.Errorf("eval hdfs: %w", err)
			}
			w := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(struct {
					Precision    float64 `json:"precision"`
					Recall       float64 `json:"recall"`
					F1           float64 `json:"f1"`
					TP           int     `json:"tp"`
					FP           int     `json:"fp"`
					FN           int     `json:"fn"`
					Bound        float64 `json:"sequence_f1_bound"`
					TrainedBound float64 `json:"trained_sequence_f1_bound"`
					SeenNormal   int     `json:"anomalous_with_normal_training_sequence"`
				}{rep.Precision, rep.Recall, rep.F1, rep.TP, rep.FP, rep.FN,
					rep.Bound.F1, rep.Bound.TrainedF1, rep.Bound.SeenNormal})
			}
			m := rep.Model
			fmt.Fprintf(w, "source     %s\n", rep.Source)
			fmt.Fprintf(w, "model      history %d, top-k %d, min support %d, invariants %v (support %.3f)\n",
				m.History, m.TopK, m.MinSupport, m.Invariants, m.InvariantSupport)
			fmt.Fprintf(w, "train      %d normal sessions (%d anomalous left out)\n", rep.TrainNormal, rep.TrainSkipped)
			fmt.Fprintf(w, "test       %d normal, %d anomalous; scored in %v\n", rep.TestNormal, rep.TestAnomalous, rep.ScoreTime.Round(time.Millisecond))
			fmt.Fprintf(w, "precision  %.4f\nrecall     %.4f\nf1         %.4f\n", rep.Precision, rep.Recall, rep.F1)
			fmt.Fprintf(w, "tp %d  fp %d  fn %d  tn %d\n", rep.TP, rep.FP, rep.FN, rep.TN)
			b := rep.Bound
			fmt.Fprintf(w, "f1 bound   %.4f for any verdict on the event sequence alone (%d of %d distinct test sequences shared by normal and anomalous sessions)\n",
				b.F1, b.Mixed, b.Distinct)
			fmt.Fprintf(w, "           %.4f for a detector trained on the normal sessions (%d anomalous test sessions repeat a normal training sequence)\n",
				b.TrainedF1, b.SeenNormal)
			return nil
		},
	}
	c.Flags().StringVar(&data, "data", "", "folder with HDFS_100k.sessions.csv or DeepLog hdfs_* files")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of text")
	return c
}

type parseJSONSystem struct {
	Name        string  `json:"name"`
	GA          float64 `json:"ga"`
	PA          float64 `json:"pa"`
	FGA         float64 `json:"fga"`
	FTA         float64 `json:"fta"`
	LinesPerSec float64 `json:"lines_per_sec"`
}

type parseJSONMean struct {
	GA  float64 `json:"ga"`
	PA  float64 `json:"pa"`
	FGA float64 `json:"fga"`
	FTA float64 `json:"fta"`
}

func writeParseJSON(w io.Writer, rep *eval.ParseReport) error {
	out := struct {
		Systems []parseJSONSystem `json:"systems"`
		Mean    parseJSONMean     `json:"mean"`
	}{
		Systems: make([]parseJSONSystem, 0, len(rep.Systems)),
		Mean:    parseJSONMean{GA: rep.Mean.GA, PA: rep.Mean.PA, FGA: rep.Mean.FGA, FTA: rep.Mean.FTA},
	}
	for _, s := range rep.Systems {
		out.Systems = append(out.Systems, parseJSONSystem{
			Name: s.Name, GA: s.GA, PA: s.PA, FGA: s.FGA, FTA: s.FTA, LinesPerSec: s.LinesPerSec,
		})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func writeParseTable(w io.Writer, rep *eval.ParseReport) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "system\tlines\tGA\tPA\tFGA\tFTA\ttemplates\ttruth\tlines/s\t")
	for _, s := range rep.Systems {
		fmt.Fprintf(tw, "%s\t%d\t%.3f\t%.3f\t%.3f\t%.3f\t%d\t%d\t%.0f\t\n",
			s.Name, s.Lines, s.GA, s.PA, s.FGA, s.FTA, s.Predicted, s.Truth, s.LinesPerSec)
	}
	m := rep.Mean
	fmt.Fprintf(tw, "mean\t\t%.3f\t%.3f\t%.3f\t%.3f\t\t\t\t\n", m.GA, m.PA, m.FGA, m.FTA)
	return tw.Flush()
}
