package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vigilops/vigil/copilot"
	"github.com/vigilops/vigil/diagnose"
	"github.com/vigilops/vigil/incident"
)

// errIncidentNotFound is returned when the server does not know the incident.

// newRCAReportCmd returns `vigil rca report INCIDENT`.
func newRCAReportCmd() *cobra.Command {
	var out string
	var client func(*cobra.Command) (*apiClient, error)
	c := &cobra.Command{
		Use:   "report INCIDENT",
		Short: "Write a Markdown postmortem draft of an incident from a running vigil serve",
		Long: `Fetch an incident, its timeline and its diagnosis from a running vigil serve
(GET /api/v1/incidents/{id}, /timeline and /diagnosis) and write a Markdown
postmortem draft: summary, impact, timeline, root cause with its evidence,
contributing factors and follow-up actions. An incident not diagnosed (yet)
still gets a draft, with the root cause left for its authors.

The token comes from --token, --token-file or the VIGIL_TOKEN environment
variable (a viewer token is enough).`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			id := a[0]
			if id == "" || len(id) > 128 {
				return usageError{fmt.Errorf("%s: incident ID %q is not valid", cmd.CommandPath(), id)}
			}
			cl, err := client(cmd)
			if err != nil {
				return err
			}
			info, d, nar, err := fetchIncidentReport(cmdContext(cmd), cl, id)
			if err != nil {
				return fmt.Errorf("rca report: %w", err)
			}
			return writeRCAReport(cmd.OutOrStdout(), out, info, d, nar)
		},
	}
	client = apiClientFlags(c)
	f := c.Flags()
	f.StringVar(&out, "out", "", "write the report to this file instead of standard output")
	return c
}

// writeRCAReport renders the postmortem to out (a file, written whole or
// not at all) or to w.
func writeRCAReport(w io.Writer, out string, info diagnose.IncidentInfo, d *diagnose.Diagnosis, nar *copilot.Narrative) error {
	var b strings.Builder
	if err := diagnose.WritePostmortem(&b, info, d); err != nil {
		return fmt.Errorf("rca report: render: %w", err)
	}
	if nar != nil && strings.TrimSpace(nar.Text) != "" {
		fmt.Fprintf(&b, "\n## Narrative\n\n_Written by the copilot (%s) from the diagnosis; check it against the evidence._\n\n%s\n", nar.Source, nar.Text)
		if len(nar.Evidence) > 0 {
			b.WriteString("\n")
			for i, e := range nar.Evidence {
				fmt.Fprintf(&b, "- [E%d] %s\n", i+1, e)
			}
		}
	}
	if out == "" {
		_, err := io.WriteString(w, b.String())
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), ".vigil-report-*")
	if err != nil {
		return fmt.Errorf("rca report: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(b.String()); err != nil {
		tmp.Close()
		return fmt.Errorf("rca report: write %s: %w", out, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("rca report: write %s: %w", out, err)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return fmt.Errorf("rca report: %w", err)
	}
	return nil
}

// fetchIncidentReport reads the incident, its timeline and (when there is
// one) its diagnosis.
func fetchIncidentReport(ctx context.Context, c *apiClient, id string) (diagnose.IncidentInfo, *diagnose.Diagnosis, *copilot.Narrative, error) {
	p := "/api/v1/incidents/" + url.PathEscape(id)
	var ib struct {
		Incident *incident.Incident `json:"incident"`
	}
	if err := c.getJSON(ctx, p, &ib); err != nil {
		if errors.Is(err, errAPINotFound) {
			return diagnose.IncidentInfo{}, nil, nil, fmt.Errorf("incident %s not found", id)
		}
		return diagnose.IncidentInfo{}, nil, nil, err
	}
	if ib.Incident == nil {
		return diagnose.IncidentInfo{}, nil, nil, fmt.Errorf("GET %s: the answer holds no incident", p)
	}
	var tb struct {
		Entries []incident.Entry `json:"entries"`
	}
	if err := c.getJSON(ctx, p+"/timeline", &tb); err != nil {
		return diagnose.IncidentInfo{}, nil, nil, err
	}
	var db struct {
		Diagnosis *diagnose.Diagnosis `json:"diagnosis"`
		Narrative *copilot.Narrative  `json:"narrative"`
	}
	if err := c.getJSON(ctx, p+"/diagnosis", &db); err != nil && !errors.Is(err, errAPINotFound) {
		return diagnose.IncidentInfo{}, nil, nil, err
	}
	inc := ib.Incident
	info := diagnose.IncidentInfo{
		ID: inc.ID, Title: inc.Title, Start: inc.OpenedAt, Ack: inc.AcknowledgedAt, Resolve: inc.ResolvedAt,
		Services: inc.Services,
	}
	for _, e := range tb.Entries {
		info.Timeline = append(info.Timeline, diagnose.TimelineEntry{Time: e.Time, Kind: string(e.Kind), Text: e.Text})
	}
	return info, db.Diagnosis, db.Narrative, nil
}
