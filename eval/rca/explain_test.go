package rca

import (
	"context"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/vigilops/vigil/diagnose"
)

// TestRCAExplainMisses prints, for every case the default diagnoser ranks
// wrongly, what outranked the truth and on which evidence. It is a
// diagnostic aid, run with VIGIL_RCA_EXPLAIN=1 (optionally =nezha-ob to
// pick a dataset).
func TestRCAExplainMisses(t *testing.T) {
	want := os.Getenv("VIGIL_RCA_EXPLAIN")
	if want == "" {
		t.Skip("set VIGIL_RCA_EXPLAIN=1 (or a dataset name) to explain the misses")
	}
	ds := loadAll(t)
	d, err := diagnose.New(diagnose.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, set := range ds {
		if want != "1" && want != set.Name {
			continue
		}
		s, err := Evaluate(ctx, DiagnoserRanker(d), set.Cases)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("== %s: AC@1 %.3f AC@3 %.3f Avg@5 %.3f", set.Name, s.AC[0], s.AC[2], s.Avg5)
		groups := make([]string, 0, len(s.Groups))
		for g := range s.Groups {
			groups = append(groups, g)
		}
		sort.Strings(groups)
		for _, g := range groups {
			gs := s.Groups[g]
			t.Logf("   %-18s n=%2d AC@1 %.3f AC@3 %.3f", g, gs.Cases, gs.AC[0], gs.AC[2])
		}
		for _, c := range set.Cases {
			diag, err := d.Diagnose(ctx, c.Input)
			if err != nil {
				t.Logf("-- %s: %v", c.Name, err)
				continue
			}
			if diag.Top() == c.RootCause {
				continue
			}
			idx := slices.IndexFunc(diag.Candidates, func(x diagnose.Candidate) bool { return x.Service == c.RootCause })
			t.Logf("-- MISS %s (truth at %d)", c.Name, idx+1)
			for i, cand := range diag.Candidates {
				if i >= 3 && i != idx {
					continue
				}
				mark := " "
				if i == idx {
					mark = "*"
				}
				t.Logf("   %s%d %-28s %.4f onset %s", mark, i+1, short(cand.Service), cand.Score, cand.Onset.Format("15:04:05"))
				for j, e := range cand.Evidence {
					if j >= 3 {
						break
					}
					t.Logf("        %s", e.Summary)
				}
			}
		}
	}
}

func short(s string) string {
	if i := strings.Index(s, "_AWS"); i > 0 {
		return s[:i]
	}
	return s
}
