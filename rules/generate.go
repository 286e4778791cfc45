package rules

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Generate validates spec (applying its defaults) and returns the rule
// file: one group per baseline, spike and SLO, in spec order.
func Generate(spec *Spec) (*File, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	f := &File{}
	for i := range spec.Baselines {
		f.Groups = append(f.Groups, baselineGroup(&spec.Baselines[i]))
	}
	for i := range spec.Spikes {
		f.Groups = append(f.Groups, spikeGroup(&spec.Spikes[i]))
	}
	for i := range spec.SLOs {
		f.Groups = append(f.Groups, SLOGroup(&spec.SLOs[i]))
	}
	return f, nil
}

// level is the aggregation level that prefixes recorded names, as in the
// Prometheus naming convention level:metric:operations.
func level(by []string) string {
	if len(by) == 0 {
		return "all"
	}
	return strings.Join(by, "_")
}

// RecordedNames are the series a baseline or spike records.
type RecordedNames struct {
	Value, Mean, Stddev, ZScore, Deriv string
}

// BaselineNames returns the names baseline b records (after defaults).
func BaselineNames(b *Baseline) RecordedNames {
	p := level(b.By) + ":" + b.Name + ":"
	w := promDuration(b.Window)
	return RecordedNames{
		Value:  p + "value",
		Mean:   p + "avg_over_time_" + w,
		Stddev: p + "stddev_over_time_" + w,
		ZScore: p + "zscore_" + w,
	}
}

func baselineGroup(b *Baseline) Group {
	n := BaselineNames(b)
	w := promDuration(b.Window)
	z := num(b.Z)
	var cond, side string
	switch b.Direction {
	case Up:
		cond, side = fmt.Sprintf("%s > %s", n.ZScore, z), "above"
	case Down:
		cond, side = fmt.Sprintf("%s < -%s", n.ZScore, z), "below"
	default:
		cond, side = fmt.Sprintf("%s > %s or %s < -%s", n.ZScore, z, n.ZScore, z), "away from"
	}
	return Group{
		Name: "vigil-baseline-" + b.Name,
		Rules: []Rule{
			{Record: n.Value, Expr: strings.TrimSpace(b.Expr)},
			{Record: n.Mean, Expr: fmt.Sprintf("avg_over_time(%s[%s])", n.Value, w)},
			{Record: n.Stddev, Expr: fmt.Sprintf("stddev_over_time(%s[%s])", n.Value, w)},
			// A flat history has no spread: dividing only where the
			// standard deviation is positive leaves its z-score absent
			// rather than infinite.
			{Record: n.ZScore, Expr: fmt.Sprintf("(%s - %s) / (%s > 0)", n.Value, n.Mean, n.Stddev)},
			{
				Alert:  b.Alert,
				Expr:   cond,
				For:    Duration(b.For),
				Labels: labelNode(b.Severity, b.Labels),
				Annotations: mapNode(
					"summary", fmt.Sprintf(`%s%s is {{ $value | printf "%%.1f" }} standard deviations %s its %s baseline`, who(b.By), b.Name, side, w),
					"description", fmt.Sprintf(`%s has stayed more than %s standard deviations %s its mean over the past %s for %s (z-score {{ $value | printf "%%.2f" }}%s).`,
						b.Name, z, side, w, promDuration(b.For), byList(b.By)),
				),
			},
		},
	}
}

// SpikeNames returns the names spike s records (after defaults).
func SpikeNames(s *Spike) RecordedNames {
	p := level(s.By) + ":" + s.Name + ":"
	return RecordedNames{
		Value: p + "value",
		Mean:  p + "avg_over_time_" + promDuration(s.Window),
		Deriv: p + "deriv_" + promDuration(s.DerivWindow),
	}
}

func spikeGroup(s *Spike) Group {
	n := SpikeNames(s)
	dw := promDuration(s.DerivWindow)
	// deriv() gives a per-second slope; times the window's seconds it is
	// the growth the fitted line makes across the window.
	cond := fmt.Sprintf("%s * %s > %s * %s", n.Deriv, seconds(s.DerivWindow), num(s.Factor), n.Mean)
	if s.Min != nil {
		cond = fmt.Sprintf("(%s) and %s > %s", cond, n.Value, num(*s.Min))
	}
	return Group{
		Name: "vigil-spike-" + s.Name,
		Rules: []Rule{
			{Record: n.Value, Expr: strings.TrimSpace(s.Expr)},
			{Record: n.Deriv, Expr: fmt.Sprintf("deriv(%s[%s])", n.Value, dw)},
			{Record: n.Mean, Expr: fmt.Sprintf("avg_over_time(%s[%s])", n.Value, promDuration(s.Window))},
			{
				Alert:  s.Alert,
				Expr:   cond,
				For:    Duration(s.For),
				Labels: labelNode(s.Severity, s.Labels),
				Annotations: mapNode(
					"summary", fmt.Sprintf(`%s%s rose by {{ $value | humanize }} within %s, more than %s times its %s mean`, who(s.By), s.Name, dw, num(s.Factor), promDuration(s.Window)),
					"description", fmt.Sprintf(`%s grew by {{ $value | humanize }} over the last %s (slope fitted by deriv), against a threshold of %s times its mean over the past %s, for %s%s.`,
						s.Name, dw, num(s.Factor), promDuration(s.Window), promDuration(s.For), byList(s.By)),
				),
			},
		},
	}
}

// who prefixes a summary with the by labels' values.
func who(by []string) string {
	if len(by) == 0 {
		return ""
	}
	parts := make([]string, len(by))
	for i, l := range by {
		parts[i] = "{{ $labels." + l + " }}"
	}
	return strings.Join(parts, "/") + ": "
}

func byList(by []string) string {
	if len(by) == 0 {
		return ""
	}
	parts := make([]string, len(by))
	for i, l := range by {
		parts[i] = l + "={{ $labels." + l + " }}"
	}
	return "; " + strings.Join(parts, ", ")
}

// labelNode renders severity first, then the extra labels sorted.
func labelNode(severity string, extra map[string]string) Map {
	kv := []string{"severity", severity}
	for _, k := range slices.Sorted(maps.Keys(extra)) {
		kv = append(kv, k, extra[k])
	}
	return mapNode(kv...)
}

// num renders a number the shortest way PromQL reads back exactly.
func num(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// seconds renders a duration in seconds.
func seconds(d time.Duration) string { return num(d.Seconds()) }
