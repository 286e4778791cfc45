package act

import (
	"encoding/json"
	"fmt"
)

// StepDescription is what a step would do, described offline.
type StepDescription struct {
	Step   string `json:"step"`
	Action string `json:"action"`
	Risk   Risk   `json:"risk"`
	// Does is the executor's description, or the rendered With block when
	// the executor cannot describe itself.
	Does string `json:"does"`
}

// Describe renders every step (and rollback step) of rb with vals and says
// what it would do, without reaching any system. It is the CLI's dry run.
func (rb *Runbook) Describe(execs map[string]Executor, vals Values) (steps, rollback []StepDescription, err error) {
	do := func(list []Step) ([]StepDescription, error) {
		var out []StepDescription
		for _, st := range list {
			fam, op, err := splitAction(st.Action)
			if err != nil {
				return nil, err
			}
			c := Call{Runbook: rb.Name, Step: st.Name, Op: op, With: st.With, Values: vals}
			d := StepDescription{Step: st.Name, Action: st.Action, Risk: st.Risk}
			if ds, ok := execs[fam].(Describer); ok {
				if d.Does, err = ds.Describe(c); err != nil {
					return nil, fmt.Errorf("step %s: %w", st.Name, err)
				}
			} else {
				tree, err := RenderTree(map[string]any(st.With), vals)
				if err != nil {
					return nil, fmt.Errorf("step %s: %w", st.Name, err)
				}
				b, _ := json.Marshal(tree)
				d.Does = st.Action + " " + string(b)
			}
			out = append(out, d)
		}
		return out, nil
	}
	if steps, err = do(rb.Steps); err != nil {
		return nil, nil, err
	}
	if rollback, err = do(rb.Rollback); err != nil {
		return nil, nil, err
	}
	return steps, rollback, nil
}
