package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigilops/vigil/copilot"
	"github.com/vigilops/vigil/diagnose"
	"github.com/vigilops/vigil/incident"
)

// rcaReportMaxBody bounds each API answer read by `vigil rca report`.
const rcaReportMaxBody = 16 << 20

// errIncidentNotFound is returned when the server does not know the incident.
var errIncidentNotFound = errors.New("incident not found")

// rcaReportClient reads an incident, its timeline and its diagnosis from a
// running vigil serve.
type rcaReportClient struct {
	base, token string
	http        *http.Client
}

// newRCAReportCmd returns `vigil rca report INCIDENT`.
func newRCAReportCmd() *cobra.Command {
	var apiURL, token, tokenFile, out string
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
			u, err := url.Parse(apiURL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return usageError{fmt.Errorf("%s: --url %q is not an http(s) URL", cmd.CommandPath(), apiURL)}
			}
			if token != "" && tokenFile != "" {
				return usageError{fmt.Errorf("%s: --token and --token-file exclude each other", cmd.CommandPath())}
			}
			tok := token
			if tokenFile != "" {
				b, err := os.ReadFile(tokenFile)
				if err != nil {
					return fmt.Errorf("rca report: read token file: %w", err)
				}
				tok = strings.TrimSpace(string(b))
			}
			if tok == "" {
				tok = os.Getenv("VIGIL_TOKEN")
			}
			cl := &rcaReportClient{base: strings.TrimRight(apiURL, "/"), token: tok, http: &http.Client{Timeout: 30 * time.Second}}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			info, d, nar, err := cl.fetch(ctx, id)
			if err != nil {
				return fmt.Errorf("rca report: %w", err)
			}
			return writeRCAReport(cmd.OutOrStdout(), out, info, d, nar)
		},
	}
	f := c.Flags()
	f.StringVar(&apiURL, "url", "http://127.0.0.1:9380", "base URL of the Vigil API")
	f.StringVar(&token, "token", "", "API token (default: $VIGIL_TOKEN)")
	f.StringVar(&tokenFile, "token-file", "", "file holding the API token, e.g. DATA_DIR/admin.token")
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

// fetch reads the incident, its timeline and (when there is one) its
// diagnosis.
func (c *rcaReportClient) fetch(ctx context.Context, id string) (diagnose.IncidentInfo, *diagnose.Diagnosis, *copilot.Narrative, error) {
	p := "/api/v1/incidents/" + url.PathEscape(id)
	var ib struct {
		Incident *incident.Incident `json:"incident"`
	}
	if err := c.get(ctx, p, &ib); err != nil {
		if errors.Is(err, errIncidentNotFound) {
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
	if err := c.get(ctx, p+"/timeline", &tb); err != nil {
		return diagnose.IncidentInfo{}, nil, nil, err
	}
	var db struct {
		Diagnosis *diagnose.Diagnosis `json:"diagnosis"`
		Narrative *copilot.Narrative  `json:"narrative"`
	}
	if err := c.get(ctx, p+"/diagnosis", &db); err != nil && !errors.Is(err, errIncidentNotFound) {
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

// get reads path into v. A 404 is errIncidentNotFound; a refused
// connection says the server is probably not running.
func (c *rcaReportClient) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return fmt.Errorf("connection refused: is vigil serve running at %s?", c.base)
		}
		return fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, rcaReportMaxBody+1))
	if err != nil {
		return fmt.Errorf("GET %s: read: %w", path, err)
	}
	if len(b) > rcaReportMaxBody {
		return fmt.Errorf("GET %s: answer larger than %d bytes", path, rcaReportMaxBody)
	}
	if resp.StatusCode == http.StatusNotFound {
		return errIncidentNotFound
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		msg := ""
		if json.Unmarshal(b, &e) == nil {
			msg = e.Error.Message
		}
		switch {
		case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
			return fmt.Errorf("GET %s: %d: %s (pass a viewer token with --token, --token-file or $VIGIL_TOKEN)", path, resp.StatusCode, msg)
		case msg != "":
			return fmt.Errorf("GET %s: %d: %s", path, resp.StatusCode, msg)
		}
		return fmt.Errorf("GET %s: %d", path, resp.StatusCode)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("GET %s: decode: %w", path, err)
	}
	return nil
}
