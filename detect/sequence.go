package detect

import (
	"errors"
	"fmt"
	"slices"
	"sync"
)

// ErrInvalidSequenceOptions wraps every SequenceOptions validation failure.
var ErrInvalidSequenceOptions = errors.New("detect: invalid sequence options")

// SequenceOptions configures a SequenceModel. Start from
// DefaultSequenceOptions.
type SequenceOptions struct {
	// History is the longest history, in events, that predicts the next
	// one (DeepLog's window h). Shorter histories are the backoff.
	History int
	// TopK is DeepLog's g: a next event is normal when it is among the K
	// most frequent successors of its history. Successors never seen after
	// a well-supported history are never among them.
	TopK int
	// MinSupport is how many times a history must have been seen in
	// training before its successors are trusted to judge; a longer history
	// with less support backs off to a shorter one. The same floor applies
	// to count invariants (sessions in which either key occurs).
	MinSupport int
	// Invariants enables the session-level check of count ratios learned
	// from normal sessions (invariants mining): c(a):c(b) = m:n.
	Invariants bool
	// InvariantSupport is the least fraction of the normal sessions holding
	// a or b that must satisfy a ratio for it to become an invariant.
	InvariantSupport float64
}

// DefaultSequenceOptions returns the one configuration used for every source.
//
// Why these values (reasoned first, then checked by 5-fold cross-validation
// within the training split of HDFS_100k, never against its test split):
//
//   - MinSupport 100: a history seen n times that was never followed by x
//     bounds P(x | history) below 3/n with 95% confidence (the rule of
//     three); at 100 a transition is called abnormal only when it is rarer
//     than about 3% after that history. A session makes one such test per
//     event, so the per-test false-alarm rate has to be small.
//   - History 2: not DeepLog's 10. Concurrent work (the three replicas of
//     an HDFS write pipeline) interleaves its lines in arbitrary order, so a
//     long history mostly records an interleaving; every extra event of
//     history splits the support and multiplies the rare-but-legitimate
//     histories, each a chance of a false alarm. Causal order lives in
//     adjacent events. Cross-validation on the training split agreed:
//     false alarms grew from 6 (h=2) to 31 (h=5) and 50 (h=10) at equal
//     recall.
//   - TopK 9: DeepLog's g. A count model gives zero probability to unseen
//     successors, which the top-k test already rejects; the rank limit then
//     only matters after histories with many observed successors.
//   - InvariantSupport 0.999: a ratio must hold in all but one in a
//     thousand normal sessions, so labels noisy at that rate do not hide
//     an invariant, and it flags at most about that share of normal ones.
func DefaultSequenceOptions() SequenceOptions {
	return SequenceOptions{
		History:          2,
		TopK:             9,
		MinSupport:       100,
		Invariants:       true,
		InvariantSupport: 0.999,
	}
}

func (o *SequenceOptions) validate() error {
	switch {
	case o.History < 1:
		return fmt.Errorf("%w: History %d < 1", ErrInvalidSequenceOptions, o.History)
	case o.TopK < 1:
		return fmt.Errorf("%w: TopK %d < 1", ErrInvalidSequenceOptions, o.TopK)
	case o.MinSupport < 1:
		return fmt.Errorf("%w: MinSupport %d < 1", ErrInvalidSequenceOptions, o.MinSupport)
	case o.Invariants && !(o.InvariantSupport > 0.5 && o.InvariantSupport <= 1):
		return fmt.Errorf("%w: InvariantSupport %v not in (0.5, 1]", ErrInvalidSequenceOptions, o.InvariantSupport)
	}
	return nil
}

// SequenceResult is the verdict on one session.
type SequenceResult struct {
	// Anomalous is true when some event, the session's end, or its event
	// counts are unlike the normal sessions of training.
	Anomalous bool
	// Score in [0,1] is the largest surprise over the session: 1 for an
	// event key never seen, a successor never seen after its history, or a
	// broken invariant; otherwise 1 - count(next)/count(likeliest next).
	Score float64
	// Position is the index of the first anomalous event; len(seq) when
	// only the end of the session (a missing event, a broken count ratio)
	// gives it away; -1 when the session is normal.
	Position int
	// Reason says why, in one sentence; empty when normal.
	Reason string
}

// Reserved token ids: the virtual events before the first and after the
// last event of a session. Real keys start at firstKey.
const (
	tokBegin int32 = 0
	tokEnd   int32 = 1
	tokNone  int32 = -1 // a key never seen in training
	firstKey int32 = 2
)

// ctxNode holds the successors of one history. Histories are kept as a
// backward trie: the child of a node for token t is the same history with
// t one step further back, so judging an event walks back from the most
// recent token without building any key.
type ctxNode struct {
	total int                // times this history was followed by an event
	next  map[int32]int      // successor counts
	back  map[int32]*ctxNode // histories one token longer
}

func newCtxNode() *ctxNode {
	return &ctxNode{next: make(map[int32]int, 4)}
}

// SequenceModel learns which event follows which within a session, DeepLog
// style, with an n-gram model backing off from History events to one
// instead of an LSTM, and the count invariants of normal sessions.
//
// Train and Score may be called from any goroutine; Score calls run in
// parallel with each other.
type SequenceModel struct {
	opts SequenceOptions

	// mtx protects every field below; Score holds it for reading only.
	mtx      sync.RWMutex
	ids      map[string]int32 // event key → token id
	names    []string         // token id → event key
	root     *ctxNode         // the empty history
	sessions int              // sessions trained on
	novelAt  int              // sessions trained on when a transition was last new
	inv      invariantStats
}

// NewSequenceModel returns an untrained model. Invalid options are a
// programming error and panic; use DefaultSequenceOptions as the base.
func NewSequenceModel(o SequenceOptions) *SequenceModel {
	if err := o.validate(); err != nil {
		panic(err)
	}
	return &SequenceModel{
		opts:  o,
		ids:   make(map[string]int32),
		names: []string{"<begin>", "<end>"},
		root:  newCtxNode(),
		inv:   newInvariantStats(),
	}
}

// Options returns the model's options.
func (m *SequenceModel) Options() SequenceOptions { return m.opts }

// Sessions returns how many sessions the model has learned from.
func (m *SequenceModel) Sessions() int {
	m.mtx.RLock()
	defer m.mtx.RUnlock()
	return m.sessions
}

// SinceNovel returns how many sessions the model has learned since the
// last one that brought a transition (event after event) never seen
// before: the transition table has saturated when this is large.
func (m *SequenceModel) SinceNovel() int {
	m.mtx.RLock()
	defer m.mtx.RUnlock()
	return m.sessions - m.novelAt
}

// Train learns one normal session: its transitions, from the virtual begin
// to the virtual end, and its event counts.
func (m *SequenceModel) Train(seq []string) {
	m.mtx.Lock()
	defer m.mtx.Unlock()
	toks := make([]int32, 0, len(seq)+2)
	toks = append(toks, tokBegin)
	for _, k := range seq {
		id, ok := m.ids[k]
		if !ok {
			id = int32(len(m.names))
			m.ids[k] = id
			m.names = append(m.names, k)
		}
		toks = append(toks, id)
	}
	toks = append(toks, tokEnd)
	h := m.opts.History
	novel := false
	for i := 1; i < len(toks); i++ {
		nx := toks[i]
		n := m.root
		n.total++
		n.next[nx]++
		for j := 1; j <= h && i-j >= 0; j++ {
			c := n.back[toks[i-j]]
			if c == nil {
				if n.back == nil {
					n.back = make(map[int32]*ctxNode, 2)
				}
				c = newCtxNode()
				n.back[toks[i-j]] = c
			}
			n = c
			if j == 1 && n.next[nx] == 0 {
				novel = true
			}
			n.total++
			n.next[nx]++
		}
	}
	m.sessions++
	if novel {
		m.novelAt = m.sessions
	}
	if m.opts.Invariants {
		m.inv.add(toks[1 : len(toks)-1])
	}
}

// verdict is the judgement of one transition.
type verdict struct {
	anomalous bool
	score     float64
	order     int // history length used; -1 when no history had support
	support   int // times that history was seen
	count     int // times next followed it
}

// judge decides whether toks[i] may follow toks[:i]. The caller holds mtx
// for reading.
func (m *SequenceModel) judge(toks []int32, i int) verdict {
	nx := toks[i]
	best, order := (*ctxNode)(nil), -1
	n := m.root
	for j := 0; ; j++ {
		if n.total >= m.opts.MinSupport {
			best, order = n, j
		}
		if j == m.opts.History || i-j-1 < 0 || n.back == nil {
			break
		}
		n = n.back[toks[i-j-1]]
		if n == nil {
			break
		}
	}
	if best == nil {
		return verdict{order: -1}
	}
	c := best.next[nx]
	v := verdict{order: order, support: best.total, count: c}
	if c == 0 {
		v.anomalous, v.score = true, 1
		return v
	}
	rank, top := 0, 0
	for _, k := range best.next {
		if k > c {
			rank++
		}
		if k > top {
			top = k
		}
	}
	v.anomalous = rank >= m.opts.TopK
	v.score = 1 - float64(c)/float64(top)
	if v.anomalous {
		v.score = 1
	}
	return v
}

// confirm is the online detector's second look at a transition judge
// found never seen: it stands only if the event itself has MinSupport
// occurrences in training (where a rare event may appear is not known
// yet) and no shorter history with MinSupport has seen it follow either
// (a backoff that knows the step vouches for it). The caller holds mtx
// for reading.
func (m *SequenceModel) confirm(toks []int32, i int, v verdict) verdict {
	if !v.anomalous || v.count != 0 {
		return v
	}
	nx := toks[i]
	if m.root.next[nx] < m.opts.MinSupport {
		return verdict{order: v.order, support: v.support}
	}
	n := m.root
	for j := 1; j < v.order && i-j >= 0 && n.back != nil; j++ {
		n = n.back[toks[i-j]]
		if n == nil {
			break
		}
		if n.total >= m.opts.MinSupport && n.next[nx] > 0 {
			return verdict{order: v.order, support: v.support}
		}
	}
	return v
}

// tokens maps keys to ids, tokNone for keys never trained on. The caller
// holds mtx for reading.
func (m *SequenceModel) tokens(dst []int32, seq []string) []int32 {
	for _, k := range seq {
		id, ok := m.ids[k]
		if !ok {
			id = tokNone
		}
		dst = append(dst, id)
	}
	return dst
}

// Score judges a complete session: every event given the events before it,
// the end of the session, and its event counts against the invariants.
func (m *SequenceModel) Score(seq []string) SequenceResult {
	return m.score(seq, false)
}

// score is Score; skipUnknown leaves events never trained on unflagged
// and out of the invariants.
func (m *SequenceModel) score(seq []string, skipUnknown bool) SequenceResult {
	m.refreshInvariants()
	m.mtx.RLock()
	defer m.mtx.RUnlock()
	toks := make([]int32, 0, len(seq)+2)
	toks = append(toks, tokBegin)
	toks = m.tokens(toks, seq)
	toks = append(toks, tokEnd)
	res := SequenceResult{Position: -1}
	flag := func(pos int, score float64, reason string) {
		if score > res.Score {
			res.Score = score
		}
		if !res.Anomalous {
			res.Anomalous, res.Position, res.Reason = true, pos, reason
		}
	}
	for i := 1; i < len(toks); i++ {
		if toks[i] == tokNone {
			if skipUnknown {
				continue
			}
			flag(i-1, 1, fmt.Sprintf("event %q at position %d was never seen in training", seq[i-1], i-1))
			continue
		}
		v := m.judge(toks, i)
		if skipUnknown {
			v = m.confirm(toks, i, v)
		}
		if v.anomalous {
			flag(i-1, v.score, m.explain(toks, i, v))
		} else if v.score > res.Score {
			res.Score = v.score
		}
	}
	if m.opts.Invariants {
		body := toks[1 : len(toks)-1]
		if skipUnknown {
			body = slices.DeleteFunc(slices.Clone(body), func(t int32) bool { return t == tokNone })
		}
		if ok, reason := m.inv.check(body, m.names); !ok {
			flag(len(seq), 1, reason)
		}
	}
	return res
}

// explain words a transition verdict. The caller holds mtx for reading.
func (m *SequenceModel) explain(toks []int32, i int, v verdict) string {
	what := "event " + m.name(toks[i])
	if toks[i] == tokEnd {
		what = "the session's end"
	}
	hist := "any history"
	if v.order > 0 {
		hist = ""
		for j := i - v.order; j < i; j++ {
			if hist != "" {
				hist += " "
			}
			hist += m.name(toks[j])
		}
		hist = "[" + hist + "]"
	}
	if v.count == 0 {
		return fmt.Sprintf("%s never followed %s in %d training occurrences", what, hist, v.support)
	}
	return fmt.Sprintf("%s followed %s only %d times in %d, not among the top %d",
		what, hist, v.count, v.support, m.opts.TopK)
}

func (m *SequenceModel) name(t int32) string {
	if t < 0 || int(t) >= len(m.names) {
		return "?"
	}
	return m.names[t]
}
