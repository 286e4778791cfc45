package rules

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/vigilops/vigil/slo"
)

// SLO recording rule names. The error ratio is recorded per window with the
// slo and service labels, as the workbook's slo:sli_error:ratio_rate<w>.
const (
	ErrorRatioPrefix      = "slo:sli_error:ratio_rate"
	BudgetRemainingRecord = "slo:error_budget_remaining:ratio"
)

// SLOGroup returns the Prometheus rules for d with the workbook's windows:
// the error ratio recorded over every window the alerts need and over the
// budget window, the remaining budget, and one SLOBurnRate alert per
// window pair, labelled like the alerts slo.Evaluator raises.
func SLOGroup(d *slo.Definition) Group {
	return SLOGroupWindows(d, slo.DefaultWindows())
}

// SLOGroupWindows is SLOGroup with other alert windows.
func SLOGroupWindows(d *slo.Definition, windows []slo.BurnWindow) Group {
	set := map[time.Duration]bool{d.BudgetWindow(): true}
	for _, w := range windows {
		set[w.Long], set[w.Short] = true, true
	}
	kv := []string{"slo", d.Name, "service", d.Service}
	for _, k := range slices.Sorted(maps.Keys(d.Labels)) {
		kv = append(kv, k, d.Labels[k])
	}
	labels := mapNode(kv...)
	g := Group{Name: "vigil-slo-" + d.Name}
	for _, w := range slices.Sorted(maps.Keys(set)) {
		g.Rules = append(g.Rules, Rule{Record: ErrorRatioPrefix + promDuration(w), Expr: errorRatioExpr(d, w), Labels: labels})
	}
	sel := fmt.Sprintf("{slo=%s}", strconv.Quote(d.Name))
	// The budget as an expression of the objective, not a rounded float:
	// (1 - 99.9 / 100) reads as what it is.
	budget := fmt.Sprintf("(1 - %s / 100)", num(d.Objective))
	g.Rules = append(g.Rules, Rule{
		Record: BudgetRemainingRecord,
		Expr:   fmt.Sprintf("1 - %s%s%s / %s", ErrorRatioPrefix, promDuration(d.BudgetWindow()), sel, budget),
		Labels: labels,
	})
	objective := num(d.Objective)
	budgetPct := strconv.FormatFloat(100-d.Objective, 'g', 6, 64)
	for _, w := range windows {
		long, short := promDuration(w.Long), promDuration(w.Short)
		factor := num(w.Factor)
		expr := fmt.Sprintf("%s%s%s > (%s * %s)\nand\n%s%s%s > (%s * %s)",
			ErrorRatioPrefix, long, sel, factor, budget,
			ErrorRatioPrefix, short, sel, factor, budget)
		ann := []string{
			"summary", fmt.Sprintf("SLO %s of %s is burning its error budget over %s and %s (threshold %sx)", d.Name, d.Service, long, short, factor),
			"description", fmt.Sprintf("Error ratio {{ $value | humanizePercentage }} over %s, more than %s times the budget of %s%% (objective %s%% over %s).",
				long, factor, budgetPct, objective, promDuration(d.BudgetWindow())),
		}
		if d.Description != "" {
			ann = append(ann, "slo_description", d.Description)
		}
		g.Rules = append(g.Rules, Rule{
			Alert: slo.AlertName,
			Expr:  expr,
			// slo and service come with the recorded series too; stating
			// them keeps the rules of different SLOs distinct for promtool.
			Labels:      mapNode("slo", d.Name, "service", d.Service, "severity", string(w.Severity), "window", long),
			Annotations: mapNode(ann...),
		})
	}
	return g
}

// errorRatioExpr is the share of bad events over w.
func errorRatioExpr(d *slo.Definition, w time.Duration) string {
	r := "[" + promDuration(w) + "]"
	total := "sum(rate(" + d.Total.String() + r + "))"
	if !d.Bad.IsZero() {
		return "sum(rate(" + d.Bad.String() + r + ")) / " + total
	}
	return "1 - (sum(rate(" + d.Good.String() + r + ")) / " + total + ")"
}
