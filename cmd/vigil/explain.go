package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vigilops/vigil/app"
	"github.com/vigilops/vigil/config"
	"github.com/vigilops/vigil/copilot"
	"github.com/vigilops/vigil/copilot/analyst"
	"github.com/vigilops/vigil/diagnose"
)

// newExplainCmd returns `vigil explain`, the offline analyst on the command
// line: it needs no LLM and no network, so it works on an air-gapped host.
func newExplainCmd() *cobra.Command {
	var (
		asJSON  bool
		lines   []string
		state   string
		cfgFile string
		incID   string
		client  func(*cobra.Command) (*apiClient, error)
	)
	c := &cobra.Command{
		Use:   "explain [FILE|-]",
		Short: "Explain what went wrong in log lines, a Kubernetes state or an incident",
		Long: `Explain log lines with the offline analyst: recognise known failure
signatures (connection refused, timeouts, DNS, TLS, out of memory, disk full,
crash loops, rate limits, 5xx, deadlocks, ...), name the most likely cause and
say what to check first. No LLM or network is needed.

Give a file (- for standard input), one or more --line, --state for a
Kubernetes pod state, or --incident ID to have a running vigil serve's
diagnosis of an incident told in plain words: the root cause with its
confidence, how it spread, citing the evidence, and what to check first (the
server's copilot writes it: its model when one is configured, else the
offline analyst). --json prints the report as JSON.

  kubectl logs deploy/checkout --since 10m | vigil explain -
  vigil explain --line "dial tcp 10.0.0.5:5432: connect: connection refused"
  vigil explain --state CrashLoopBackOff
  vigil explain --incident inc-42 --token-file vigil-data/admin.token`,
		Args: args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			given := 0
			for _, b := range []bool{len(a) == 1, len(lines) > 0, state != "", incID != ""} {
				if b {
					given++
				}
			}
			if given != 1 {
				return usageError{errors.New("explain: give exactly one of FILE|-, --line, --state or --incident")}
			}
			if incID != "" {
				cl, err := client(cmd)
				if err != nil {
					return err
				}
				info, d, nar, err := fetchIncidentReport(cmdContext(cmd), cl, incID)
				if err != nil {
					return fmt.Errorf("explain: %w", err)
				}
				return writeIncidentExplanation(cmd.OutOrStdout(), info, d, nar, asJSON)
			}
			cop, err := loadCopilot(cfgFile)
			if err != nil {
				return err
			}
			an := cop.Analyst()
			var rep analyst.Report
			var in []string
			switch {
			case state != "":
				rep, err = an.ExplainState(state)
				if errors.Is(err, analyst.ErrUnknownState) {
					return usageError{fmt.Errorf("explain: %w", err)}
				}
				if err != nil {
					return err
				}
			case len(lines) > 0:
				in = lines
			default:
				if in, err = readExplainInput(cmd, a[0]); err != nil {
					return err
				}
			}
			out := cmd.OutOrStdout()
			if in != nil {
				ctx := cmd.Context()
				if ctx == nil {
					ctx = context.Background()
				}
				ex := cop.Explain(ctx, in)
				if ex.Note != "" {
					fmt.Fprintln(cmd.ErrOrStderr(), "vigil: copilot:", ex.Note)
				}
				if ex.Source != copilot.SourceAnalyst {
					return writeModelExplanation(out, ex, asJSON)
				}
				rep = ex.Analysis
			}
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			return analyst.WriteText(out, rep)
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	c.Flags().StringArrayVar(&lines, "line", nil, "a log line to explain (repeatable)")
	c.Flags().StringVar(&state, "state", "", "a Kubernetes pod state to explain (e.g. CrashLoopBackOff)")
	c.Flags().StringVar(&incID, "incident", "", "an incident ID of a running vigil serve (see --url, --token)")
	client = apiClientFlags(c)
	c.Flags().StringVar(&cfgFile, "config", "", "configuration file whose copilot section names an LLM (default: offline analyst)")
	return c
}

// writeModelExplanation prints a model's explanation: its summary first,
// then the analyst's findings with their line numbers as evidence.
func writeModelExplanation(w io.Writer, ex copilot.Explanation, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(ex)
	}
	fmt.Fprintf(w, "%s (%s)\n", ex.Summary, ex.Source)
	if ex.Cause != "" {
		fmt.Fprintf(w, "\nCause: %s (confidence %.2f)\n", ex.Cause, ex.Confidence)
	}
	if len(ex.NextSteps) > 0 {
		fmt.Fprintln(w, "\nNext steps:")
		for _, s := range ex.NextSteps {
			fmt.Fprintf(w, "  - %s\n", s)
		}
	}
	if len(ex.Analysis.Findings) == 0 {
		return nil
	}
	fmt.Fprintln(w, "\nEvidence (offline analyst):")
	return analyst.WriteText(w, ex.Analysis)
}

// readExplainInput reads the lines of name, or of standard input for "-".
// Lines past the analyst's limit are read but ignored by it; a single line
// longer than 1 MiB is an error rather than a silent cut.
func readExplainInput(cmd *cobra.Command, name string) ([]string, error) {
	var r io.Reader = cmd.InOrStdin()
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("explain: %w", err)
		}
		defer f.Close()
		r = f
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), defaultMaxLineBytes)
	var out []string
	for sc.Scan() && len(out) < analyst.DefaultMaxLines {
		out = append(out, sc.Text())
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("explain: read %s: %w", name, err)
	}
	return out, nil
}

// loadCopilot builds the copilot from the configuration file (optional)
// and the VIGIL_* environment: offline unless they name a model.
func loadCopilot(cfgFile string) (*copilot.Copilot, error) {
	cfg, err := config.Load(cfgFile, os.Environ())
	if err != nil {
		return nil, err
	}
	return app.NewCopilot(cfg.Copilot, nil, nil)
}

// writeIncidentExplanation tells an incident's diagnosis: the narrative the
// server's copilot wrote, its evidence, and the first check.
func writeIncidentExplanation(w io.Writer, info diagnose.IncidentInfo, d *diagnose.Diagnosis, nar *copilot.Narrative, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Incident  diagnose.IncidentInfo `json:"incident"`
			Diagnosis *diagnose.Diagnosis   `json:"diagnosis"`
			Narrative *copilot.Narrative    `json:"narrative"`
		}{info, d, nar})
	}
	fmt.Fprintf(w, "Incident %s: %s", info.ID, info.Title)
	if len(info.Services) > 0 {
		fmt.Fprintf(w, " (%s)", strings.Join(info.Services, ", "))
	}
	fmt.Fprintln(w)
	if d == nil && nar == nil {
		fmt.Fprintln(w, "\nNot diagnosed (yet): the diagnosis runs a couple of minutes after an incident opens, once evidence is in.")
		return nil
	}
	if nar != nil {
		fmt.Fprintf(w, "\n%s\n", nar.Text)
		for i, e := range nar.Evidence {
			fmt.Fprintf(w, "  [E%d] %s\n", i+1, e)
		}
		fmt.Fprintf(w, "\n(written by the %s; confidence %.0f%%)\n", nar.Source, 100*nar.Confidence)
		if nar.Note != "" {
			fmt.Fprintf(w, "(%s)\n", nar.Note)
		}
	}
	if d != nil && d.NextStep != "" {
		fmt.Fprintf(w, "\nFirst check: %s\n", d.NextStep)
	}
	return nil
}
