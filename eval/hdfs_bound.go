package eval

// This file computes the ceiling of the HDFS benchmark: the best F1 that
// any verdict depending on the event sequence alone can reach. Test
// sessions with the same event sequence get the same verdict from such a
// detector, whatever it learned; when some of them are labelled anomalous
// and others normal, no detector of this kind can be right about all.

import (
	"slices"
	"strings"
)

// SequenceBound is the best any sequence-only detector can do on the test
// split of a labelled session set.
type SequenceBound struct {
	// Best is the confusion of the best set of distinct test sequences to
	// flag, chosen with hindsight of the test labels: the ceiling for any
	// function of the event sequence. F1 is its F1.
	Best Confusion
	F1   float64
	// Trained is the same ceiling for a detector trained on the normal
	// training sessions: a sequence that occurs among them is normal to it
	// and cannot be flagged without contradicting its training.
	// TrainedF1 is its F1.
	Trained   Confusion
	TrainedF1 float64
	// Distinct counts the distinct event sequences of the test split;
	// Mixed those shared by normal and anomalous test sessions.
	Distinct, Mixed int
	// SeenNormal counts the anomalous test sessions whose sequence is
	// that of a normal training session.
	SeenNormal int
}

// seqGroup is one distinct test sequence: its anomalous and normal
// sessions.
type seqGroup struct{ anomalous, normal int }

// SequenceF1Bound computes the ceiling of sessions' test split (see
// SequenceBound). Sessions are grouped by their exact event sequence.
func SequenceF1Bound(sessions []Session) SequenceBound {
	normalTrain := map[string]bool{}
	for _, s := range sessions {
		if s.Train && !s.Anomalous {
			normalTrain[strings.Join(s.Events, "\x00")] = true
		}
	}
	groups := map[string]*seqGroup{}
	positives, negatives := 0, 0
	var b SequenceBound
	for _, s := range sessions {
		if s.Train {
			continue
		}
		k := strings.Join(s.Events, "\x00")
		g := groups[k]
		if g == nil {
			g = &seqGroup{}
			groups[k] = g
		}
		if s.Anomalous {
			g.anomalous++
			positives++
			if normalTrain[k] {
				b.SeenNormal++
			}
		} else {
			g.normal++
			negatives++
		}
	}
	all := make([]seqGroup, 0, len(groups))
	var unseen []seqGroup
	for k, g := range groups {
		if g.anomalous > 0 && g.normal > 0 {
			b.Mixed++
		}
		all = append(all, *g)
		if !normalTrain[k] {
			unseen = append(unseen, *g)
		}
	}
	b.Distinct = len(groups)
	b.Best = bestFlagging(all, positives, negatives)
	b.Trained = bestFlagging(unseen, positives, negatives)
	b.F1, b.TrainedF1 = b.Best.F1(), b.Trained.F1()
	return b
}

// bestFlagging returns the confusion of the set of groups that maximises
// F1 when flagged, positives and negatives being all anomalous and normal
// test sessions (in groups or not).
//
// F1 = 2·TP / (TP + FP + positives). By Dinkelbach's argument, the best set
// for a ratio of this form holds every group whose share of anomalous
// sessions exceeds a threshold (include g iff 2a − λ(a+n) > 0, i.e.
// a/(a+n) > λ/2 for the optimal λ). So sorting the groups by that share,
// highest first, and trying every prefix finds the optimum exactly.
func bestFlagging(groups []seqGroup, positives, negatives int) Confusion {
	gs := slices.Clone(groups)
	// a/(a+n) descending, compared without division; more anomalous
	// sessions first among equals (it does not change the optimum, only
	// keeps the order stable).
	slices.SortFunc(gs, func(x, y seqGroup) int {
		l, r := x.anomalous*(y.anomalous+y.normal), y.anomalous*(x.anomalous+x.normal)
		switch {
		case l > r:
			return -1
		case l < r:
			return 1
		}
		return y.anomalous - x.anomalous
	})
	best := Confusion{FN: positives}
	var c Confusion
	for _, g := range gs {
		if g.anomalous == 0 {
			break // flagging only normal sessions never helps
		}
		c.TP += g.anomalous
		c.FP += g.normal
		c.FN = positives - c.TP
		if c.F1() > best.F1() {
			best = c
		}
	}
	best.TN = negatives - best.FP
	return best
}
