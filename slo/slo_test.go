package slo

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func mustSel(t testing.TB, s string) Selector {
	t.Helper()
	sel, err := ParseSelector(s)
	if err != nil {
		t.Fatalf("ParseSelector(%q): %v", s, err)
	}
	return sel
}

func checkoutSLO(t testing.TB) Definition {
	return Definition{
		Name: "checkout-availability", Service: "checkout", Objective: 99.9,
		Bad:   mustSel(t, `http_requests_total{service="checkout",code=~"5.."}`),
		Total: mustSel(t, `http_requests_total{service="checkout"}`),
	}
}

func TestBudgetMath(t *testing.T) {
	d := checkoutSLO(t)
	tests := []struct {
		name          string
		counts        Counts
		wantBurn      float64
		wantRemaining float64
	}{
		{"no errors", Counts{Good: 1000, Total: 1000}, 0, 1},
		{"exactly the budget", Counts{Good: 999, Total: 1000}, 1, 0},
		{"fast burn", Counts{Good: 9856, Total: 10000}, 14.4, -13.4},
		{"half the budget", Counts{Good: 19990, Total: 20000}, 0.5, 0.5},
		{"good above total is no negative error", Counts{Good: 1001, Total: 1000}, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := d.BurnRate(tt.counts); math.Abs(got-tt.wantBurn) > 1e-6 {
				t.Errorf("BurnRate = %v, want %v", got, tt.wantBurn)
			}
			if got := d.BudgetRemaining(tt.counts); math.Abs(got-tt.wantRemaining) > 1e-6 {
				t.Errorf("BudgetRemaining = %v, want %v", got, tt.wantRemaining)
			}
		})
	}
	t.Run("no traffic", func(t *testing.T) {
		if got := d.BurnRate(Counts{}); !math.IsNaN(got) {
			t.Errorf("BurnRate without events = %v, want NaN", got)
		}
	})
	t.Run("budget", func(t *testing.T) {
		if got := d.ErrorBudget(); math.Abs(got-0.001) > 1e-12 {
			t.Errorf("ErrorBudget = %v, want 0.001", got)
		}
		if got := d.BudgetWindow(); got != 30*24*time.Hour {
			t.Errorf("BudgetWindow = %v, want 720h", got)
		}
		// 14.4x spends a 30-day budget in 50 hours.
		if got := d.TimeToExhaustion(14.4); got != 50*time.Hour {
			t.Errorf("TimeToExhaustion(14.4) = %v, want 50h", got)
		}
		if got := d.TimeToExhaustion(0); got != time.Duration(math.MaxInt64) {
			t.Errorf("TimeToExhaustion(0) = %v, want forever", got)
		}
		if got := d.TimeToExhaustion(1e-300); got != time.Duration(math.MaxInt64) {
			t.Errorf("TimeToExhaustion(tiny) = %v, want forever", got)
		}
	})
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(d *Definition)
		fields []string // fields the error must name; none means valid
	}{
		{"valid", func(d *Definition) {}, nil},
		{"good instead of bad", func(d *Definition) {
			d.Good, d.Bad = mustSel(t, `http_requests_total{code!~"5.."}`), Selector{}
		}, nil},
		{"bad name", func(d *Definition) { d.Name = "9lives" }, []string{"name"}},
		{"name with space", func(d *Definition) { d.Name = "a b" }, []string{"name"}},
		{"no service", func(d *Definition) { d.Service = "" }, []string{"service"}},
		{"objective 100", func(d *Definition) { d.Objective = 100 }, []string{"objective"}},
		{"objective 0", func(d *Definition) { d.Objective = 0 }, []string{"objective"}},
		{"objective NaN", func(d *Definition) { d.Objective = math.NaN() }, []string{"objective"}},
		{"short window", func(d *Definition) { d.Window = time.Hour }, []string{"window"}},
		{"negative window", func(d *Definition) { d.Window = -time.Hour }, []string{"window"}},
		{"neither good nor bad", func(d *Definition) { d.Bad = Selector{} }, []string{"good"}},
		{"both good and bad", func(d *Definition) { d.Good = d.Total }, []string{"bad"}},
		{"no total", func(d *Definition) { d.Total = Selector{} }, []string{"total"}},
		{"reserved label", func(d *Definition) { d.Labels = map[string]string{"severity": "x"} }, []string{"labels"}},
		{"bad label name", func(d *Definition) { d.Labels = map[string]string{"a-b": "x"} }, []string{"labels"}},
		{"several at once", func(d *Definition) { d.Name, d.Objective = "", 101 }, []string{"name", "objective"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := checkoutSLO(t)
			tt.edit(&d)
			err := d.Validate()
			if len(tt.fields) == 0 {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate = %v, want ErrInvalid", err)
			}
			for _, f := range tt.fields {
				if !strings.Contains(err.Error(), f+":") {
					t.Errorf("error %q does not name field %s", err, f)
				}
			}
		})
	}
}

func TestValidateWindows(t *testing.T) {
	if err := validateWindows(DefaultWindows()); err != nil {
		t.Fatalf("default windows: %v", err)
	}
	bad := [][]BurnWindow{
		nil,
		{{Long: time.Hour, Short: time.Hour, Factor: 1, Severity: SeverityPage}},
		{{Long: time.Hour, Short: time.Minute, Factor: 0, Severity: SeverityPage}},
		{{Long: time.Hour, Short: time.Minute, Factor: 1, Severity: "urgent"}},
		{{Long: time.Hour, Short: time.Minute, Factor: 1, Severity: SeverityPage}, {Long: time.Hour, Short: 2 * time.Minute, Factor: 2, Severity: SeverityPage}},
	}
	for i, ws := range bad {
		if err := validateWindows(ws); err == nil {
			t.Errorf("case %d: validateWindows(%v) = nil, want an error", i, ws)
		}
	}
}
