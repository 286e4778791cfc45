package kedascaler

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseMetadataDefaults(t *testing.T) {
	s, err := ParseMetadata(map[string]string{KeyQuery: " up ", KeyTargetValue: "12.5", "scalerAddress": "vigil:9381"}, 50000)
	if err != nil {
		t.Fatal(err)
	}
	want := defaultSpec()
	want.Query = Query{Kind: QueryPromQL, Expr: "up"}
	want.TargetValue = 12.5
	want.MetricName = s.MetricName
	want.horizonUnset = true
	want.toleranceUnset = true
	if s != want {
		t.Fatalf("spec %+v\nwant %+v", s, want)
	}
	if !strings.HasPrefix(s.MetricName, "vigil-forecast-") || !validMetricName(s.MetricName) {
		t.Fatalf("default metric name %q", s.MetricName)
	}
	other, _ := ParseMetadata(map[string]string{KeySelector: "up", KeyTargetValue: "1"}, 50000)
	if other.MetricName == s.MetricName || other.Query.Kind != QuerySelector {
		t.Fatalf("a selector and a query of the same text share name %q or kind", s.MetricName)
	}
}

func TestParseMetadataValues(t *testing.T) {
	s, err := ParseMetadata(md(
		KeyHorizon, "1h30m", KeyQuantile, "0.95", KeyActivationThreshold, "-3",
		KeyMetricName, "frontend_rps", KeyStep, "30", KeyLookback, "7d", KeyTolerance, "0",
		KeyStabilization, "0s", KeyMaxChange, "0.5", KeyMaxRelativeWidth, "2.5",
		KeyMaxStaleness, "10m", KeyMaxFitAge, "2h", KeyRecentStep, "10s", KeyLeadTime, "90s",
		KeyHPATolerance, "0.05",
	), 50000)
	if err != nil {
		t.Fatal(err)
	}
	if s.Horizon != 90*time.Minute || s.Quantile != 0.95 || s.ActivationThreshold != -3 || s.MetricName != "frontend_rps" ||
		s.Step != 30*time.Second || s.Lookback != 7*24*time.Hour || s.Tolerance != 0 || s.Stabilization != 0 ||
		s.MaxChange != 0.5 || s.MaxRelativeWidth != 2.5 || s.MaxStaleness != 10*time.Minute || s.MaxFitAge != 2*time.Hour ||
		s.RecentStep != 10*time.Second || s.LeadTime != 90*time.Second || s.HPATolerance != 0.05 {
		t.Fatalf("spec %+v", s)
	}
}

func TestParseMetadataErrors(t *testing.T) {
	tests := []struct {
		name string
		meta map[string]string
		key  string
		why  string
	}{
		{"no query", md(KeyQuery, "<delete>"), KeyQuery, "missing"},
		{"both query and selector", md(KeySelector, "up"), KeySelector, "not both"},
		{"empty query", md(KeyQuery, "  "), KeyQuery, "empty"},
		{"long query", md(KeyQuery, strings.Repeat("x", maxQueryLen+1)), KeyQuery, "longer"},
		{"empty selector", md(KeyQuery, "<delete>", KeySelector, ""), KeySelector, "empty"},
		{"bad selector", md(KeyQuery, "<delete>", KeySelector, `up{job=}`), KeySelector, "selector"},
		{"no target", md(KeyTargetValue, "<delete>"), KeyTargetValue, "missing"},
		{"zero target", md(KeyTargetValue, "0"), KeyTargetValue, "positive"},
		{"text target", md(KeyTargetValue, "lots"), KeyTargetValue, "finite number"},
		{"NaN target", md(KeyTargetValue, "NaN"), KeyTargetValue, "finite number"},
		{"bad horizon", md(KeyHorizon, "soon"), KeyHorizon, "not a duration"},
		{"huge horizon", md(KeyHorizon, "2d"), KeyHorizon, "outside"},
		{"negative horizon", md(KeyHorizon, "-5m"), KeyHorizon, "outside"},
		{"quantile 1", md(KeyQuantile, "1"), KeyQuantile, "outside"},
		{"quantile 0", md(KeyQuantile, "0"), KeyQuantile, "outside"},
		{"bad activation", md(KeyActivationThreshold, "Inf"), KeyActivationThreshold, "finite"},
		{"tiny step", md(KeyStep, "1ms"), KeyStep, "outside"},
		{"lookback too many points", md(KeyLookback, "90d", KeyStep, "1s"), KeyLookback, "limit"},
		{"tolerance above 1", md(KeyTolerance, "1.5"), KeyTolerance, "outside"},
		{"long stabilisation", md(KeyStabilization, "3h"), KeyStabilization, "outside"},
		{"negative cap", md(KeyMaxChange, "-1"), KeyMaxChange, "outside"},
		{"zero width", md(KeyMaxRelativeWidth, "0"), KeyMaxRelativeWidth, "outside"},
		{"staleness below step", md(KeyMaxStaleness, "1s"), KeyMaxStaleness, "outside"},
		{"bad fit age", md(KeyMaxFitAge, "x"), KeyMaxFitAge, "not a duration"},
		{"bad metric name", md(KeyMetricName, "a b"), KeyMetricName, "letters"},
		{"recent step above step", md(KeyRecentStep, "2m"), KeyRecentStep, "outside"},
		{"recent step below a second", md(KeyRecentStep, "100ms"), KeyRecentStep, "below"},
		{"negative lead time", md(KeyLeadTime, "-1m"), KeyLeadTime, "outside"},
		{"long lead time", md(KeyLeadTime, "2h"), KeyLeadTime, "outside"},
		{"hpa tolerance above a half", md(KeyHPATolerance, "0.6"), KeyHPATolerance, "outside"},
		{"negative hpa tolerance", md(KeyHPATolerance, "-0.1"), KeyHPATolerance, "outside"},
		{"misspelt key", md("scaleDownStabilisation", "5m"), "scaleDownStabilisation", "unknown key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseMetadata(tc.meta, 50000)
			var me *MetadataError
			if !errors.As(err, &me) || !errors.Is(err, ErrInvalidMetadata) {
				t.Fatalf("err %v, want a MetadataError", err)
			}
			if me.Key != tc.key || !strings.Contains(err.Error(), tc.why) || !strings.Contains(err.Error(), `"`+tc.key+`"`) {
				t.Fatalf("err %q (key %q), want key %q and %q in the message", err, me.Key, tc.key, tc.why)
			}
		})
	}
}

func TestObjectKeyDependsOnMetadata(t *testing.T) {
	a := objectKey("ns", "n", md())
	if a != objectKey("ns", "n", md()) {
		t.Fatal("same metadata, different keys")
	}
	if a == objectKey("ns", "n", md(KeyHorizon, "5m")) || a == objectKey("ns2", "n", md()) {
		t.Fatal("different object or metadata, same key")
	}
}

// FuzzParseMetadata feeds arbitrary values for every key: the parser must
// either accept them into a spec that satisfies its bounds or name a key.
func FuzzParseMetadata(f *testing.F) {
	f.Add("up", "15m", "0.9", "10", "5m", "0.05", "1", "7d", "1m")
	f.Add("", "-1h", "2", "0", "x", "NaN", "-0", "1e309", "0.0001s")
	f.Add("sum(rate(x[1m]))", "86400", "1e-300", "1e308", "1h", "1", "100", "90d", "1s")
	f.Fuzz(func(t *testing.T, q, horizon, quantile, target, stab, tol, maxChange, lookback, step string) {
		m := map[string]string{KeyQuery: q, KeyHorizon: horizon, KeyQuantile: quantile, KeyTargetValue: target,
			KeyStabilization: stab, KeyTolerance: tol, KeyMaxChange: maxChange, KeyLookback: lookback, KeyStep: step}
		s, err := ParseMetadata(m, 50000)
		if err != nil {
			var me *MetadataError
			if !errors.As(err, &me) || me.Key == "" {
				t.Fatalf("error %v names no key", err)
			}
			return
		}
		switch {
		case s.Query.Expr == "" || len(s.Query.Expr) > maxQueryLen:
			t.Fatalf("accepted query %q", s.Query.Expr)
		case s.Horizon <= 0 || s.Horizon > maxHorizon:
			t.Fatalf("accepted horizon %s", s.Horizon)
		case !(s.Quantile > 0 && s.Quantile < 1):
			t.Fatalf("accepted quantile %g", s.Quantile)
		case !(s.TargetValue > 0):
			t.Fatalf("accepted target %g", s.TargetValue)
		case s.Step < minStep || s.Lookback < s.Step || s.Lookback/s.Step > 50000:
			t.Fatalf("accepted step %s lookback %s", s.Step, s.Lookback)
		case s.Tolerance < 0 || s.Tolerance > 1 || s.MaxChange < 0 || s.Stabilization < 0:
			t.Fatalf("accepted guards %+v", s)
		}
	})
}
