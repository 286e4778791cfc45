package slo

import (
	"errors"
	"fmt"
	"time"
)

// Severity says how urgently a burn must be handled.
type Severity string

// Severities of the burn-rate alerts, as the workbook pairs them: a page
// wakes someone, a ticket waits for working hours.
const (
	SeverityPage   Severity = "page"
	SeverityTicket Severity = "ticket"
)

// BurnWindow is one multi-window alert condition: it holds when the burn
// rate exceeds Factor over both Long and Short. The long window makes the
// alert significant; the short one makes it stop soon after the burn does.
type BurnWindow struct {
	Long, Short time.Duration
	Factor      float64
	Severity    Severity
}

// DefaultWindows returns the four pairs of the Google SRE workbook
// (chapter 5, "Alerting on SLOs"), computed for a 30-day budget: 14.4x over
// 1h and 5m spends 2% of the budget in an hour; 6x over 6h and 30m 5% in
// six hours; 3x over 1d and 2h 10% in a day; 1x over 3d and 6h 10% in
// three days.
func DefaultWindows() []BurnWindow {
	return []BurnWindow{
		{Long: time.Hour, Short: 5 * time.Minute, Factor: 14.4, Severity: SeverityPage},
		{Long: 6 * time.Hour, Short: 30 * time.Minute, Factor: 6, Severity: SeverityPage},
		{Long: 24 * time.Hour, Short: 2 * time.Hour, Factor: 3, Severity: SeverityTicket},
		{Long: 3 * 24 * time.Hour, Short: 6 * time.Hour, Factor: 1, Severity: SeverityTicket},
	}
}

// validateWindows checks a window list: positive durations, the short
// window inside the long one, positive factors, known severities, and
// distinct long windows (the window label must tell alerts apart).
func validateWindows(ws []BurnWindow) error {
	if len(ws) == 0 {
		return errors.New("no burn-rate windows")
	}
	var errs []error
	seen := map[time.Duration]bool{}
	for i, w := range ws {
		switch {
		case w.Short <= 0 || w.Long <= 0:
			errs = append(errs, fmt.Errorf("window %d: durations must be positive", i))
		case w.Short >= w.Long:
			errs = append(errs, fmt.Errorf("window %d: short %v not shorter than long %v", i, w.Short, w.Long))
		}
		if !(w.Factor > 0) {
			errs = append(errs, fmt.Errorf("window %d: factor %v must be positive", i, w.Factor))
		}
		if w.Severity != SeverityPage && w.Severity != SeverityTicket {
			errs = append(errs, fmt.Errorf("window %d: severity %q is neither page nor ticket", i, w.Severity))
		}
		if seen[w.Long] {
			errs = append(errs, fmt.Errorf("window %d: long window %v used twice", i, w.Long))
		}
		seen[w.Long] = true
	}
	return errors.Join(errs...)
}

// BudgetSpent returns the share of a budget window's error budget that a
// burn at exactly Factor spends over the long window: what has gone by the
// time the alert can fire (0.02 for 14.4x over 1h of 30 days).
func (w BurnWindow) BudgetSpent(budgetWindow time.Duration) float64 {
	if budgetWindow <= 0 {
		return 0
	}
	return w.Factor * float64(w.Long) / float64(budgetWindow)
}
