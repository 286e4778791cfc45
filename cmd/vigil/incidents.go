package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigilops/vigil/incident"
)

func init() { extraCommands = append(extraCommands, newIncidentsCmd) }

// newIncidentsCmd returns `vigil incidents`: list, show, acknowledge and
// resolve the incidents of a running vigil serve over its API.
func newIncidentsCmd() *cobra.Command {
	var (
		asJSON bool
	)
	c := &cobra.Command{
		Use:   "incidents",
		Short: "List, show, acknowledge and resolve the incidents of a running vigil serve",
		Long: `Talk to a running vigil serve over its HTTP API.

The token comes from --token, --token-file or the VIGIL_TOKEN environment
variable; reads need a viewer token (or none when the server grants the
anonymous viewer role, as with --demo), ack and resolve an operator token.`,
	}
	client := apiClientFlags(c)
	c.PersistentFlags().BoolVar(&asJSON, "json", false, "print the API's JSON instead of a table")

	var status, service string
	var limit int
	list := &cobra.Command{
		Use:   "list [--status open|acknowledged|resolved] [--service NAME] [--limit N]",
		Short: "List incidents, most recently opened first",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if status != "" && !incident.Status(status).Valid() {
				return usageError{fmt.Errorf("%s: --status %q is not open, acknowledged or resolved (see %s --help)", cmd.CommandPath(), status, cmd.CommandPath())}
			}
			if limit < 0 {
				return usageError{fmt.Errorf("%s: --limit %d is negative (see %s --help)", cmd.CommandPath(), limit, cmd.CommandPath())}
			}
			cl, err := client(cmd)
			if err != nil {
				return err
			}
			q := url.Values{}
			if status != "" {
				q.Set("status", status)
			}
			if service != "" {
				q.Set("service", service)
			}
			if limit > 0 {
				q.Set("limit", fmt.Sprint(limit))
			}
			body, err := cl.do(cmdContext(cmd), "GET", "/api/v1/incidents?"+q.Encode(), nil)
			if err != nil {
				return fmt.Errorf("list incidents: %w", err)
			}
			if asJSON {
				return writeRaw(cmd.OutOrStdout(), body)
			}
			var resp struct {
				Incidents []incident.Incident `json:"incidents"`
			}
			if err := json.Unmarshal(body, &resp); err != nil {
				return fmt.Errorf("list incidents: decode answer: %w", err)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTATUS\tSEVERITY\tOPENED\tSIGNALS\tSERVICES\tTITLE")
			for _, inc := range resp.Incidents {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", inc.ID, inc.Status, inc.Severity,
					inc.OpenedAt.UTC().Format(time.RFC3339), inc.SignalCount, strings.Join(inc.Services, ","), inc.Title)
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&status, "status", "", "only incidents in this state")
	list.Flags().StringVar(&service, "service", "", "only incidents involving this service")
	list.Flags().IntVar(&limit, "limit", 0, "at most N incidents (0: the server's default)")

	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show one incident and its timeline",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			cl, err := client(cmd)
			if err != nil {
				return err
			}
			id := url.PathEscape(a[0])
			incBody, err := cl.do(cmdContext(cmd), "GET", "/api/v1/incidents/"+id, nil)
			if err != nil {
				return fmt.Errorf("show incident: %w", err)
			}
			tlBody, err := cl.do(cmdContext(cmd), "GET", "/api/v1/incidents/"+id+"/timeline", nil)
			if err != nil {
				return fmt.Errorf("show incident timeline: %w", err)
			}
			var inc struct {
				Incident incident.Incident `json:"incident"`
			}
			var tl struct {
				Entries []incident.Entry `json:"entries"`
			}
			if err := json.Unmarshal(incBody, &inc); err != nil {
				return fmt.Errorf("show incident: decode answer: %w", err)
			}
			if err := json.Unmarshal(tlBody, &tl); err != nil {
				return fmt.Errorf("show incident timeline: decode answer: %w", err)
			}
			w := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]any{"incident": inc.Incident, "timeline": tl.Entries})
			}
			in := inc.Incident
			fmt.Fprintf(w, "%s  %s  [%s, %s]\n", in.ID, in.Title, in.Status, in.Severity)
			fmt.Fprintf(w, "opened %s, %d signals, services: %s\n", in.OpenedAt.UTC().Format(time.RFC3339), in.SignalCount, strings.Join(in.Services, ", "))
			fmt.Fprintln(w, "timeline:")
			for _, e := range tl.Entries {
				fmt.Fprintf(w, "  %s  %-12s %s\n", e.Time.UTC().Format(time.RFC3339), e.Kind, e.Text)
			}
			return nil
		},
	}

	transition := func(verb, path, short string) *cobra.Command {
		var text string
		cmd := &cobra.Command{
			Use:   verb + " ID [--text TEXT]",
			Short: short,
			Args:  args(cobra.ExactArgs(1)),
			RunE: func(cmd *cobra.Command, a []string) error {
				cl, err := client(cmd)
				if err != nil {
					return err
				}
				b, _ := json.Marshal(map[string]string{"text": text})
				body, err := cl.do(cmdContext(cmd), "POST", "/api/v1/incidents/"+url.PathEscape(a[0])+"/"+path, b)
				if err != nil {
					return fmt.Errorf("%s incident: %w", verb, err)
				}
				if asJSON {
					return writeRaw(cmd.OutOrStdout(), body)
				}
				var inc struct {
					Incident incident.Incident `json:"incident"`
				}
				if err := json.Unmarshal(body, &inc); err != nil {
					return fmt.Errorf("%s incident: decode answer: %w", verb, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", inc.Incident.ID, inc.Incident.Status)
				return nil
			},
		}
		cmd.Flags().StringVar(&text, "text", "", "a comment for the timeline")
		return cmd
	}
	c.AddCommand(list, show,
		transition("ack", "ack", "Acknowledge an incident (operator token)"),
		transition("resolve", "resolve", "Resolve an incident (operator token)"))
	return c
}

func writeRaw(w io.Writer, b []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, "", "  "); err != nil {
		_, err = w.Write(b)
		return err
	}
	buf.WriteByte('\n')
	_, err := buf.WriteTo(w)
	return err
}
