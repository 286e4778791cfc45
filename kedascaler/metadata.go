package kedascaler

import (
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// Metadata keys a ScaledObject's external trigger may set. Exactly one of
// query and selector is required, and targetValue; the rest have defaults.
const (
	KeyQuery               = "query"
	KeySelector            = "selector"
	KeyHorizon             = "horizon"
	KeyQuantile            = "quantile"
	KeyTargetValue         = "targetValue"
	KeyActivationThreshold = "activationThreshold"
	KeyMetricName          = "metricName"
	KeyStep                = "step"
	KeyLookback            = "lookback"
	KeyTolerance           = "tolerance"
	KeyStabilization       = "scaleDownStabilization"
	KeyMaxChange           = "maxChangePerStep"
	KeyMaxRelativeWidth    = "maxRelativeWidth"
	KeyMaxStaleness        = "maxStaleness"
	KeyMaxFitAge           = "maxFitAge"
	KeyRecentStep          = "recentStep"
	KeyLeadTime            = "leadTime"
	KeyHPATolerance        = "hpaTolerance"
	KeyReplicasQuery       = "replicasQuery"
)

// knownKeys lists every key, so a misspelt one is refused rather than
// silently ignored (a typo in "scaleDownStabilization" would otherwise turn
// the guard off without anyone noticing).
var knownKeys = []string{
	KeyQuery, KeySelector, KeyHorizon, KeyQuantile, KeyTargetValue,
	KeyActivationThreshold, KeyMetricName, KeyStep, KeyLookback, KeyTolerance,
	KeyStabilization, KeyMaxChange, KeyMaxRelativeWidth, KeyMaxStaleness, KeyMaxFitAge,
	KeyRecentStep, KeyLeadTime, KeyHPATolerance, KeyReplicasQuery,
}

// kedaKeys are keys KEDA itself reads from an external trigger's metadata
// and passes along; they are not ours to judge.
var kedaKeys = []string{"scalerAddress", "tlsCertFile", "caCert", "tlsClientCert", "tlsClientKey", "unsafeSsl", "enableTLS"}

// Bounds on metadata values: wide enough for any sane use, narrow enough
// that one ScaledObject cannot make the scaler hold or fetch unbounded data.
const (
	maxQueryLen = 8 << 10
	maxHorizon  = 24 * time.Hour
	maxLookback = 90 * 24 * time.Hour
	minStep     = time.Second
)

// Spec is a ScaledObject's parsed trigger metadata.
type Spec struct {
	Query Query
	// Horizon is how far ahead the peak is taken. Unset, it is 15m, and
	// LeadTime + Step (3m with the other defaults) for an object whose
	// replica count the scaler knows (Options.Replicas or ReplicasQuery;
	// see Scaler.effectiveSpec for why the two differ).
	Horizon time.Duration
	// horizonUnset records that the metadata left Horizon to its default.
	horizonUnset bool
	// Quantile of the forecast whose peak is served (default 0.9).
	Quantile float64
	// TargetValue is the load one replica should carry; KEDA's HPA
	// divides the served value by it.
	TargetValue float64
	// ActivationThreshold: IsActive is true while the peak exceeds it
	// (default 0).
	ActivationThreshold float64
	// MetricName is the name reported to KEDA (default
	// "vigil-forecast-<hash of the query>").
	MetricName string
	// Step is the history resolution asked of History (default 1m).
	Step time.Duration
	// Lookback is how much history the model sees (default 7d: a daily
	// pattern needs several days).
	Lookback time.Duration
	// Tolerance is the hysteresis: falls smaller than this fraction of the
	// served value are ignored (default 0.05, and 0 for an object whose
	// replica count the scaler knows; see Scaler.effectiveSpec); rises
	// always pass (see guard.apply for why).
	Tolerance float64
	// toleranceUnset records that the metadata left Tolerance to its
	// default.
	toleranceUnset bool
	// Stabilization is the scale-down window: the served value only falls
	// to the largest recommendation of this window (default 0). The HPA
	// that KEDA drives already holds every fall for its own window (300 s
	// unless the ScaledObject's behavior says otherwise) and two windows in
	// series hold capacity for their sum, so this one is for HPAs whose
	// window has been shortened (deploy/kubernetes sets 60 s there and 5m
	// here).
	Stabilization time.Duration
	// MaxChange caps the change per evaluation as a fraction of the served
	// value (default 1: at most doubling, at most to zero); 0 disables it.
	MaxChange float64
	// MaxRelativeWidth: when the 80% interval is wider than this multiple
	// of the forecast mean anywhere in the horizon, the model is unsure and
	// the current value is served (default 1).
	MaxRelativeWidth float64
	// MaxStaleness: when the newest history point is older than this, the
	// data is stale and the current value is served (default 5m).
	MaxStaleness time.Duration
	// MaxFitAge: a fit that ends longer than this before now is stale
	// (default 1h).
	MaxFitAge time.Duration
	// RecentStep is the finer step at which the last few minutes are read
	// again on every evaluation (default 15s, the HPA's sync period): the
	// current value and the ramp check use them, so the scaler's newest
	// reading is as fresh as a reactive HPA's. 0 (or a value not below
	// Step) turns it off.
	RecentStep time.Duration
	// LeadTime is how long new capacity takes to serve once the served
	// value rises: the HPA's sync plus pod start-up, usually 1-2 minutes
	// (default 2m). A significant rise over the last LeadTime of recent
	// points is extrapolated LeadTime past the newest point; 0 turns the
	// ramp extrapolation off.
	LeadTime time.Duration
	// HPATolerance is the tolerance of the HPA that KEDA drives
	// (kube-controller-manager's --horizontal-pod-autoscaler-tolerance,
	// default 0.1): when the scaler knows the current replica count
	// (Options.Replicas), it places the served value so that the HPA acts
	// on the replica count the forecast asks for instead of ignoring it
	// inside this dead band (see shapeForBand).
	HPATolerance float64
	// ReplicasQuery is a PromQL expression whose newest value is the
	// replica count the HPA divides by (its scale target's spec replicas),
	// read through History when Options.Replicas is not set, e.g.
	// kube-state-metrics' kube_deployment_spec_replicas{namespace="shop",
	// deployment="frontend"}. A point older than a minute is not used.
	// Empty (the default): unknown unless Options.Replicas says.
	ReplicasQuery string
}

// defaultSpec holds every default but the query and the target.
func defaultSpec() Spec {
	return Spec{
		Horizon:          15 * time.Minute,
		Quantile:         0.9,
		Step:             time.Minute,
		Lookback:         7 * 24 * time.Hour,
		Tolerance:        0.05,
		Stabilization:    0,
		MaxChange:        1,
		MaxRelativeWidth: 1,
		MaxStaleness:     5 * time.Minute,
		MaxFitAge:        time.Hour,
		RecentStep:       15 * time.Second,
		LeadTime:         2 * time.Minute,
		HPATolerance:     0.1,
	}
}

// MetadataError names the metadata key that is wrong and why.
type MetadataError struct {
	Key    string
	Reason string
}

func (e *MetadataError) Error() string {
	return fmt.Sprintf("scaler metadata key %q: %s", e.Key, e.Reason)
}

// Unwrap makes every MetadataError match ErrInvalidMetadata.
func (e *MetadataError) Unwrap() error { return ErrInvalidMetadata }

func badKey(key, format string, args ...any) error {
	return &MetadataError{Key: key, Reason: fmt.Sprintf(format, args...)}
}

// ParseMetadata validates a trigger's scalerMetadata. maxPoints bounds
// lookback/step. Errors are *MetadataError naming the first bad key in a
// fixed order, so the same metadata always gets the same message.
func ParseMetadata(md map[string]string, maxPoints int) (Spec, error) {
	s := defaultSpec()
	var unknown []string
	for k := range md {
		if !slices.Contains(knownKeys, k) && !slices.Contains(kedaKeys, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return Spec{}, badKey(unknown[0], "unknown key (known: %s)", strings.Join(knownKeys, ", "))
	}

	q, hasQ := md[KeyQuery]
	sel, hasSel := md[KeySelector]
	switch {
	case hasQ && hasSel:
		return Spec{}, badKey(KeySelector, "set either %q or %q, not both", KeyQuery, KeySelector)
	case !hasQ && !hasSel:
		return Spec{}, badKey(KeyQuery, "missing: set %q (PromQL) or %q (a series selector)", KeyQuery, KeySelector)
	case hasQ:
		s.Query = Query{Kind: QueryPromQL, Expr: strings.TrimSpace(q)}
	default:
		s.Query = Query{Kind: QuerySelector, Expr: strings.TrimSpace(sel)}
	}
	qk := s.Query.Kind.String()
	if s.Query.Expr == "" {
		return Spec{}, badKey(qk, "empty")
	}
	if len(s.Query.Expr) > maxQueryLen {
		return Spec{}, badKey(qk, "longer than %d bytes", maxQueryLen)
	}
	if s.Query.Kind == QuerySelector {
		if _, _, err := ParseSelector(s.Query.Expr); err != nil {
			return Spec{}, err
		}
	}

	var err error
	_, hasHorizon := md[KeyHorizon]
	s.horizonUnset = !hasHorizon
	if s.Horizon, err = durationKey(md, KeyHorizon, s.Horizon, time.Second, maxHorizon); err != nil {
		return Spec{}, err
	}
	if s.Quantile, err = floatKey(md, KeyQuantile, s.Quantile, 0, 1, false); err != nil {
		return Spec{}, err
	}
	tv, ok := md[KeyTargetValue]
	if !ok {
		return Spec{}, badKey(KeyTargetValue, "missing: the load one replica should carry, e.g. \"50\"")
	}
	if s.TargetValue, err = parseFloat(KeyTargetValue, tv); err != nil {
		return Spec{}, err
	}
	if s.TargetValue <= 0 {
		return Spec{}, badKey(KeyTargetValue, "%q is not a positive number", tv)
	}
	if s.ActivationThreshold, err = floatKey(md, KeyActivationThreshold, 0, math.Inf(-1), math.Inf(1), true); err != nil {
		return Spec{}, err
	}
	if s.Step, err = durationKey(md, KeyStep, s.Step, minStep, time.Hour); err != nil {
		return Spec{}, err
	}
	if s.Lookback, err = durationKey(md, KeyLookback, s.Lookback, s.Step, maxLookback); err != nil {
		return Spec{}, err
	}
	if n := int64(s.Lookback / s.Step); n > int64(maxPoints) {
		return Spec{}, badKey(KeyLookback, "%s at step %s is %d points, above the limit of %d", s.Lookback, s.Step, n, maxPoints)
	}
	_, hasTolerance := md[KeyTolerance]
	s.toleranceUnset = !hasTolerance
	if s.Tolerance, err = floatKey(md, KeyTolerance, s.Tolerance, 0, 1, true); err != nil {
		return Spec{}, err
	}
	if s.Stabilization, err = durationKey(md, KeyStabilization, s.Stabilization, 0, time.Hour); err != nil {
		return Spec{}, err
	}
	if s.MaxChange, err = floatKey(md, KeyMaxChange, s.MaxChange, 0, 100, true); err != nil {
		return Spec{}, err
	}
	if s.MaxRelativeWidth, err = floatKey(md, KeyMaxRelativeWidth, s.MaxRelativeWidth, 0, math.Inf(1), false); err != nil {
		return Spec{}, err
	}
	if s.MaxStaleness, err = durationKey(md, KeyMaxStaleness, s.MaxStaleness, s.Step, 24*time.Hour); err != nil {
		return Spec{}, err
	}
	if s.MaxFitAge, err = durationKey(md, KeyMaxFitAge, s.MaxFitAge, s.Step, 7*24*time.Hour); err != nil {
		return Spec{}, err
	}
	if s.RecentStep, err = durationKey(md, KeyRecentStep, s.RecentStep, 0, s.Step); err != nil {
		return Spec{}, err
	}
	if s.RecentStep > 0 && s.RecentStep < minStep {
		return Spec{}, badKey(KeyRecentStep, "%q is below %s (0 turns it off)", md[KeyRecentStep], minStep)
	}
	if s.LeadTime, err = durationKey(md, KeyLeadTime, s.LeadTime, 0, time.Hour); err != nil {
		return Spec{}, err
	}
	if s.HPATolerance, err = floatKey(md, KeyHPATolerance, s.HPATolerance, 0, 0.5, true); err != nil {
		return Spec{}, err
	}
	s.ReplicasQuery = strings.TrimSpace(md[KeyReplicasQuery])
	if len(s.ReplicasQuery) > maxQueryLen {
		return Spec{}, badKey(KeyReplicasQuery, "longer than %d bytes", maxQueryLen)
	}
	s.MetricName = md[KeyMetricName]
	if s.MetricName == "" {
		h := fnv.New64a()
		h.Write([]byte(qk))
		h.Write([]byte{0})
		h.Write([]byte(s.Query.Expr))
		s.MetricName = fmt.Sprintf("vigil-forecast-%016x", h.Sum64())
	} else if !validMetricName(s.MetricName) {
		return Spec{}, badKey(KeyMetricName, "%q must be 1-200 characters of letters, digits, '-', '_' or '.'", s.MetricName)
	}
	return s, nil
}

// validMetricName accepts names the HPA's external metric API takes.
func validMetricName(n string) bool {
	if len(n) == 0 || len(n) > 200 {
		return false
	}
	for _, r := range n {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
		default:
			return false
		}
	}
	return true
}

func parseFloat(key, v string) (float64, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, badKey(key, "%q is not a finite number", v)
	}
	return f, nil
}

// floatKey reads an optional number in [lo, hi] (or (lo, hi) when not
// closed).
func floatKey(md map[string]string, key string, def, lo, hi float64, closed bool) (float64, error) {
	v, ok := md[key]
	if !ok {
		return def, nil
	}
	f, err := parseFloat(key, v)
	if err != nil {
		return 0, err
	}
	if closed && (f < lo || f > hi) {
		return 0, badKey(key, "%q is outside [%g, %g]", v, lo, hi)
	}
	if !closed && (f <= lo || f >= hi) {
		return 0, badKey(key, "%q is outside (%g, %g)", v, lo, hi)
	}
	return f, nil
}

// durationKey reads an optional duration in Prometheus' syntax ("15m",
// "7d", "1h30m"), Go's ("1.5h") or a number of seconds, in [lo, hi].
func durationKey(md map[string]string, key string, def, lo, hi time.Duration) (time.Duration, error) {
	v, ok := md[key]
	if !ok {
		return def, nil
	}
	s := strings.TrimSpace(v)
	d, err := parsePromDuration(s)
	if err != nil {
		d, err = time.ParseDuration(s)
	}
	if err != nil {
		secs, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || math.IsNaN(secs) || math.IsInf(secs, 0) || math.Abs(secs) > float64(maxLookback/time.Second) {
			return 0, badKey(key, "%q is not a duration (e.g. \"15m\") or a number of seconds", v)
		}
		d = time.Duration(secs * float64(time.Second))
	}
	if d < lo || d > hi {
		return 0, badKey(key, "%q is outside [%s, %s]", v, lo, hi)
	}
	return d, nil
}

// objectKey identifies a scaled object's state: the same object with
// changed metadata starts afresh.
func objectKey(namespace, name string, md map[string]string) string {
	keys := make([]string, 0, len(md))
	for k := range md {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	h := fnv.New64a()
	for _, k := range keys {
		h.Write([]byte(k))
		h.Write([]byte{0})
		h.Write([]byte(md[k]))
		h.Write([]byte{0})
	}
	return fmt.Sprintf("%s/%s/%016x", namespace, name, h.Sum64())
}

func parsePromDuration(s string) (time.Duration, error) {
	d, err := model.ParseDuration(s)
	return time.Duration(d), err
}
