package act

import (
	"context"
	"fmt"
	"strings"
)

// Executor carries out one family of actions ("kube", "http", "shell").
// Subpackages implement it and assert var _ act.Executor = (*T)(nil).
type Executor interface {
	// Check validates a step's With block when a runbook is loaded, before
	// any value exists: required keys, literal parts, templates.
	Check(op string, with map[string]any) error
	// Plan says what a call would change without changing anything. Its
	// targets and replica change are what the Guard's blast radius judges.
	Plan(ctx context.Context, c Call) (Plan, error)
	// Apply carries the call out and says how to undo it, if it can be.
	Apply(ctx context.Context, c Call) (Result, error)
}

// Call is one step bound to validated values, as an executor receives it.
// With holds the step's templates unrendered: each executor renders them
// with the escaping its medium needs (RenderArgv, RenderURL, RenderTree).
type Call struct {
	Runbook string
	Step    string
	// Op is the action after the executor's prefix ("scale" in kube.scale).
	Op     string
	With   map[string]any
	Values Values
}

// Plan is what a call would do.
type Plan struct {
	// Summary is one line for people: "scale shop/redis from 1 to 2".
	Summary string `json:"summary"`
	// Targets name the objects touched ("deployment shop/redis"); the Guard
	// allows one execution per target at a time and bounds their number.
	Targets []string `json:"targets,omitempty"`
	// Replicas, when the call changes a replica count, is the change; the
	// Guard bounds it as a fraction of the current count.
	Replicas *ReplicaChange `json:"replicas,omitempty"`
}

// ReplicaChange is a change of a replica count.
type ReplicaChange struct {
	From int64 `json:"from"`
	To   int64 `json:"to"`
}

// Result is what Apply did.
type Result struct {
	Detail string `json:"detail"`
	// Undo reverses the call (scale back to the old count, uncordon); nil
	// when the call cannot be undone (a restart).
	Undo *Call `json:"-"`
}

// splitAction splits "kube.scale" into "kube" and "scale".
func splitAction(action string) (family, op string, err error) {
	family, op, ok := strings.Cut(action, ".")
	if !ok || family == "" || op == "" {
		return "", "", fmt.Errorf("action %q must be family.op, e.g. kube.scale", action)
	}
	return family, op, nil
}

// StringArg returns with[key] as a string, for executors' Check.
func StringArg(with map[string]any, key string, required bool) (string, error) {
	v, ok := with[key]
	if !ok || v == nil {
		if required {
			return "", fmt.Errorf("with.%s is required", key)
		}
		return "", nil
	}
	switch t := v.(type) {
	case string:
		if _, err := parseTemplate(t); err != nil {
			return "", fmt.Errorf("with.%s: %w", key, err)
		}
		return t, nil
	case int, int64, float64, bool:
		return fmt.Sprint(t), nil
	}
	return "", fmt.Errorf("with.%s must be a string, not %T", key, v)
}

// RenderArg renders with[key] (a string template or a literal scalar).
func RenderArg(c Call, key string) (string, error) {
	s, err := StringArg(c.With, key, true)
	if err != nil {
		return "", err
	}
	return Render(s, c.Values)
}

// CheckKeys refuses keys of with that are not in allowed, so a misspelt
// option is an error rather than ignored.
func CheckKeys(with map[string]any, allowed ...string) error {
	for k := range with {
		ok := false
		for _, a := range allowed {
			if k == a {
				ok = true
				break
			}
		}
		if !ok {
			return fmt.Errorf("with.%s is not a known key (known: %s)", k, strings.Join(allowed, ", "))
		}
	}
	return nil
}

// Describer is implemented by executors that can say what a call would do
// without reaching any system (no cluster read, no request): `vigil
// runbook run --dry-run` uses it offline.
type Describer interface {
	Describe(c Call) (string, error)
}
