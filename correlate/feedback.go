package correlate

import "github.com/vigilops/vigil/incident"

// learner holds what feedback taught: false-positive counts per signature
// (to downgrade and mute) and a join bonus per signature pair (raised by
// merges, lowered by splits). Its owner's mutex protects it.
type learner struct {
	maxPairs int
	fp       map[string]int
	pairs    map[[2]string]float64
}

func newLearner(maxPairs int) *learner {
	return &learner{maxPairs: maxPairs, fp: make(map[string]int), pairs: make(map[[2]string]float64)}
}

func pairKey(a, b string) [2]string {
	if a > b {
		a, b = b, a
	}
	return [2]string{a, b}
}

// falsePositives is the net false-positive count of a signature.
func (l *learner) falsePositives(sig string) int { return l.fp[sig] }

// verdict records a verdict on signatures; a true positive takes back one
// false positive, so a signature muted by mistake recovers.
func (l *learner) verdict(sigs []string, v incident.Verdict) {
	for _, s := range sigs {
		switch v {
		case incident.FalsePositive:
			l.fp[s]++
		case incident.TruePositive:
			if l.fp[s] > 0 {
				l.fp[s]--
			}
			if l.fp[s] == 0 {
				delete(l.fp, s)
			}
		}
	}
}

// adjust adds delta to the pairs across a and b, clamped to ±limit. New
// pairs beyond maxPairs are not learnt (bounded memory).
func (l *learner) adjust(a, b []string, delta, limit float64) {
	for _, x := range a {
		for _, y := range b {
			if x == y {
				continue
			}
			k := pairKey(x, y)
			v, ok := l.pairs[k]
			if !ok && len(l.pairs) >= l.maxPairs {
				continue
			}
			v = max(-limit, min(limit, v+delta))
			if v == 0 {
				delete(l.pairs, k)
				continue
			}
			l.pairs[k] = v
		}
	}
}

// bonus is the learnt join bonus between a signature and a group: the
// strongest pull (or push) from any of the group's signatures.
func (l *learner) bonus(g *group, sig string) float64 {
	if len(l.pairs) == 0 {
		return 0
	}
	best := 0.0
	for _, st := range g.sigs {
		if v, ok := l.pairs[pairKey(st.sig, sig)]; ok && (best == 0 || abs(v) > abs(best)) {
			best = v
		}
	}
	return best
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}
