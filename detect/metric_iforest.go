package detect

import (
	"math"
	"math/rand/v2"
)

// IsolationForest is an isolation forest (Liu, Ting and Zhou, 2008) over
// fixed-length feature vectors, with per-feature attribution: a point that
// is isolated in few splits is anomalous, and the features whose splits
// isolated it are the ones that drove the anomaly.
//
// Trees are built from a sample; Score and Attribution only read them, so
// a built forest may be shared by concurrent readers. Fit replaces the
// trees and must not run concurrently with readers.
type IsolationForest struct {
	dims    int
	sample  int
	trees   [][]ifNode
	rng     *rand.Rand
	cFactor float64 // c(sample): the mean path length normalising scores
}

// ifNode is a node of a flat tree: a split (feature, value, children) or a
// leaf (feature -1) that holds size points.
type ifNode struct {
	feature     int16
	left, right int32
	value       float64
	lo, hi      float64 // the feature's range among the node's points
	size        int32
	logSize     float64 // ln(size), so scoring with attribution needs no Log
}

// NewIsolationForest returns an unfitted forest of trees trees of
// sub-sample size sample over dims features; seed makes it repeatable.
func NewIsolationForest(dims, trees, sample int, seed uint64) *IsolationForest {
	if trees < 1 {
		trees = 100
	}
	if sample < 2 {
		sample = 256
	}
	return &IsolationForest{
		dims:   dims,
		sample: sample,
		trees:  make([][]ifNode, trees),
		rng:    rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
	}
}

// ifAvgPath is c(n), the average path length of an unsuccessful search in
// a binary search tree of n points, which normalises isolation depths.
func ifAvgPath(n int) float64 {
	if n <= 1 {
		return 0
	}
	if n == 2 {
		return 1
	}
	h := math.Log(float64(n-1)) + 0.5772156649
	return 2*h - 2*float64(n-1)/float64(n)
}

// Fit builds the trees from data (rows of dims values), each tree from a
// random sub-sample. Rows of the wrong length are ignored.
func (f *IsolationForest) Fit(data [][]float64) {
	rows := make([][]float64, 0, len(data))
	for _, r := range data {
		if len(r) == f.dims {
			rows = append(rows, r)
		}
	}
	if len(rows) == 0 {
		return
	}
	n := min(f.sample, len(rows))
	f.cFactor = ifAvgPath(n)
	limit := int(math.Ceil(math.Log2(float64(n))))
	idx := make([]int, len(rows))
	for t := range f.trees {
		for i := range idx {
			idx[i] = i
		}
		// partial Fisher-Yates for the sub-sample
		for i := 0; i < n; i++ {
			j := i + f.rng.IntN(len(idx)-i)
			idx[i], idx[j] = idx[j], idx[i]
		}
		nodes := f.trees[t][:0]
		sub := append([]int(nil), idx[:n]...)
		nodes = f.grow(nodes, rows, sub, 0, limit)
		f.trees[t] = nodes
	}
}

func (f *IsolationForest) grow(nodes []ifNode, rows [][]float64, sub []int, depth, limit int) []ifNode {
	me := len(nodes)
	nodes = append(nodes, ifNode{feature: -1, size: int32(len(sub)), logSize: math.Log(float64(max(len(sub), 1)))})
	if depth >= limit || len(sub) <= 1 {
		return nodes
	}
	// pick a feature with spread; give up after dims tries (all constant)
	for try := 0; try < f.dims; try++ {
		ft := f.rng.IntN(f.dims)
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, i := range sub {
			v := rows[i][ft]
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		if !(hi > lo) {
			continue
		}
		split := lo + f.rng.Float64()*(hi-lo)
		// partition sub in place
		k := 0
		for i := range sub {
			if rows[sub[i]][ft] < split {
				sub[i], sub[k] = sub[k], sub[i]
				k++
			}
		}
		nodes[me].feature, nodes[me].value = int16(ft), split
		nodes[me].lo, nodes[me].hi = lo, hi
		nodes[me].left = int32(len(nodes))
		nodes = f.grow(nodes, rows, sub[:k], depth+1, limit)
		nodes[me].right = int32(len(nodes))
		nodes = f.grow(nodes, rows, sub[k:], depth+1, limit)
		return nodes
	}
	return nodes
}

// Fitted reports whether the forest has trees.
func (f *IsolationForest) Fitted() bool { return f.cFactor > 0 }

// Score returns the anomaly score of x in (0,1): 2^(-E[h(x)]/c(n)); about
// 0.5 for ordinary points, near 1 for points isolated at once. attr, when
// not nil (len dims), receives each feature's share of the isolation: every
// split on the path credits its feature with log(parent size / size of the
// side x went to), the information the split gave about where x is, so a
// split that leaves x nearly alone counts much and one that keeps most
// points with x counts little; shares are normalised to sum to 1.
func (f *IsolationForest) Score(x []float64, attr []float64) float64 {
	if !f.Fitted() || len(x) != f.dims {
		return 0
	}
	for i := range attr {
		attr[i] = 0
	}
	total := 0.0
	for _, nodes := range f.trees {
		i, depth := 0, 0
		for nodes[i].feature >= 0 {
			nd := &nodes[i]
			if v := x[nd.feature]; v < nd.lo || v > nd.hi {
				// Outside every point the node holds: a split drawn in
				// the widened range would isolate it at once. Without
				// this, a point far beyond the sample scores no higher
				// than the sample's own extremes.
				if attr != nil {
					attr[nd.feature] += nd.logSize
				}
				depth++
				i = -1
				break
			}
			if x[nd.feature] < nd.value {
				i = int(nd.left)
			} else {
				i = int(nd.right)
			}
			if attr != nil && nodes[i].size > 0 {
				attr[nd.feature] += nd.logSize - nodes[i].logSize
			}
			depth++
		}
		if i < 0 {
			total += float64(depth)
			continue
		}
		total += float64(depth) + ifAvgPath(int(nodes[i].size))
	}
	if attr != nil {
		sum := 0.0
		for _, a := range attr {
			sum += a
		}
		if sum > 0 {
			for i := range attr {
				attr[i] /= sum
			}
		}
	}
	mean := total / float64(len(f.trees))
	return math.Exp2(-mean / f.cFactor)
}
