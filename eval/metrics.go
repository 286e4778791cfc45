package eval

// This file replicates the scoring of the Loghub-2.0 benchmark
// (logpai/loghub-2.0, benchmark/logparser/utils/evaluator.py get_accuracy,
// benchmark/evaluation/utils/PA_calculator.py calculate_parsing_accuracy and
// template_level_analysis.py evaluate_template_level), without its optional
// "complex" and "frequent" filters. Points where the Python code differs from
// a naive reading of the paper are kept on purpose and marked "as Loghub".

// Scores are the parsing-accuracy metrics of one system.
type Scores struct {
	// GA (grouping accuracy) is the fraction of lines whose predicted group is
	// exactly a ground-truth group.
	GA float64
	// PA (parsing accuracy) is the fraction of lines whose predicted template
	// string equals the ground-truth template string.
	PA float64
	// FGA is the F1 of PGA (correct groups / predicted groups) and RGA
	// (correct groups / ground-truth groups).
	FGA float64
	// FTA is the F1 of PTA and RTA: a predicted template is correct when all
	// of its lines carry exactly that template in the ground truth.
	FTA float64
	// PTA and RTA are FTA's precision and recall.
	PTA, RTA float64
	// Predicted and Truth count the distinct templates (groups) on the lines
	// that have a ground truth.
	Predicted, Truth int
}

// pandasNA lists the strings that pandas.read_csv turns into NaN by default.
// The Loghub evaluator reads both files with pandas: a ground-truth template
// spelled like one of these is missing (the line is left out of GA and FTA
// and can never count as correct for PA), and a predicted one becomes ""
// (fillna("")). Replicated so that edge cases score as they do in Python.
var pandasNA = map[string]bool{
	"": true, "#N/A": true, "#N/A N/A": true, "#NA": true, "-1.#IND": true,
	"-1.#QNAN": true, "-NaN": true, "-nan": true, "1.#IND": true, "1.#QNAN": true,
	"<NA>": true, "N/A": true, "NA": true, "NULL": true, "NaN": true, "None": true,
	"n/a": true, "nan": true, "null": true,
}

// Score computes the Loghub-2.0 metrics of predicted templates against
// ground-truth templates, one entry per log line, in the same order. Groups
// are defined by template strings on both sides, as Loghub does: two
// predicted clusters that render the same template string are one group.
// It panics if the slices differ in length.
func Score(truth, pred []string) Scores {
	if len(truth) != len(pred) {
		panic("eval: Score: truth and pred differ in length")
	}
	var s Scores
	if len(truth) == 0 {
		return s
	}

	// PA counts over all lines, including those without a ground truth
	// (NaN never equals anything), as Loghub.
	correct := 0
	for i := range truth {
		if pandasNA[truth[i]] {
			continue
		}
		if normPred(pred[i]) == truth[i] {
			correct++
		}
	}
	s.PA = float64(correct) / float64(len(truth))

	// GA, FGA and FTA only look at lines with a ground truth.
	type agg struct {
		size  int
		other map[string]int // template on the other side -> lines
	}
	byTruth := map[string]*agg{}
	byPred := map[string]*agg{}
	lines := 0
	for i := range truth {
		if pandasNA[truth[i]] {
			continue
		}
		lines++
		t, p := truth[i], normPred(pred[i])
		at := byTruth[t]
		if at == nil {
			at = &agg{other: map[string]int{}}
			byTruth[t] = at
		}
		at.size++
		at.other[p]++
		ap := byPred[p]
		if ap == nil {
			ap = &agg{other: map[string]int{}}
			byPred[p] = ap
		}
		ap.size++
		ap.other[t]++
	}
	if lines == 0 {
		return s
	}
	s.Truth, s.Predicted = len(byTruth), len(byPred)

	// A ground-truth group is accurate when all its lines went to one
	// predicted template and that template holds no other line.
	accLines, accGroups := 0, 0
	for _, at := range byTruth {
		if len(at.other) != 1 {
			continue
		}
		for p := range at.other {
			if byPred[p].size == at.size {
				accLines += at.size
				accGroups++
			}
		}
	}
	s.GA = float64(accLines) / float64(lines)
	s.FGA = f1(float64(accGroups)/float64(s.Predicted), float64(accGroups)/float64(s.Truth))

	// As Loghub: a predicted template is correct when the set of ground-truth
	// templates of its lines is exactly {itself}. This does not require the
	// ground-truth group to be complete (some of its lines may sit in another
	// predicted group), which is looser than the paper's wording.
	okTemplates := 0
	for p, ap := range byPred {
		if len(ap.other) == 1 {
			if _, ok := ap.other[p]; ok {
				okTemplates++
			}
		}
	}
	s.PTA = float64(okTemplates) / float64(s.Predicted)
	s.RTA = float64(okTemplates) / float64(s.Truth)
	s.FTA = f1(s.PTA, s.RTA)
	return s
}

// normPred maps a predicted template as pandas would read it back with
// fillna("").
func normPred(p string) string {
	if pandasNA[p] {
		return ""
	}
	return p
}

func f1(p, r float64) float64 {
	if p == 0 && r == 0 {
		return 0
	}
	return 2 * p * r / (p + r)
}
