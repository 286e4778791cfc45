package logparse

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
)

// Per-source learning state. Parse reads a source's layout on every line,
// so the table is a sync.Map (lock-free reads) and the layout an atomic
// pointer; the samples, touched only by lines Parse could not read, sit
// behind a per-source mutex.

type learnPhase int32

const (
	phaseCollecting learnPhase = iota // gathering samples
	phasePending                      // the heuristic failed; waiting for LearnPending to ask the Proposer
	phaseBusy                         // LearnPending is asking the Proposer
	phaseDone                         // a layout was learned or given up on: no more work, ever
)

type sourceState struct {
	layout atomic.Pointer[Layout]
	phase  atomic.Int32 // learnPhase; written with mtx held

	mtx     sync.Mutex // protects samples
	samples []string
}

type sourceTable struct {
	m       sync.Map // string -> *sourceState
	n       atomic.Int64
	layouts atomic.Int64 // sources with a layout; Parse skips the lookup while zero
	max     int
}

func newSourceTable(max int) *sourceTable { return &sourceTable{max: max} }

func (t *sourceTable) get(key string) *sourceState {
	if v, ok := t.m.Load(key); ok {
		return v.(*sourceState)
	}
	return nil
}

func (t *sourceTable) getOrCreate(key string) *sourceState {
	if st := t.get(key); st != nil {
		return st
	}
	if t.n.Load() >= int64(t.max) {
		t.evict()
	}
	v, loaded := t.m.LoadOrStore(key, &sourceState{})
	if !loaded {
		t.n.Add(1)
	}
	return v.(*sourceState)
}

// evict drops about a tenth of the table, sources without a layout first:
// forgetting samples costs a relearn, forgetting a layout a proposer call.
func (t *sourceTable) evict() {
	target := t.max / 10
	if target < 1 {
		target = 1
	}
	for _, withLayouts := range [2]bool{false, true} {
		t.m.Range(func(k, v any) bool {
			if target <= 0 {
				return false
			}
			st := v.(*sourceState)
			has := st.layout.Load() != nil
			if has != withLayouts {
				return true
			}
			if _, ok := t.m.LoadAndDelete(k); ok {
				t.n.Add(-1)
				if has {
					t.layouts.Add(-1)
				}
				target--
			}
			return true
		})
	}
}

// SetLayout makes Parse read the source's lines with l first (lines l does
// not match go through the built-in detectors). A nil l removes the layout.
func (p *Parser) SetLayout(source string, l *Layout) {
	st := p.sources.getOrCreate(source)
	st.mtx.Lock()
	defer st.mtx.Unlock()
	old := st.layout.Swap(l)
	switch {
	case old == nil && l != nil:
		p.sources.layouts.Add(1)
	case old != nil && l == nil:
		p.sources.layouts.Add(-1)
	}
	st.phase.Store(int32(phaseDone))
	st.samples = nil
}

// Layout returns the layout used for the source, or nil.
func (p *Parser) Layout(source string) *Layout {
	if st := p.sources.get(source); st != nil {
		return st.layout.Load()
	}
	return nil
}

// maxSampleBytes bounds each kept sample: headers are at the start of the
// line, and a source's samples must not pin large lines in memory.
const maxSampleBytes = 512

// observe collects a line Parse could not read and, once enough are in,
// learns the source's layout with the heuristic. The Proposer is never
// called from here; sources it should be asked about wait for LearnPending.
func (p *Parser) observe(key, line string) {
	st := p.sources.getOrCreate(key)
	if learnPhase(st.phase.Load()) != phaseCollecting || !sampleWorthy(line) {
		return
	}
	st.mtx.Lock()
	defer st.mtx.Unlock()
	if learnPhase(st.phase.Load()) != phaseCollecting {
		return
	}
	st.samples = append(st.samples, strings.Clone(cutUTF8(line, maxSampleBytes)))
	if len(st.samples) < p.o.LearnSamples {
		return
	}
	l, err := learnHeuristic(st.samples, p.o.LearnThreshold, p.o.Location)
	if err == nil {
		if st.layout.Swap(l) == nil {
			p.sources.layouts.Add(1)
		}
		st.phase.Store(int32(phaseDone))
		st.samples = nil
		p.o.Logger.Info("learned log header layout", "source", key, "pattern", l.Pattern, "origin", l.Origin, "coverage", l.Coverage)
		return
	}
	if p.o.Proposer != nil {
		st.phase.Store(int32(phasePending))
		p.o.Logger.Debug("log header layout left to the proposer", "source", key, "reason", err)
		return
	}
	st.phase.Store(int32(phaseDone))
	st.samples = nil
	p.o.Logger.Debug("no log header layout", "source", key, "reason", err)
}

// sampleWorthy keeps stack frames and free text out of the samples: a
// header starts with a timestamp, so it has digits near the start, and it
// is not one of the shapes of a stack trace.
func sampleWorthy(line string) bool {
	for _, p := range [...]string{"at ", "...", "Caused by", "Suppressed:", "File \"", "Traceback", "goroutine ", "created by ", "panic:", "/"} {
		if strings.HasPrefix(line, p) {
			return false
		}
	}
	lim := min(len(line), 32)
	for i := 0; i < lim; i++ {
		if isDigit(line[i]) {
			return true
		}
	}
	return false
}

// LearnPending asks the Proposer for a layout for every source whose lines
// the heuristic could not read. Call it from a background loop: it blocks
// on the Proposer (an LLM, seconds per call). Each source is asked once;
// a source whose proposal fails validation is not asked again (until it is
// evicted from the table). It returns the sources' errors joined.
func (p *Parser) LearnPending(ctx context.Context) error {
	if p.o.Proposer == nil {
		return nil
	}
	var errs []error
	p.sources.m.Range(func(k, v any) bool {
		if ctx.Err() != nil {
			return false
		}
		key, st := k.(string), v.(*sourceState)
		st.mtx.Lock()
		if learnPhase(st.phase.Load()) != phasePending {
			st.mtx.Unlock()
			return true
		}
		samples := st.samples
		st.phase.Store(int32(phaseBusy))
		st.mtx.Unlock()

		_, err := p.propose(ctx, key, samples)

		st.mtx.Lock()
		switch {
		case err != nil && ctx.Err() != nil:
			st.phase.Store(int32(phasePending)) // interrupted, not refused: ask again next time
		case learnPhase(st.phase.Load()) == phaseBusy:
			st.phase.Store(int32(phaseDone))
			st.samples = nil
		}
		st.mtx.Unlock()
		if err != nil {
			p.o.Logger.Warn("no log header layout from the proposer", "source", key, "err", err)
			errs = append(errs, err)
		}
		return true
	})
	if err := ctx.Err(); err != nil {
		errs = append(errs, fmt.Errorf("learn pending: %w", err))
	}
	return errors.Join(errs...)
}
