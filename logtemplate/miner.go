package logtemplate

import (
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// Match is the outcome of Add or Match for one message.
type Match struct {
	// TemplateID names the template the message belongs to.
	TemplateID string
	// Template is its text, parameters written "<*>".
	Template string
	// Params holds one value per "<*>" of Template, in order. The values
	// are substrings of the message.
	Params []string
	// New is set when the message started the template.
	New bool
	// Changed is set when the message refined the template, or made it
	// merge with another.
	Changed bool
}

// Miner mines templates from message bodies.
//
// Concurrency: all methods are safe for concurrent use. Tokenising and
// masking (most of the work) run in parallel; updates to the templates are
// serialised by one mutex, and Match, Lookup and Templates share a read
// lock. For more throughput, run one Miner per source.
type Miner struct {
	opts Options

	// mtx protects everything below.
	mtx      sync.RWMutex
	byLen    map[int][]*cluster // live clusters by token count
	byID     map[string]*cluster
	aliases  map[string]string // merged ID -> surviving ID
	aliasQ   []string          // aliases, oldest first, to bound them
	cache    map[uint64]*cluster
	lru      lruList
	nextSeq  uint64
	counters Stats
}

// New returns an empty Miner.
func New(o Options) (*Miner, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	return &Miner{
		opts:    o,
		byLen:   map[int][]*cluster{},
		byID:    map[string]*cluster{},
		aliases: map[string]string{},
		cache:   map[uint64]*cluster{},
		nextSeq: 1,
	}, nil
}

// Add learns from msg and returns its template.
func (m *Miner) Add(msg string) Match {
	s := getScratch()
	defer putScratch(s)
	s.mask(msg, m.opts.MaxTokens)

	m.mtx.Lock()
	defer m.mtx.Unlock()
	m.counters.Lines++
	c := m.cached(s)
	isNew, changed := false, false
	if c != nil {
		m.counters.CacheHits++
	} else {
		c, changed = m.assign(s)
		if c == nil {
			c = m.create(s)
			isNew = true
		}
		m.remember(s, c)
	}
	c.count++
	if d := m.observe(c, s); d != c {
		c, changed = d, true
	}
	m.lru.moveToFront(c)
	if len(c.examples) < m.opts.MaxExamples {
		c.examples = append(c.examples, clip(msg, maxExampleBytes))
	}
	params := m.params(c, s)
	m.sample(c, params)
	return Match{TemplateID: c.id, Template: c.template, Params: params, New: isNew, Changed: changed}
}

// Match returns the template Add would assign msg to, without learning. It
// reports false when Add would start a new template, or would first have to
// merge templates (msg differs from the nearest one in a constant). The
// template may be one that msg would refine (a parameter of another shape);
// Params then holds best-effort values for its current text, still one per
// "<*>".
func (m *Miner) Match(msg string) (Match, bool) {
	s := getScratch()
	defer putScratch(s)
	s.mask(msg, m.opts.MaxTokens)

	m.mtx.RLock()
	defer m.mtx.RUnlock()
	c := m.cached(s)
	if c == nil {
		cand := m.best(s)
		if cand.c == nil || !cand.c.fitsAll(s) {
			if r := m.matchRun(s); r != nil {
				cand = candidate{c: r, sim: 1}
			}
		}
		if cand.c == nil || cand.sim < m.opts.Similarity || cand.hard > 0 {
			return Match{}, false
		}
		c = cand.c
	}
	return Match{TemplateID: c.id, Template: c.template, Params: m.params(c, s)}, true
}

func (m *Miner) params(c *cluster, s *scratch) []string {
	if c.vars == 0 {
		return nil
	}
	p := make([]string, 0, c.vars)
	start := 0 // where the last parameter starts in the message
	for i := range c.slots {
		sl := &c.slots[i]
		if i >= len(s.tokens) {
			break // Match of a shorter line against a run template
		}
		if sl.join && len(p) > 0 {
			p[len(p)-1] = s.msg[start:sl.firstVarEnd(s, i)]
			if sl.vars > 1 {
				k := len(p)
				p = sl.appendParams(p, s, i)
				// Drop the first, already joined, parameter.
				p = append(p[:k], p[k+1:]...)
			}
			continue
		}
		start = int(s.tokens[i].off)
		p = sl.appendParams(p, s, i)
	}
	return p
}

// Bounds on what templates keep of the lines, so that a few huge lines
// cannot pin much memory.
const (
	maxExampleBytes = 2048 // an example line
	maxValueBytes   = 256  // a parameter sample or a value seen
)

// clip returns a copy of s, cut to at most n bytes, not inside a rune.
func clip(s string, n int) string {
	if len(s) > n {
		i := n
		for i > 0 && i > n-utf8.UTFMax && !utf8.RuneStart(s[i]) {
			i--
		}
		s = s[:i]
	}
	return strings.Clone(s)
}

// sample keeps the first distinct values of each parameter.
func (m *Miner) sample(c *cluster, params []string) {
	if m.opts.MaxSamples == 0 || len(params) == 0 {
		return
	}
	if c.samples == nil {
		c.samples = make([][]string, len(params))
	}
	for k, v := range params {
		if k >= len(c.samples) || len(c.samples[k]) >= m.opts.MaxSamples {
			continue
		}
		if len(v) > maxValueBytes {
			v = v[:maxValueBytes]
		}
		seen := false
		for _, x := range c.samples[k] {
			if x == v {
				seen = true
				break
			}
		}
		if !seen {
			c.samples[k] = append(c.samples[k], clip(v, maxValueBytes))
		}
	}
}

// cached returns the template a line of the same masked shape went to, if
// it is still alive and describes this line exactly.
func (m *Miner) cached(s *scratch) *cluster {
	c := m.cache[s.hash]
	for c != nil && c.mergedInto != nil {
		c = c.mergedInto
	}
	if c == nil || c.dead || !c.fitsAll(s) {
		return nil
	}
	return c
}

func (m *Miner) remember(s *scratch, c *cluster) {
	if m.opts.CacheSize == 0 {
		return
	}
	if len(m.cache) >= m.opts.CacheSize {
		clear(m.cache)
	}
	m.cache[s.hash] = c
}

// create starts a template from the line, evicting the least recently used
// one if the Miner is full.
func (m *Miner) create(s *scratch) *cluster {
	for m.lru.len >= m.opts.MaxClusters && m.lru.tail != nil {
		m.evict(m.lru.tail)
	}
	c := &cluster{seq: m.nextSeq, slots: make([]slot, len(s.tokens))}
	m.nextSeq++
	c.id = "T" + strconv.FormatUint(c.seq, 10)
	for i := range s.tokens {
		c.slots[i] = tokenSlot(s, i)
	}
	c.rebuild()
	m.insert(c)
	m.counters.Created++
	return c
}

func (m *Miner) insert(c *cluster) {
	n := c.bucket()
	m.byLen[n] = append(m.byLen[n], c)
	m.byID[c.id] = c
	m.lru.pushFront(c)
}

// unlink removes a cluster from the indexes (not from aliases).
func (m *Miner) unlink(c *cluster) {
	m.unbucket(c)
	delete(m.byID, c.id)
	m.lru.remove(c)
	c.dead = true
}

// unbucket removes a cluster from its byLen bucket.
func (m *Miner) unbucket(c *cluster) {
	n := c.bucket()
	b := m.byLen[n]
	for i, x := range b {
		if x == c {
			copy(b[i:], b[i+1:])
			b[len(b)-1] = nil
			b = b[:len(b)-1]
			break
		}
	}
	if len(b) == 0 {
		delete(m.byLen, n)
	} else {
		m.byLen[n] = b
	}
}

func (m *Miner) evict(c *cluster) {
	m.unlink(c)
	for _, a := range c.aliases {
		if m.aliases[a] == c.id {
			delete(m.aliases, a)
		}
	}
	m.counters.Evicted++
	m.opts.Logger.Debug("template evicted", "id", c.id, "template", c.template, "count", c.count)
}

func (m *Miner) addAlias(id string, to *cluster) {
	m.aliases[id] = to.id
	to.aliases = append(to.aliases, id)
	if len(to.aliases) > maxAliasesPerCluster {
		to.aliases = to.aliases[len(to.aliases)-maxAliasesPerCluster:]
	}
	m.aliasQ = append(m.aliasQ, id)
	// Aliases are bounded like templates: the oldest go first.
	for len(m.aliases) > m.opts.MaxClusters && len(m.aliasQ) > 0 {
		delete(m.aliases, m.aliasQ[0])
		m.aliasQ = m.aliasQ[1:]
	}
	if len(m.aliasQ) > 2*m.opts.MaxClusters {
		q := m.aliasQ[:0]
		for _, a := range m.aliasQ {
			if _, ok := m.aliases[a]; ok {
				q = append(q, a)
			}
		}
		m.aliasQ = q
	}
}

// resolve follows aliases to a live template.
func (m *Miner) resolve(id string) *cluster {
	for range len(m.aliases) + 1 {
		if c, ok := m.byID[id]; ok {
			return c
		}
		next, ok := m.aliases[id]
		if !ok {
			return nil
		}
		id = next
	}
	return nil
}
