package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigilops/vigil/detect"
	"github.com/vigilops/vigil/eval/nab"
)

func init() { extraEvalCommands = append(extraEvalCommands, newEvalNABCmd) }

// newEvalNABCmd returns `vigil eval nab`, the NAB v1.1 benchmark.
func newEvalNABCmd() *cobra.Command {
	var (
		data, writeOut, reference string
		asJSON, published         bool
	)
	c := &cobra.Command{
		Use:   "nab --data DIR [--json] [--write-results OUT]",
		Short: "Score the metric detector on the Numenta Anomaly Benchmark",
		Long: `Run Vigil's default metric detector, streaming and with one configuration,
over every series listed in DIR/labels/combined_windows.json (data in
DIR/data) and score it as NAB v1.1 does: probation period, scaled-sigmoid
window weights, the earliest detection per window, one threshold optimised
over the corpus per profile, normalised between the null and the perfect
detector. Profiles come from DIR/config/profiles.json when present.

--reference NAME scores DIR/reference_scores/NAME.json.gz instead of Vigil
(the published detectors' own scores); with --published-thresholds it uses
NAME's thresholds from DIR/config/thresholds.json instead of re-optimising.
--write-results OUT writes NAB-format result CSVs under OUT/<detector>/.
--json prints {"standard","reward_low_FP_rate","reward_low_FN_rate"}.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if data == "" {
				return usageError{fmt.Errorf("%s: --data DIR is required (see %s --help)", cmd.CommandPath(), cmd.CommandPath())}
			}
			if published && reference == "" {
				return usageError{errors.New("eval nab: --published-thresholds needs --reference NAME")}
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			corpus, err := nab.LoadCorpus(data)
			if err != nil {
				return fmt.Errorf("eval nab: %w", err)
			}
			profiles := nab.DefaultProfiles()
			if fh, err := os.Open(filepath.Join(data, "config", "profiles.json")); err == nil {
				profiles, err = nab.ReadProfiles(fh)
				fh.Close()
				if err != nil {
					return fmt.Errorf("eval nab: %w", err)
				}
			}
			name := "vigil"
			var scores nab.Scores
			start := time.Now()
			if reference != "" {
				name = reference
				scores, err = nab.LoadScoresFile(filepath.Join(data, "reference_scores", reference+".json.gz"))
			} else {
				scores, err = nab.Run(ctx, corpus, func(string) nab.Detector {
					return nabSeries{detect.NewSeriesDetector(detect.DefaultSeriesOptions())}
				})
			}
			if err != nil {
				return fmt.Errorf("eval nab: %w", err)
			}
			elapsed := time.Since(start)
			var thresholds map[string]float64
			if published {
				fh, err := os.Open(filepath.Join(data, "config", "thresholds.json"))
				if err != nil {
					return fmt.Errorf("eval nab: %w", err)
				}
				all, err := nab.ReadThresholds(fh)
				fh.Close()
				if err != nil {
					return fmt.Errorf("eval nab: %w", err)
				}
				if thresholds = all[reference]; thresholds == nil {
					return fmt.Errorf("eval nab: thresholds.json has no detector %q", reference)
				}
			}
			res, err := nab.Evaluate(corpus, scores, profiles, thresholds)
			if err != nil {
				return fmt.Errorf("eval nab: %w", err)
			}
			if writeOut != "" {
				if err := nab.WriteResults(writeOut, name, corpus, scores, profiles); err != nil {
					return fmt.Errorf("eval nab: %w", err)
				}
			}
			w := cmd.OutOrStdout()
			if asJSON {
				out := make(map[string]float64, len(res))
				for _, r := range res {
					out[r.Profile] = r.Normalized
				}
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			fmt.Fprintf(w, "detector %s: %d series, %d rows, %v\n", name, len(corpus.Files), corpus.Rows(), elapsed.Round(time.Millisecond))
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "profile\tscore\tthreshold\traw\tnull\tperfect\tTP rows\tFP rows\t")
			for _, r := range res {
				fmt.Fprintf(tw, "%s\t%.2f\t%.6g\t%.3f\t%.1f\t%.1f\t%d\t%d\t\n",
					r.Profile, r.Normalized, r.Threshold, r.Raw, r.Null, r.Perfect, r.TP, r.FP)
			}
			return tw.Flush()
		},
	}
	c.Flags().StringVar(&data, "data", "", "NAB folder with data/, labels/combined_windows.json and config/")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	c.Flags().StringVar(&writeOut, "write-results", "", "write NAB-format result CSVs under this folder")
	c.Flags().StringVar(&reference, "reference", "", "score DIR/reference_scores/NAME.json.gz instead of Vigil")
	c.Flags().BoolVar(&published, "published-thresholds", false, "with --reference: use config/thresholds.json, do not re-optimise")
	return c
}

// nabSeries adapts a SeriesDetector to the benchmark: the likelihood is
// the anomaly score.
type nabSeries struct{ d *detect.SeriesDetector }

func (s nabSeries) Observe(t time.Time, v float64) float64 { return s.d.Observe(t, v).Score }
