package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/vigilops/vigil/copilot/analyst"
)

// newExplainCmd returns `vigil explain`, the offline analyst on the command
// line: it needs no LLM and no network, so it works on an air-gapped host.
func newExplainCmd() *cobra.Command {
	var (
		asJSON bool
		lines  []string
		state  string
	)
	c := &cobra.Command{
		Use:   "explain [FILE|-]",
		Short: "Explain what went wrong in log lines or a Kubernetes state",
		Long: `Explain log lines with the offline analyst: recognise known failure
signatures (connection refused, timeouts, DNS, TLS, out of memory, disk full,
crash loops, rate limits, 5xx, deadlocks, ...), name the most likely cause and
say what to check first. No LLM or network is needed.

Give a file (- for standard input), one or more --line, or --state for a
Kubernetes pod state. --json prints the report as JSON.

  kubectl logs deploy/checkout --since 10m | vigil explain -
  vigil explain --line "dial tcp 10.0.0.5:5432: connect: connection refused"
  vigil explain --state CrashLoopBackOff`,
		Args: args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			given := 0
			for _, b := range []bool{len(a) == 1, len(lines) > 0, state != ""} {
				if b {
					given++
				}
			}
			if given != 1 {
				return usageError{errors.New("explain: give exactly one of FILE|-, --line or --state")}
			}
			an, err := analyst.New(analyst.DefaultOptions())
			if err != nil {
				return err
			}
			var rep analyst.Report
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
				rep = an.Explain(lines)
			default:
				in, err := readExplainInput(cmd, a[0])
				if err != nil {
					return err
				}
				rep = an.Explain(in)
			}
			out := cmd.OutOrStdout()
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
	return c
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
