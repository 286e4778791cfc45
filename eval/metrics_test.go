package eval

import (
	"math"
	"testing"
)

// Golden cases for Score. Expected values are worked out by hand in the
// comments, following the Loghub-2.0 Python code.
func TestScore(t *testing.T) {
	tests := []struct {
		name        string
		truth, pred []string
		want        Scores
	}{
		{
			// Everything right: one group of 2 and one of 1.
			name:  "perfect",
			truth: []string{"A <*>", "A <*>", "B"},
			pred:  []string{"A <*>", "A <*>", "B"},
			want:  Scores{GA: 1, PA: 1, FGA: 1, FTA: 1, PTA: 1, RTA: 1, Predicted: 2, Truth: 2},
		},
		{
			// Grouping right, strings wrong: GA and FGA are 1; PA counts
			// only line 3 (1/3); no predicted template equals its truth
			// except "B": PTA = 1/2, RTA = 1/2, FTA = 1/2.
			name:  "right groups wrong strings",
			truth: []string{"A <*>", "A <*>", "B"},
			pred:  []string{"A x", "A x", "B"},
			want:  Scores{GA: 1, PA: 1.0 / 3, FGA: 1, FTA: 0.5, PTA: 0.5, RTA: 0.5, Predicted: 2, Truth: 2},
		},
		{
			// Over-merge: truths A(2) and B(1) predicted as one group P(3).
			// GA: A maps to P but P holds 3 lines != 2, B likewise: 0.
			// PGA = 0/1, RGA = 0/2: FGA 0. PA: no string equal: 0.
			// FTA: P's truths {A,B} != {P}: 0.
			name:  "over-merge",
			truth: []string{"A", "A", "B"},
			pred:  []string{"P", "P", "P"},
			want:  Scores{Predicted: 1, Truth: 2},
		},
		{
			// Split: truth A(3) predicted as "A" (2 lines) and "X" (1 line);
			// truth B(1) predicted "B".
			// GA: A has 2 predicted values: not accurate; B accurate: 1/4.
			// PGA = 1/3, RGA = 1/2, FGA = 2*(1/3*1/2)/(1/3+1/2) = 0.4.
			// PA: lines 1,2 ("A"=="A") and 4: 3/4.
			// FTA as Loghub: predicted "A" holds only truth A and equals it,
			// so it counts although the group is incomplete; "B" counts;
			// "X" does not: PTA = 2/3, RTA = 2/2, FTA = 2*(2/3)/(5/3) = 0.8.
			name:  "split counts for FTA as Loghub",
			truth: []string{"A", "A", "A", "B"},
			pred:  []string{"A", "A", "X", "B"},
			want:  Scores{GA: 0.25, PA: 0.75, FGA: 0.4, FTA: 0.8, PTA: 2.0 / 3, RTA: 1, Predicted: 3, Truth: 2},
		},
		{
			// Groups are template strings: two clusters rendering the same
			// string are one group. Truth A(1), B(1); both predicted "T".
			// Same as an over-merge: all zero.
			name:  "same string is one group",
			truth: []string{"A", "B"},
			pred:  []string{"T", "T"},
			want:  Scores{Predicted: 1, Truth: 2},
		},
		{
			// Missing truth (pandas reads "" and "null" as NaN): those lines
			// are left out of GA, FGA and FTA (2 lines remain: A, A predicted
			// A, A: all 1) but still count in PA's denominator: 2/4.
			name:  "missing truth",
			truth: []string{"A", "", "A", "null"},
			pred:  []string{"A", "", "A", "null"},
			want:  Scores{GA: 1, PA: 0.5, FGA: 1, FTA: 1, PTA: 1, RTA: 1, Predicted: 1, Truth: 1},
		},
		{
			// No normalisation: PA compares strings exactly (pandas .eq), so
			// a different run of <*> or a double space is wrong. Truth
			// "a <*>"(2) predicted "a <*> <*>" and "a  <*>": two predicted
			// groups for one truth group: GA 0, PGA 0: FGA 0, PA 0, FTA 0.
			name:  "exact string comparison",
			truth: []string{"a <*>", "a <*>"},
			pred:  []string{"a <*> <*>", "a  <*>"},
			want:  Scores{Predicted: 2, Truth: 1},
		},
		{
			// Predicted "NA" is read back as "" by pandas (fillna), so it
			// cannot equal the truth "x" but still forms a group: truth
			// x(1) y(1), predicted ""(1) y(1). GA: both groups map 1:1: 1.
			// FGA 1. PA: only y: 1/2. FTA: "" != x; y ok: PTA 1/2, RTA 1/2.
			name:  "predicted NA string",
			truth: []string{"x", "y"},
			pred:  []string{"NA", "y"},
			want:  Scores{GA: 1, PA: 0.5, FGA: 1, FTA: 0.5, PTA: 0.5, RTA: 0.5, Predicted: 2, Truth: 2},
		},
		{
			name: "empty",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Score(tt.truth, tt.pred)
			if !near(got, tt.want) {
				t.Errorf("Score =\n %+v\nwant\n %+v", got, tt.want)
			}
		})
	}
}

func near(a, b Scores) bool {
	eq := func(x, y float64) bool { return math.Abs(x-y) < 1e-9 }
	return eq(a.GA, b.GA) && eq(a.PA, b.PA) && eq(a.FGA, b.FGA) && eq(a.FTA, b.FTA) &&
		eq(a.PTA, b.PTA) && eq(a.RTA, b.RTA) && a.Predicted == b.Predicted && a.Truth == b.Truth
}

func TestScoreLengthMismatchPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	Score([]string{"a"}, nil)
}
