package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigilops/vigil/diagnose"
)

func init() { extraCommands = append(extraCommands, newRCACmd) }

// rcaMaxInput bounds the diagnosis input file.
const rcaMaxInput = 256 << 20

// rcaFile is the JSON layout `vigil rca diagnose` reads: a diagnose.Input
// plus the call graph and, for --postmortem, the incident.
type rcaFile struct {
	diagnose.Input
	Edges    []diagnose.Edge        `json:"edges,omitempty"`
	External []string               `json:"external,omitempty"`
	Hosts    map[string]string      `json:"hosts,omitempty"`
	Incident *diagnose.IncidentInfo `json:"incident,omitempty"`
}

// newRCACmd returns `vigil rca`, root-cause analysis on files.
func newRCACmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "rca",
		Short: "Root-cause analysis: rank the probable causes of an incident",
	}
	var asJSON, postmortem bool
	diag := &cobra.Command{
		Use:   "diagnose FILE",
		Short: "Rank root-cause candidates for the incident described in FILE",
		Long: `Read an incident's telemetry from FILE (JSON, "-" for stdin) and rank its
probable root causes with the default diagnoser: candidates with confidence
and evidence, the causal chain, and a recommended next step.

FILE holds {"normal":{"start","end"},"anomalous":{"start","end"},
"series":[{"service","name","kind","points":[{"t","v"}]}],
"edges":[{"from","to"}],"external":[...],"hosts":{"svc":"node"},
"logs":[anomalies],"events":[events],"symptoms":[...],
"incident":{"id","title","start","ack","resolve","timeline":[{"time","kind","text"}]}}.
Kinds: latency, errors, availability, traffic, cpu, memory, saturation, other;
t is in Unix milliseconds.

--json prints the diagnosis; --postmortem prints a Markdown postmortem draft.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if asJSON && postmortem {
				return usageError{fmt.Errorf("%s: --json and --postmortem exclude each other (see %s --help)", cmd.CommandPath(), cmd.CommandPath())}
			}
			f, err := readRCAFile(a[0], cmd.InOrStdin())
			if err != nil {
				return fmt.Errorf("rca diagnose: %w", err)
			}
			d, err := diagnose.New(diagnose.DefaultOptions())
			if err != nil {
				return fmt.Errorf("rca diagnose: %w", err)
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			res, err := d.Diagnose(ctx, f.Input)
			if err != nil {
				return fmt.Errorf("rca diagnose: %w", err)
			}
			w := cmd.OutOrStdout()
			switch {
			case asJSON:
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			case postmortem:
				inc := diagnose.IncidentInfo{Title: "Incident", Start: f.Anomalous.Start}
				if f.Incident != nil {
					inc = *f.Incident
				}
				return diagnose.WritePostmortem(w, inc, res)
			}
			return writeDiagnosis(w, res)
		},
	}
	diag.Flags().BoolVar(&asJSON, "json", false, "print the diagnosis as JSON")
	diag.Flags().BoolVar(&postmortem, "postmortem", false, "print a Markdown postmortem draft")
	c.AddCommand(diag)
	c.AddCommand(newRCAReportCmd())
	return c
}

func readRCAFile(path string, stdin io.Reader) (*rcaFile, error) {
	var r io.Reader
	if path == "-" {
		r = stdin
	} else {
		fh, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer fh.Close()
		r = fh
	}
	data, err := io.ReadAll(io.LimitReader(r, rcaMaxInput+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > rcaMaxInput {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, rcaMaxInput)
	}
	var f rcaFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	for i, s := range f.Series {
		switch {
		case s.Kind == "":
			f.Series[i].Kind = diagnose.KindOther
		case !s.Kind.Known():
			return nil, fmt.Errorf("%s: series %d (%s %s): unknown kind %q (one of %v)", path, i, s.Service, s.Name, s.Kind, diagnose.Kinds())
		}
	}
	if len(f.Edges) > 0 || len(f.External) > 0 || len(f.Hosts) > 0 {
		f.Graph = diagnose.NewGraph(diagnose.GraphSpec{Source: "file", Edges: f.Edges, External: f.External, Hosts: f.Hosts})
	}
	if f.Anomalous.Start.IsZero() {
		return nil, errors.New(path + ": anomalous.start is required")
	}
	return &f, nil
}

func writeDiagnosis(w io.Writer, d *diagnose.Diagnosis) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "rank\tservice\tconfidence\tonset\treason")
	for i, c := range d.Candidates {
		on := ""
		if !c.Onset.IsZero() {
			on = c.Onset.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%d\t%s\t%.0f%%\t%s\t%s\n", i+1, c.Service, 100*c.Confidence, on, c.Reason)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(d.Chain) > 0 {
		fmt.Fprintln(w, "\nchain:")
		for _, l := range d.Chain {
			var ev []string
			for _, e := range l.Evidence {
				ev = append(ev, e.Summary)
			}
			fmt.Fprintf(w, "  %s -> %s (%s) %s at %s\n", l.From, l.To, l.Via, l.Signal, l.Onset.UTC().Format(time.RFC3339))
			if len(ev) > 0 {
				fmt.Fprintf(w, "      %s\n", strings.Join(ev, "; "))
			}
		}
	}
	fmt.Fprintf(w, "\nnext step: %s\n", d.NextStep)
	return nil
}
