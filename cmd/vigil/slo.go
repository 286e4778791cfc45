package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/prometheus/common/model"
	"github.com/spf13/cobra"

	"github.com/vigilops/vigil/slo"
)

func init() { extraCommands = append(extraCommands, newSLOCmd) }

// newSLOCmd returns `vigil slo`, error budget arithmetic.
func newSLOCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "slo",
		Short: "Error budgets and burn-rate alert windows of an SLO",
	}
	c.AddCommand(newSLOBudgetCmd())
	return c
}

type sloBudgetAlert struct {
	Severity    string  `json:"severity"`
	Long        string  `json:"long_window"`
	Short       string  `json:"short_window"`
	Factor      float64 `json:"burn_rate"`
	BudgetSpent float64 `json:"budget_spent"`
	ExhaustedIn string  `json:"budget_exhausted_in"`
}

type sloBudget struct {
	Objective   float64          `json:"objective"`
	Window      string           `json:"window"`
	ErrorBudget float64          `json:"error_budget"`
	FullOutage  string           `json:"full_outage"`
	Alerts      []sloBudgetAlert `json:"alerts"`
}

func newSLOBudgetCmd() *cobra.Command {
	var objective float64
	var window string
	var asJSON bool
	c := &cobra.Command{
		Use:   "budget --objective PERCENT [--window 30d] [--json]",
		Short: "Print the error budget of an objective and what each burn-rate alert means",
		Long: `Print the error budget of an objective over its window: the share of
events allowed to fail and how long a full outage it allows, then for each
of the workbook's multi-window burn-rate alerts (the ones vigil rules
generate and Vigil's SLO evaluator raise) how much of the budget is spent
by the time it fires and how long the whole budget lasts at that rate.
--json prints {"objective","window","error_budget","full_outage","alerts":
[{"severity","long_window","short_window","burn_rate","budget_spent",
"budget_exhausted_in"}]}.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("objective") {
				return usageError{errors.New("slo budget: --objective PERCENT is required, e.g. 99.9")}
			}
			// model.ParseDuration takes "0d" and "0s"; the definition would
			// read a zero window as "use the default", so the user would get
			// a 30-day budget for the window they did not ask for.
			w, err := model.ParseDuration(window)
			if err != nil || w <= 0 {
				return usageError{fmt.Errorf("slo budget: --window %q is not a positive duration like 28d or 30d", window)}
			}
			d := slo.Definition{Name: "budget", Service: "budget", Objective: objective, Window: time.Duration(w)}
			var fe *slo.FieldError
			if err := d.Validate(); errors.As(err, &fe) && (fe.Field == "objective" || fe.Field == "window") {
				return usageError{fmt.Errorf("slo budget: --%s: %s", fe.Field, fe.Msg)}
			}
			out := sloBudget{
				Objective: objective, Window: slo.FormatDuration(d.BudgetWindow()), ErrorBudget: d.ErrorBudget(),
				FullOutage: roundDuration(time.Duration(d.ErrorBudget() * float64(d.BudgetWindow()))),
			}
			for _, bw := range slo.DefaultWindows() {
				out.Alerts = append(out.Alerts, sloBudgetAlert{
					Severity: string(bw.Severity), Long: slo.FormatDuration(bw.Long), Short: slo.FormatDuration(bw.Short),
					Factor: bw.Factor, BudgetSpent: bw.BudgetSpent(d.BudgetWindow()),
					ExhaustedIn: roundDuration(d.TimeToExhaustion(bw.Factor)),
				})
			}
			w2 := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(w2)
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			fmt.Fprintf(w2, "objective     %g%% over %s\n", objective, out.Window)
			fmt.Fprintf(w2, "error budget  %.4g%% of events; a full outage of %s\n\n", 100*out.ErrorBudget, out.FullOutage)
			tw := tabwriter.NewWriter(w2, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "severity\twindows\tburn rate\tbudget spent when it fires\tbudget gone in")
			for _, a := range out.Alerts {
				fmt.Fprintf(tw, "%s\t%s and %s\t%gx\t%.3g%%\t%s\n", a.Severity, a.Long, a.Short, a.Factor, 100*a.BudgetSpent, a.ExhaustedIn)
			}
			return tw.Flush()
		},
	}
	// Default 0 so that help shows none: the flag is required (checked
	// with Changed above), and an explicit 0 fails validation.
	c.Flags().Float64Var(&objective, "objective", 0, "target share of good events in percent, e.g. 99.9 (required)")
	c.Flags().StringVar(&window, "window", "30d", "budget window")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of text")
	return c
}

// roundDuration renders d to the second the Prometheus way (2d2h, 43m12s).
func roundDuration(d time.Duration) string {
	return slo.FormatDuration(d.Round(time.Second))
}
