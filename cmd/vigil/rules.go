package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/vigilops/vigil/config"
	"github.com/vigilops/vigil/rules"
)

func init() { extraCommands = append(extraCommands, newRulesCmd) }

const rulesSpecHelp = `The spec is YAML with up to three lists (only the marked fields are
required; see rules/testdata/spec.yaml for a full example):

  baselines:                  # z-score against a recorded baseline
    - name: api_latency       # * metric-name charset, no colons
      expr: histogram_quantile(0.99, sum by (le, service) (rate(http_request_duration_seconds_bucket[5m])))  # *
      by: [service]           # labels expr keeps: the level of recorded names
      z: 3                    # z-score threshold (default 3)
      window: 1w              # baseline length (default 1w)
      direction: up           # up, down or both (default both)
      for: 10m                # default 10m
      severity: warning       # default warning
      alert: ApiLatencyAnomaly  # default CamelCase(name)+Anomaly
      labels: {team: web}     # extra alert labels

  spikes:                     # sudden derivative
    - name: error_spike       # *
      expr: sum by (service) (rate(http_requests_total{code=~"5.."}[5m]))  # *
      by: [service]
      deriv_window: 10m       # slope range of deriv() (default 10m)
      factor: 2               # growth within deriv_window, in units of the
                              # mean level over window, that fires (default 1)
      window: 1w              # default 1w
      min: 0.5                # stay quiet while the value is under this
      for: 2m                 # default 2m
      severity: critical      # default warning

  slos:                       # multi-window, multi-burn-rate SLO alerts
    - name: checkout-availability  # *
      service: checkout       # *
      objective: 99.9         # * percent, strictly between 0 and 100
      window: 30d             # budget window (default 30d)
      bad: http_requests_total{service="checkout",code=~"5.."}  # * bad or good
      total: http_requests_total{service="checkout"}            # *
      # A latency SLI: good: http_request_duration_seconds_bucket{le="0.3"}
      #                total: http_request_duration_seconds_count
      labels: {team: shop}
      description: text carried into the alerts

Each baseline records <by>:<name>:value (expr), :avg_over_time_<window>,
:stddev_over_time_<window> and :zscore_<window>, and alerts on the z-score.
Each spike records :value, :deriv_<deriv_window> and :avg_over_time_<window>
and alerts when deriv x deriv_window > factor x the mean level. Each SLO
records slo:sli_error:ratio_rate<w> for 5m 30m 1h 2h 6h 1d 3d and its
window, slo:error_budget_remaining:ratio, and four SLOBurnRate alerts
(labels slo, service, severity, window): 14.4x over 1h and 5m and 6x over
6h and 30m page; 3x over 1d and 2h and 1x over 3d and 6h open a ticket,
as in the Google SRE workbook. Vigil's own SLO evaluator raises the same
alerts with the same labels.`

// newRulesCmd returns `vigil rules`, the Prometheus rule generator.
func newRulesCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "rules",
		Short: "Generate Prometheus recording and alerting rules for baselines, spikes and SLOs",
	}
	c.AddCommand(newRulesGenerateCmd(), newRulesCheckCmd())
	return c
}

// invalidSpec makes a bad spec exit like a bad configuration (code 3).
type invalidSpec struct{ error }

func (invalidSpec) Is(target error) bool { return target == config.ErrInvalid }
func (e invalidSpec) Unwrap() error      { return e.error }

// loadRulesSpec reads the -f spec; its errors name the command once, so
// callers return them as they are.
func loadRulesSpec(cmd *cobra.Command, file string) (*rules.Spec, error) {
	if file == "" {
		return nil, usageError{fmt.Errorf("%s: -f SPEC is required (see %s --help)", cmd.CommandPath(), cmd.CommandPath())}
	}
	spec, err := rules.LoadSpec(file)
	if err != nil {
		if errors.Is(err, rules.ErrInvalidSpec) {
			err = invalidSpec{err}
		}
		return nil, fmt.Errorf("%s: %w", cmd.CommandPath(), err)
	}
	return spec, nil
}

type rulesSummary struct {
	Output         string `json:"output,omitempty"`
	Groups         int    `json:"groups"`
	RecordingRules int    `json:"recording_rules"`
	AlertingRules  int    `json:"alerting_rules"`
	Baselines      int    `json:"baselines"`
	Spikes         int    `json:"spikes"`
	SLOs           int    `json:"slos"`
}

func summarize(spec *rules.Spec, f *rules.File, out string) rulesSummary {
	g, r, a := f.Counts()
	return rulesSummary{Output: out, Groups: g, RecordingRules: r, AlertingRules: a,
		Baselines: len(spec.Baselines), Spikes: len(spec.Spikes), SLOs: len(spec.SLOs)}
}

func writeSummary(w io.Writer, s rulesSummary, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	}
	where := ": spec is valid"
	if s.Output != "" {
		where = ": written to " + s.Output
	}
	_, err := fmt.Fprintf(w, "%d baselines, %d spikes, %d SLOs -> %d groups, %d recording and %d alerting rules%s\n",
		s.Baselines, s.Spikes, s.SLOs, s.Groups, s.RecordingRules, s.AlertingRules, where)
	return err
}

func newRulesGenerateCmd() *cobra.Command {
	var file, out string
	var asJSON bool
	c := &cobra.Command{
		Use:   "generate -f SPEC [-o RULES] [--json]",
		Short: "Write a Prometheus rule file from a spec of baselines, spikes and SLOs",
		Long: `Write a Prometheus rule file (load it with rule_files, check it with
promtool check rules) from a short YAML spec. Without -o the rules go to
standard output; with -o they replace RULES atomically and a summary is
printed (--json prints it as {"output","groups","recording_rules",
"alerting_rules","baselines","spikes","slos"}). The output is stable: the
same spec gives the same bytes. A bad spec exits with code 3 and one line
per problem: file:line: field: what is wrong.

` + rulesSpecHelp,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if asJSON && out == "" {
				return usageError{errors.New("rules generate: --json prints the summary of -o; without -o the rules themselves go to standard output")}
			}
			spec, err := loadRulesSpec(cmd, file)
			if err != nil {
				return err
			}
			f, err := rules.Generate(spec)
			if err != nil {
				return fmt.Errorf("rules generate: %w", invalidSpec{err})
			}
			var buf bytes.Buffer
			if err := f.Encode(&buf, filepath.Base(file)); err != nil {
				return fmt.Errorf("rules generate: %w", err)
			}
			if out == "" {
				_, err := cmd.OutOrStdout().Write(buf.Bytes())
				return err
			}
			if err := writeFileAtomic(out, buf.Bytes()); err != nil {
				return fmt.Errorf("rules generate: %w", err)
			}
			return writeSummary(cmd.OutOrStdout(), summarize(spec, f, out), asJSON)
		},
	}
	c.Flags().StringVarP(&file, "file", "f", "", "spec file (YAML)")
	c.Flags().StringVarP(&out, "output", "o", "", "rule file to write (default standard output)")
	c.Flags().BoolVar(&asJSON, "json", false, "print the summary as JSON (with -o)")
	return c
}

func newRulesCheckCmd() *cobra.Command {
	var file string
	var asJSON bool
	c := &cobra.Command{
		Use:   "check -f SPEC [--json]",
		Short: "Validate a rules spec without writing rules",
		Long: `Validate a rules spec as generate would and print what it would write.
A bad spec exits with code 3 and one line per problem (file:line: field:
what is wrong). See vigil rules generate --help for the spec.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			spec, err := loadRulesSpec(cmd, file)
			if err != nil {
				return err
			}
			f, err := rules.Generate(spec)
			if err != nil {
				return fmt.Errorf("rules check: %w", invalidSpec{err})
			}
			return writeSummary(cmd.OutOrStdout(), summarize(spec, f, ""), asJSON)
		},
	}
	c.Flags().StringVarP(&file, "file", "f", "", "spec file (YAML)")
	c.Flags().BoolVar(&asJSON, "json", false, "print the summary as JSON")
	return c
}

// writeFileAtomic replaces path with data through a temporary file in the
// same directory, so Prometheus reloading meanwhile never reads half a file.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write rules: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write rules: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write rules: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write rules: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write rules: %w", err)
	}
	return nil
}
