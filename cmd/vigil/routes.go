package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/prometheus/alertmanager/matcher/parse"
	"github.com/spf13/cobra"

	"github.com/vigilops/vigil/config"
	"github.com/vigilops/vigil/correlate/dispatch"
	"github.com/vigilops/vigil/correlate/route"
	"github.com/vigilops/vigil/telemetry"
)

func init() { extraCommands = append(extraCommands, newRoutesCmd) }

// newRoutesCmd returns `vigil routes`: check an alertmanager.yml and show
// where an alert would go, as amtool config routes does.
func newRoutesCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "routes",
		Short: "Check Alertmanager routing configuration and test where alerts go",
	}
	var asJSON bool
	check := &cobra.Command{
		Use:   "check FILE [--json]",
		Short: "Validate an alertmanager.yml as Vigil reads it",
		Long: `Parse and validate an alertmanager.yml (routes, inhibit_rules, receivers,
time_intervals and Vigil's maintenance_windows). Every problem is printed
with its file and line; settings Vigil does not implement are listed as
warnings. --json prints {"valid","warnings","routes","receivers"}.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			cfg, err := config.LoadAlertmanagerConfig(a[0])
			if err != nil {
				return fmt.Errorf("routes check: %w", err)
			}
			built, err := dispatch.FromConfig(cfg, nil)
			if err != nil {
				return fmt.Errorf("routes check: %w", err)
			}
			n := 0
			built.Route.Walk(func(*route.Route) { n++ })
			w := cmd.OutOrStdout()
			if asJSON {
				warns := cfg.Warnings
				if warns == nil {
					warns = []string{}
				}
				return routesJSON(w, map[string]any{"valid": true, "warnings": warns, "routes": n, "receivers": len(cfg.Receivers)})
			}
			for _, warn := range cfg.Warnings {
				fmt.Fprintln(w, "warning:", warn)
			}
			fmt.Fprintf(w, "%s: valid: %d routes, %d receivers, %d inhibit rules, %d time intervals, %d maintenance windows\n",
				a[0], n, len(cfg.Receivers), len(cfg.InhibitRules), len(cfg.AllTimeIntervals()), len(cfg.MaintenanceWindows))
			return nil
		},
	}
	check.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of text")

	var testJSON bool
	test := &cobra.Command{
		Use:   "test FILE LABEL=VALUE... [--json]",
		Short: "Show the routes, receivers, group and timers an alert with these labels gets",
		Long: `Route a label set through the tree of an alertmanager.yml and print, per
matching route, the receiver, the group key and the group_wait,
group_interval and repeat_interval that apply. Labels are given as
name=value (quotes optional: severity="page"). --json prints a list of
{"receiver","route","group_key","group_wait","group_interval","repeat_interval","mute_time_intervals","active_time_intervals"}.`,
		Args: args(cobra.MinimumNArgs(2)),
		RunE: func(cmd *cobra.Command, a []string) error {
			ls, err := routesLabelArgs(a[1:])
			if err != nil {
				return usageError{fmt.Errorf("%s: %w (see %s --help)", cmd.CommandPath(), err, cmd.CommandPath())}
			}
			cfg, err := config.LoadAlertmanagerConfig(a[0])
			if err != nil {
				return fmt.Errorf("routes test: %w", err)
			}
			built, err := dispatch.FromConfig(cfg, nil)
			if err != nil {
				return fmt.Errorf("routes test: %w", err)
			}
			type hit struct {
				Receiver       string   `json:"receiver"`
				Route          string   `json:"route"`
				GroupKey       string   `json:"group_key"`
				GroupWait      string   `json:"group_wait"`
				GroupInterval  string   `json:"group_interval"`
				RepeatInterval string   `json:"repeat_interval"`
				Mute           []string `json:"mute_time_intervals"`
				Active         []string `json:"active_time_intervals"`
			}
			var hits []hit
			for _, r := range built.Route.Match(ls) {
				hits = append(hits, hit{
					Receiver: r.Receiver, Route: r.Key(), GroupKey: r.Key() + ":" + r.GroupLabels(ls).String(),
					GroupWait: config.Duration(r.GroupWait).String(), GroupInterval: config.Duration(r.GroupInterval).String(),
					RepeatInterval: config.Duration(r.RepeatInterval).String(),
					Mute:           routesNonNil(r.MuteTimeIntervals), Active: routesNonNil(r.ActiveTimeIntervals),
				})
			}
			w := cmd.OutOrStdout()
			if testJSON {
				return routesJSON(w, hits)
			}
			tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
			fmt.Fprintln(tw, "RECEIVER\tGROUP\tWAIT\tINTERVAL\tREPEAT\tMUTE\tACTIVE")
			for _, h := range hits {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", h.Receiver, h.GroupKey, h.GroupWait, h.GroupInterval, h.RepeatInterval,
					routesDash(h.Mute), routesDash(h.Active))
			}
			return tw.Flush()
		},
	}
	test.Flags().BoolVar(&testJSON, "json", false, "print JSON instead of a table")
	c.AddCommand(check, test)
	return c
}

// routesLabelArgs reads name=value arguments; each must be an equality.
func routesLabelArgs(in []string) (telemetry.Labels, error) {
	m := map[string]string{}
	for _, s := range in {
		mt, err := parse.Matcher(s)
		if err != nil {
			return nil, fmt.Errorf("label %q: want name=value: %v", s, err)
		}
		if mt.Type.String() != "=" {
			return nil, fmt.Errorf("label %q: want name=value, not a %s matcher", s, mt.Type)
		}
		if _, dup := m[mt.Name]; dup {
			return nil, fmt.Errorf("label %q given twice", mt.Name)
		}
		m[mt.Name] = mt.Value
	}
	return telemetry.LabelsFromMap(m), nil
}

func routesNonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func routesDash(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ",")
}

func routesJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
