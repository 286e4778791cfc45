package analyst

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrUnknownState is returned by ExplainState for a state it has no entry
// for.
var ErrUnknownState = errors.New("unknown kubernetes state")

// stateSignatures are the signatures ExplainState answers from.
var stateSignatures = []*Signature{&sigCrashLoop, &sigImagePull, &sigOOM, &sigPending, &sigEvicted, &sigConfigError}

// States lists the Kubernetes states ExplainState knows.
func States() []string {
	var out []string
	for _, s := range stateSignatures {
		out = append(out, s.States...)
	}
	return out
}

// ExplainState explains a Kubernetes pod or container state as kubectl
// shows it (CrashLoopBackOff, ImagePullBackOff, OOMKilled, Pending,
// Evicted, CreateContainerConfigError, ...). Case and surrounding space
// are ignored. An unknown state yields ErrUnknownState.
func (a *Analyst) ExplainState(state string) (Report, error) {
	st := strings.TrimSpace(state)
	for _, s := range stateSignatures {
		i := slices.IndexFunc(s.States, func(k string) bool { return strings.EqualFold(k, st) })
		if i < 0 {
			continue
		}
		name := s.States[i]
		f := Finding{
			Signature:   s.ID,
			Title:       s.Title,
			Entity:      name,
			Count:       1,
			FirstLine:   1,
			Lines:       []int{1},
			Example:     name,
			Cause:       s.causeText(""),
			Explanation: s.Explanation,
			Causes:      slices.Clone(s.Causes),
			Checks:      s.fillChecks(""),
			Severity:    s.Severity,
		}
		rep := Report{
			Cause:      capitalize(f.Cause) + ".",
			Findings:   []Finding{f},
			NextSteps:  slices.Clone(f.Checks[:min(3, len(f.Checks))]),
			Confidence: 0.9, // the state is given, not inferred; only its cause is open
			Lines:      1,
		}
		rep.Summary = fmt.Sprintf("%s means %s. %s First, %s.", name, f.Cause, s.Explanation,
			strings.TrimSuffix(f.Checks[0], "."))
		return rep, nil
	}
	return Report{}, fmt.Errorf("%w %q (known: %s)", ErrUnknownState, cut(st, 64), strings.Join(States(), ", "))
}
