package correlate

import (
	"time"

	"github.com/prometheus/alertmanager/pkg/labels"

	"github.com/vigilops/vigil/telemetry"
)

// Maintenance is a planned window in which matching signals are expected:
// they are kept in incidents (so the record is complete) but open none and
// raise no severity.
type Maintenance struct {
	Name string
	// Matchers select signals by their labels, with the signal's service
	// as the "service" label ({service=~"checkout|payments"}). All must
	// match; no matchers match every signal.
	Matchers []*labels.Matcher
	Start    time.Time
	End      time.Time // exclusive
}

// covers reports whether the window holds a signal of svc with ls at t.
func (m *Maintenance) covers(svc string, ls telemetry.Labels, t time.Time) bool {
	if t.Before(m.Start) || !t.Before(m.End) {
		return false
	}
	for _, mt := range m.Matchers {
		v := ls.Get(mt.Name)
		if mt.Name == "service" {
			v = svc
		}
		if !mt.Matches(v) {
			return false
		}
	}
	return true
}
